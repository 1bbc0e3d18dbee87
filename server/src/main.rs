//! The `server` binary: parses configuration and runs the chosen command. Wiring only.
#![forbid(unsafe_code)]

use anyhow::Context as _;
use clap::Parser;
use server::config::{Cli, Command, Config};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // Dropped last: flushes the spans still queued for OTLP export.
    let _telemetry =
        match server::telemetry::init(cli.config.log_format, cli.config.otlp_endpoint.as_deref()) {
            Ok(telemetry) => telemetry,
            Err(error) => {
                eprintln!("cannot start telemetry: {error:#}");
                return std::process::ExitCode::from(2);
            }
        };
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => server::app::run(cli.config).await,
        Command::Seed { orders } => seed(cli.config, orders).await,
        Command::Consume => consume(cli.config).await,
        Command::Openapi => print_openapi(),
        Command::Verify { from, to, anchor } => {
            return match verify_chain(cli.config, from, to, anchor).await {
                Ok(true) => std::process::ExitCode::SUCCESS,
                Ok(false) => std::process::ExitCode::from(1),
                Err(error) => {
                    tracing::error!(error = format!("{error:#}"), "verify failed");
                    eprintln!("error: {error:#}");
                    std::process::ExitCode::from(2)
                }
            };
        }
        Command::ChainHead { out } => export_chain_head(cli.config, out).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "server stopped with an error");
            std::process::ExitCode::FAILURE
        }
    }
}

/// `server openapi`: the document on stdout (for client generators; no database needed).
fn print_openapi() -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(server::api::openapi::document_json())
        .context("rendering the OpenAPI document")?;
    println!("{text}");
    Ok(())
}

/// `server seed --orders N`: demo data through the command service, with progress on stderr.
async fn seed(config: Config, orders: u32) -> anyhow::Result<()> {
    // Seeding builds the read models: not while a server runs on the same SQLite data.
    let _lock = server::app::lock_data_dir(&config)?;
    let services = server::app::open_services(&config).await?;
    let last_percent = std::sync::atomic::AtomicUsize::new(usize::MAX);
    let result = orders::seed::seed(&services.commands, orders as usize, |done, total| {
        let percent = (done * 100).checked_div(total).unwrap_or(100);
        if last_percent.swap(percent, std::sync::atomic::Ordering::Relaxed) != percent {
            eprint!("\rseeding: {done}/{total} ({percent}%)");
        }
    })
    .await;
    eprintln!();
    let accounts = match (
        &result,
        result.as_ref().ok().and_then(|s| s.customers.first()),
    ) {
        (Ok(_), Some(customer)) => orders::seed::seed_accounts(&services.commands, *customer)
            .await
            .context("seeding the demo accounts failed")?,
        _ => Vec::new(),
    };
    if result.is_ok() {
        build_read_models(&config, &services).await?;
    }
    services.store.shutdown().await;
    services.db.close().await;
    let summary = result.context("seeding failed")?;
    eprintln!(
        "seeded {} customers, {} products, {} orders",
        summary.customers.len(),
        summary.products.len(),
        summary.orders.len()
    );
    for account in &accounts {
        eprintln!(
            "demo account: {} / {} ({}); change or disable it before real use",
            account.username, account.password, account.role
        );
    }
    Ok(())
}

/// Catches every read model up with what was just seeded, so a server started next answers
/// from complete read models at once.
async fn build_read_models(
    config: &Config,
    services: &server::app::Services,
) -> anyhow::Result<()> {
    let runner = eventstore::projection::ProjectionRunner::start(
        std::sync::Arc::new(services.store.clone()),
        orders::projections::all(),
        config.runner_config(config.instance()),
    )
    .await
    .context("cannot start the projections")?;
    let head = eventstore::EventStore::head_position(&services.store).await?;
    eprintln!("building the read models up to position {head}");
    let done = runner
        .wait_for_all(head, std::time::Duration::from_secs(600))
        .await;
    runner.shutdown().await;
    anyhow::ensure!(done, "the read models did not catch up within 10 minutes");
    Ok(())
}

/// `server consume`: the reference consumer of the events the relay publishes.
async fn consume(config: Config) -> anyhow::Result<()> {
    let url = config
        .nats_url
        .clone()
        .context("set --nats-url / EVENTIDE_NATS_URL to consume from the broker")?;
    let services = server::app::open_services(&config).await?;
    let consumer = orders::relay::consumer::ConsumerConfig::new(url);
    let result = tokio::select! {
        result = orders::relay::consumer::run_consumer(services.db.clone(), consumer) => result.context("consumer failed"),
        () = server::shutdown::signal() => Ok(()),
    };
    services.store.shutdown().await;
    services.db.close().await;
    result
}

/// `server verify`: progress on stderr, one result line on stdout; `Ok(true)` when intact.
async fn verify_chain(
    config: Config,
    from: Option<i64>,
    to: Option<i64>,
    anchor: Option<std::path::PathBuf>,
) -> anyhow::Result<bool> {
    let anchor: Option<eventstore::Anchor> = match anchor {
        Some(path) => {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read the anchor {}", path.display()))?;
            Some(serde_json::from_str(&text).context("the anchor is not anchor JSON")?)
        }
        None => None,
    };
    let db = server::app::open_database(&config).await?;
    let range = eventstore::VerifyRange { from, to };
    let report = eventstore::verify(&db, range, anchor.as_ref(), |p| {
        eprint!(
            "\rverifying: {}/{} ({:.0} events/s)",
            p.checked, p.total, p.events_per_sec
        );
    })
    .await;
    eprintln!();
    db.close().await;
    let report = report.context("the verify could not run")?;
    let rate = report.events_per_sec();
    match report.problem {
        None => {
            println!(
                "intact: positions {}..={} ({} events, {rate:.0} events/s)",
                report.from, report.to, report.checked
            );
            Ok(true)
        }
        Some(problem) => {
            println!(
                "broken: {} at position {} ({problem}; {} events checked before it)",
                problem.kind(),
                problem.position(),
                report.checked
            );
            Ok(false)
        }
    }
}

/// `server chain-head`: the anchor JSON on stdout or into `out`.
async fn export_chain_head(config: Config, out: Option<std::path::PathBuf>) -> anyhow::Result<()> {
    let db = server::app::open_database(&config).await?;
    let head = eventstore::chain_head(&db).await;
    db.close().await;
    let anchor = head?.anchor().context(
        "the log is empty or its head row has no hash (run the server once to backfill)",
    )?;
    let text = serde_json::to_string_pretty(&anchor)?;
    match out {
        Some(path) => {
            std::fs::write(&path, format!("{text}\n"))
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!(
                "anchor at position {} written to {}",
                anchor.position,
                path.display()
            );
        }
        None => println!("{text}"),
    }
    Ok(())
}
