//! What a running broker shows about itself, read-only: the Prometheus exposition (`metrics.rs`),
//! the console's JSON views (`api.rs`) and the last minutes of throughput and lag (`history.rs`),
//! plus the console's static files, embedded in the binary. Served over HTTP by
//! `control::http` (`--metrics-listen`, and the control listener); nothing here changes the
//! broker.
pub mod api;
pub mod history;
pub mod metrics;

/// The console's files (`console/dist`, built by `console/build.sh` from TypeScript): path under
/// `/console/`, content type, bytes.
pub const CONSOLE: &[(&str, &str, &str)] = &[
    ("", "text/html; charset=utf-8", include_str!("../../console/dist/index.html")),
    ("app.js", "text/javascript; charset=utf-8", include_str!("../../console/dist/app.js")),
    ("style.css", "text/css; charset=utf-8", include_str!("../../console/dist/style.css")),
];
