//! Prometheus metrics, hand-rolled: counters and histograms kept in memory and rendered in the
//! text exposition format by `GET /metrics` (projection and relay gauges are read at scrape time).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use eventstore::EventStore as _;

use crate::state::AppState;

const BUCKETS: [f64; 12] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Debug, Clone, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                self.counts[i] += 1;
            }
        }
        self.sum += seconds;
        self.count += 1;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (i, bound) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {}",
                self.counts[i]
            );
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}",
            self.count
        );
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", self.sum);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", self.count);
    }
}

#[derive(Debug, Default)]
struct Inner {
    http_requests: BTreeMap<(String, String, u16), u64>,
    http_latency: BTreeMap<(String, String), Histogram>,
    commands: BTreeMap<(String, String), u64>,
    /// Refusals of the access policy by action and code (both static strings: bounded).
    refused: BTreeMap<(&'static str, &'static str), u64>,
    command_latency: BTreeMap<String, Histogram>,
}

/// The process's metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
    ws_connections: AtomicI64,
    ws_slow_disconnects: AtomicU64,
    rate_limited: AtomicU64,
}

impl orders::application::CommandObserver for Metrics {
    fn command(&self, command: &'static str, outcome: &str, elapsed: Duration) {
        Metrics::command(self, command, outcome, elapsed);
    }

    fn refused(&self, action: &'static str, code: &'static str) {
        Metrics::refused(self, action, code);
    }
}

impl Metrics {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn http_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let mut inner = self.lock();
        *inner
            .http_requests
            .entry((method.to_owned(), route.to_owned(), status))
            .or_default() += 1;
        inner
            .http_latency
            .entry((method.to_owned(), route.to_owned()))
            .or_default()
            .observe(elapsed.as_secs_f64());
    }

    /// A command finished: `outcome` is `ok` or an error code.
    pub fn command(&self, command: &str, outcome: &str, elapsed: Duration) {
        let mut inner = self.lock();
        *inner
            .commands
            .entry((command.to_owned(), outcome.to_owned()))
            .or_default() += 1;
        inner
            .command_latency
            .entry(command.to_owned())
            .or_default()
            .observe(elapsed.as_secs_f64());
    }

    /// An action refused by the access policy (`unauthorized` or `forbidden`).
    pub fn refused(&self, action: &'static str, code: &'static str) {
        *self.lock().refused.entry((action, code)).or_default() += 1;
    }

    pub fn ws_connected(&self) {
        self.ws_connections.fetch_add(1, Ordering::Relaxed);
    }

    pub fn ws_disconnected(&self) {
        self.ws_connections.fetch_sub(1, Ordering::Relaxed);
    }

    pub fn ws_slow_disconnect(&self) {
        self.ws_slow_disconnects.fetch_add(1, Ordering::Relaxed);
    }

    pub fn rate_limited(&self) {
        self.rate_limited.fetch_add(1, Ordering::Relaxed);
    }

    /// The in-process metrics in the Prometheus text format.
    pub fn render(&self, out: &mut String) {
        let inner = self.lock();
        out.push_str(
            "# HELP eventide_http_requests_total HTTP requests by method, route and status.\n",
        );
        out.push_str("# TYPE eventide_http_requests_total counter\n");
        for ((method, route, status), n) in &inner.http_requests {
            let _ = writeln!(
                out,
                "eventide_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {n}",
                escape(route)
            );
        }
        out.push_str(
            "# HELP eventide_http_request_duration_seconds HTTP latency by method and route.\n",
        );
        out.push_str("# TYPE eventide_http_request_duration_seconds histogram\n");
        for ((method, route), h) in &inner.http_latency {
            let labels = format!("method=\"{method}\",route=\"{}\"", escape(route));
            h.render(out, "eventide_http_request_duration_seconds", &labels);
        }
        out.push_str(
            "# HELP eventide_commands_total Commands by type and outcome (ok or error code).\n",
        );
        out.push_str("# TYPE eventide_commands_total counter\n");
        for ((command, outcome), n) in &inner.commands {
            let _ = writeln!(
                out,
                "eventide_commands_total{{command=\"{command}\",outcome=\"{outcome}\"}} {n}"
            );
        }
        out.push_str(
            "# HELP eventide_access_refused_total Actions refused by the access policy (401/403, throttled sign-ins).\n",
        );
        out.push_str("# TYPE eventide_access_refused_total counter\n");
        for ((action, code), n) in &inner.refused {
            let _ = writeln!(
                out,
                "eventide_access_refused_total{{action=\"{action}\",code=\"{code}\"}} {n}"
            );
        }
        out.push_str("# HELP eventide_command_duration_seconds Command latency by type.\n");
        out.push_str("# TYPE eventide_command_duration_seconds histogram\n");
        for (command, h) in &inner.command_latency {
            h.render(
                out,
                "eventide_command_duration_seconds",
                &format!("command=\"{command}\""),
            );
        }
        drop(inner);
        gauge(
            out,
            "eventide_websocket_connections",
            "Open websocket connections.",
            self.ws_connections.load(Ordering::Relaxed),
        );
        counter(
            out,
            "eventide_websocket_slow_disconnects_total",
            "Websocket clients disconnected for being too slow.",
            self.ws_slow_disconnects.load(Ordering::Relaxed),
        );
        counter(
            out,
            "eventide_rate_limited_total",
            "Requests refused by the rate limit.",
            self.rate_limited.load(Ordering::Relaxed),
        );
    }
}

