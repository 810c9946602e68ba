//! The broker's read-only HTTP surface: `/healthz`, `/readyz`, `/metrics`, the web console
//! (`/console/`) and its JSON (`/api/...`), on `--metrics-listen` and on the control listener
//! (which adds `/v1/...`, the control API). One axum stack for both.
//!
//! Served from before the broker starts: `/healthz` answers at once, `/readyz` says 503 until
//! recovery has finished and every listener is bound, `/metrics` shows only `odradek_ready 0`.
//! What it shows is the `default` cluster's broker (the one started from the command line).
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use super::{Control, DEFAULT_CLUSTER};
use crate::observe::api::ApiError;
use crate::state::BrokerState;

/// What both listeners share.
pub struct Site {
    /// Console logins verified lately: (user, SHA-256 of the password) -> when. A SCRAM check
    /// costs thousands of HMACs, and the console asks every 2 s.
    logins: parking_lot::Mutex<std::collections::HashMap<(String, Vec<u8>), Instant>>,
    control: OnceLock<Arc<Control>>,
    /// The control API's routes, once the control plane exists (control listener only).
    control_routes: OnceLock<Router>,
    started: Instant,
    pub history: crate::observe::history::History,
}

type Shared = Arc<Site>;

impl Site {
    pub fn new() -> Arc<Site> {
        Arc::new(Site {
            logins: Default::default(),
            control: OnceLock::new(),
            control_routes: OnceLock::new(),
            started: Instant::now(),
            history: Default::default(),
        })
    }

    /// The broker is up: the control plane holds it. Starts sampling for the console's charts.
    pub fn ready(self: &Arc<Self>, control: Arc<Control>) {
        let _ = self.control_routes.set(super::http::router(control.clone()));
        let _ = self.control.set(control);
        let site = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick =
                tokio::time::interval(std::time::Duration::from_millis(crate::observe::history::INTERVAL_MS));
            loop {
                tick.tick().await;
                let Some(site) = site.upgrade() else { return };
                if let Some(st) = site.state().await {
                    let s = st.clone();
                    let site2 = site.clone();
                    let _ = tokio::task::spawn_blocking(move || site2.history.sample(&s)).await;
                }
            }
        });
    }

    /// The default cluster's running broker, if there is one now.
    async fn state(&self) -> Option<Arc<BrokerState>> {
        let c = self.control.get()?;
        c.cluster(DEFAULT_CLUSTER).ok()?.state().await.ok()
    }
}

/// How long a verified console login is trusted without checking the password again.
const LOGIN_TRUSTED: std::time::Duration = std::time::Duration::from_secs(300);

/// The console and its JSON are behind the same authentication as the Kafka listeners: when a
/// listener takes SASL, a request needs HTTP Basic credentials of a SCRAM or PLAIN user, and with
/// ACLs on, that user needs DESCRIBE on the cluster (and READ on a topic to browse its messages).
/// On a broker whose listeners take anyone, so does the console. /metrics, /healthz and /readyz
/// stay open (scrapers and probes), as a JMX exporter's port is.
async fn gate(
    State(site): State<Shared>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    req: Request,
    next: axum::middleware::Next,
) -> Response {
    let path = req.uri().path();
    if !(path.starts_with("/api/") || path.starts_with("/console")) {
        return next.run(req).await;
    }
    let Some(st) = site.state().await else { return unavailable() };
    if !st.listeners.iter().any(|l| l.sasl.is_some()) {
        return next.run(req).await;
    }
    let challenge = |why: &str| {
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Basic realm=\"odradek\", charset=\"UTF-8\"")],
            Json(json!({"error": why})),
        )
            .into_response()
    };
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::Engine::decode(&base64::engine::general_purpose::STANDARD, b.trim()).ok())
        .and_then(|b| String::from_utf8(b).ok());
    let Some((user, password)) = given.as_deref().and_then(|g| g.split_once(':')) else {
        return challenge("log in with a SASL user of this broker (HTTP Basic)");
    };
    let key = (user.to_string(), <sha2::Sha256 as sha2::Digest>::digest(password).to_vec());
    let known = site.logins.lock().get(&key).is_some_and(|t| t.elapsed() < LOGIN_TRUSTED);
    if !known {
        let (u, p, st2) = (user.to_string(), password.to_string(), st.clone());
        let ok = tokio::task::spawn_blocking(move || {
            st2.scram.verify_password(&u, &p)
                || st2.listeners.iter().any(|l| l.sasl.as_ref().is_some_and(|s| s.plain_accepts(&u, &p)))
        })
        .await
        .unwrap_or(false);
        if !ok {
            crate::security::log_failed_login(
                peer,
                "console",
                &format!("HTTP Basic login of {user:?} failed"),
            );
            return challenge("wrong user name or password");
        }
        let mut logins = site.logins.lock();
        if logins.len() > 10_000 {
            logins.clear();
        }
        logins.insert(key, Instant::now());
    }
    if let Some(acl) = &st.acl {
        use crate::security::acl::{op, resource, CLUSTER_NAME};
        let who = crate::security::principal::Principal::user(user);
        let mut ok = acl.authorize(&who, peer.ip(), op::DESCRIBE, resource::CLUSTER, CLUSTER_NAME);
        // /api/topics/{topic}/messages reads records: READ on the topic as well.
        if let Some(topic) = path.strip_prefix("/api/topics/").and_then(|r| r.strip_suffix("/messages")) {
            ok &= acl.authorize(&who, peer.ip(), op::READ, resource::TOPIC, topic);
        }
        if !ok {
            return (
                StatusCode::FORBIDDEN,
                Json(json!({"error": format!("User:{user} may not see this (ACLs)")})),
            )
                .into_response();
        }
    }
    next.run(req).await
}

