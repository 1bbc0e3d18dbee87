//! The `server` binary: parses configuration and runs the chosen command. Wiring only.
#![forbid(unsafe_code)]

use clap::Parser;
use server::config::{Cli, Command};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    server::telemetry::init(cli.config.log_format);
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => server::app::run(cli.config).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "server stopped with an error");
            std::process::ExitCode::FAILURE
        }
    }
}
