//! Prometheus metrics through the `metrics` facade, rendered by `metrics-exporter-prometheus`
//! (no listener of its own: `GET /metrics` renders the recorder's handle).
//!
//! **One recorder per process.** The facade's recorder is process-global
//! (`metrics::set_global_recorder`, which can be called once): [`Metrics::install`] builds it
//! (with the histogram buckets of every metric) and installs it on first use, and every later
//! call, so every server started in the same process (the integration tests start several),
//! shares it. Libraries record into the same recorder without knowing the server: the event
//! store's group commit and projection batches ([`eventstore::metrics`]). In production one
//! process is one server, so the numbers are the server's; in a test process that runs several
//! servers, counters and histograms add up across them (assert "at least", never "exactly").
//!
//! Gauges read at scrape time (projections, relay, writer) are set just before rendering under
//! one process-wide lock, so a scrape renders the values of the server it asked, even while
//! another server of the process is being scraped.
//!
//! Every label comes from a bounded set: the standard methods (`other` for the rest), the
//! router's route templates (`other` for unmatched paths), the status codes we answer, command
//! names and refusal codes (static strings), projection names, relay states, rate-limit classes.

use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use eventstore::EventStore as _;
use metrics::{
    Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram,
};
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};

use crate::security::rate_limit::Cost;
use crate::state::AppState;

const HTTP_REQUESTS: &str = "eventide_http_requests_total";
const HTTP_DURATION: &str = "eventide_http_request_duration_seconds";
const COMMANDS: &str = "eventide_commands_total";
const COMMAND_DURATION: &str = "eventide_command_duration_seconds";
const ACCESS_REFUSED: &str = "eventide_access_refused_total";
const WS_CONNECTIONS: &str = "eventide_websocket_connections";
const WS_SLOW: &str = "eventide_websocket_slow_disconnects_total";
const RATE_LIMITED: &str = "eventide_rate_limited_total";

const PROJECTION_CHECKPOINT: &str = "eventide_projection_checkpoint";
const PROJECTION_LAG: &str = "eventide_projection_lag";
const PROJECTION_LAG_SECONDS: &str = "eventide_projection_lag_seconds";
const PROJECTION_FAULTED: &str = "eventide_projection_faulted";
const PROJECTION_STALLED: &str = "eventide_projection_stalled";
const LOG_HEAD: &str = "eventide_log_head_position";
const WRITER_UP: &str = "eventide_store_writer_up";
const WRITER_RESTARTS: &str = "eventide_store_writer_restarts_total";
const RELAY_LAG: &str = "eventide_relay_lag";
const RELAY_LAG_SECONDS: &str = "eventide_relay_lag_seconds";
const RELAY_CHECKPOINT: &str = "eventide_relay_checkpoint";
const RELAY_PUBLISHED: &str = "eventide_relay_published_total";
const RELAY_STATE: &str = "eventide_relay_state";

/// Latency buckets (seconds) of HTTP requests and commands.
const LATENCY_SECONDS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The process's recorder, installed once ([`Metrics::install`]).
static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
/// Held from setting the scrape-time gauges to the end of rendering.
static SCRAPE: Mutex<()> = Mutex::new(());
/// How often histograms are drained when nobody scrapes (a scrape drains them too).
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The recorder with the buckets of every histogram (rendered as Prometheus histograms, not
/// summaries).
fn recorder_builder() -> Result<PrometheusBuilder, BuildError> {
    let mut builder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(HTTP_DURATION.to_owned()), LATENCY_SECONDS)?
        .set_buckets_for_metric(Matcher::Full(COMMAND_DURATION.to_owned()), LATENCY_SECONDS)?;
    for (name, buckets) in eventstore::metrics::HISTOGRAM_BUCKETS {
        builder = builder.set_buckets_for_metric(Matcher::Full((*name).to_owned()), buckets)?;
    }
    Ok(builder)
}

