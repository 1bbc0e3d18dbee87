//! Test harness: a real server on port 0 with a temporary data directory.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use server::app::Application;
use server::config::Config;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use uuid::Uuid;

pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";
/// One master key for every test server: several in-process instances share a PostgreSQL
/// database (each with its own data directory), and must wrap its data keys alike.
pub const MASTER_KEY: &str = "7e577e577e577e577e577e577e577e577e577e577e577e577e577e577e577e57";

pub struct TestApp {
    pub base: String,
    pub host: String,
    /// Sends `Authorization: Bearer <ADMIN_TOKEN>` (the bootstrap admin) on every request.
    pub client: reqwest::Client,
    /// Sends no credential.
    pub anonymous: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<anyhow::Result<()>>>,
    pub data_dir: PathBuf,
}

pub fn test_config() -> Config {
    let dir =
        std::env::temp_dir().join(format!("eventide_server_test_{}", Uuid::now_v7().simple()));
    let mut config = Config::for_tests(dir);
    config.admin_token = Some(ADMIN_TOKEN.to_owned());
    config.master_key = Some(MASTER_KEY.to_owned());
    config.rate_limit_per_sec = 0;
    config.site_root = PathBuf::from("target/site");
    config
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(test_config()).await
    }

    pub async fn spawn_with(config: Config) -> Self {
        let data_dir = config.data_dir.clone();
        let app = Application::build(config).await.expect("server builds");
        let addr = app.local_addr;
        let (stop, stopped) = oneshot::channel::<()>();
        let handle = tokio::spawn(app.run_until(async move {
            let _ = stopped.await;
        }));
        let mut admin = reqwest::header::HeaderMap::new();
        admin.insert(
            reqwest::header::AUTHORIZATION,
            reqwest::header::HeaderValue::from_str(&format!("Bearer {ADMIN_TOKEN}"))
                .expect("header"),
        );
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .default_headers(admin)
            .build()
            .expect("client");
        let anonymous = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client");
        Self {
            base: format!("http://{addr}"),
            host: addr.to_string(),
            client,
            anonymous,
            stop: Some(stop),
            handle: Some(handle),
            data_dir,
        }
    }

    /// A websocket request carrying the admin token (topics are authorized by role).
    pub fn ws_request(&self) -> tokio_tungstenite::tungstenite::handshake::client::Request {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
        let mut request = format!("ws://{}/ws", self.host)
            .into_client_request()
            .expect("request");
        request.headers_mut().insert(
            "authorization",
            format!("Bearer {ADMIN_TOKEN}").parse().expect("header"),
        );
        request
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
    }

    pub async fn get_json(&self, path: &str) -> (StatusCode, Value) {
        let r = self.get(path).await;
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Response {
        let mut req = self.client.request(method, self.url(path));
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send().await.expect("request")
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let r = self.send(Method::POST, path, Some(body)).await;
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Registers a customer and returns its id.
    pub async fn customer(&self, name: &str) -> Uuid {
        let (status, body) = self
            .post("/api/customers", json!({ "name": name, "email": format!("{}@example.com", name.to_lowercase().replace(' ', ".")) }))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        id(&body)
    }

    /// Creates a product and returns its id.
    pub async fn product(&self, sku: &str, cents: i64) -> Uuid {
        let (status, body) = self
            .post(
                "/api/products",
                json!({ "sku": sku, "name": format!("Product {sku}"), "price_cents": cents, "initial_stock": 1_000_000 }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        id(&body)
    }

    /// Places an order for a new customer and returns (order id, reply).
    pub async fn order(&self) -> (Uuid, Value) {
        let customer = self.customer("Ada Lovelace").await;
        let (status, body) = self
            .post("/api/orders", json!({ "customer_id": customer }))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        (id(&body), body)
    }

    /// The number of events in the log (via the stream browser), but for the bootstrap admin's
    /// account stream (created at the first start).
    pub async fn event_total(&self) -> i64 {
        let bootstrap = domain::account::Username::parse("admin")
            .map(|u| format!("account-{}", domain::AccountId::for_username(&u)))
            .unwrap_or_default();
        let (status, body) = self.get_json("/api/streams?limit=500").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["streams"]
            .as_array()
            .map(|s| {
                s.iter()
                    .filter(|s| s["stream_id"].as_str() != Some(bootstrap.as_str()))
                    .map(|s| s["event_count"].as_i64().unwrap_or(0))
                    .sum()
            })
            .unwrap_or(0)
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(handle) = self.handle.take() {
            let result = tokio::time::timeout(Duration::from_secs(20), handle).await;
            assert!(
                matches!(result, Ok(Ok(Ok(())))),
                "server stops cleanly: {result:?}"
            );
        }
        let _ = std::fs::remove_dir_all(&self.data_dir);
        // Every answer of every test server in this process matched the OpenAPI document
        // (`Config::for_tests` enforces the response contract check).
        let violations = server::api::contract::violations(&self.host);
        assert!(
            violations.is_empty(),
            "answers that break the OpenAPI document:\n{}",
            violations.join("\n")
        );
    }
}

pub fn id(body: &Value) -> Uuid {
    body["id"]
        .as_str()
        .and_then(|s| Uuid::parse_str(s).ok())
        .unwrap_or_else(|| panic!("no id in {body}"))
}

/// Asserts the API error shape and returns the code.
pub fn error_code(body: &Value) -> String {
    let error = &body["error"];
    assert!(error["message"].is_string(), "error shape: {body}");
    assert!(error.get("details").is_some(), "error shape: {body}");
    error["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no code in {body}"))
        .to_owned()
}
