//! The processes under test: the `server` binary (spawned, health-checked, SIGKILLed,
//! restarted on the same data), a private `nats-server`, and fresh PostgreSQL databases.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;
use tokio::process::{Child, Command};

/// A free TCP port on loopback (bound, read, released).
pub fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("no free port")?;
    Ok(listener.local_addr()?.port())
}

/// A fresh temporary directory under the system temp dir, removed on drop unless kept.
pub struct TempDir {
    pub path: PathBuf,
    pub keep: bool,
}

impl TempDir {
    pub fn new(label: &str, keep: bool) -> anyhow::Result<Self> {
        let path =
            std::env::temp_dir().join(format!("eventide-reliability-{label}-{}", short_id()));
        std::fs::create_dir_all(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        Ok(Self { path, keep })
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

pub fn short_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_owned()
}

/// Which database a server runs on.
#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite,
    Postgres { url: String },
}

/// A fresh PostgreSQL database, dropped (with its connections) on [`PgDatabase::drop_now`].
pub struct PgDatabase {
    admin_url: String,
    pub name: String,
    pub url: String,
}

impl PgDatabase {
    pub async fn create(admin_url: &str) -> anyhow::Result<Self> {
        let name = format!("reliability_{}", short_id());
        let admin = connect(admin_url).await?;
        sqlx::query(&format!("create database {name}"))
            .execute(&admin)
            .await
            .with_context(|| format!("cannot create database {name}"))?;
        admin.close().await;
        let url = match admin_url.rsplit_once('/') {
            Some((base, _)) => format!("{base}/{name}"),
            None => bail!("cannot derive a database URL from {admin_url}"),
        };
        Ok(Self {
            admin_url: admin_url.to_owned(),
            name,
            url,
        })
    }

    pub async fn drop_now(&self) {
        if let Ok(admin) = connect(&self.admin_url).await {
            let _ = sqlx::query(&format!(
                "drop database if exists {} with (force)",
                self.name
            ))
            .execute(&admin)
            .await;
            admin.close().await;
        }
    }
}

/// An `Any` pool for a `sqlite://` or `postgres://` URL.
pub async fn connect(url: &str) -> anyhow::Result<AnyPool> {
    sqlx::any::install_default_drivers();
    AnyPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(Duration::from_secs(30))
        .connect(url)
        .await
        .with_context(|| format!("cannot connect to {url}"))
}

/// How to start one server.
#[derive(Debug, Clone)]
pub struct ServerSpec {
    pub bin: PathBuf,
    pub data_dir: PathBuf,
    pub backend: Backend,
    pub nats_url: Option<String>,
    pub port: u16,
    pub admin_token: String,
    pub log: PathBuf,
}

impl ServerSpec {
    pub fn new(bin: &Path, data_dir: &Path, backend: Backend) -> anyhow::Result<Self> {
        Ok(Self {
            bin: bin.to_owned(),
            data_dir: data_dir.to_owned(),
            backend,
            nats_url: None,
            port: free_port()?,
            admin_token: format!("reliability-{}", short_id()),
            log: data_dir.with_extension("log"),
        })
    }

    /// The URL the checks read the database with.
    pub fn database_url(&self) -> String {
        match &self.backend {
            Backend::Sqlite => format!("sqlite://{}", self.data_dir.join("eventide.db").display()),
            Backend::Postgres { url } => url.clone(),
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn command(&self, args: &[&str]) -> anyhow::Result<Command> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("cannot open {}", self.log.display()))?;
        let mut cmd = Command::new(&self.bin);
        cmd.args(args)
            .arg("--addr")
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--admin-token")
            .arg(&self.admin_token)
            .arg("--rate-limit-per-sec")
            .arg("0")
            // The same master key for every process on the data (servers and consumers).
            .arg("--master-key")
            .arg(MASTER_KEY)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true);
        if let Backend::Postgres { url } = &self.backend {
            cmd.arg("--database-url").arg(url);
        }
        if let Some(nats) = &self.nats_url {
            cmd.arg("--nats-url").arg(nats);
        }
        Ok(cmd)
    }
}

