//! Hardening (issue 16): bounded metric labels, slow and greedy clients (header read timeout,
//! idle keep-alive, connection and websocket caps, websocket message budget), broker credentials
//! kept out of status and logs, the Host check against DNS rebinding, 413 for oversized server
//! function bodies, and the JSON error shape on every API and operational path.

mod common;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use common::{TestApp, error_code, test_config};
use futures::{SinkExt as _, StreamExt as _};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

// ---- 10: metric labels are bounded ----

/// The label sets of the HTTP request series a random method or path can land in (`other`).
/// The metrics recorder is the process's, shared with the other tests' servers: the series of
/// the routes they call come and go with them and are left out.
async fn http_series(app: &TestApp) -> BTreeSet<String> {
    let text = app
        .get("/metrics")
        .await
        .text()
        .await
        .expect("metrics text");
    text.lines()
        .filter(|l| l.starts_with("eventide_http_request"))
        .filter(|l| l.contains(r#"method="other""#) || l.contains(r#"route="other""#))
        .filter_map(|l| l.split_once(' ').map(|(series, _)| series.to_owned()))
        .collect()
}

async fn random_requests(app: &TestApp, round: &str) -> Vec<String> {
    let mut sent = Vec::new();
    for i in 0..50 {
        let method = format!("X{round}M{i}{}", rand::random::<u32>());
        let path = format!("/random-{round}-{i}-{}", rand::random::<u32>());
        let api_path = format!("/api/random-{round}-{i}");
        let m = Method::from_bytes(method.as_bytes()).expect("a valid method token");
        let _ = app.client.request(m.clone(), app.url(&path)).send().await;
        let _ = app.client.request(m, app.url(&api_path)).send().await;
        let _ = app.client.get(app.url(&path)).send().await;
        sent.push(method);
        sent.push(path);
    }
    sent
}

#[tokio::test]
async fn random_methods_and_paths_add_no_metric_series() {
    let app = TestApp::spawn().await;
    // The scrape counts itself: once before, so every round sees the same series.
    http_series(&app).await;
    let first = random_requests(&app, "a").await;
    let before = http_series(&app).await;
    let second = random_requests(&app, "b").await;
    let after = http_series(&app).await;
    assert_eq!(
        before, after,
        "50 more random methods and paths added series"
    );
    let text = app.get("/metrics").await.text().await.unwrap();
    for sent in first.iter().chain(&second) {
        assert!(!text.contains(sent.as_str()), "{sent} became a label");
    }
    assert!(text.contains(r#"method="other""#), "{text}");
    assert!(text.contains(r#"route="other""#), "{text}");
    app.stop().await;
}

// ---- 11: slow and greedy clients ----

/// Reads until EOF or error; the time it took, or `None` if the server kept it open `within`.
async fn closed_within(tcp: &mut TcpStream, within: Duration) -> Option<(Duration, Vec<u8>)> {
    let start = Instant::now();
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(
            tokio::time::Instant::from_std(start + within),
            tcp.read(&mut buf),
        )
        .await
        {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some((start.elapsed(), received)),
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
        }
    }
}

fn slow_client_config() -> server::config::Config {
    let mut config = test_config();
    config.header_read_timeout_secs = 2;
    config
}

#[tokio::test]
async fn a_connection_that_never_finishes_its_request_line_is_closed() {
    let app = TestApp::spawn_with(slow_client_config()).await;
    let mut tcp = TcpStream::connect(&app.host).await.unwrap();
    tcp.write_all(b"GET /health HT").await.unwrap();
    let (elapsed, _) = closed_within(&mut tcp, Duration::from_secs(10))
        .await
        .expect("the server closed the half-sent request within 10 s");
    assert!(
        elapsed >= Duration::from_millis(1500),
        "closed after {elapsed:?}"
    );
    assert!(
        elapsed <= Duration::from_secs(6),
        "closed after {elapsed:?}"
    );
    // The server still serves.
    assert_eq!(app.get("/health").await.status(), StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let app = TestApp::spawn_with(slow_client_config()).await;
    let mut tcp = TcpStream::connect(&app.host).await.unwrap();
    let request = format!("GET /health HTTP/1.1\r\nHost: {}\r\n\r\n", app.host);
    tcp.write_all(request.as_bytes()).await.unwrap();
    let (elapsed, received) = closed_within(&mut tcp, Duration::from_secs(10))
        .await
        .expect("the idle keep-alive connection was closed within 10 s");
    let text = String::from_utf8_lossy(&received);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(
        elapsed >= Duration::from_millis(1500),
        "closed after {elapsed:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn connections_beyond_the_per_ip_cap_are_closed() {
    let mut config = test_config();
    config.max_connections_per_ip = 3;
    let app = TestApp::spawn_with(config).await;
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(TcpStream::connect(&app.host).await.unwrap());
    }
    // Give the server time to accept them.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut extra = TcpStream::connect(&app.host).await.unwrap();
    let request = format!(
        "GET /health HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        app.host
    );
    let _ = extra.write_all(request.as_bytes()).await;
    let (_, received) = closed_within(&mut extra, Duration::from_secs(5))
        .await
        .expect("the connection over the cap is closed");
    assert!(
        received.is_empty(),
        "{}",
        String::from_utf8_lossy(&received)
    );
    // The ones under the cap are served.
    let tcp = &mut open[0];
    tcp.write_all(request.as_bytes()).await.unwrap();
    let (_, received) = closed_within(tcp, Duration::from_secs(5)).await.unwrap();
    assert!(String::from_utf8_lossy(&received).starts_with("HTTP/1.1 200"));
    drop(open);
    // Slots are given back.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.get("/health").await.status(), StatusCode::OK);
    app.stop().await;
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn ws_connect(app: &TestApp) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
    tokio_tungstenite::connect_async(app.ws_request())
        .await
        .map(|(ws, _)| ws)
}

#[tokio::test]
async fn websockets_beyond_the_per_ip_cap_are_refused() {
    let mut config = test_config();
    config.ws_max_per_ip = 2;
    let app = TestApp::spawn_with(config).await;
    let first = ws_connect(&app).await.expect("first websocket");
    let _second = ws_connect(&app).await.expect("second websocket");
    match ws_connect(&app).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status().as_u16(), 429);
            let body: Value =
                serde_json::from_slice(response.body().as_deref().unwrap_or_default())
                    .expect("a JSON error body");
            assert_eq!(error_code(&body), "too_many_websockets");
        }
        other => panic!("a third websocket from one IP was not refused: {other:?}"),
    }
    // Closing one frees its slot.
    drop(first);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if ws_connect(&app).await.is_ok() {
            break;
        }
        assert!(Instant::now() < deadline, "the slot was never freed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.stop().await;
}

#[tokio::test]
async fn a_subscribe_loop_is_throttled() {
    let mut config = test_config();
    config.ws_messages_per_sec = 2;
    config.ws_messages_burst = 5;
    let app = TestApp::spawn_with(config).await;
    let mut ws = ws_connect(&app).await.expect("websocket");
    let subscribe =
        json!({ "type": "subscribe", "topics": [{ "topic": "orders" }], "since": 0 }).to_string();
    let sent = 100;
    let start = Instant::now();
    for _ in 0..sent {
        ws.send(Message::Text(subscribe.clone().into()))
            .await
            .unwrap();
    }
    let (mut subscribed, mut limited) = (0, 0);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while subscribed + limited < sent {
        let message = match tokio::time::timeout_at(deadline, ws.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => text,
            Ok(Some(Ok(_))) => continue,
            other => panic!("after {subscribed} subscribed and {limited} limited: {other:?}"),
        };
        let value: Value = serde_json::from_str(message.as_str()).unwrap();
        match value["type"].as_str() {
            Some("subscribed") => subscribed += 1,
            Some("error")
                if value["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("rate limited")) =>
            {
                limited += 1
            }
            _ => {}
        }
    }
    let allowed = 5 + (start.elapsed().as_secs_f64() * 2.0).ceil() as usize + 1;
    assert!(
        subscribed <= allowed,
        "{subscribed} subscribes acted on (at most {allowed})"
    );
    assert!(limited >= sent - allowed, "{limited} refused");
    app.stop().await;
}

// ---- 12: broker credentials never leave the process ----

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Every log line of this test binary, at every level.
fn captured_logs() -> &'static Captured {
    static LOGS: OnceLock<Captured> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Captured::default();
        let writer = logs.clone();
        // Everything the relay, the broker client and the server log, at every level.
        let filter = tracing_subscriber::EnvFilter::new(
            "debug,async_nats=trace,orders=trace,server=trace,hyper=info,sqlx=info,tungstenite=info,tokio_tungstenite=info",
        );
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("first subscriber");
        logs
    })
}

#[tokio::test]
async fn broker_credentials_appear_in_no_status_and_no_log() {
    let logs = captured_logs();
    let mut config = test_config();
    config.nats_url = Some("nats://user:secret@127.0.0.1:1".to_owned());
    let app = TestApp::spawn_with(config).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let relay = loop {
        let (status, body) = app.get_json("/api/relay").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        if body["last_error"].is_string() {
            break body;
        }
        assert!(Instant::now() < deadline, "the relay never failed: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let text = relay.to_string();
    assert!(!text.contains("secret"), "{text}");
    assert!(
        text.contains("127.0.0.1:1"),
        "the error still names the broker: {text}"
    );

    let mut ws = ws_connect(&app).await.expect("websocket");
    ws.send(Message::Text(
        json!({ "type": "subscribe", "topics": [{ "topic": "relay" }], "since": null })
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    let pushed = loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) if t.as_str().contains(r#""type":"relay""#) => {
                break t.to_string();
            }
            Ok(Some(Ok(_))) => continue,
            other => panic!("no relay status pushed: {other:?}"),
        }
    };
    assert!(!pushed.contains("secret"), "{pushed}");
    app.stop().await;

    let logs = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    assert!(
        logs.contains("127.0.0.1:1"),
        "the relay's failures are logged"
    );
    assert!(!logs.contains("secret"), "a log line has the password");
}

// ---- 13: the Host check ----

#[tokio::test]
async fn a_host_we_do_not_serve_is_refused_with_421() {
    let app = TestApp::spawn().await;
    for path in ["/api/orders", "/health", "/", "/ws"] {
        let r = app
            .client
            .get(app.url(path))
            .header("host", "evil.example:3000")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::MISDIRECTED_REQUEST, "{path}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(error_code(&body), "host_not_allowed", "{path}");
    }
    let port = app.host.rsplit_once(':').unwrap().1;
    for host in [
        app.host.clone(),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
    ] {
        let r = app
            .client
            .get(app.url("/health"))
            .header("host", &host)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{host}");
    }
    app.stop().await;

    let mut config = test_config();
    config.allowed_hosts = vec!["shop.example".to_owned()];
    config.allowed_origins = vec!["https://admin.example".to_owned()];
    let app = TestApp::spawn_with(config).await;
    for (host, want) in [
        ("shop.example", StatusCode::OK),
        ("admin.example", StatusCode::OK),
        ("evil.example", StatusCode::MISDIRECTED_REQUEST),
    ] {
        let r = app
            .client
            .get(app.url("/health"))
            .header("host", host)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), want, "{host}");
    }
    app.stop().await;
}

// ---- 15: oversized server function bodies ----

#[tokio::test]
async fn a_chunked_body_over_the_limit_to_a_server_function_is_413() {
    let mut config = test_config();
    config.max_body_bytes = 1024;
    let app = TestApp::spawn_with(config).await;
    let path = leptos::server_fn::axum::server_fn_paths()
        .map(|(path, _)| path.to_owned())
        .find(|path| path.starts_with("/fn/admin_login"))
        .expect("the admin_login server function is registered");
    let chunks = (0..64).map(|i| {
        let chunk = if i == 0 {
            "token=".to_owned()
        } else {
            "x".repeat(512)
        };
        Ok::<_, std::io::Error>(chunk)
    });
    let r = app
        .client
        .post(app.url(&path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = r.json().await.unwrap();
    assert_eq!(error_code(&body), "payload_too_large");
    app.stop().await;
}

// ---- 18: every error is the JSON error shape ----

#[tokio::test]
async fn every_api_and_operational_error_is_json() {
    let app = TestApp::spawn().await;
    let cases = [
        (Method::GET, "/api/no-such-thing", StatusCode::NOT_FOUND),
        (Method::GET, "/api/no/such/thing", StatusCode::NOT_FOUND),
        (Method::GET, "/api", StatusCode::NOT_FOUND),
        (Method::GET, "/api/", StatusCode::NOT_FOUND),
        (Method::POST, "/api/nothing", StatusCode::NOT_FOUND),
        (Method::POST, "/health", StatusCode::METHOD_NOT_ALLOWED),
        (Method::PUT, "/ready", StatusCode::METHOD_NOT_ALLOWED),
        (Method::DELETE, "/metrics", StatusCode::METHOD_NOT_ALLOWED),
        (Method::POST, "/ws", StatusCode::METHOD_NOT_ALLOWED),
        (Method::GET, "/ws", StatusCode::BAD_REQUEST),
    ];
    for (method, path, want) in cases {
        let r = app.send(method.clone(), path, None).await;
        let status = r.status();
        let content_type = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let text = r.text().await.unwrap();
        assert_eq!(status, want, "{method} {path}: {text}");
        assert!(
            content_type.starts_with("application/json"),
            "{method} {path}: {content_type} {text}"
        );
        let body: Value =
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("{method} {path}: {text}"));
        error_code(&body);
    }
    app.stop().await;
}
