//! The operator's search of the whole log (`SqlEventStore::search_log`) and the console's reads
//! beside it (`events_at`, `recorded_at`, `count_events`), on SQLite and PostgreSQL: every
//! filter alone and combined, keyset paging in both orders with no row lost or repeated, the
//! short id of a stream, time ranges, and events no upcaster can read shown as stored.

use std::future::Future;
use std::panic::AssertUnwindSafe;

use eventstore::testing::TestDb;
use eventstore::{
    Backend, EventMetadata, EventStore, ExpectedVersion, LogSearch, NewEvent, RecordedEvent,
    SqlEventStore, UpcasterRegistry,
};
use futures::FutureExt as _;
use serde_json::json;
use uuid::Uuid;

async fn run<F, Fut>(backend: Backend, case: F)
where
    F: FnOnce(SqlEventStore) -> Fut,
    Fut: Future<Output = ()>,
{
    let test_db = TestDb::new(backend).await.expect("fresh database");
    let store = SqlEventStore::open(test_db.db().clone(), UpcasterRegistry::new())
        .await
        .expect("open store");
    let outcome = AssertUnwindSafe(case(store.clone())).catch_unwind().await;
    store.shutdown().await;
    test_db.cleanup().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

fn event(event_type: &str, user: &str, correlation: Uuid) -> NewEvent {
    NewEvent::new(
        event_type,
        1,
        json!({ "n": 1 }),
        EventMetadata {
            correlation_id: Some(correlation),
            causation_id: Some(Uuid::now_v7()),
            user_id: Some(user.to_owned()),
            extra: serde_json::Map::new(),
        },
    )
}

/// The log of every case: 3 orders (4 events each), 2 customers (2 each), by two users; each
/// stream's events share a correlation id. Returns (order stream ids, correlation of order 0).
async fn fill(store: &SqlEventStore) -> (Vec<String>, Uuid) {
    let mut orders = Vec::new();
    let mut first_correlation = Uuid::nil();
    for i in 0..3 {
        let id = format!("order-{}", Uuid::now_v7());
        let correlation = Uuid::now_v7();
        if i == 0 {
            first_correlation = correlation;
        }
        let user = if i == 2 { "bob" } else { "alice" };
        let events = ["OrderPlaced", "ItemAdded", "ItemAdded", "OrderConfirmed"]
            .map(|t| event(t, user, correlation))
            .to_vec();
        store
            .append(&id, "order", ExpectedVersion::NoStream, events)
            .await
            .expect("append order");
        orders.push(id);
    }
    for _ in 0..2 {
        let id = format!("customer-{}", Uuid::now_v7());
        let correlation = Uuid::now_v7();
        let events = ["CustomerRegistered", "CustomerRenamed"]
            .map(|t| event(t, "carol", correlation))
            .to_vec();
        store
            .append(&id, "customer", ExpectedVersion::NoStream, events)
            .await
            .expect("append customer");
    }
    (orders, first_correlation)
}

async fn search(store: &SqlEventStore, search: LogSearch) -> Vec<RecordedEvent> {
    store.search_log(&search).await.expect("search")
}

fn positions(events: &[RecordedEvent]) -> Vec<i64> {
    events.iter().map(|e| e.position).collect()
}

fn page(limit: u32) -> LogSearch {
    LogSearch {
        limit,
        ..LogSearch::default()
    }
}

async fn every_filter_selects_exactly_its_events(store: SqlEventStore) {
    let (orders, correlation) = fill(&store).await;
    let all = search(&store, page(100)).await;
    assert_eq!(
        positions(&all),
        (1..=16).rev().collect::<Vec<_>>(),
        "newest first"
    );

    let by_type = search(
        &store,
        LogSearch {
            event_type: Some("ItemAdded".into()),
            ..page(100)
        },
    )
    .await;
    assert_eq!(by_type.len(), 6);
    assert!(by_type.iter().all(|e| e.event_type == "ItemAdded"));

    let by_stream_type = search(
        &store,
        LogSearch {
            stream_type: Some("customer".into()),
            ..page(100)
        },
    )
    .await;
    assert_eq!(by_stream_type.len(), 4);

    let by_user = search(
        &store,
        LogSearch {
            user_id: Some("bob".into()),
            ..page(100)
        },
    )
    .await;
    assert_eq!(by_user.len(), 4);
    assert!(by_user.iter().all(|e| e.stream_id == orders[2]));

    let by_correlation = search(
        &store,
        LogSearch {
            correlation_id: Some(correlation),
            oldest_first: true,
            ..page(100)
        },
    )
    .await;
    assert_eq!(positions(&by_correlation), vec![1, 2, 3, 4]);
    // The short id lists show (the last 8 hex digits).
    let tail = correlation.to_string()[28..].to_owned();
    let by_short = search(
        &store,
        LogSearch {
            correlation_tail: Some(tail.to_uppercase()),
            oldest_first: true,
            ..page(100)
        },
    )
    .await;
    assert_eq!(positions(&by_short), vec![1, 2, 3, 4]);

    let combined = search(
        &store,
        LogSearch {
            event_type: Some("OrderConfirmed".into()),
            user_id: Some("alice".into()),
            ..page(100)
        },
    )
    .await;
    assert_eq!(positions(&combined), vec![8, 4]);

    let none = search(
        &store,
        LogSearch {
            event_type: Some("ItemAdded".into()),
            user_id: Some("carol".into()),
            ..page(100)
        },
    )
    .await;
    assert!(none.is_empty());
}

async fn streams_match_by_id_prefix_or_short_id(store: SqlEventStore) {
    let (orders, _) = fill(&store).await;
    let exact = search(
        &store,
        LogSearch {
            stream: Some(orders[1].clone()),
            ..page(100)
        },
    )
    .await;
    assert_eq!(exact.len(), 4);
    assert!(exact.iter().all(|e| e.stream_id == orders[1]));

    let prefix = search(
        &store,
        LogSearch {
            stream: Some("order-".into()),
            ..page(100)
        },
    )
    .await;
    assert_eq!(prefix.len(), 12);

    // The short id the UI lists show: the last 8 hex digits of the stream's UUID.
    let tail = orders[2][orders[2].len() - 8..].to_owned();
    let short = search(
        &store,
        LogSearch {
            stream: Some(tail),
            ..page(100)
        },
    )
    .await;
    assert_eq!(short.len(), 4);
    assert!(short.iter().all(|e| e.stream_id == orders[2]));

    // The stream browser takes the short id too.
    let listed = store
        .list_streams(&eventstore::StreamFilter {
            id_prefix: Some(orders[2][orders[2].len() - 8..].to_owned()),
            ..eventstore::StreamFilter::default()
        })
        .await
        .expect("list");
    assert_eq!(
        listed
            .iter()
            .map(|s| s.stream_id.clone())
            .collect::<Vec<_>>(),
        vec![orders[2].clone()]
    );
    let listed = store
        .list_streams(&eventstore::StreamFilter {
            id_prefix: Some("customer-".to_owned()),
            ..eventstore::StreamFilter::default()
        })
        .await
        .expect("list");
    assert_eq!(listed.len(), 2);

    let unknown = search(
        &store,
        LogSearch {
            stream: Some("nothing-".into()),
            ..page(100)
        },
    )
    .await;
    assert!(unknown.is_empty());
}

async fn keyset_pages_cover_the_log_once_in_both_orders(store: SqlEventStore) {
    fill(&store).await;
    for oldest_first in [false, true] {
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = search(
                &store,
                LogSearch {
                    oldest_first,
                    after,
                    ..page(5)
                },
            )
            .await;
            if page.is_empty() {
                break;
            }
            after = page.last().map(|e| e.position);
            seen.extend(positions(&page));
        }
        let mut expected: Vec<i64> = (1..=16).collect();
        if !oldest_first {
            expected.reverse();
        }
        assert_eq!(seen, expected, "oldest_first = {oldest_first}");
    }
}

