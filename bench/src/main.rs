//! Eventide's benchmark: one command runs every scenario on SQLite and PostgreSQL, prints markdown
//! tables, writes a JSON report and refreshes `BENCHMARKS.md`.
//!
//! ```text
//! cargo run --release -p bench -- [--quick] [--backend sqlite|postgres|both] [--pg-url URL] [--out FILE]
//! ```
//!
//! Scenarios: appends (ours vs the seed design, postgres-es and plain inserts), aggregate loads,
//! projection rebuild, command-to-websocket latency, HTTP command throughput, stock (contended
//! confirmations, conditional appends), event search (the console's event browser), the hash chain
//! (appends with it on and off, verify, backfill), and growth (appends, aggregate loads and event
//! searches probed on an empty log and after bulk fills to 1M and 10M events (quick: 5k and 50k), with catch-up and
//! rebuild rates at both sizes; it runs last). Every scenario runs
//! on a fresh database (a new SQLite file, or a new PostgreSQL database on the `--pg-url` server,
//! dropped afterwards).

mod appends;
mod chain;
mod event_search;
mod growth;
mod http;
mod latency;
mod load;
mod machine;
mod postgres_es;
mod raw_limit;
mod rebuild;
mod report;
mod seed_design;
mod stock;
mod support;

use std::path::PathBuf;
use std::time::Instant;

use clap::{Parser, ValueEnum};
use eventstore::Backend;

use crate::report::Report;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum BackendArg {
    Sqlite,
    Postgres,
    Both,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    Appends,
    Load,
    Rebuild,
    Latency,
    Http,
    Stock,
    #[value(name = "event_search")]
    EventSearch,
    /// The hash chain: appends with it on and off, verify and backfill rates.
    Chain,
    /// Probes on an empty and a large log, fill, catch-up and rebuild rates at two sizes.
    Growth,
}

#[derive(Debug, Parser)]
#[command(about = "Eventide benchmarks (see BENCHMARKS.md)")]
struct Args {
    /// Short runs and smaller data (under 2 minutes).
    #[arg(long)]
    quick: bool,
    /// Which database(s) to run on.
    #[arg(long, value_enum, default_value_t = BackendArg::Both)]
    backend: BackendArg,
    /// PostgreSQL server (admin URL): a fresh database is created on it per scenario.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    pg_url: String,
    /// JSON report path (default bench-results/<timestamp>.json).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Markdown summary to (re)write.
    #[arg(long, default_value = "BENCHMARKS.md")]
    markdown: PathBuf,
    /// Run only these scenarios (comma separated; default all).
    #[arg(long, value_enum, value_delimiter = ',')]
    only: Vec<Scenario>,
}

/// Sizes and durations of one run.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub quick: bool,
    /// Measured window of each append workload.
    pub append_secs: f64,
    /// Loads measured per aggregate size.
    pub load_samples: usize,
    /// Events in the log the projections rebuild from.
    pub rebuild_events: i64,
    /// Measured window of each latency configuration.
    pub latency_secs: f64,
    /// Measured window of the HTTP throughput run.
    pub http_secs: f64,
    /// Draft orders each of the 64 stock clients confirms.
    pub stock_orders_per_client: usize,
    /// Measured window of each conditional/plain append workload of the stock scenario.
    pub stock_secs: f64,
    /// Measured window of each chain off/on single-append round.
    pub chain_secs: f64,
    /// Events of the chain scenario's batched fills (verify and backfill run over them).
    pub chain_events: i64,
    /// Events in the log the event browser searches.
    pub search_events: i64,
    /// Timed `search_log` queries per filter kind.
    pub search_queries: usize,
    /// Timed time-range queries on the fill's own timestamps.
    pub search_burst_queries: usize,
    /// Events in the log at the growth scenario's last checkpoint.
    pub growth_events: i64,
    /// Events in the log at its middle checkpoint.
    pub growth_mid: i64,
    /// Measured window of each of its append probes.
    pub growth_append_secs: f64,
    /// Timed loads, and timed searches per filter, of each of its probes.
    pub growth_samples: usize,
}

