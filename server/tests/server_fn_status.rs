//! Leptos server functions answer a refused call with the error's HTTP status, not 500.

mod common;

use common::TestApp;
use reqwest::StatusCode;

fn server_fn_path(name: &str) -> String {
    leptos::server_fn::axum::server_fn_paths()
        .map(|(path, _)| path.to_owned())
        .find(|path| path.starts_with(&format!("/fn/{name}")))
        .unwrap_or_else(|| panic!("server function {name} is registered"))
}

#[tokio::test]
async fn a_wrong_admin_token_is_401_not_500() {
    let app = TestApp::spawn().await;
    let r = app
        .client
        .post(app.url(&server_fn_path("admin_login")))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("token=wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}
