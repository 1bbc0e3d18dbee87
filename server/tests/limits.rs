//! The request timeout: a request that takes longer than `--request-timeout-secs` is aborted
//! with a JSON 503 instead of holding the connection.

mod common;

use common::{TestApp, test_config};
use reqwest::StatusCode;

#[tokio::test]
async fn a_request_slower_than_the_timeout_is_aborted_with_503() {
    let mut config = test_config();
    config.request_timeout_secs = 1;
    let app = TestApp::spawn_with(config).await;

    // Read-your-writes on a position the log will never reach makes the query wait for its
    // bound (2 s), longer than the 1 s timeout.
    let (status, body) = app.get_json("/api/orders?min_position=1000000").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "timeout", "{body}");

    // A quick request on the same server is unaffected.
    let (status, _) = app.get_json("/api/orders").await;
    assert_eq!(status, StatusCode::OK);
}
