//! What the run ran on: cores, memory, CPU, OS, PostgreSQL version and durability settings.

use serde::Serialize;
use sqlx::{AnyConnection, Connection as _};

use crate::support::PgAdmin;

#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cores: usize,
    pub cpu: String,
    pub memory_gib: f64,
    pub os: String,
    pub sqlite: String,
    pub postgres: Option<String>,
    pub postgres_synchronous_commit: Option<String>,
    pub postgres_fsync: Option<String>,
    pub rustc: String,
}

impl Machine {
    pub fn summary(&self) -> String {
        let pg = match (&self.postgres, &self.postgres_synchronous_commit) {
            (Some(v), Some(s)) => format!(
                "{v} (synchronous_commit={s}, fsync={})",
                self.postgres_fsync.as_deref().unwrap_or("?")
            ),
            (Some(v), None) => v.clone(),
            _ => "not used".to_owned(),
        };
        format!(
            "{} cores ({}), {:.1} GiB RAM, {}; SQLite {} (WAL, synchronous=FULL); PostgreSQL {}; {}",
            self.cores, self.cpu, self.memory_gib, self.os, self.sqlite, pg, self.rustc
        )
    }
}

pub async fn describe(pg: Option<&PgAdmin>) -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory_kib: f64 = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    let os = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("PRETTY_NAME=")).map(|l| {
                l.trim_start_matches("PRETTY_NAME=")
                    .trim_matches('"')
                    .to_owned()
            })
        })
        .unwrap_or_else(|| std::env::consts::OS.to_owned());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    let rustc = std::process::Command::new("rustc")
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "rustc ?".to_owned());
    let sqlite = sqlite_version().await.unwrap_or_else(|_| "?".to_owned());
    let (postgres, sync, fsync) = match pg {
        Some(pg) => match postgres_info(&pg.admin_url).await {
            Ok((v, s, f)) => (Some(v), Some(s), Some(f)),
            Err(e) => (Some(format!("unreachable: {e}")), None, None),
        },
        None => (None, None, None),
    };
    Machine {
        cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu,
        memory_gib: memory_kib / 1024.0 / 1024.0,
        os: format!("{os}, Linux {kernel}"),
        sqlite,
        postgres,
        postgres_synchronous_commit: sync,
        postgres_fsync: fsync,
        rustc,
    }
}

async fn sqlite_version() -> anyhow::Result<String> {
    sqlx::any::install_default_drivers();
    let mut conn = AnyConnection::connect("sqlite::memory:").await?;
    let v: String = sqlx::query_scalar("select sqlite_version()")
        .fetch_one(&mut conn)
        .await?;
    conn.close().await?;
    Ok(v)
}

async fn postgres_info(url: &str) -> anyhow::Result<(String, String, String)> {
    sqlx::any::install_default_drivers();
    let mut conn = AnyConnection::connect(url).await?;
    let version: String = sqlx::query_scalar("show server_version")
        .fetch_one(&mut conn)
        .await?;
    let sync: String = sqlx::query_scalar("show synchronous_commit")
        .fetch_one(&mut conn)
        .await?;
    let fsync: String = sqlx::query_scalar("show fsync")
        .fetch_one(&mut conn)
        .await?;
    conn.close().await?;
    Ok((version, sync, fsync))
}