fn api_error(e: ApiError) -> Response {
    let status = StatusCode::from_u16(e.0).unwrap_or(StatusCode::BAD_REQUEST);
    (status, Json(json!({"error": e.1}))).into_response()
}

fn unavailable() -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"error": "the broker is starting or restarting"})))
        .into_response()
}

async fn healthz() -> Response {
    Json(json!({"status": "ok"})).into_response()
}

async fn readyz(State(site): State<Shared>) -> Response {
    let up = site.started.elapsed().as_millis() as u64;
    match site.state().await {
        Some(st) => {
            Json(json!({"status": "ready", "uptime_ms": up, "cluster_id": st.cluster_id()})).into_response()
        }
        None => (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"status": "starting", "uptime_ms": up})))
            .into_response(),
    }
}

async fn metrics(State(site): State<Shared>) -> Response {
    let st = site.state().await;
    let body =
        tokio::task::spawn_blocking(move || crate::observe::metrics::render(st)).await.unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], body).into_response()
}

/// A path parameter, or the 400 (as JSON, like every other error here) when it is not UTF-8.
type Param = Result<Path<String>, axum::extract::rejection::PathRejection>;

fn param(p: Param) -> Result<String, ApiError> {
    p.map(|Path(v)| v).map_err(|e| ApiError(400, format!("bad path: {e}")))
}

async fn console_file(file: Param) -> Response {
    match param(file) {
        Ok(f) => console(&f),
        Err(e) => api_error(e),
    }
}

/// 302 Found to the console, as a plain redirect.
async fn to_console() -> Response {
    (StatusCode::FOUND, [(header::LOCATION, "/console/")]).into_response()
}

async fn console_index() -> Response {
    console("")
}

fn console(file: &str) -> Response {
    match crate::observe::CONSOLE.iter().find(|(p, _, _)| *p == file) {
        Some((_, ty, body)) => {
            ([(header::CONTENT_TYPE, *ty), (header::CACHE_CONTROL, "no-cache")], *body).into_response()
        }
        None => (StatusCode::NOT_FOUND, Json(json!({"error": format!("no console file {file:?}")})))
            .into_response(),
    }
}

/// Runs a view of the broker's state on the blocking pool (views read partitions under locks).
async fn view(
    site: &Site,
    f: impl FnOnce(&BrokerState) -> Result<serde_json::Value, ApiError> + Send + 'static,
) -> Response {
    let Some(st) = site.state().await else { return unavailable() };
    match tokio::task::spawn_blocking(move || f(&st)).await {
        Ok(Ok(v)) => Json(v).into_response(),
        Ok(Err(e)) => api_error(e),
        Err(_) => api_error(ApiError(500, "the view failed".into())),
    }
}

/// Query parameters, each once; a malformed query string is refused.
fn query(raw: Option<String>) -> Result<BTreeMap<String, String>, ApiError> {
    let mut out = BTreeMap::new();
    let Some(raw) = raw else { return Ok(out) };
    if raw.len() > 4096 {
        return Err(ApiError(414, "the query string is too long".into()));
    }
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = decode(k)?;
        let v = decode(v)?;
        if out.insert(k.clone(), v).is_some() {
            return Err(ApiError(400, format!("parameter {k:?} given twice")));
        }
    }
    Ok(out)
}

