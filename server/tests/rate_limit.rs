//! The per-client rate limit (`server/src/security/rate_limit.rs`, `governor`): sign-in and
//! sign-up cost 5 cells, other writes 2, reads 1, from one budget per client IP; a forged
//! `X-Forwarded-For` from a peer that is not a trusted proxy changes nothing; a refusal is 429
//! `rate_limited` with `Retry-After` in whole seconds and counted by class in the metrics.

mod common;

use std::time::{Duration, Instant};

use common::{TestApp, error_code, test_config};
use reqwest::{Method, StatusCode};
use serde_json::json;

/// One request as client `ip` (believed: the test's peer 127.0.0.1 is a trusted proxy).
async fn send(app: &TestApp, ip: &str, method: Method, path: &str) -> reqwest::Response {
    let mut request = app
        .client
        .request(method.clone(), app.url(path))
        .header("X-Forwarded-For", ip);
    if method != Method::GET {
        // Refused by validation before any password hashing: quick, so the budget barely
        // refills while the test runs.
        request = request.json(&json!({}));
    }
    request.send().await.expect("request")
}

/// Requests until the first 429 (at most `max`): how many passed, and the refusal.
async fn passed_until_refused(
    app: &TestApp,
    ip: &str,
    method: Method,
    path: &str,
    max: usize,
) -> (usize, Option<reqwest::Response>) {
    for passed in 0..max {
        let r = send(app, ip, method.clone(), path).await;
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            return (passed, Some(r));
        }
    }
    (max, None)
}

async fn assert_refusal(r: Option<reqwest::Response>) {
    let r = r.expect("refused within the budget");
    let retry_after = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .expect("Retry-After in whole seconds");
    assert!((1..=10).contains(&retry_after), "{retry_after}");
    assert_eq!(error_code(&r.json().await.expect("json")), "rate_limited");
}

#[tokio::test]
async fn auth_routes_run_out_before_writes_and_reads_with_the_same_budget() {
    let mut config = test_config();
    config.rate_limit_per_sec = 1;
    config.rate_limit_burst = 10;
    config.trusted_proxy = vec!["127.0.0.1".parse().expect("ip")];
    let app = TestApp::spawn_with(config).await;
    let start = Instant::now();

    let mut auth = Vec::new();
    for (i, path) in ["/api/auth/login", "/api/auth/signup", "/api/admin/login"]
        .into_iter()
        .enumerate()
    {
        let ip = format!("10.1.0.{}", i + 1);
        let (passed, refusal) = passed_until_refused(&app, &ip, Method::POST, path, 20).await;
        assert_refusal(refusal).await;
        auth.push(passed);
    }
    let (writes, refusal) =
        passed_until_refused(&app, "10.1.1.1", Method::POST, "/api/customers", 20).await;
    assert_refusal(refusal).await;
    let (reads, refusal) = passed_until_refused(&app, "10.1.2.1", Method::GET, "/health", 30).await;
    assert_refusal(refusal).await;

    // 10 cells: 2 sign-ins (5 each), 5 writes (2 each), 10 reads; a cell comes back per second,
    // so a slow run may see one more.
    if start.elapsed() < Duration::from_secs(1) {
        assert_eq!((auth.as_slice(), writes, reads), (&[2, 2, 2][..], 5, 10));
    }
    for passed in &auth {
        assert!((2..=3).contains(passed), "{auth:?}");
    }
    assert!((5..=6).contains(&writes), "{writes}");
    assert!(reads >= 10, "{reads}");
    assert!(auth.iter().all(|a| *a < writes) && writes < reads);

    // One budget per client: the exhausted sign-in client cannot read either, another can.
    let r = send(&app, "10.1.0.1", Method::GET, "/health").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let r = send(&app, "10.1.9.9", Method::GET, "/health").await;
    assert_eq!(r.status(), StatusCode::OK);

    // Refusals are counted by class.
    let text = send(&app, "10.1.9.8", Method::GET, "/metrics")
        .await
        .text()
        .await
        .expect("metrics");
    for class in ["auth", "write", "read"] {
        let line = format!("eventide_rate_limited_total{{class=\"{class}\"}} ");
        let n = text
            .lines()
            .find_map(|l| l.strip_prefix(line.as_str()))
            .and_then(|n| n.parse::<u64>().ok());
        assert!(n.is_some_and(|n| n >= 1), "{line} in\n{text}");
    }
    app.stop().await;
}

#[tokio::test]
async fn forged_forwarded_for_from_an_untrusted_peer_does_not_dodge_the_auth_limit() {
    let mut config = test_config();
    config.rate_limit_per_sec = 1;
    config.rate_limit_burst = 10;
    let app = TestApp::spawn_with(config).await;
    let mut statuses = Vec::new();
    for i in 0..4 {
        // A new "client" each time: ignored, the peer is not a trusted proxy.
        let r = send(
            &app,
            &format!("10.2.0.{i}"),
            Method::POST,
            "/api/auth/login",
        )
        .await;
        statuses.push(r.status());
    }
    assert!(
        statuses[..2]
            .iter()
            .all(|s| *s != StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    assert_eq!(statuses[3], StatusCode::TOO_MANY_REQUESTS, "{statuses:?}");
    app.stop().await;
}
