//! Command-line and environment configuration. Every option has a flag and an `EVENTIDE_*`
//! environment variable; the README's configuration table mirrors this file.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Clone, Parser)]
#[command(name = "server", version, about = "Eventide: event-sourced order management with a live dashboard")]
pub struct Cli {
    #[command(flatten)]
    pub config: Config,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Serve the web app and the API (the default).
    Serve,
}

#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "EVENTIDE_ADDR", default_value = "127.0.0.1:3000", global = true)]
    pub addr: SocketAddr,

    /// Directory for the embedded SQLite database and generated secrets; created on first start.
    #[arg(long, env = "EVENTIDE_DATA_DIR", default_value = "./data", global = true)]
    pub data_dir: PathBuf,

    /// Database URL: `postgres://...` for PostgreSQL or `sqlite://path` for another SQLite file.
    /// Default: the SQLite file `eventide.db` in the data directory.
    #[arg(long, env = "EVENTIDE_DATABASE_URL", global = true)]
    pub database_url: Option<String>,

    /// Directory holding the built site (the `pkg/` wasm, JS and CSS), as cargo-leptos writes it.
    #[arg(long, env = "EVENTIDE_SITE_ROOT", default_value = "target/site", global = true)]
    pub site_root: PathBuf,

    /// Log format.
    #[arg(long, env = "EVENTIDE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

impl Config {
    /// The database URL to open: the configured one, or the embedded SQLite file.
    pub fn resolved_database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.data_dir.join("eventide.db").display()),
        }
    }
}