async fn a_time_range_selects_by_recorded_time(store: SqlEventStore) {
    let (orders, _) = fill(&store).await;
    let cut = chrono::Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    store
        .append(
            &orders[0],
            "order",
            ExpectedVersion::Exact(4),
            vec![event("OrderShipped", "alice", Uuid::now_v7())],
        )
        .await
        .expect("append");
    let after_cut = search(
        &store,
        LogSearch {
            from: Some(cut),
            ..page(100)
        },
    )
    .await;
    assert_eq!(positions(&after_cut), vec![17]);
    let before_cut = search(
        &store,
        LogSearch {
            to: Some(cut),
            ..page(100)
        },
    )
    .await;
    assert_eq!(before_cut.len(), 16);
    let future = search(
        &store,
        LogSearch {
            from: Some(cut + chrono::Duration::hours(1)),
            ..page(100)
        },
    )
    .await;
    assert!(future.is_empty());
}

async fn console_reads_positions_times_and_counts(store: SqlEventStore) {
    fill(&store).await;
    let at = store.events_at(&[2, 5, 99]).await.expect("events_at");
    assert_eq!(positions(&at), vec![2, 5]);
    let times = store.recorded_at(&[1, 16, 17]).await.expect("recorded_at");
    assert_eq!(times.len(), 2);
    let counts = store.count_events(4, 16).await.expect("count");
    let total: i64 = counts.iter().map(|c| c.count).sum();
    assert_eq!(total, 12);
    let added: i64 = counts
        .iter()
        .filter(|c| c.event_type == "ItemAdded")
        .map(|c| c.count)
        .sum();
    assert_eq!(added, 4, "orders 2 and 3 have two ItemAdded each");
    let customers: i64 = counts
        .iter()
        .filter(|c| c.stream_type == "customer")
        .map(|c| c.count)
        .sum();
    assert_eq!(customers, 4);
}

