//! Shared helpers: fresh databases (through [`eventstore::testing::FreshDb`]), latency
//! statistics, formatting.

use std::time::Duration;

use anyhow::Context as _;
use eventstore::Backend;
use eventstore::testing::FreshDb;

/// The PostgreSQL server fresh databases are created on.
#[derive(Debug, Clone)]
pub struct PgAdmin {
    pub admin_url: String,
}

impl PgAdmin {
    pub fn new(admin_url: &str) -> Self {
        Self {
            admin_url: admin_url.to_owned(),
        }
    }

    /// A fresh, empty database (not migrated) of `backend`: a new SQLite file or a new database
    /// on this PostgreSQL server, named `eventide_bench_<label>_<uuid>`.
    pub async fn fresh_db(&self, backend: Backend, label: &str) -> anyhow::Result<FreshDb> {
        FreshDb::new(backend, &self.admin_url, &format!("eventide_bench_{label}"))
            .await
            .context("cannot create a database on PostgreSQL (--pg-url)")
    }
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Percentiles {
    pub count: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Percentiles {
    pub fn of(samples: &mut [Duration]) -> Self {
        if samples.is_empty() {
            return Self::default();
        }
        samples.sort_unstable();
        let at = |q: f64| {
            let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
            samples[i.min(samples.len() - 1)].as_secs_f64() * 1000.0
        };
        Self {
            count: samples.len(),
            p50_ms: at(0.50),
            p99_ms: at(0.99),
            max_ms: at(1.0),
        }
    }
}

/// `12,345`-style integer formatting for the tables.
pub fn thousands(x: f64) -> String {
    let n = x.round() as i64;
    let s = n.abs().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// Milliseconds with sensible precision.
pub fn ms(x: f64) -> String {
    if x < 10.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.1}")
    }
}

/// `a / b` as `1.23x`, or `n/a`.
pub fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}x", a / b),
        _ => "n/a".to_owned(),
    }
}
