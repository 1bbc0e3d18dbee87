//! The invariants: the log read directly from the database against the client's ledger, and
//! the read models (through the API) against a fresh rebuild and against the log.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde_json::Value;
use sqlx::{AnyPool, Row as _};

use crate::load::{Api, Outcome, Record};

/// What the log check found.
#[derive(Debug, Default)]
pub struct LogReport {
    pub events: usize,
    pub lost: usize,
    pub duplicated: usize,
    /// Broken invariants other than lost/duplicated (described).
    pub problems: Vec<String>,
}

impl LogReport {
    fn problem(&mut self, text: String) {
        if self.problems.len() < 20 {
            self.problems.push(text);
        }
    }
}

struct LoggedEvent {
    position: i64,
    stream_id: String,
    version: i64,
    event_type: String,
}

/// Checks the log: positions 1..=head contiguous, event ids unique, stream versions contiguous
/// and equal to `streams.version`; every acknowledged command's event present exactly once at
/// the acknowledged (stream, version, position); no command present twice; a refused command
/// absent; no event that no command of the ledger explains (except `foreign` event ids and the
/// server's own `account-` streams).
pub async fn check_log(
    db: &AnyPool,
    ledger: &[Record],
    foreign: &HashSet<String>,
) -> anyhow::Result<LogReport> {
    let mut report = LogReport::default();
    let rows = sqlx::query(
        "select position, event_id, stream_id, version, correlation_id, event_type from events order by position",
    )
    .fetch_all(db)
    .await
    .context("cannot read the events")?;
    let head: i64 = sqlx::query_scalar("select position from log_head where id = 1")
        .fetch_one(db)
        .await?;
    report.events = rows.len();
    let mut ids = HashSet::new();
    let mut by_corr: HashMap<String, Vec<LoggedEvent>> = HashMap::new();
    let mut versions: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for (i, row) in rows.iter().enumerate() {
        let position: i64 = row.try_get(0)?;
        let event_id: String = row.try_get(1)?;
        let stream_id: String = row.try_get(2)?;
        let version: i64 = row.try_get(3)?;
        let corr: Option<String> = row.try_get(4)?;
        let event_type: String = row.try_get(5)?;
        if position != i as i64 + 1 {
            report.problem(format!(
                "gap in the log: position {position} at row {}",
                i + 1
            ));
        }
        if !ids.insert(event_id.clone()) {
            report.problem(format!("event id {event_id} stored twice"));
        }
        versions.entry(stream_id.clone()).or_default().push(version);
        // The server's own account events (the bootstrap admin of the first start) are not
        // commands of the load generator: gap-free and versioned like any other, no more.
        if stream_id.starts_with("account-") {
            continue;
        }
        match corr {
            Some(c) => by_corr.entry(c).or_default().push(LoggedEvent {
                position,
                stream_id,
                version,
                event_type,
            }),
            None if foreign.contains(&event_id) => {}
            None => report.problem(format!(
                "event {event_id} at {position} has no correlation id"
            )),
        }
    }
    if head != rows.len() as i64 {
        report.problem(format!(
            "log head is {head} but the log holds {} events",
            rows.len()
        ));
    }
    let streams: HashMap<String, i64> = sqlx::query("select stream_id, version from streams")
        .fetch_all(db)
        .await?
        .iter()
        .map(|r| Ok((r.try_get::<String, _>(0)?, r.try_get::<i64, _>(1)?)))
        .collect::<Result<_, sqlx::Error>>()?;
    if streams.len() != versions.len() {
        report.problem(format!(
            "{} streams in `streams`, {} in the log",
            streams.len(),
            versions.len()
        ));
    }
    for (stream, mut v) in versions {
        v.sort_unstable();
        let contiguous = v.iter().enumerate().all(|(i, x)| *x == i as i64 + 1);
        if !contiguous {
            report.problem(format!("stream {stream}: versions not contiguous"));
        }
        if streams.get(&stream) != Some(&(v.len() as i64)) {
            report.problem(format!(
                "stream {stream}: {} events but streams.version = {:?}",
                v.len(),
                streams.get(&stream)
            ));
        }
    }
    let mut known = HashSet::new();
    for record in ledger {
        let corr = record.correlation_id.to_string();
        let found = by_corr.get(&corr).map_or(&[][..], |v| v.as_slice());
        known.insert(corr);
        // One command writes at most one event of a type per stream (an order's confirmation
        // and, on each product's stream, its reservation): a second is the command applied
        // twice.
        let mut seen = HashSet::new();
        let twice = found
            .iter()
            .any(|e| !seen.insert((e.stream_id.as_str(), e.event_type.as_str())));
        if twice {
            report.duplicated += 1;
            report.problem(format!(
                "{} on {} is in the log {} times",
                record.kind,
                record.stream_id,
                found.len()
            ));
        }
        match &record.outcome {
            Outcome::Acked { version, position } => {
                if found.is_empty() {
                    report.lost += 1;
                    report.problem(format!(
                        "acknowledged {} on {} (v{version}, #{position}) is not in the log",
                        record.kind, record.stream_id
                    ));
                } else if let Some(e) = found
                    .iter()
                    .rfind(|e| e.stream_id == record.stream_id)
                    .or(found.first())
                    // The reply names the command's last event on its own stream (a product
                    // created with stock: its receipt; a confirmation: the order's event, the
                    // products' reservations follow it).
                    && (e.stream_id != record.stream_id
                        || e.version != *version
                        || e.position != *position)
                {
                    report.problem(format!(
                        "acknowledged {} as {} v{version} #{position} but logged as {} v{} #{}",
                        record.kind, record.stream_id, e.stream_id, e.version, e.position
                    ));
                }
            }
            Outcome::Rejected { status, code } => {
                if !found.is_empty() {
                    report.problem(format!(
                        "{} on {} was refused ({status} {code}) but is in the log",
                        record.kind, record.stream_id
                    ));
                }
            }
            Outcome::Failed { .. } => {}
        }
    }
    for (corr, events) in &by_corr {
        if !known.contains(corr) {
            report.problem(format!(
                "{} event(s) with correlation id {corr} that no command sent (first at #{})",
                events.len(),
                events.first().map_or(0, |e| e.position)
            ));
        }
    }
    Ok(report)
}

