//! `reliability`: drives the real `server` binary through a bounded load generator on loopback,
//! injects faults (kill -9, database restart, broker outage, poison event, rebuild under load,
//! disk full), checks the invariants and prints a table. Exits non-zero when anything was lost
//! or duplicated or an invariant broke. `--quick` is the short mode CI runs.
#![forbid(unsafe_code)]

mod check;
mod harness;
mod load;
mod model;
mod scenarios;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;

#[derive(Debug, Clone, Parser)]
#[command(
    name = "reliability",
    about = "Fault injection and model-based checks against the real server binary"
)]
pub struct Opts {
    /// Short mode for CI: kill -9 (5x SQLite, 3x PostgreSQL), poison event, rebuild under load,
    /// a few hundred model sequences. Without it: every scenario at the sizes.
    #[arg(long)]
    pub quick: bool,
    /// The server binary to drive.
    #[arg(long, default_value = "target/release/server")]
    pub server_bin: PathBuf,
    /// PostgreSQL server-level URL; every scenario creates (and drops) its own database there.
    #[arg(
        long,
        env = "RELIABILITY_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    pub postgres_url: String,
    /// Skip the PostgreSQL scenarios.
    #[arg(long)]
    pub no_postgres: bool,
    /// `pg_ctlcluster` version and cluster name restarted by scenario 2.
    #[arg(long, default_value = "15 main")]
    pub pg_cluster: String,
    /// nats-server binary for scenario 3 (a private instance on a free port).
    #[arg(long, default_value = "/usr/sbin/nats-server")]
    pub nats_server_bin: PathBuf,
    /// Commands per second of the load generator (all workers together).
    #[arg(long, default_value_t = 200)]
    pub rate: u32,
    /// Server kills per backend in scenario 1 (default 20; 5/3 with --quick).
    #[arg(long)]
    pub kills: Option<u32>,
    /// Model-based sequences (default 3000; 300 with --quick).
    #[arg(long)]
    pub sequences: Option<usize>,
    /// Broker outage length in seconds for scenario 3.
    #[arg(long, default_value_t = 30)]
    pub nats_outage_secs: u64,
    /// Run only these scenarios (comma-separated: kill9, pg-restart, pg-terminate, nats, poison,
    /// rebuild, disk-full, model).
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Random seed of the model-based test.
    #[arg(long, default_value_t = 0x5eed)]
    pub seed: u64,
    /// Keep the temporary data directories and logs.
    #[arg(long)]
    pub keep: bool,
}

/// One line of the report.
#[derive(Debug, Default)]
pub struct Row {
    pub scenario: String,
    pub sent: usize,
    pub acked: usize,
    pub lost: usize,
    pub duplicated: usize,
    pub rm_equal: Option<bool>,
    pub recovery: String,
    pub notes: Vec<String>,
    pub problems: Vec<String>,
    pub skipped: Option<String>,
}

impl Row {
    pub fn new(scenario: String) -> Self {
        Self {
            scenario,
            recovery: "-".into(),
            ..Self::default()
        }
    }

    pub fn note(&mut self, text: String) {
        self.notes.push(text);
    }

    pub fn fail_on(&mut self, result: anyhow::Result<()>) {
        if let Err(e) = result {
            self.problems.push(format!("{e:#}"));
        }
    }

    fn passed(&self) -> bool {
        self.skipped.is_some()
            || (self.lost == 0
                && self.duplicated == 0
                && self.problems.is_empty()
                && self.rm_equal != Some(false))
    }
}

fn print_table(rows: &[Row]) {
    let header = [
        "scenario",
        "commands sent",
        "acknowledged",
        "lost",
        "duplicated",
        "read model = rebuild",
        "recovery time",
        "result",
    ];
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.scenario.clone(),
                r.sent.to_string(),
                r.acked.to_string(),
                r.lost.to_string(),
                r.duplicated.to_string(),
                match r.rm_equal {
                    Some(true) => "yes".into(),
                    Some(false) => "NO".into(),
                    None => "-".into(),
                },
                r.recovery.clone(),
                if r.skipped.is_some() {
                    "skipped".into()
                } else if r.passed() {
                    "pass".into()
                } else {
                    "FAIL".into()
                },
            ]
        })
        .collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            cells
                .iter()
                .map(|c| c[i].chars().count())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cols: Vec<String>| {
        let padded: Vec<String> = cols
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("| {} |", padded.join(" | "));
    };
    println!();
    line(header.iter().map(|s| (*s).to_owned()).collect());
    println!(
        "|{}|",
        widths
            .iter()
            .map(|w| "-".repeat(w + 2))
            .collect::<Vec<_>>()
            .join("|")
    );
    for c in cells {
        line(c);
    }
    println!();
    for r in rows {
        if let Some(s) = &r.skipped {
            println!("{}: skipped: {s}", r.scenario);
        }
        for n in &r.notes {
            println!("{}: {n}", r.scenario);
        }
        for p in &r.problems {
            println!("{}: PROBLEM: {p}", r.scenario);
        }
    }
}

fn wanted(opts: &Opts, name: &str) -> bool {
    opts.only.is_empty() || opts.only.iter().any(|o| o == name)
}

async fn run(opts: &Opts) -> anyhow::Result<Vec<Row>> {
    let started = Instant::now();
    let mut rows = Vec::new();
    let quick = opts.quick;
    let pg = !opts.no_postgres;
    let mut push = |row: Row| {
        eprintln!(
            "[{:>6.1}s] {}: {}",
            started.elapsed().as_secs_f64(),
            row.scenario,
            if row.passed() { "pass" } else { "FAIL" }
        );
        rows.push(row);
    };
    if wanted(opts, "kill9") {
        push(
            scenarios::kill9(
                opts,
                false,
                opts.kills.unwrap_or(if quick { 5 } else { 20 }),
            )
            .await?,
        );
        if pg {
            push(
                scenarios::kill9(opts, true, opts.kills.unwrap_or(if quick { 3 } else { 20 }))
                    .await?,
            );
        }
    }
    if !quick && pg && wanted(opts, "pg-restart") {
        push(scenarios::postgres_restart(opts, 3).await?);
    }
    if pg && wanted(opts, "pg-terminate") {
        push(
            scenarios::postgres_terminate(
                opts,
                if quick { 3 } else { 10 },
                if quick { 1 } else { 3 },
            )
            .await?,
        );
    }
    if !quick && wanted(opts, "nats") {
        push(scenarios::nats_outage(opts, Duration::from_secs(opts.nats_outage_secs)).await?);
    }
    if wanted(opts, "poison") {
        push(scenarios::poison(opts).await?);
    }
    if wanted(opts, "rebuild") {
        push(scenarios::rebuild_under_load(opts, false).await?);
        if pg && !quick {
            push(scenarios::rebuild_under_load(opts, true).await?);
        }
    }
    if !quick && wanted(opts, "disk-full") {
        push(scenarios::disk_full(opts).await?);
    }
    if wanted(opts, "model") {
        let n = opts.sequences.unwrap_or(if quick { 300 } else { 3000 });
        push(model::run(opts, n).await?);
    }
    eprintln!("total {:.1}s", started.elapsed().as_secs_f64());
    Ok(rows)
}

#[tokio::main]
async fn main() -> ExitCode {
    let opts = Opts::parse();
    match run(&opts).await {
        Ok(rows) => {
            print_table(&rows);
            if rows.iter().all(Row::passed) {
                ExitCode::SUCCESS
            } else {
                eprintln!("reliability: FAILED (see the problems above)");
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("reliability: {e:#}");
            ExitCode::FAILURE
        }
    }
}
