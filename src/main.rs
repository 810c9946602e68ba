//! `odradek`: clap -> BrokerConfig -> Broker::start (held by the control plane, which serves the
//! control API when asked) -> wait for a signal -> shut every cluster down. `odradek ctl ...`
//! talks to a running broker's control API instead.
use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Subcommand, Debug)]
enum Command {
    /// Drive a running broker's control API (clock, maintenance, waits, faults, clusters); see
    /// docs/testing.md. `odradek ctl clock`, `odradek ctl advance 45000`, `odradek ctl compact t`...
    Ctl {
        /// The control API's HOST:PORT (default: $ODRADEK_CONTROL).
        #[arg(long)]
        url: Option<String>,
        /// Bearer token (default: $ODRADEK_CONTROL_TOKEN).
        #[arg(long)]
        token: Option<String>,
        /// Act on this cluster instead of `default`.
        #[arg(long)]
        cluster: Option<String>,
        /// The command and its arguments.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
        words: Vec<String>,
    },
}

#[derive(Parser, Debug)]
#[command(name = "odradek", version, about = "A Kafka-compatible event broker")]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// `system` (default) or `manual`: a virtual clock for tests that moves only through the
    /// control API (`POST /v1/clock/advance`); group, transaction, retention and compaction
    /// timers follow it, client-facing waits stay on wall time.
    #[arg(long, default_value = "system")]
    clock: odradek::clock::ClockMode,
    /// Serve the control API (HTTP + JSON, /v1/...) on HOST:PORT. On by default in --dev, on a
    /// free loopback port printed at start. A non-loopback address needs --control-token.
    #[arg(long)]
    control_listen: Option<String>,
    /// Bearer token the control API requires.
    #[arg(long)]
    control_token: Option<String>,
    /// Serve /metrics (Prometheus), /healthz, /readyz and the read-only web console (/console/)
    /// on HOST:PORT. The control listener serves them too.
    #[arg(long)]
    metrics_listen: Option<String>,
    /// Count nothing on the request paths (to measure what metrics cost; /metrics still answers,
    /// with the state it reads at scrape time: offsets, sizes, groups, lag).
    #[arg(long)]
    no_metrics: bool,
    /// Directory holding the partition logs and metadata.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Address to listen on, HOST:PORT: one PLAINTEXT listener (default 127.0.0.1:9092). For
    /// several listeners or TLS/SASL use Kafka's `listeners` (and `advertised.listeners`,
    /// `listener.security.protocol.map`) in --config or --set instead.
    #[arg(long)]
    listen: Option<String>,
    /// Address advertised to clients in Metadata, HOST:PORT (default: the listen address).
    #[arg(long)]
    advertised_listener: Option<String>,
    /// A Kafka server.properties file (Kafka's key names).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Override one config key, e.g. --set num.partitions=4 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// DEVELOPMENT MODE: data in a fresh temporary directory (deleted at exit) unless --data-dir
    /// is given, topics auto-created, replication factors above 1 clamped to 1 with a warning,
    /// no initial rebalance delay. Never use it for data you want to keep.
    #[arg(long)]
    dev: bool,
    /// Add or replace a SCRAM credential at start, as kafka-storage's --add-scram:
    /// 'SCRAM-SHA-512=[name=admin,password=admin-secret]' (repeatable; stored salted and hashed).
    /// With --dev: TLS and SASL from nothing. Generates a CA and certificates, SCRAM and PLAIN
    /// users (admin/admin-secret, alice/alice-secret), a SASL_SSL listener on the listen port and
    /// an mTLS (SSL, client certificate required) listener next to it, and writes ready client
    /// configs to <data dir>/secure/.
    #[arg(long, requires = "dev")]
    secure: bool,
    #[arg(long = "add-scram", value_name = "MECHANISM=[name=USER,password=PASSWORD]")]
    add_scram: Vec<String>,
}

