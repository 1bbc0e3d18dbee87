//! OpenTelemetry export: a real `server` process with `--otlp-endpoint` pointing at a small OTLP/HTTP
//! collector in this test. A command sent with a caller's `traceparent` is exported as a span of
//! the caller's trace (protobuf `POST /v1/traces`), its events record the exported request span
//! as their parent, and the projection batch that applies them is exported too (it links the
//! trace).

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

const ADMIN_TOKEN: &str = "otlp-admin-token-0123456789abcdef";
/// The caller's trace (W3C example ids).
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

/// One export request: its content type and body.
type Export = (String, Vec<u8>);

#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<Export>>>);

impl Received {
    fn bodies(&self) -> Vec<Export> {
        self.0.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

async fn traces(State(received): State<Received>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if let Ok(mut r) = received.0.lock() {
        r.push((content_type, body.to_vec()));
    }
    StatusCode::OK
}

/// A collector on a free port: what it received, and its base URL.
async fn collector() -> (Received, String) {
    let received = Received::default();
    let app = Router::new()
        .route("/v1/traces", post(traces))
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (received, format!("http://{addr}"))
}

struct Server {
    child: Child,
    base: String,
    log: std::path::PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn spawn(otlp: Option<&str>) -> Server {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
        l.local_addr().expect("addr").port()
    };
    let dir = std::env::temp_dir().join(format!("eventide_otlp_{}", Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).expect("dir");
    let log = dir.join("server.log");
    let file = std::fs::File::create(&log).expect("log");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_server"));
    cmd.arg("--addr")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data-dir")
        .arg(&dir)
        .arg("--admin-token")
        .arg(ADMIN_TOKEN)
        .arg("--rate-limit-per-sec")
        .arg("0")
        .env_remove("EVENTIDE_NATS_URL")
        .env_remove("EVENTIDE_OTLP_ENDPOINT")
        .env_remove("EVENTIDE_DATABASE_URL")
        // Export each batch of spans after 100 ms instead of 5 s.
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .stdin(Stdio::null())
        .stdout(Stdio::from(file.try_clone().expect("log")))
        .stderr(Stdio::from(file));
    if let Some(endpoint) = otlp {
        cmd.arg("--otlp-endpoint").arg(endpoint);
    }
    let server = Server {
        child: cmd.spawn().expect("server starts"),
        base: format!("http://127.0.0.1:{port}"),
        log,
    };
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = client.get(format!("{}/health", server.base)).send().await
            && r.status() == StatusCode::OK
        {
            return server;
        }
        assert!(
            Instant::now() < deadline,
            "server not ready: {}",
            std::fs::read_to_string(&server.log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .filter_map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
        .collect()
}

/// Registers a customer with the caller's trace; the events' recorded `traceparent`.
async fn command_in_trace(server: &Server) -> String {
    let client = reqwest::Client::new();
    let res = client
        .post(format!("{}/api/customers", server.base))
        .bearer_auth(ADMIN_TOKEN)
        .header("traceparent", format!("00-{TRACE_ID}-{CALLER_SPAN}-01"))
        .json(&json!({ "name": "Otto Telemetry", "email": format!("otto.{}@example.com", Uuid::now_v7().simple()) }))
        .send()
        .await
        .expect("command");
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: Value = res.json().await.expect("json");
    let id = body["id"].as_str().expect("id").to_owned();
    let events: Value = client
        .get(format!("{}/api/streams/customer-{id}/events", server.base))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("events")
        .json()
        .await
        .expect("json");
    events[0]["traceparent"]
        .as_str()
        .expect("the event records its trace")
        .to_owned()
}

#[tokio::test]
async fn spans_are_exported_over_otlp_in_the_callers_trace() {
    let (received, endpoint) = collector().await;
    let server = spawn(Some(&endpoint)).await;
    let recorded = command_in_trace(&server).await;
    // The events name the caller's trace and the exported request span (not the caller's).
    let parts: Vec<&str> = recorded.split('-').collect();
    assert_eq!(parts.get(1), Some(&TRACE_ID), "{recorded}");
    let request_span = parts.get(2).copied().unwrap_or_default().to_owned();
    assert_ne!(request_span, CALLER_SPAN);

    let trace = hex_bytes(TRACE_ID);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let bodies = received.bodies();
        let all: Vec<u8> = bodies.iter().flat_map(|(_, b)| b.clone()).collect();
        let request_exported = contains(&all, b"request")
            && contains(&all, &trace)
            && contains(&all, &hex_bytes(&request_span))
            && contains(&all, &hex_bytes(CALLER_SPAN));
        let batch_exported = contains(&all, b"projection_batch");
        if request_exported && batch_exported {
            assert!(
                bodies
                    .iter()
                    .all(|(content_type, _)| content_type == "application/x-protobuf"),
                "OTLP/HTTP protobuf"
            );
            assert!(contains(&all, b"eventide"), "the service name");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "collector got {} bodies: request span exported {request_exported}, projection batch {batch_exported}",
            bodies.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
