//! The run's report: markdown tables for stdout and BENCHMARKS.md, and the JSON file.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use serde::Serialize;

use crate::Plan;
use crate::machine::Machine;

/// One markdown table.
#[derive(Debug, Clone, Serialize)]
pub struct Table {
    pub title: String,
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(title: &str, headers: &[&str]) -> Self {
        Self {
            title: title.to_owned(),
            headers: headers.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    fn markdown(&self, out: &mut String) {
        let _ = writeln!(out, "#### {}\n", self.title);
        let _ = writeln!(out, "| {} |", self.headers.join(" | "));
        let _ = writeln!(
            out,
            "|{}",
            self.headers
                .iter()
                .enumerate()
                .map(|(i, _)| if i == 0 { "---|" } else { "---:|" })
                .collect::<String>()
        );
        for row in &self.rows {
            let _ = writeln!(out, "| {} |", row.join(" | "));
        }
        out.push('\n');
    }
}

/// One scenario's results: tables for people, `data` for machines.
#[derive(Debug, Clone, Serialize)]
pub struct Section {
    pub id: &'static str,
    pub title: String,
    pub tables: Vec<Table>,
    pub notes: Vec<String>,
    pub seconds: f64,
    pub data: serde_json::Value,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub machine: Machine,
    pub command: String,
    pub mode: &'static str,
    pub started_at: String,
    pub total_seconds: f64,
    pub sections: Vec<Section>,
}

impl Report {
    pub fn new(machine: Machine, command: String, plan: Plan) -> Self {
        Self {
            machine,
            command,
            mode: if plan.quick { "quick" } else { "full" },
            started_at: chrono::Utc::now().to_rfc3339(),
            total_seconds: 0.0,
            sections: Vec::new(),
        }
    }

    pub fn push(&mut self, section: Section) {
        let mut md = String::new();
        section_markdown(&section, &mut md);
        eprintln!("{md}");
        self.sections.push(section);
    }

    pub fn finish(&mut self, elapsed: Duration) {
        self.total_seconds = elapsed.as_secs_f64();
    }

    /// The tables, the machine and the command, as markdown.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "### Run of {} ({} mode, {:.0} s in total)\n",
            self.started_at, self.mode, self.total_seconds
        );
        let _ = writeln!(out, "Command: `{}`\n", self.command);
        let _ = writeln!(out, "Machine: {}\n", self.machine.summary());
        for section in &self.sections {
            section_markdown(section, &mut out);
        }
        out
    }

    pub fn write_json(&self, path: &Path) -> anyhow::Result<()> {
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        std::fs::write(path, serde_json::to_string_pretty(self)?)
            .with_context(|| format!("cannot write {}", path.display()))
    }

    /// BENCHMARKS.md: what is measured and how, then this run's tables.
    pub fn write_markdown(&self, path: &Path, json: &Path) -> anyhow::Result<()> {
        let mut out = String::from(HEADER);
        let _ = writeln!(
            out,
            "The JSON of this run: `{}` (not committed; every run writes its own).\n",
            json.display()
        );
        out.push_str(&self.markdown());
        std::fs::write(path, out).with_context(|| format!("cannot write {}", path.display()))
    }
}

fn section_markdown(section: &Section, out: &mut String) {
    let _ = writeln!(out, "### {} ({:.0} s)\n", section.title, section.seconds);
    for table in &section.tables {
        table.markdown(out);
    }
    for note in &section.notes {
        let _ = writeln!(out, "- {note}");
    }
    if !section.notes.is_empty() {
        out.push('\n');
    }
}

const HEADER: &str = "# Benchmarks

Produced by the `bench` binary (`bench/`), which rewrites this file on every run:

```sh
cargo run --release -p bench --            # every scenario on SQLite and PostgreSQL (full mode)
cargo run --release -p bench -- --quick    # the same scenarios, smaller and shorter
```

Flags: `--quick`, `--backend sqlite|postgres|both` (default both), `--pg-url` (default
`postgres://postgres@127.0.0.1:5432/postgres`; a fresh database is created on it per scenario
and dropped afterwards), `--out bench-results/<timestamp>.json`, `--only appends,load,rebuild,latency,http,stock,event_search,chain,growth`.