/// Waits until every projection runs, is not rebuilding and has reached the log head as it
/// stood when the wait began.
///
/// The target is read once: a scenario that waits while its load still runs (poison retry,
/// rebuild under load) asks whether the projections caught up with what was written, and
/// under 16 writers six projections are never all at the moving head in the same instant
/// (each trails by the few events of its current batch). With the load stopped the head does
/// not move and this is the same as "no lag".
pub async fn wait_caught_up(api: &Api, db: &AnyPool, timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    let target: i64 = sqlx::query_scalar("select position from log_head where id = 1")
        .fetch_one(db)
        .await?;
    loop {
        if let Ok(list) = api.get("/api/projections").await
            && let Some(list) = list.as_array()
            && list.iter().all(|p| {
                p["state"] == "running"
                    && p["rebuild"].is_null()
                    && p["checkpoint"].as_i64() >= Some(target)
            })
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "projections did not catch up with head {target} within {timeout:?}: {}",
                api.get("/api/projections").await.unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Rebuilds every projection (admin API) and waits until each new generation is live and
/// caught up; returns how long that took.
pub async fn rebuild_all(api: &Api, db: &AnyPool, timeout: Duration) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let (status, body) = api.admin_post("/api/projections/rebuild").await?;
    anyhow::ensure!(status == 202, "rebuild refused: {status} {body}");
    let wanted: HashMap<String, i64> = body
        .as_array()
        .context("rebuild answer is not a list")?
        .iter()
        .map(|r| {
            (
                r["projection"].as_str().unwrap_or_default().to_owned(),
                r["generation"].as_i64().unwrap_or(i64::MAX),
            )
        })
        .collect();
    let deadline = started + timeout;
    loop {
        if let Ok(list) = api.get("/api/projections").await
            && let Some(list) = list.as_array()
            && wanted.iter().all(|(name, generation)| {
                list.iter().any(|p| {
                    p["name"] == name.as_str()
                        && p["generation"].as_i64() >= Some(*generation)
                        && p["rebuild"].is_null()
                })
            })
        {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "rebuild did not finish within {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let took = started.elapsed();
    wait_caught_up(api, db, timeout).await?;
    Ok(took)
}

/// Every row of the paged list `/api/{what}` (rows under `data.{what}`), page by page.
async fn all_pages(api: &Api, what: &str) -> anyhow::Result<Vec<Value>> {
    let mut rows = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/{what}?limit=100&cursor={c}"),
            None => format!("/api/{what}?limit=100"),
        };
        let page = api.get(&path).await?;
        rows.extend(page["data"][what].as_array().cloned().unwrap_or_default());
        match page["data"]["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    Ok(rows)
}

/// Everything the read models answer, as JSON: every order (list pages and details),
/// customers, products (every page), dashboard (without the clock-relative per-minute series),
/// activity.
pub async fn snapshot(api: &Api) -> anyhow::Result<Value> {
    let orders = all_pages(api, "orders").await?;
    let mut details = serde_json::Map::new();
    for o in &orders {
        let id = o["order_id"].as_str().unwrap_or_default();
        let detail = api.get(&format!("/api/orders/{id}")).await?;
        details.insert(id.to_owned(), detail["data"].clone());
    }
    let mut dashboard = api.get("/api/dashboard").await?["data"].clone();
    if let Some(d) = dashboard.as_object_mut() {
        d.remove("orders_per_minute");
    }
    Ok(serde_json::json!({
        "orders": orders,
        "order_details": details,
        "customers": all_pages(api, "customers").await?,
        "products": all_pages(api, "products").await?,
        "dashboard": dashboard,
        "activity": api.get("/api/activity").await?["data"],
    }))
}

/// The first difference between two snapshots, if any.
pub fn diff(a: &Value, b: &Value) -> Option<String> {
    if a == b {
        return None;
    }
    if let (Some(x), Some(y)) = (a.as_object(), b.as_object()) {
        for (k, v) in x {
            match y.get(k) {
                Some(w) => {
                    if let Some(d) = diff(v, w) {
                        return Some(format!("{k}.{d}"));
                    }
                }
                None => return Some(format!("{k}: only in the first")),
            }
        }
        return Some("keys only in the second".into());
    }
    if let (Some(x), Some(y)) = (a.as_array(), b.as_array()) {
        if x.len() != y.len() {
            return Some(format!("{} vs {} entries", x.len(), y.len()));
        }
        for (i, (v, w)) in x.iter().zip(y).enumerate() {
            if let Some(d) = diff(v, w) {
                return Some(format!("[{i}].{d}"));
            }
        }
    }
    Some(format!("{a} vs {b}"))
}

/// The read models against the log: one order row per order stream, at the stream's version.
pub async fn orders_match_log(api: &Api, db: &AnyPool, snapshot: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let streams: HashMap<String, i64> =
        match sqlx::query("select stream_id, version from streams where stream_type = 'order'")
            .fetch_all(db)
            .await
        {
            Ok(rows) => rows
                .iter()
                .filter_map(|r| Some((r.try_get::<String, _>(0).ok()?, r.try_get(1).ok()?)))
                .collect(),
            Err(e) => return vec![format!("cannot read streams: {e}")],
        };
    let orders = snapshot["orders"].as_array().cloned().unwrap_or_default();
    if orders.len() != streams.len() {
        problems.push(format!(
            "{} orders in the read model, {} order streams in the log",
            orders.len(),
            streams.len()
        ));
    }
    for o in orders {
        let stream = format!("order-{}", o["order_id"].as_str().unwrap_or_default());
        if streams.get(&stream).copied() != o["version"].as_i64() {
            problems.push(format!(
                "{stream}: read model at v{} but the log at v{:?}",
                o["version"],
                streams.get(&stream)
            ));
        }
    }
    let _ = api;
    problems.truncate(10);
    problems
}
