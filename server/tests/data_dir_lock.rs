//! One server process per SQLite data directory: a second one is refused at start with a message
//! naming the directory (it would fault every projection on duplicate keys); the lock goes with
//! the first server. Servers sharing one PostgreSQL database take no lock.

mod common;

use common::{TestApp, test_config};
use eventstore::testing::TestDb;
use server::app::Application;

#[tokio::test]
async fn a_second_server_on_the_same_sqlite_data_dir_is_refused() {
    let config = test_config();
    let dir = config.data_dir.display().to_string();
    let first = TestApp::spawn_with(config.clone()).await;

    let second = Application::build(config.clone()).await;
    let message = match second {
        Ok(_) => panic!("a second server on {dir} must be refused"),
        Err(error) => format!("{error:#}"),
    };
    assert!(message.contains(&dir), "names the data dir: {message}");
    assert!(
        message.contains("in use by another server"),
        "says another server uses it: {message}"
    );
    // The first one is unharmed.
    let (status, _) = first.get_json("/api/orders").await;
    assert_eq!(status, reqwest::StatusCode::OK);
    first.stop().await;

    // The lock goes with the server that held it.
    let mut config = test_config();
    let dir = config.data_dir.clone();
    let held = Application::build(config.clone())
        .await
        .expect("first server builds");
    assert!(Application::build(config.clone()).await.is_err());
    drop(held);
    config.data_dir = dir.clone();
    let again = Application::build(config).await;
    assert!(again.is_ok(), "the lock is released: {:?}", again.err());
    drop(again);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn servers_on_one_postgres_database_take_no_lock() {
    let test_db = TestDb::postgres()
        .await
        .expect("PostgreSQL for tests (set EVENTIDE_TEST_PG_URL)");
    let mut config = test_config();
    config.database_url = Some(test_db.db().url().to_owned());
    let dir = config.data_dir.clone();
    let first = Application::build(config.clone())
        .await
        .expect("first server builds");
    let second = Application::build(config).await;
    assert!(
        second.is_ok(),
        "a second instance on PostgreSQL starts: {:?}",
        second.err()
    );
    drop((first, second));
    let _ = std::fs::remove_dir_all(&dir);
    test_db.cleanup().await;
}
