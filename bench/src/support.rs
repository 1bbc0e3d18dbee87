//! Shared helpers: fresh databases, latency statistics, formatting.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use eventstore::testing::database_url;
use eventstore::{Backend, Db};
use sqlx::{AnyConnection, Connection as _, Executor as _};
use uuid::Uuid;

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
}

/// A fresh, empty database (not migrated): a new SQLite file or a new PostgreSQL database.
#[derive(Debug)]
pub struct FreshDb {
    pub url: String,
    cleanup: Cleanup,
}

#[derive(Debug)]
enum Cleanup {
    File(PathBuf),
    Database { admin_url: String, name: String },
}

impl FreshDb {
    pub async fn new(backend: Backend, pg: &PgAdmin, label: &str) -> anyhow::Result<Self> {
        let id = Uuid::now_v7().simple().to_string();
        match backend {
            Backend::Sqlite => {
                let path = std::env::temp_dir().join(format!("eventide_bench_{label}_{id}.db"));
                Ok(Self {
                    url: format!("sqlite://{}", path.display()),
                    cleanup: Cleanup::File(path),
                })
            }
            Backend::Postgres => {
                sqlx::any::install_default_drivers();
                let name = format!("eventide_bench_{label}_{id}");
                let mut admin = AnyConnection::connect(&pg.admin_url)
                    .await
                    .with_context(|| "cannot connect to PostgreSQL (--pg-url)".to_owned())?;
                admin
                    .execute(format!("create database \"{name}\"").as_str())
                    .await?;
                admin.close().await?;
                Ok(Self {
                    url: database_url(&pg.admin_url, &name),
                    cleanup: Cleanup::Database {
                        admin_url: pg.admin_url.clone(),
                        name,
                    },
                })
            }
        }
    }

    /// Connects with the store's connection settings (WAL + synchronous=FULL on SQLite).
    pub async fn connect(&self, max_connections: u32) -> anyhow::Result<Db> {
        Ok(Db::connect_with(&self.url, max_connections).await?)
    }

    /// Connects and applies Eventide's migrations.
    pub async fn migrated(&self, max_connections: u32) -> anyhow::Result<Db> {
        let db = self.connect(max_connections).await?;
        db.migrate().await?;
        Ok(db)
    }

    /// Best effort: deletes the file or drops the database.
    pub async fn cleanup(self) {
        match self.cleanup {
            Cleanup::File(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let mut p = path.clone().into_os_string();
                    p.push(suffix);
                    let _ = std::fs::remove_file(p);
                }
            }
            Cleanup::Database { admin_url, name } => {
                if let Ok(mut admin) = AnyConnection::connect(&admin_url).await {
                    let _ = admin
                        .execute(
                            format!("drop database if exists \"{name}\" with (force)").as_str(),
                        )
                        .await;
                    let _ = admin.close().await;
                }
            }
        }
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
