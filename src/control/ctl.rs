//! `odradek ctl`: the control API from the command line, against a running broker.
//!
//! ```text
//! odradek ctl [--url HOST:PORT] [--token T] [--cluster ID] COMMAND [ARGS]
//!   clock                      advance MS
//!   roll [TOPIC]               retention [TOPIC]        compact [TOPIC]
//!   wait JSON                  (e.g. '{"for":"group","group":"g","state":"Stable","members":2}')
//!   faults                     fault-add JSON           fault-delete ID      faults-clear
//!   crash                      reset                    snapshot             restore SNAPSHOT
//!   clusters                   cluster-create [JSON]    cluster-delete ID    snapshots
//!   raw METHOD PATH [JSON]
//! ```
//! The address defaults to `$ODRADEK_CONTROL`, the token to `$ODRADEK_CONTROL_TOKEN`. Prints the
//! JSON answer; exits 1 on an HTTP error status (a wait that timed out is 408).
use bytes::Bytes;
use hyper_util::rt::TokioIo;

/// One HTTP request to the control API: (status, body).
pub async fn call(
    addr: &str,
    token: Option<&str>,
    method: &str,
    path: &str,
    body: Option<String>,
) -> Result<(u16, Bytes), String> {
    let addr = addr.trim_start_matches("http://").trim_end_matches('/');
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("cannot reach the control API at {addr}: {e}"))?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let method = axum::http::Method::from_bytes(method.to_ascii_uppercase().as_bytes())
        .map_err(|_| format!("not an HTTP method: {method}"))?;
    let mut req = axum::http::Request::builder()
        .method(method)
        .uri(path)
        .header(axum::http::header::HOST, addr)
        .header(axum::http::header::CONTENT_TYPE, "application/json");
    if let Some(t) = token {
        req = req.header(axum::http::header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let req = req.body(axum::body::Body::from(body.unwrap_or_default())).map_err(|e| e.to_string())?;
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let bytes = axum::body::to_bytes(axum::body::Body::new(resp.into_body()), 64 << 20)
        .await
        .map_err(|e| e.to_string())?;
    Ok((status, bytes))
}

/// Turns command words into (method, path under the cluster prefix or absolute, body).
fn request_for(words: &[String]) -> Result<(String, String, Option<String>, bool), String> {
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    let topic_body = |t: Option<&&str>| t.map(|t| serde_json::json!({ "topic": t }).to_string());
    // (method, path, body, scoped to the cluster)
    Ok(match w.as_slice() {
        ["clock"] => ("GET".into(), "/clock".into(), None, true),
        ["advance", ms] => {
            let ms: i64 = ms.parse().map_err(|_| format!("advance takes milliseconds, got {ms}"))?;
            ("POST".into(), "/clock/advance".into(), Some(format!("{{\"ms\":{ms}}}")), true)
        }
        ["roll", rest @ ..] => ("POST".into(), "/maintenance/roll".into(), topic_body(rest.first()), true),
        ["retention", rest @ ..] => {
            ("POST".into(), "/maintenance/retention".into(), topic_body(rest.first()), true)
        }
        ["compact", rest @ ..] => {
            ("POST".into(), "/maintenance/compaction".into(), topic_body(rest.first()), true)
        }
        ["wait", json] => ("POST".into(), "/wait".into(), Some(json.to_string()), true),
        ["faults"] => ("GET".into(), "/faults".into(), None, true),
        ["fault-add", json] => ("POST".into(), "/faults".into(), Some(json.to_string()), true),
        ["fault-delete", id] => ("DELETE".into(), format!("/faults/{id}"), None, true),
        ["faults-clear"] => ("DELETE".into(), "/faults".into(), None, true),
        ["crash"] => ("POST".into(), "/crash".into(), None, true),
        ["reset"] => ("POST".into(), "/reset".into(), None, true),
        ["snapshot"] => ("POST".into(), "/snapshots".into(), None, true),
        ["restore", s] => {
            ("POST".into(), "/restore".into(), Some(serde_json::json!({ "snapshot": s }).to_string()), true)
        }
        ["clusters"] => ("GET".into(), "/v1/clusters".into(), None, false),
        ["snapshots"] => ("GET".into(), "/v1/snapshots".into(), None, false),
        ["cluster-create"] => ("POST".into(), "/v1/clusters".into(), Some("{}".into()), false),
        ["cluster-create", json] => ("POST".into(), "/v1/clusters".into(), Some(json.to_string()), false),
        ["cluster-delete", id] => ("DELETE".into(), format!("/v1/clusters/{id}"), None, false),
        ["raw", m, p] => (m.to_string(), p.to_string(), None, false),
        ["raw", m, p, json] => (m.to_string(), p.to_string(), Some(json.to_string()), false),
        _ => return Err(format!("unknown ctl command {:?}; see `odradek ctl --help`", words.join(" "))),
    })
}

/// Runs one `odradek ctl` command; returns the process exit code.
pub fn run(url: Option<String>, token: Option<String>, cluster: Option<String>, words: Vec<String>) -> i32 {
    let Some(url) = url.or_else(|| std::env::var("ODRADEK_CONTROL").ok()) else {
        eprintln!("odradek ctl: give --url HOST:PORT or set ODRADEK_CONTROL (the broker prints its control address at start)");
        return 2;
    };
    let token = token.or_else(|| std::env::var("ODRADEK_CONTROL_TOKEN").ok());
    let (method, path, body, scoped) = match request_for(&words) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("odradek ctl: {e}");
            return 2;
        }
    };
    let path = match (scoped, &cluster) {
        (true, Some(c)) => format!("/v1/clusters/{c}{path}"),
        (true, None) => format!("/v1{path}"),
        (false, _) => path,
    };
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("odradek ctl: {e}");
            return 2;
        }
    };
    match rt.block_on(call(&url, token.as_deref(), &method, &path, body)) {
        Ok((status, bytes)) => {
            let text = String::from_utf8_lossy(&bytes);
            match serde_json::from_slice::<serde_json::Value>(&bytes) {
                Ok(v) => {
                    println!("{}", serde_json::to_string_pretty(&v).unwrap_or_else(|_| text.to_string()))
                }
                Err(_) => println!("{text}"),
            }
            if (200..300).contains(&status) {
                0
            } else {
                eprintln!("odradek ctl: HTTP {status}");
                1
            }
        }
        Err(e) => {
            eprintln!("odradek ctl: {e}");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_become_requests() {
        let w = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        let (m, p, b, scoped) = request_for(&w("advance 45000")).unwrap();
        assert_eq!(
            (m.as_str(), p.as_str(), b.as_deref(), scoped),
            ("POST", "/clock/advance", Some("{\"ms\":45000}"), true)
        );
        let (_, p, b, _) = request_for(&w("compact orders")).unwrap();
        assert_eq!((p.as_str(), b.as_deref()), ("/maintenance/compaction", Some("{\"topic\":\"orders\"}")));
        assert!(request_for(&w("advance soon")).is_err());
        assert!(request_for(&w("explode")).is_err());
    }
}
