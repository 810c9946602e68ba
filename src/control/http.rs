//! The control API over HTTP/1.1 + JSON (axum), versioned under `/v1`. Every cluster-scoped
//! route exists twice: `/v1/<route>` acts on the `default` cluster, `/v1/clusters/{cluster}/<route>`
//! on the named one. `docs/control-api.json` (OpenAPI 3) describes the same table; a test checks
//! the two against each other and against a running server.
//!
//! Refuses a non-loopback address unless a bearer token is configured; with a token, every
//! request must carry `Authorization: Bearer <token>`.
use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, MethodRouter};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{Cluster, Condition, Control, ControlError, NewCluster, DEFAULT_CLUSTER};
use crate::faults::RuleSpec;

type Shared = Arc<Control>;
type Params = Option<Path<HashMap<String, String>>>;

impl IntoResponse for ControlError {
    fn into_response(self) -> Response {
        let status = match &self {
            ControlError::NotFound(_) => StatusCode::NOT_FOUND,
            ControlError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ControlError::Conflict(_) => StatusCode::CONFLICT,
            ControlError::Failed(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        (status, Json(json!({"error": self.to_string()}))).into_response()
    }
}

type Answer = Result<Json<Value>, ControlError>;

fn cluster_of(c: &Control, p: &Params) -> Result<Arc<Cluster>, ControlError> {
    let id =
        p.as_ref().and_then(|p| p.0.get("cluster").cloned()).unwrap_or_else(|| DEFAULT_CLUSTER.to_string());
    c.cluster(&id)
}

fn param(p: &Params, name: &str) -> Result<String, ControlError> {
    p.as_ref()
        .and_then(|p| p.0.get(name).cloned())
        .ok_or_else(|| ControlError::BadRequest(format!("missing path parameter {name}")))
}

async fn get_clock(State(c): State<Shared>, p: Params) -> Answer {
    let cl = cluster_of(&c, &p)?;
    let clock = cl.clock();
    // wall_ms: a manual clock falls behind wall time while a test runs, and clients stamp
    // records (CreateTime) with wall time; a test moving past retention.ms can add the gap.
    Ok(Json(json!({
        "mode": if clock.is_manual() { "manual" } else { "system" },
        "now_ms": clock.now_ms(),
        "wall_ms": crate::clock::now_ms(),
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Advance {
    ms: i64,
}

async fn advance(State(c): State<Shared>, p: Params, Json(a): Json<Advance>) -> Answer {
    Ok(Json(cluster_of(&c, &p)?.advance(a.ms).await?))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Maintain {
    #[serde(default)]
    topic: Option<String>,
    /// Compaction: roll the active segment first so everything written is eligible (default true).
    #[serde(default)]
    roll: Option<bool>,
}

async fn maintain(State(c): State<Shared>, p: Params, body: Option<Json<Maintain>>) -> Answer {
    let cl = cluster_of(&c, &p)?;
    let task = param(&p, "task")?;
    let m = body.map(|b| b.0).unwrap_or_default();
    Ok(Json(cl.maintain(&task, m.topic, m.roll.unwrap_or(true)).await?))
}

async fn wait(State(c): State<Shared>, p: Params, Json(cond): Json<Condition>) -> Response {
    let cl = match cluster_of(&c, &p) {
        Ok(cl) => cl,
        Err(e) => return e.into_response(),
    };
    match cl.wait(cond).await {
        // A wait that timed out answers 408 with the state seen.
        Ok(w) if !w.ok => (StatusCode::REQUEST_TIMEOUT, Json(w)).into_response(),
        Ok(w) => Json(w).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn list_faults(State(c): State<Shared>, p: Params) -> Answer {
    Ok(Json(serde_json::to_value(cluster_of(&c, &p)?.faults().list()).unwrap_or_default()))
}

async fn add_fault(State(c): State<Shared>, p: Params, Json(spec): Json<RuleSpec>) -> Response {
    let cl = match cluster_of(&c, &p) {
        Ok(cl) => cl,
        Err(e) => return e.into_response(),
    };
    if let Err(why) = crate::handler::faults::check_rule(&spec) {
        return ControlError::BadRequest(why).into_response();
    }
    match cl.faults().add(spec) {
        Ok(v) => (StatusCode::CREATED, Json(v)).into_response(),
        Err(e) => ControlError::BadRequest(e).into_response(),
    }
}

async fn clear_faults(State(c): State<Shared>, p: Params) -> Answer {
    Ok(Json(json!({"removed": cluster_of(&c, &p)?.faults().clear()})))
}

fn rule_id(p: &Params) -> Result<u64, ControlError> {
    param(p, "id")?.parse().map_err(|_| ControlError::BadRequest("a rule id is a number".into()))
}

async fn get_fault(State(c): State<Shared>, p: Params) -> Answer {
    let cl = cluster_of(&c, &p)?;
    let id = rule_id(&p)?;
    let v = cl.faults().get(id).ok_or_else(|| ControlError::NotFound(format!("no fault rule {id}")))?;
    Ok(Json(serde_json::to_value(v).unwrap_or_default()))
}

async fn delete_fault(State(c): State<Shared>, p: Params) -> Answer {
    let cl = cluster_of(&c, &p)?;
    let id = rule_id(&p)?;
    if !cl.faults().remove(id) {
        return Err(ControlError::NotFound(format!("no fault rule {id}")));
    }
    Ok(Json(json!({"removed": id})))
}

async fn crash(State(c): State<Shared>, p: Params) -> Answer {
    Ok(Json(cluster_of(&c, &p)?.crash().await?))
}

async fn list_clusters(State(c): State<Shared>) -> Answer {
    let mut out = Vec::new();
    for cl in c.clusters() {
        if let Ok(v) = cl.describe().await {
            out.push(v);
        }
    }
    Ok(Json(Value::Array(out)))
}

async fn create_cluster(State(c): State<Shared>, body: Option<Json<NewCluster>>) -> Response {
    match c.create(body.map(|b| b.0).unwrap_or_default()).await {
        Ok(v) => (StatusCode::CREATED, Json(v)).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn describe_cluster(State(c): State<Shared>, p: Params) -> Answer {
    Ok(Json(cluster_of(&c, &p)?.describe().await?))
}

async fn delete_cluster(State(c): State<Shared>, p: Params) -> Answer {
    Ok(Json(c.delete(&param(&p, "cluster")?).await?))
}

async fn reset(State(c): State<Shared>, p: Params) -> Answer {
    Ok(Json(cluster_of(&c, &p)?.reset().await?))
}

async fn snapshot(State(c): State<Shared>, p: Params) -> Response {
    let id = p.as_ref().and_then(|p| p.0.get("cluster").cloned()).unwrap_or_else(|| DEFAULT_CLUSTER.into());
    match c.snapshot(&id).await {
        Ok(v) => (StatusCode::CREATED, Json(v)).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn list_snapshots(State(c): State<Shared>) -> Answer {
    Ok(Json(c.snapshots()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Restore {
    snapshot: String,
}

async fn restore(State(c): State<Shared>, p: Params, Json(r): Json<Restore>) -> Answer {
    let id = p.as_ref().and_then(|p| p.0.get("cluster").cloned()).unwrap_or_else(|| DEFAULT_CLUSTER.into());
    Ok(Json(c.restore(&id, &r.snapshot).await?))
}

/// The routes of one cluster, relative to its prefix.
fn cluster_routes() -> Vec<(&'static str, &'static str, MethodRouter<Shared>)> {
    vec![
        ("GET", "/clock", get(get_clock)),
        ("POST", "/clock/advance", post(advance)),
        ("POST", "/maintenance/{task}", post(maintain)),
        ("POST", "/wait", post(wait)),
        ("GET", "/faults", get(list_faults)),
        ("POST", "/faults", post(add_fault)),
        ("DELETE", "/faults", delete(clear_faults)),
        ("GET", "/faults/{id}", get(get_fault)),
        ("DELETE", "/faults/{id}", delete(delete_fault)),
        ("POST", "/crash", post(crash)),
        ("POST", "/reset", post(reset)),
        ("POST", "/snapshots", post(snapshot)),
        ("POST", "/restore", post(restore)),
    ]
}

/// Every (method, path) served, in OpenAPI's path syntax.
pub fn routes() -> Vec<(String, String)> {
    table().into_iter().map(|(m, p, _)| (m.to_string(), p)).collect()
}

fn table() -> Vec<(&'static str, String, MethodRouter<Shared>)> {
    let mut t: Vec<(&'static str, String, MethodRouter<Shared>)> = vec![
        ("GET", "/v1/clusters".into(), get(list_clusters)),
        ("POST", "/v1/clusters".into(), post(create_cluster)),
        ("GET", "/v1/clusters/{cluster}".into(), get(describe_cluster)),
        ("DELETE", "/v1/clusters/{cluster}".into(), delete(delete_cluster)),
        ("GET", "/v1/snapshots".into(), get(list_snapshots)),
    ];
    for (m, p, r) in cluster_routes() {
        t.push((m, format!("/v1{p}"), r.clone()));
        t.push((m, format!("/v1/clusters/{{cluster}}{p}"), r));
    }
    t
}

pub fn router(control: Shared) -> Router {
    let mut r: Router<Shared> = Router::new();
    for (_, path, mr) in table() {
        r = r.route(&path, mr);
    }
    let token = control.token.clone();
    r.fallback(|| async { ControlError::NotFound("no such route; see docs/control-api.json".into()) })
        .layer(axum::middleware::from_fn(move |req: Request, next: Next| {
            let token = token.clone();
            async move {
                if let Some(t) = token {
                    let given = req
                        .headers()
                        .get(axum::http::header::AUTHORIZATION)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.strip_prefix("Bearer "));
                    let ok = given
                        .is_some_and(|g| subtle::ConstantTimeEq::ct_eq(g.as_bytes(), t.as_bytes()).into());
                    if !ok {
                        return (
                            StatusCode::UNAUTHORIZED,
                            Json(json!({"error": "a bearer token is required"})),
                        )
                            .into_response();
                    }
                }
                next.run(req).await
            }
        }))
        .with_state(control)
}

/// Whether an address is loopback (the only kind served without a token).
pub fn is_loopback(addr: &std::net::SocketAddr) -> bool {
    addr.ip().is_loopback()
}

/// Binds the control listener; refuses a non-loopback address without a token.
pub async fn bind(addr: &str, token: Option<&str>) -> std::io::Result<tokio::net::TcpListener> {
    let l = tokio::net::TcpListener::bind(addr).await?;
    let at = l.local_addr()?;
    if !is_loopback(&at) && token.is_none_or(|t| t.is_empty()) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!("--control-listen {at} is not a loopback address: set --control-token (anyone who reaches the control API can reset the broker)"),
        ));
    }
    Ok(l)
}

/// Serves the control API until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    control: Shared,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(control)).with_graceful_shutdown(shutdown).await
}
