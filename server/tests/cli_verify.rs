//! `server verify` and `server chain-head` as an operator runs them, on a database a real server
//! wrote: intact (exit 0), the exported anchor checks, a raw `UPDATE` of one event row is
//! named (exit 1), an unreadable anchor is an error (exit 2).

mod common;

use std::process::Command;

use common::TestApp;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn server(database_url: &str, args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_server"))
        .args(args)
        .arg("--database-url")
        .arg(database_url)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run server");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[tokio::test]
async fn verify_and_chain_head_on_the_command_line() {
    // The database outside the data directory, which `stop` removes.
    let dir = std::env::temp_dir().join(format!("eventide_cli_{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).expect("dir");
    let url = format!("sqlite://{}", dir.join("eventide.db").display());
    let mut config = common::test_config();
    config.database_url = Some(url.clone());
    let app = TestApp::spawn_with(config).await;
    let customer = app.customer("Cli Person").await;
    let (status, _) = app
        .post("/api/orders", json!({ "customer_id": customer }))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    app.stop().await;

    let (code, out) = server(&url, &["verify"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.starts_with("intact: positions 1..="), "{out}");

    let anchor = dir.join("anchor.json");
    let anchor_arg = anchor.to_str().expect("path");
    let (code, out) = server(&url, &["chain-head", "--out", anchor_arg]);
    assert_eq!(code, Some(0), "{out}");
    let text: Value =
        serde_json::from_str(&std::fs::read_to_string(&anchor).expect("anchor")).expect("json");
    assert_eq!(text["algorithm"], "eventide-chain-v1/sha256");
    let (code, out) = server(&url, &["verify", "--anchor", anchor_arg]);
    assert_eq!(code, Some(0), "{out}");

    let db = eventstore::Db::connect(&url).await.expect("connect");
    sqlx::query("update events set data = '{\"cli\": 1}' where position = 2")
        .execute(db.pool())
        .await
        .expect("tamper");
    db.close().await;
    let (code, out) = server(&url, &["verify"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.starts_with("broken: changed at position 2"), "{out}");
    let (code, out) = server(&url, &["verify", "--from", "3"]);
    assert_eq!(code, Some(0), "a range after the change: {out}");

    std::fs::write(&anchor, "not json").expect("write");
    let (code, out) = server(&url, &["verify", "--anchor", anchor_arg]);
    assert_eq!(code, Some(2), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}