/// The master key the harness gives every process (personal data is sealed under keys it wraps).
const MASTER_KEY: &str = "0dd1ce5e0dd1ce5e0dd1ce5e0dd1ce5e0dd1ce5e0dd1ce5e0dd1ce5e0dd1ce5e";

/// The server process (restartable on the same data).
pub struct Server {
    pub spec: ServerSpec,
    child: Option<Child>,
    pub http: reqwest::Client,
}

impl Server {
    pub fn new(spec: ServerSpec) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()?;
        Ok(Self {
            spec,
            child: None,
            http,
        })
    }

    /// Spawns the server and waits until `/health` answers; returns the time that took.
    pub async fn start(&mut self) -> anyhow::Result<Duration> {
        let started = Instant::now();
        let bin = &self.spec.bin;
        anyhow::ensure!(
            bin.exists(),
            "server binary {} not found (build it with `scripts/build.sh`, or pass --server-bin)",
            bin.display()
        );
        let child = self
            .spec
            .command(&["serve"])?
            .spawn()
            .with_context(|| format!("cannot start {}", bin.display()))?;
        self.child = Some(child);
        let url = format!("{}/health", self.spec.base_url());
        let deadline = started + Duration::from_secs(90);
        loop {
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                bail!(
                    "the server exited during start-up ({status}); log tail:\n{}",
                    log_tail(&self.spec.log)
                );
            }
            if let Ok(r) = self.http.get(&url).send().await
                && r.status().is_success()
            {
                return Ok(started.elapsed());
            }
            if Instant::now() > deadline {
                bail!(
                    "the server did not become healthy within 90 s; log tail:\n{}",
                    log_tail(&self.spec.log)
                );
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// `kill -9` (SIGKILL) and reap.
    pub async fn kill9(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill().await.context("cannot SIGKILL the server")?;
        }
        Ok(())
    }

    /// SIGTERM (graceful), SIGKILL after 15 s.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if let Some(pid) = child.id() {
                let _ = Command::new("kill")
                    .arg("-TERM")
                    .arg(pid.to_string())
                    .status()
                    .await;
            }
            if tokio::time::timeout(Duration::from_secs(15), child.wait())
                .await
                .is_err()
            {
                let _ = child.kill().await;
            }
        }
    }

    /// Whether the process is still running (false once it exited by itself).
    pub fn alive(&mut self) -> bool {
        match self.child.as_mut() {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Spawns `server consume` (the reference inbox consumer) on the same data.
    pub fn spawn_consumer(&self) -> anyhow::Result<Child> {
        let mut spec = self.spec.clone();
        spec.log = self.spec.data_dir.with_extension("consumer.log");
        spec.port = free_port()?;
        spec.command(&["consume"])?
            .spawn()
            .context("cannot start `server consume`")
    }
}

/// The last lines of a log file (for error messages).
pub fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// Whether a server log contains a panic.
pub fn log_has_panic(path: &Path) -> bool {
    std::fs::read_to_string(path).is_ok_and(|t| t.contains("panicked"))
}

/// A private `nats-server` with JetStream on its own port and storage directory.
pub struct Nats {
    bin: PathBuf,
    pub port: u16,
    store_dir: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

impl Nats {
    pub fn new(bin: &Path, dir: &Path) -> anyhow::Result<Self> {
        Ok(Self {
            bin: bin.to_owned(),
            port: free_port()?,
            store_dir: dir.join("jetstream"),
            log: dir.join("nats.log"),
            child: None,
        })
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub async fn start(&mut self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        let child = Command::new(&self.bin)
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-js",
                "-sd",
            ])
            .arg(&self.store_dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", self.bin.display()))?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .is_err()
        {
            anyhow::ensure!(Instant::now() < deadline, "nats-server did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }

    /// Stops the broker (SIGKILL: an outage, not a maintenance window).
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }
}
