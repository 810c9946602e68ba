//! What an isolated cluster costs (`POST /v1/clusters`): the time to make one, the memory and
//! threads an idle one holds, the CPU idle clusters use, and the time to delete one. Runs the
//! control plane in process (no HTTP in the figures).
//!
//! `cargo bench --bench clusters [-- --clusters 32]` (a benchmark, not a test).
use std::time::{Duration, Instant};

use odradek::broker::Controls;
use odradek::control::{Control, NewCluster};
use odradek::{Broker, BrokerConfig};

fn status_kib(field: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// User + system CPU time of this process, in clock ticks.
fn cpu_ticks() -> u64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = s.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
        + f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let mut n = 32usize;
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--clusters") {
        n = args.get(i + 1).and_then(|v| v.parse().ok()).unwrap_or(n);
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async move {
        let dir = tempfile::tempdir().unwrap();
        let config = BrokerConfig {
            data_dir: dir.path().to_path_buf(),
            listen: "127.0.0.1:0".into(),
            ..Default::default()
        };
        let controls = Controls::default();
        let broker = Broker::start_with(config.clone(), controls.clone()).await.unwrap();
        let control = Control::new(broker, config, controls, None).unwrap();
        // Warm up (allocator arenas, thread pools), then the baseline.
        let w = control.create(NewCluster::default()).await.unwrap();
        control.delete(w["id"].as_str().unwrap()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (rss0, threads0) = (status_kib("VmRSS:"), status_kib("Threads:"));

        let mut made = Vec::new();
        let mut create_ms = Vec::new();
        for _ in 0..n {
            let t = Instant::now();
            let v = control.create(NewCluster::default()).await.unwrap();
            create_ms.push(t.elapsed().as_secs_f64() * 1000.0);
            made.push(v["id"].as_str().unwrap().to_string());
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        let (rss1, threads1) = (status_kib("VmRSS:"), status_kib("Threads:"));
        let ticks_per_s = 100.0; // USER_HZ on Linux
        let c0 = cpu_ticks();
        let t0 = Instant::now();
        tokio::time::sleep(Duration::from_secs(5)).await;
        let cpu = (cpu_ticks() - c0) as f64 / ticks_per_s / t0.elapsed().as_secs_f64() * 100.0;

        let mut delete_ms = Vec::new();
        for id in &made {
            let t = Instant::now();
            control.delete(id).await.unwrap();
            delete_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        control.shutdown().await.unwrap();

        println!("isolated clusters ({n} idle, debug assertions off, release build)");
        println!(
            "  create   ms  median {:7.2}  p90 {:7.2}  max {:7.2}",
            pct(&mut create_ms.clone(), 0.5),
            pct(&mut create_ms.clone(), 0.9),
            pct(&mut create_ms, 1.0)
        );
        println!(
            "  delete   ms  median {:7.2}  p90 {:7.2}  max {:7.2}",
            pct(&mut delete_ms.clone(), 0.5),
            pct(&mut delete_ms.clone(), 0.9),
            pct(&mut delete_ms, 1.0)
        );
        println!(
            "  RSS per idle cluster   {:7.0} KiB  ({} KiB -> {} KiB)",
            (rss1.saturating_sub(rss0)) as f64 / n as f64,
            rss0,
            rss1
        );
        println!(
            "  threads per cluster    {:7.1}     ({threads0} -> {threads1})",
            (threads1 as f64 - threads0 as f64) / n as f64
        );
        println!("  CPU, {n} idle clusters {:7.1} %  of one core", cpu);
    });
}
