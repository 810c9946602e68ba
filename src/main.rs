//! `odradek`: clap -> BrokerConfig -> Broker::start -> wait for a signal -> Broker::shutdown.
use std::path::PathBuf;

use clap::Parser;

#[derive(Parser, Debug)]
#[command(name = "odradek", version, about = "A Kafka-compatible event broker")]
struct Args {
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
    rt.block_on(async move {
        let broker = odradek::Broker::start(config).await?;
        tracing::info!(startup_ms = started.elapsed().as_secs_f64() * 1000.0, bootstrap = %broker.bootstrap(), "accepting connections");
        if let Some(dir) = &secure_dir {
            let (sasl, ssl) = (broker.bootstrap_for("SASL_SSL").unwrap_or_default(), broker.bootstrap_for("SSL").unwrap_or_default());
            let files = odradek::security::devmode::write_client_configs(dir, &sasl, &ssl).map_err(|e| anyhow::anyhow!("--secure: {e}"))?;
            tracing::warn!(sasl_ssl = %sasl, mtls = %ssl, users = "admin/admin-secret, alice/alice-secret (SCRAM-SHA-256, SCRAM-SHA-512, PLAIN)", "SECURE DEVELOPMENT MODE: client configs in {}", dir.display());
            for f in files {
                println!("client config: {}", f.display());
            }
        }
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        tracing::info!("shutting down");
        broker.shutdown().await?;
        tracing::info!("stopped cleanly");
        anyhow::Ok(())
    })?;
    drop(temp);
    Ok(())
}