impl Plan {
    fn new(quick: bool) -> Self {
        if quick {
            Self {
                quick,
                append_secs: 0.5,
                load_samples: 20,
                rebuild_events: 100_000,
                latency_secs: 2.0,
                http_secs: 2.0,
                stock_orders_per_client: 12,
                stock_secs: 1.0,
                chain_secs: 0.75,
                chain_events: 50_000,
                search_events: 30_000,
                search_queries: 50,
                search_burst_queries: 10,
                // 200k / 20k took 83 s for both backends (release, loaded 2-core machine):
                // the catch-up and rebuild of ~420k events per backend dominate.
                growth_events: 50_000,
                growth_mid: 5_000,
                growth_append_secs: 0.25,
                growth_samples: 20,
            }
        } else {
            Self {
                quick,
                append_secs: 2.0,
                load_samples: 200,
                rebuild_events: 1_000_000,
                latency_secs: 10.0,
                http_secs: 10.0,
                stock_orders_per_client: 120,
                stock_secs: 5.0,
                chain_secs: 5.0,
                chain_events: 1_000_000,
                search_events: 1_000_000,
                search_queries: 200,
                search_burst_queries: 20,
                growth_events: 10_000_000,
                growth_mid: 1_000_000,
                growth_append_secs: 2.0,
                growth_samples: 200,
            }
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let command = std::iter::once("cargo run --release -p bench --".to_owned())
        .chain(std::env::args().skip(1))
        .collect::<Vec<_>>()
        .join(" ");
    let plan = Plan::new(args.quick);
    let backends: Vec<Backend> = match args.backend {
        BackendArg::Sqlite => vec![Backend::Sqlite],
        BackendArg::Postgres => vec![Backend::Postgres],
        BackendArg::Both => vec![Backend::Sqlite, Backend::Postgres],
    };
    let wanted = |s: Scenario| args.only.is_empty() || args.only.contains(&s);
    let pg = support::PgAdmin::new(&args.pg_url);
    let machine = machine::describe(backends.contains(&Backend::Postgres).then_some(&pg)).await;
    let mut report = Report::new(machine, command, plan);
    let started = Instant::now();
    eprintln!("{}", report.machine.summary());

    if wanted(Scenario::Appends) {
        report.push(appends::run(&plan, &backends, &pg).await?);
    }
    if wanted(Scenario::Load) {
        report.push(load::run(&plan, &backends, &pg).await?);
    }
    if wanted(Scenario::Rebuild) {
        report.push(rebuild::run(&plan, &backends, &pg).await?);
    }
    if wanted(Scenario::Latency) {
        report.push(latency::run(&plan, &backends, &pg).await?);
    }
    if wanted(Scenario::Http) {
        report.push(http::run(&plan, &backends, &pg).await?);
    }
    if wanted(Scenario::Stock) {
        report.push(stock::run(&plan, &backends, &pg).await?);
    }
    if wanted(Scenario::EventSearch) {
        report.push(event_search::run(&plan, &backends, &pg).await?);
    }
    if wanted(Scenario::Chain) {
        report.push(chain::run(&plan, &backends, &pg).await?);
    }
    if wanted(Scenario::Growth) {
        report.push(growth::run(&plan, &backends, &pg).await?);
    }
    report.finish(started.elapsed());

    let markdown = report.markdown();
    println!("{markdown}");
    let out = args.out.unwrap_or_else(|| {
        PathBuf::from(format!(
            "bench-results/{}.json",
            chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
        ))
    });
    report.write_json(&out)?;
    report.write_markdown(&args.markdown, &out)?;
    eprintln!(
        "wrote {} and {} in {:.0} s",
        out.display(),
        args.markdown.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