/// Percent-decoding (and '+' as space) of one query component.
fn decode(s: &str) -> Result<String, ApiError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = b.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
                let v = hex.and_then(|h| u8::from_str_radix(h, 16).ok());
                let Some(v) = v else { return Err(ApiError(400, format!("bad percent-encoding in {s:?}"))) };
                out.push(v);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| ApiError(400, format!("{s:?} is not UTF-8")))
}

async fn overview(State(site): State<Shared>) -> Response {
    let up = site.started.elapsed().as_millis() as u64;
    view(&site, move |st| Ok(crate::observe::api::overview(st, up))).await
}

async fn topics(State(site): State<Shared>) -> Response {
    view(&site, |st| Ok(crate::observe::api::topics(st))).await
}

async fn topic(State(site): State<Shared>, name: Param) -> Response {
    let name = match param(name) {
        Ok(n) => n,
        Err(e) => return api_error(e),
    };
    view(&site, move |st| crate::observe::api::topic(st, &name)).await
}

async fn messages(State(site): State<Shared>, name: Param, RawQuery(q): RawQuery) -> Response {
    let name = match param(name) {
        Ok(n) => n,
        Err(e) => return api_error(e),
    };
    let q = match query(q) {
        Ok(q) => q,
        Err(e) => return api_error(e),
    };
    view(&site, move |st| crate::observe::api::messages(st, &name, &q)).await
}

async fn groups(State(site): State<Shared>) -> Response {
    view(&site, |st| Ok(crate::observe::api::groups(st))).await
}

async fn group(State(site): State<Shared>, id: Param) -> Response {
    let id = match param(id) {
        Ok(n) => n,
        Err(e) => return api_error(e),
    };
    let history = site.history.lag_of(&id);
    view(&site, move |st| crate::observe::api::group(st, &id, history)).await
}

async fn transactions(State(site): State<Shared>) -> Response {
    view(&site, |st| Ok(crate::observe::api::transactions(st))).await
}

async fn configs(State(site): State<Shared>) -> Response {
    view(&site, |st| Ok(crate::observe::api::configs(st))).await
}

async fn throughput(State(site): State<Shared>) -> Response {
    if site.state().await.is_none() {
        return unavailable();
    }
    Json(site.history.throughput()).into_response()
}

/// The site's routes (GET only), in axum's path syntax.
pub const ROUTES: &[&str] = &[
    "/healthz",
    "/readyz",
    "/metrics",
    "/",
    "/console/",
    "/console/{file}",
    "/api/overview",
    "/api/topics",
    "/api/topics/{topic}",
    "/api/topics/{topic}/messages",
    "/api/groups",
    "/api/groups/{group}",
    "/api/transactions",
    "/api/configs",
    "/api/throughput",
];

/// The site; with `control`, requests for other paths go to the control API (once it exists).
pub fn router(site: Shared, control: bool) -> Router {
    let r: Router<Shared> = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/", get(to_console))
        .route("/console", get(to_console))
        .route("/console/", get(console_index))
        .route("/console/{file}", get(console_file))
        .route("/api/overview", get(overview))
        .route("/api/topics", get(topics))
        .route("/api/topics/{topic}", get(topic))
        .route("/api/topics/{topic}/messages", get(messages))
        .route("/api/groups", get(groups))
        .route("/api/groups/{group}", get(group))
        .route("/api/transactions", get(transactions))
        .route("/api/configs", get(configs))
        .route("/api/throughput", get(throughput));
    let r = if control {
        r.fallback(|State(site): State<Shared>, req: Request| async move {
            match site.control_routes.get() {
                Some(routes) => {
                    use tower::ServiceExt;
                    match routes.clone().oneshot(req).await {
                        Ok(resp) => resp.into_response(),
                        Err(e) => match e {},
                    }
                }
                None => unavailable(),
            }
        })
    } else {
        r.fallback(|| async { (StatusCode::NOT_FOUND, Json(json!({"error": "no such route"}))) })
    };
    r.method_not_allowed_fallback(|| async {
        (StatusCode::METHOD_NOT_ALLOWED, Json(json!({"error": "only GET is served here"})))
    })
    .layer(axum::middleware::from_fn_with_state(site.clone(), gate))
    .with_state(site)
}

/// Serves the site (and, with `control`, the control API) on `listener` until `shutdown`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    site: Shared,
    control: bool,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(site, control).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}
