//! Scenario 6: HTTP command throughput and latency with 64 concurrent clients against the real
//! server. Each client loops: place an order (`POST /api/orders`), add an item to it
//! (`POST /api/orders/{id}/items`, which loads the order and checks the product).

use std::time::{Duration, Instant};

use eventstore::Backend;
use serde_json::json;

use crate::Plan;
use crate::latency::{Server, id_of};
use crate::report::{Section, Table};
use crate::support::{Percentiles, PgAdmin, ms, thousands};

const CLIENTS: usize = 64;

#[derive(Debug, serde::Serialize)]
struct Row {
    backend: String,
    clients: usize,
    commands: u64,
    errors: u64,
    first_error: Option<String>,
    seconds: f64,
    commands_per_sec: f64,
    latency: Percentiles,
}

async fn measure(backend: Backend, pg: &PgAdmin, window: Duration) -> anyhow::Result<Row> {
    let server = std::sync::Arc::new(Server::start(backend, pg).await?);
    let result = async {
        let customer = server.customer(0).await?;
        let product = server.product(0).await?;
        let started = Instant::now();
        let mut tasks = Vec::with_capacity(CLIENTS);
        for _ in 0..CLIENTS {
            let server = server.clone();
            let customer = customer.clone();
            let product = product.clone();
            tasks.push(tokio::spawn(async move {
                let mut latencies = Vec::new();
                let (mut errors, mut first_error) = (0_u64, None);
                while started.elapsed() < window {
                    let t = Instant::now();
                    let placed = server
                        .post("/api/orders", &json!({ "customer_id": customer }))
                        .await
                        .and_then(|r| id_of(&r));
                    let order = match placed {
                        Ok(order) => {
                            latencies.push(t.elapsed());
                            order
                        }
                        Err(e) => {
                            errors += 1;
                            first_error.get_or_insert(format!("{e:#}"));
                            continue;
                        }
                    };
                    let t = Instant::now();
                    match server
                        .post(
                            &format!("/api/orders/{order}/items"),
                            &json!({ "product_id": product, "quantity": 2 }),
                        )
                        .await
                    {
                        Ok(_) => latencies.push(t.elapsed()),
                        Err(e) => {
                            errors += 1;
                            first_error.get_or_insert(format!("{e:#}"));
                        }
                    }
                }
                (latencies, errors, first_error)
            }));
        }
        let mut latencies = Vec::new();
        let (mut errors, mut first_error) = (0, None);
        for t in tasks {
            let (l, e, f) = t.await?;
            latencies.extend(l);
            errors += e;
            if first_error.is_none() {
                first_error = f;
            }
        }
        let seconds = started.elapsed().as_secs_f64();
        let commands = latencies.len() as u64;
        anyhow::Ok(Row {
            backend: backend.to_string(),
            clients: CLIENTS,
            commands,
            errors,
            first_error,
            seconds,
            commands_per_sec: commands as f64 / seconds,
            latency: Percentiles::of(&mut latencies),
        })
    }
    .await;
    if let Ok(server) = std::sync::Arc::try_unwrap(server) {
        server.stop().await;
    }
    result
}

pub async fn run(plan: &Plan, backends: &[Backend], pg: &PgAdmin) -> anyhow::Result<Section> {
    let started = Instant::now();
    let window = Duration::from_secs_f64(plan.http_secs);
    let mut rows = Vec::new();
    for &backend in backends {
        eprintln!("http: {backend}, {CLIENTS} clients");
        rows.push(measure(backend, pg, window).await?);
    }
    let mut table = Table::new(
        &format!("HTTP commands, {CLIENTS} concurrent clients (place order + add item)"),
        &[
            "backend",
            "commands/s",
            "p50 ms",
            "p99 ms",
            "max ms",
            "commands",
            "errors",
        ],
    );
    let mut notes = vec![format!(
        "{:.0} s window; clients and the server process share the machine's cores.",
        plan.http_secs
    )];
    for r in &rows {
        table.row(vec![
            r.backend.clone(),
            thousands(r.commands_per_sec),
            ms(r.latency.p50_ms),
            ms(r.latency.p99_ms),
            ms(r.latency.max_ms),
            thousands(r.commands as f64),
            thousands(r.errors as f64),
        ]);
        if let Some(e) = &r.first_error {
            notes.push(format!(
                "{}: {} errors, the first: {e}",
                r.backend, r.errors
            ));
        }
    }
    Ok(Section {
        id: "http",
        title: "6. HTTP command throughput".to_owned(),
        tables: vec![table],
        notes,
        seconds: started.elapsed().as_secs_f64(),
        data: serde_json::json!({ "rows": rows }),
    })
}