fn main() -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let args = Args::parse();
    if let Some(Command::Ctl { url, token, cluster, words }) = args.command {
        std::process::exit(odradek::control::ctl::run(url, token, cluster, words));
    }
    // --dev without --data-dir: a temporary directory that lives as long as the process.
    let temp = if args.dev && args.data_dir.is_none() {
        Some(tempfile::Builder::new().prefix("odradek-dev-").tempdir()?)
    } else {
        None
    };
    let data_dir = match (&temp, &args.data_dir) {
        (Some(t), _) => t.path().to_path_buf(),
        (None, Some(d)) => d.clone(),
        (None, None) => PathBuf::from("./data"),
    };
    let mut config = odradek::BrokerConfig {
        data_dir,
        listen: args.listen.clone().unwrap_or_default(),
        advertised_listener: args.advertised_listener.clone(),
        dev: args.dev,
        add_scram: args.add_scram.clone(),
        ..Default::default()
    };
    if args.dev {
        config.set_key("auto.create.topics.enable", "true")?;
        config.set_key("group.initial.rebalance.delay.ms", "0")?;
        tracing::warn!(data_dir = %config.data_dir.display(), "DEVELOPMENT MODE (--dev): temporary storage unless --data-dir is given, replication factors clamped to 1; not for production");
    }
    if let Some(path) = &args.config {
        for (k, v) in odradek::BrokerConfig::read_properties(path)? {
            config.set_key(&k, &v)?;
        }
    }
    for kv in &args.set {
        let Some((k, v)) = kv.split_once('=') else {
            anyhow::bail!("--set expects KEY=VALUE, got {kv:?}");
        };
        config.set_key(k.trim(), v)?;
    }
    // log.dirs / log.dir from a Kafka server.properties name the data directory: honoured, never
    // ignored (the data would go elsewhere than the operator thinks).
    if let Some((key, dirs)) =
        ["log.dirs", "log.dir"].iter().find_map(|k| config.set.get(*k).map(|v| (*k, v.clone())))
    {
        let list: Vec<&str> = dirs.split(',').map(str::trim).filter(|d| !d.is_empty()).collect();
        if list.len() != 1 {
            anyhow::bail!("{key}={dirs}: Odradek keeps its data in one directory (several log dirs, JBOD, are not supported)");
        }
        let dir = PathBuf::from(list[0]);
        match &args.data_dir {
            Some(d) if *d != dir => {
                anyhow::bail!("--data-dir {} and {key}={} disagree: give one", d.display(), dir.display())
            }
            _ => {
                if temp.is_some() {
                    tracing::warn!("{key} given: --dev keeps its data there, not in a temporary directory");
                }
                config.data_dir = dir;
            }
        }
    }
    let secure_dir = if args.secure {
        Some(odradek::security::devmode::prepare(&mut config).map_err(|e| anyhow::anyhow!("--secure: {e}"))?)
    } else {
        None
    };
    if args.listen.is_some() && config.set.contains_key("listeners") && !args.secure {
        anyhow::bail!("both --listen and the listeners config are given: use one (--listen is the shorthand for listeners=PLAINTEXT://HOST:PORT)");
    }
    if args.advertised_listener.is_some() && config.set.contains_key("listeners") && !args.secure {
        anyhow::bail!(
            "--advertised-listener goes with --listen; with the listeners config, set advertised.listeners"
        );
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().thread_name("odradek").build()?;
    let control_addr = args.control_listen.clone().or_else(|| args.dev.then(|| "127.0.0.1:0".to_string()));
    let token = args.control_token.clone().filter(|t| !t.is_empty());
    rt.block_on(async move {
        // Bound before the broker opens its data: an address that is refused stops the start.
        let control_listener = match &control_addr {
            Some(a) => Some(
                odradek::control::http::bind(a, token.as_deref())
                    .await
                    .map_err(|e| anyhow::anyhow!("--control-listen {a}: {e}"))?,
            ),
            None => None,
        };
        let metrics_listener = match &args.metrics_listen {
            Some(a) => Some(
                tokio::net::TcpListener::bind(a).await.map_err(|e| anyhow::anyhow!("--metrics-listen {a}: {e}"))?,
            ),
            None => None,
        };
        // Served from now on: /healthz answers, /readyz says 503 until the broker is up.
        let site = odradek::control::site::Site::new();
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut servers = Vec::new();
        let mut addresses = Vec::new();
        for (l, with_control) in [(control_listener, true), (metrics_listener, false)] {
            let Some(l) = l else { continue };
            addresses.push((l.local_addr()?, with_control));
            let mut rx = stop_rx.clone();
            servers.push(tokio::spawn(odradek::control::site::serve(l, site.clone(), with_control, async move {
                let _ = rx.changed().await;
            })));
        }
        let controls = odradek::broker::Controls {
            clock: odradek::clock::Clock::new(args.clock),
            metrics: std::sync::Arc::new(odradek::metrics::Metrics::new(!args.no_metrics)),
            ..Default::default()
        };
        let broker = odradek::Broker::start_with(config.clone(), controls.clone()).await?;
        tracing::info!(startup_ms = started.elapsed().as_secs_f64() * 1000.0, bootstrap = %broker.bootstrap(), "accepting connections");
        if let Some(dir) = &secure_dir {
            let (sasl, ssl) = (broker.bootstrap_for("SASL_SSL").unwrap_or_default(), broker.bootstrap_for("SSL").unwrap_or_default());
            let files = odradek::security::devmode::write_client_configs(dir, &sasl, &ssl).map_err(|e| anyhow::anyhow!("--secure: {e}"))?;
            tracing::warn!(sasl_ssl = %sasl, mtls = %ssl, users = "admin/admin-secret, alice/alice-secret (SCRAM-SHA-256, SCRAM-SHA-512, PLAIN)", "SECURE DEVELOPMENT MODE: client configs in {}", dir.display());
            for f in files {
                println!("client config: {}", f.display());
            }
        }
        let control = odradek::control::Control::new(broker, config, controls, token.clone())?;
        site.ready(control.clone());
        // Printed once they answer: a script that reads the address may use it at once.
        for (at, with_control) in addresses {
            if with_control {
                tracing::info!(control = %format!("http://{at}/v1/"), "control API listening");
                println!("control API: http://{at}/v1/ (odradek ctl --url {at} ...)");
            } else {
                tracing::info!(metrics = %format!("http://{at}/metrics"), console = %format!("http://{at}/console/"), "metrics and console listening");
                println!("metrics: http://{at}/metrics  console: http://{at}/console/");
            }
        }
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        tracing::info!("shutting down");
        let _ = stop_tx.send(true);
        for s in servers {
            let _ = s.await;
        }
        control.shutdown().await?;
        tracing::info!("stopped cleanly");
        anyhow::Ok(())
    })?;
    drop(temp);
    Ok(())
}