pub fn gauge(out: &mut String, name: &str, help: &str, value: impl std::fmt::Display) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
    );
}

fn counter(out: &mut String, name: &str, help: &str, value: u64) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
    );
}

/// Escapes a label value.
pub fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The `method` label: the standard methods, anything else `other`.
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Middleware: HTTP latency and count by matched route. Every label comes from a bounded set
/// (the standard methods, the router's route templates, the status codes we answer), so no
/// client can add series: unknown methods and unmatched paths count as `other`. It runs before
/// the rate limit on purpose (refusals are counted too), which is safe only because of that.
pub async fn track_http(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = method_label(request.method());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "other".to_owned());
    let response = next.run(request).await;
    state
        .metrics
        .http_request(method, &route, response.status().as_u16(), start.elapsed());
    response
}

/// `GET /metrics`.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let mut out = String::with_capacity(8 * 1024);
    state.metrics.render(&mut out);
    render_services(&state, &mut out);
    let mut response = out.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

/// Projection and relay gauges, read at scrape time.
fn render_services(state: &AppState, out: &mut String) {
    let statuses = state.app.projection_statuses();
    out.push_str("# HELP eventide_projection_checkpoint Log position each projection has applied.\n# TYPE eventide_projection_checkpoint gauge\n");
    for p in &statuses {
        let _ = writeln!(
            out,
            "eventide_projection_checkpoint{{projection=\"{}\"}} {}",
            escape(&p.name),
            p.checkpoint
        );
    }
    out.push_str("# HELP eventide_projection_lag Events each projection is behind the log head.\n# TYPE eventide_projection_lag gauge\n");
    for p in &statuses {
        let _ = writeln!(
            out,
            "eventide_projection_lag{{projection=\"{}\"}} {}",
            escape(&p.name),
            p.lag
        );
    }
    out.push_str("# HELP eventide_projection_lag_seconds Age of the oldest event each projection has not applied.\n# TYPE eventide_projection_lag_seconds gauge\n");
    for p in &statuses {
        let _ = writeln!(
            out,
            "eventide_projection_lag_seconds{{projection=\"{}\"}} {:.3}",
            escape(&p.name),
            p.lag_seconds
        );
    }
    out.push_str("# HELP eventide_projection_faulted 1 when the projection is faulted.\n# TYPE eventide_projection_faulted gauge\n");
    for p in &statuses {
        let faulted = i32::from(p.state == domain::views::ProjectionState::Faulted);
        let _ = writeln!(
            out,
            "eventide_projection_faulted{{projection=\"{}\"}} {faulted}",
            escape(&p.name)
        );
    }
    out.push_str("# HELP eventide_projection_stalled 1 when the projection is behind and has made no progress for the stall threshold.\n# TYPE eventide_projection_stalled gauge\n");
    for p in &statuses {
        let stalled = i32::from(p.state == domain::views::ProjectionState::Stalled);
        let _ = writeln!(
            out,
            "eventide_projection_stalled{{projection=\"{}\"}} {stalled}",
            escape(&p.name)
        );
    }
    let head = *state.store.head_watch().borrow();
    gauge(
        out,
        "eventide_log_head_position",
        "Highest committed log position.",
        head,
    );
    let writer = state.store.writer_status();
    gauge(
        out,
        "eventide_store_writer_up",
        "1 while the event store's group-commit writer task runs (0 from a panic until its restart).",
        i32::from(writer.running),
    );
    counter(
        out,
        "eventide_store_writer_restarts_total",
        "Restarts of the event store's writer task after a panic.",
        writer.restarts,
    );
    let relay = state.app.relay_statuses();
    gauge(
        out,
        "eventide_relay_lag",
        "Events the broker relay is behind the log head.",
        relay.lag,
    );
    let _ = writeln!(
        out,
        "# HELP eventide_relay_lag_seconds Age of the oldest event the relay has not published.\n# TYPE eventide_relay_lag_seconds gauge\neventide_relay_lag_seconds {:.3}",
        relay.lag_seconds
    );
    gauge(
        out,
        "eventide_relay_checkpoint",
        "Log position the relay has published (acknowledged).",
        relay.checkpoint,
    );
    counter(
        out,
        "eventide_relay_published_total",
        "Events the relay has published.",
        relay.published_total,
    );
    out.push_str("# HELP eventide_relay_state Relay state (1 for the current one).\n# TYPE eventide_relay_state gauge\n");
    for (name, s) in [
        ("connected", domain::views::RelayState::Connected),
        ("backing_off", domain::views::RelayState::BackingOff),
        ("disabled", domain::views::RelayState::Disabled),
        ("standby", domain::views::RelayState::Standby),
        ("faulted", domain::views::RelayState::Faulted),
        ("stalled", domain::views::RelayState::Stalled),
    ] {
        let _ = writeln!(
            out,
            "eventide_relay_state{{state=\"{name}\"}} {}",
            i32::from(relay.state == s)
        );
    }
}
