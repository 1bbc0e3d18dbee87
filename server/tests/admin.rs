//! The admin token: as a bearer token, and signing in the bootstrap admin's session; 401/403;
//! projection operations.

mod common;

use common::{ADMIN_TOKEN, TestApp, error_code};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn admin_endpoints_need_the_credential() {
    let app = TestApp::spawn().await;
    let r = app
        .anonymous
        .post(app.url("/api/projections/orders/rebuild"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(&r.json().await.unwrap()), "unauthorized");
    let r = app
        .anonymous
        .post(app.url("/api/projections/orders/rebuild"))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    // A credential that is wrong is no credential: 401 (403 is for a known user not allowed).
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(&r.json().await.unwrap()), "invalid_token");

    let r = app
        .anonymous
        .post(app.url("/api/projections/orders/rebuild"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["projection"], "orders");
    // A second one right away: accepted if the first finished, else 409.
    let r = app
        .anonymous
        .post(app.url("/api/projections/orders/rebuild"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert!(
        matches!(r.status(), StatusCode::ACCEPTED | StatusCode::CONFLICT),
        "{}",
        r.status()
    );
    let r = app
        .anonymous
        .post(app.url("/api/projections/rebuild"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let r = app
        .anonymous
        .post(app.url("/api/projections/nope/rebuild"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = app
        .anonymous
        .post(app.url("/api/projections/orders/retry"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(
        error_code(&r.json().await.unwrap()),
        "projection_not_faulted"
    );
    let r = app
        .anonymous
        .post(app.url("/api/projections/orders/skip"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({ "reason": "" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = app
        .anonymous
        .post(app.url("/api/projections/orders/skip"))
        .json(&json!({ "reason": "x" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    app.stop().await;
}

#[tokio::test]
async fn login_sets_a_strict_httponly_cookie_and_logout_ends_it() {
    let app = TestApp::spawn().await;
    let (status, body) = app
        .post("/api/admin/login", json!({ "token": "wrong" }))
        .await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (StatusCode::UNAUTHORIZED, "invalid_token")
    );
    let (status, body) = app
        .post("/api/admin/login", json!({ "token": ADMIN_TOKEN, "x": 1 }))
        .await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (StatusCode::BAD_REQUEST, "invalid_body")
    );

    let r = app
        .anonymous
        .post(app.url("/api/admin/login"))
        .json(&json!({ "token": ADMIN_TOKEN }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let set_cookie = r
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"),
        "{set_cookie}"
    );
    assert!(!set_cookie.contains("Secure"));
    let cookie = set_cookie.split(';').next().unwrap_or_default().to_owned();

    let session = |cookie: Option<String>| {
        let mut req = app.anonymous.get(app.url("/api/admin/session"));
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        req.send()
    };
    let s: Value = session(Some(cookie.clone()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(s["logged_in"], true);
    let s: Value = session(None).await.unwrap().json().await.unwrap();
    assert_eq!(s["logged_in"], false);

    let r = app
        .anonymous
        .post(app.url("/api/projections/rebuild"))
        .header("cookie", cookie.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    // Commands by a logged-in admin are recorded as "admin".
    let r = app
        .anonymous
        .post(app.url("/api/customers"))
        .header("cookie", cookie.clone())
        .json(&json!({ "name": "Root", "email": "root@example.com" }))
        .send()
        .await
        .unwrap();
    let id = common::id(&r.json().await.unwrap());
    let (_, events) = app
        .get_json(&format!("/api/streams/customer-{id}/events"))
        .await;
    assert_eq!(events[0]["user_id"], "admin");

    let r = app
        .anonymous
        .post(app.url("/api/admin/logout"))
        .header("cookie", cookie.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .contains("Max-Age=0")
    );
    let s: Value = session(Some(cookie.clone()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(s["logged_in"], false);
    let r = app
        .anonymous
        .post(app.url("/api/projections/rebuild"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    // The ended session is no session at all.
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    app.stop().await;
}

#[tokio::test]
async fn generated_admin_token_is_stored_privately() {
    let mut config = common::test_config();
    config.admin_token = None;
    config.secure_cookies = true;
    let app = TestApp::spawn_with(config).await;
    let path = app.data_dir.join("admin-token");
    let token = std::fs::read_to_string(&path).unwrap().trim().to_owned();
    assert!(token.len() >= 32);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let r = app
        .anonymous
        .post(app.url("/api/admin/login"))
        .json(&json!({ "token": token }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .contains("; Secure")
    );
    app.stop().await;
}

/// A rebuild that is still running refuses a second one of the same projection with 409. The
/// log is made long enough (20,000 events) that the first rebuild is surely still running.
#[tokio::test]
async fn a_second_rebuild_while_one_runs_is_409() {
    use domain::customer::{CustomerEvent, CustomerRegistered, CustomerRenamed};
    use domain::values::{CustomerName, Email};
    use domain::{CustomerId, DomainEvent};
    use eventstore::{Db, EventMetadata, EventStore, ExpectedVersion, NewEvent, SqlEventStore};

    let app = TestApp::spawn().await;
    let db = Db::connect(&format!(
        "sqlite://{}",
        app.data_dir.join("eventide.db").display()
    ))
    .await
    .unwrap();
    let store = SqlEventStore::open(db, orders::command::upcaster_registry())
        .await
        .unwrap();
    let id = CustomerId::new(uuid::Uuid::now_v7());
    let mut events = vec![CustomerEvent::Registered(CustomerRegistered {
        customer_id: id,
        name: CustomerName::parse("Rebuild Load").unwrap(),
        email: Email::parse("load@example.com").unwrap(),
    })];
    events.extend((1..20_000).map(|n| {
        CustomerEvent::Renamed(CustomerRenamed {
            name: CustomerName::parse(&format!("Rebuild Load {n}")).unwrap(),
        })
    }));
    let new: Vec<NewEvent> = events
        .iter()
        .map(|e| {
            NewEvent::new(
                e.event_type(),
                e.schema_version(),
                e.to_data(),
                EventMetadata::default(),
            )
        })
        .collect();
    store
        .append(
            &format!("customer-{id}"),
            "customer",
            ExpectedVersion::NoStream,
            new,
        )
        .await
        .unwrap();

    let rebuild = || {
        app.client
            .post(app.url("/api/projections/customers/rebuild"))
            .bearer_auth(ADMIN_TOKEN)
            .send()
    };
    assert_eq!(rebuild().await.unwrap().status(), StatusCode::ACCEPTED);
    let second = rebuild().await.unwrap();
    assert_eq!(second.status(), StatusCode::CONFLICT);
    let body: Value = second.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rebuild_in_progress", "{body}");
    store.shutdown().await;
}