/// Help texts; series that should show from the start (at zero) are registered here too.
fn describe() {
    describe_counter!(HTTP_REQUESTS, "HTTP requests by method, route and status.");
    describe_histogram!(
        HTTP_DURATION,
        Unit::Seconds,
        "HTTP latency by method and route."
    );
    describe_counter!(COMMANDS, "Commands by type and outcome (ok or error code).");
    describe_histogram!(COMMAND_DURATION, Unit::Seconds, "Command latency by type.");
    describe_counter!(
        ACCESS_REFUSED,
        "Actions refused by the access policy (401/403, throttled sign-ins)."
    );
    describe_gauge!(WS_CONNECTIONS, "Open websocket connections.");
    describe_counter!(
        WS_SLOW,
        "Websocket clients disconnected for being too slow."
    );
    describe_counter!(
        RATE_LIMITED,
        "Requests refused by the rate limit, by class (auth, write, read)."
    );
    describe_gauge!(
        PROJECTION_CHECKPOINT,
        "Log position each projection has applied."
    );
    describe_gauge!(
        PROJECTION_LAG,
        "Events each projection is behind the log head."
    );
    describe_gauge!(
        PROJECTION_LAG_SECONDS,
        Unit::Seconds,
        "Age of the oldest event each projection has not applied."
    );
    describe_gauge!(PROJECTION_FAULTED, "1 when the projection is faulted.");
    describe_gauge!(
        PROJECTION_STALLED,
        "1 when the projection is behind and has made no progress for the stall threshold."
    );
    describe_gauge!(LOG_HEAD, "Highest committed log position.");
    describe_gauge!(
        WRITER_UP,
        "1 while the event store's group-commit writer task runs (0 from a panic until its restart)."
    );
    describe_counter!(
        WRITER_RESTARTS,
        "Restarts of the event store's writer task after a panic."
    );
    describe_gauge!(RELAY_LAG, "Events the broker relay is behind the log head.");
    describe_gauge!(
        RELAY_LAG_SECONDS,
        Unit::Seconds,
        "Age of the oldest event the relay has not published."
    );
    describe_gauge!(
        RELAY_CHECKPOINT,
        "Log position the relay has published (acknowledged)."
    );
    describe_counter!(RELAY_PUBLISHED, "Events the relay has published.");
    describe_gauge!(RELAY_STATE, "Relay state (1 for the current one).");
    eventstore::metrics::describe();

    gauge!(WS_CONNECTIONS).increment(0.0);
    counter!(WS_SLOW).increment(0);
    for cost in Cost::ALL {
        counter!(RATE_LIMITED, "class" => cost.label()).increment(0);
    }
}