async fn a_prefix_of_more_streams_than_can_be_listed_walks_the_log(store: SqlEventStore) {
    let streams = eventstore::sql_store::MAX_MATCHED_STREAMS + 5;
    let ids: Vec<String> = (0..streams)
        .map(|i| format!("broad-{i:05}-{}", Uuid::now_v7()))
        .collect();
    for chunk in ids.chunks(100) {
        let appends = chunk.iter().map(|id| {
            store.append(
                id,
                "broad",
                ExpectedVersion::NoStream,
                vec![event("Opened", "dave", Uuid::now_v7())],
            )
        });
        for result in futures::future::join_all(appends).await {
            result.expect("append");
        }
    }
    fill(&store).await;
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = search(
            &store,
            LogSearch {
                stream: Some("broad-".into()),
                after,
                ..page(200)
            },
        )
        .await;
        if page.is_empty() {
            break;
        }
        assert!(page.iter().all(|e| e.stream_id.starts_with("broad-")));
        assert!(page.windows(2).all(|w| w[0].position > w[1].position));
        after = page.last().map(|e| e.position);
        seen.extend(page.into_iter().map(|e| e.stream_id));
    }
    seen.sort();
    let mut expected = ids;
    expected.sort();
    assert_eq!(seen, expected, "every broad- stream's event, once");
}

macro_rules! cases {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::run(eventstore::Backend::Sqlite, super::$case).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::run(eventstore::Backend::Postgres, super::$case).await;
                }
            )*
        }
    };
}

cases!(
    every_filter_selects_exactly_its_events,
    streams_match_by_id_prefix_or_short_id,
    keyset_pages_cover_the_log_once_in_both_orders,
    a_time_range_selects_by_recorded_time,
    console_reads_positions_times_and_counts,
    a_prefix_of_more_streams_than_can_be_listed_walks_the_log,
);