What is measured (durability is the same everywhere: SQLite in WAL mode with `synchronous=FULL`,
PostgreSQL with `synchronous_commit` on, as recorded below):

1. **Appends/s**, one event per append, 1, 16 and 64 concurrent writers on distinct streams, and
   64 writers on 8 streams (contended: expected-version conflicts are retried after re-reading
   the stream version). Each workload runs for a fixed window on a fresh database.
2. The same workloads through: **the seed design** (implemented in `bench/src/seed_design.rs`:
   `select max(version)` for the stream, compare, one `insert` per event, in a transaction, no
   unique `(stream_id, version)` index, as the seed had it); **postgres-es** 0.5 (cqrs-es 0.5,
   crates.io) on the same PostgreSQL, appending through its `PostgresEventRepository::persist`
   (the write path of `CqrsFramework::execute`, without the aggregate load that `execute` adds);
   **the raw limit**: plain inserts of the same rows into Eventide's own `events` table (same
   indexes) with positions handed out in memory, one row per transaction with the same writers,
   and batched (one writer, 500 rows per transaction).
3. **Aggregate load** (a Product stream of 10, 1,000 and 10,000 events) through the command
   service's loader, without a snapshot and with a snapshot at the head (what the loader leaves
   after a load that read at least `snapshot_every` events), p50 and p99.
4. **Projection rebuild**: a log of valid customer, product and order events (7 per order) is
   appended through the store (one order per append, 512 appends in flight), then a fresh projection runner catches the six
   read models (orders, customers, products, dashboard, activity, users) up from position 0;
   events/s of the log (each event is applied by every read model).
5. **Command-to-browser latency**: the release server binary (`target/release/server`, or
   `EVENTIDE_SERVER_BIN`) on a free port with a fresh data directory or database, rate limit off, websocket clients subscribed to the `orders` topic, commands at a
   steady 200/s over HTTP; latency from the command's HTTP reply to the `changed` message for its
   position arriving at a client (every client's arrival counts), with 1 and 500 clients.
6. **HTTP command throughput**: 64 concurrent clients sending `POST /api/orders/{id}/items` to
   their own orders, commands/s and latency percentiles.
7. **Stock**: 64 clients confirming draft orders (1–2 lines of 1–3 units on 10 products)
   through `CommandService::confirm`, each confirmation one atomic multi-stream append (the
   order's `OrderConfirmed` + a `StockReserved` per product at its exact version); one instance,
   and on PostgreSQL two command services on two stores over one database; confirmations/s,
   latency, retries. Beside it, 16 writers appending one event per append to their own stream
   with a plain `append` (untagged, tagged) and with `append_multi` + a DCB `AppendCondition` on
   the writer's own tag.
8. **Event browser**: a log of order, customer and product events (about 10 per stream, 12 event
   types, 200 acting users, correlation ids shared by the events of one append) is appended
   through the store, its `recorded_at_us` spread over time; then one page of 50 of
   `SqlEventStore::search_log` per filter kind (none, event type, stream type, stream id, short
   id, user, correlation id, 1-minute time range, event type + user, a second page, oldest
   first) with random parameters, one query at a time; p50/p99/max and queries/s.
9. **Hash chain**: single-event appends (64 writers) and the batched fill with the chain off and
   on, fresh stores each; `verify` of the filled log and the backfill of a log filled with the
   chain off.
10. **Growth** (runs last): one database per backend probed with a 1,000-event log, then filled in
   bulk (the rebuild fill) to 1,000,000 and 10,000,000 events (quick: 5,000 and 50,000) and
   probed again at each: appends (1 and 16 writers), an aggregate load of 100 events, and
   `search_log` pages (no filter, event type, stream type, stream id), p50/p99 compared with the
   empty log (within 20%); at both sizes a rebuild of every read model from 0 (a fresh runner on
   emptied read models), events/s compared (10M / 1M).

The numbers come from a 2-core machine that runs the databases, the server and the benchmark's
own clients at once: they vary from run to run by tens of percent; compare ratios within one run
rather than absolute figures across runs.

";