/// The process's metrics: a handle on the global recorder, and the server's recording calls.
#[derive(Debug, Clone)]
pub struct Metrics {
    handle: PrometheusHandle,
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
    /// The process's recorder: built and installed as the global one by the first call, shared
    /// by every later one (see the module docs). If another global recorder was installed
    /// first (an embedding process), this one renders nothing and a warning says so.
    pub fn install() -> Self {
        let handle = HANDLE.get_or_init(|| {
            let recorder = match recorder_builder() {
                Ok(builder) => builder.build_recorder(),
                Err(e) => {
                    tracing::warn!(error = %e, "metrics: histogram buckets refused; histograms render as summaries");
                    PrometheusBuilder::new().build_recorder()
                }
            };
            let handle = recorder.handle();
            match ::metrics::set_global_recorder(recorder) {
                Ok(()) => describe(),
                Err(e) => tracing::warn!(
                    error = %e,
                    "metrics: another global recorder is installed; GET /metrics shows nothing"
                ),
            }
            let upkeep = handle.clone();
            let spawned = std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(UPKEEP_EVERY);
                        upkeep.run_upkeep();
                    }
                });
            if let Err(e) = spawned {
                tracing::warn!(error = %e, "metrics: no upkeep thread; histograms drain at scrapes only");
            }
            handle
        });
        Self {
            handle: handle.clone(),
        }
    }

    pub fn http_request(
        &self,
        method: &'static str,
        route: String,
        status: u16,
        elapsed: Duration,
    ) {
        counter!(
            HTTP_REQUESTS,
            "method" => method,
            "route" => route.clone(),
            "status" => status.to_string()
        )
        .increment(1);
        histogram!(HTTP_DURATION, "method" => method, "route" => route).record(elapsed);
    }

    /// A command finished: `outcome` is `ok` or an error code.
    pub fn command(&self, command: &'static str, outcome: &str, elapsed: Duration) {
        counter!(COMMANDS, "command" => command, "outcome" => outcome.to_owned()).increment(1);
        histogram!(COMMAND_DURATION, "command" => command).record(elapsed);
    }

    /// An action refused by the access policy (`unauthorized` or `forbidden`).
    pub fn refused(&self, action: &'static str, code: &'static str) {
        counter!(ACCESS_REFUSED, "action" => action, "code" => code).increment(1);
    }

    pub fn ws_connected(&self) {
        gauge!(WS_CONNECTIONS).increment(1.0);
    }

    pub fn ws_disconnected(&self) {
        gauge!(WS_CONNECTIONS).decrement(1.0);
    }

    pub fn ws_slow_disconnect(&self) {
        counter!(WS_SLOW).increment(1);
    }

    /// A request refused by the rate limit.
    pub fn rate_limited(&self, cost: Cost) {
        counter!(RATE_LIMITED, "class" => cost.label()).increment(1);
    }

    /// Sets the scrape-time gauges from `state` and renders everything in the Prometheus text
    /// format.
    pub fn render(&self, state: &AppState) -> String {
        let _scrape = SCRAPE.lock().unwrap_or_else(PoisonError::into_inner);
        set_service_gauges(state);
        self.handle.render()
    }
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
        .http_request(method, route, response.status().as_u16(), start.elapsed());
    response
}

/// `GET /metrics`.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let mut response = state.metrics.render(&state).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

/// Projection, store and relay gauges, read at scrape time.
fn set_service_gauges(state: &AppState) {
    use domain::views::{ProjectionState, RelayState};
    for p in state.app.projection_statuses() {
        let projection = [("projection", p.name)];
        gauge!(PROJECTION_CHECKPOINT, &projection).set(p.checkpoint as f64);
        gauge!(PROJECTION_LAG, &projection).set(p.lag as f64);
        gauge!(PROJECTION_LAG_SECONDS, &projection).set(p.lag_seconds);
        gauge!(PROJECTION_FAULTED, &projection).set(flag(p.state == ProjectionState::Faulted));
        gauge!(PROJECTION_STALLED, &projection).set(flag(p.state == ProjectionState::Stalled));
    }
    gauge!(LOG_HEAD).set(*state.store.head_watch().borrow() as f64);
    let writer = state.store.writer_status();
    gauge!(WRITER_UP).set(flag(writer.running));
    counter!(WRITER_RESTARTS).absolute(writer.restarts);
    let relay = state.app.relay_statuses();
    gauge!(RELAY_LAG).set(relay.lag as f64);
    gauge!(RELAY_LAG_SECONDS).set(relay.lag_seconds);
    gauge!(RELAY_CHECKPOINT).set(relay.checkpoint as f64);
    counter!(RELAY_PUBLISHED).absolute(relay.published_total);
    for (name, s) in [
        ("connected", RelayState::Connected),
        ("backing_off", RelayState::BackingOff),
        ("disabled", RelayState::Disabled),
        ("standby", RelayState::Standby),
        ("faulted", RelayState::Faulted),
        ("stalled", RelayState::Stalled),
    ] {
        gauge!(RELAY_STATE, "state" => name).set(flag(relay.state == s));
    }
}

fn flag(on: bool) -> f64 {
    if on { 1.0 } else { 0.0 }
}
