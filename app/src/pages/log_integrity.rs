//! The admin panel's "Log integrity" section: the hash chain's head (position and hash,
//! shortened, full on hover), a "Verify" button with progress while the verify runs, its
//! outcome (intact, or the first broken position and what happened to it), and a link that
//! downloads the anchor to keep outside the database.

use std::time::Duration;

use domain::integrity::{ChainStatus, VerifyState};
use leptos::prelude::*;

use crate::api::admin::{StartChainVerify, chain_status};
use crate::components::error_box::{ActionError, ErrorBox};

/// How often the status is read again while a verify runs.
const POLL: Duration = Duration::from_millis(700);

/// The first and last characters of a hash.
fn short(hash: &str) -> String {
    if hash.len() > 16 {
        format!("{}…{}", &hash[..8], &hash[hash.len() - 8..])
    } else {
        hash.to_owned()
    }
}

#[component]
pub fn LogIntegrityPanel() -> impl IntoView {
    let verify = ServerAction::<StartChainVerify>::new();
    let tick = RwSignal::new(0_u32);
    let status = Resource::new(
        move || (verify.version().get(), tick.get()),
        |_| chain_status(),
    );
    // While a verify runs, read the status again shortly (in the browser only: effects do not
    // run during server rendering).
    Effect::new(move |_| {
        let running = status
            .get()
            .and_then(Result::ok)
            .is_some_and(|s| s.verify.state == VerifyState::Running);
        if running {
            set_timeout(move || tick.update(|t| *t += 1), POLL);
        }
    });
    view! {
        <div class="card" style="margin-top:1rem" data-testid="log-integrity">
            <h2>"Log integrity"</h2>
            <ActionError result=verify.value().into()/>
            <Transition fallback=|| view! { <p class="muted">"Reading the chain head…"</p> }>
                {move || Suspend::new(async move {
                    match status.await {
                        Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                        Ok(s) => view! { <ChainFigures status=s pending=verify.pending()/> }.into_any(),
                    }
                })}
            </Transition>
            <div class="actions">
                <button
                    data-testid="verify-chain"
                    disabled=move || verify.pending().get()
                    on:click=move |_| { verify.dispatch(StartChainVerify {}); }
                >"Verify"</button>
                <a class="button secondary" href="/api/admin/chain/anchor" download="" data-testid="export-anchor">"Export anchor"</a>
            </div>
        </div>
    }
}

#[component]
fn ChainFigures(status: ChainStatus, pending: Memo<bool>) -> impl IntoView {
    let hash = status
        .head_hash
        .clone()
        .unwrap_or_else(|| "no hash".to_owned());
    let v = status.verify;
    let outcome = match v.state {
        VerifyState::Idle => view! { <p class="muted">"Not verified since the server started."</p> }.into_any(),
        VerifyState::Running => {
            let pct = if v.total > 0 { (v.checked as f64 * 100.0 / v.total as f64).min(100.0) } else { 0.0 };
            view! {
                <div class="progress" role="progressbar" aria-valuemin="0" aria-valuemax="100" aria-valuenow=format!("{pct:.0}")>
                    <div style=format!("width:{pct:.1}%")></div>
                </div>
                <p class="muted" data-testid="verify-progress">{format!("verifying: {} / {} ({:.0} events/s)", v.checked, v.total, v.events_per_sec)}</p>
            }.into_any()
        }
        VerifyState::Intact => view! {
            <p data-testid="verify-result"><strong>"Intact"</strong>{format!(": {} events checked ({:.0} events/s)", v.checked, v.events_per_sec)}</p>
        }.into_any(),
        VerifyState::Broken => {
            let text = v.problem.map(|p| format!("first broken position {} ({}): {}", p.position, p.kind, p.message)).unwrap_or_default();
            view! { <p class="error" role="alert" data-testid="verify-result"><strong>"Broken"</strong>": " {text}</p> }.into_any()
        }
        VerifyState::Failed => view! {
            <p class="error" role="alert" data-testid="verify-result">"The verify failed: " {v.error.unwrap_or_default()}</p>
        }.into_any(),
    };
    view! {
        <p data-testid="chain-head">
            "Head: position " <span class="mono">{status.head_position}</span>
            ", hash " <span class="mono" title=hash.clone()>{short(&hash)}</span>
            <span class="muted">{format!(" ({})", status.algorithm)}</span>
            {move || pending.get().then(|| view! { <span class="muted">" · starting…"</span> })}
        </p>
        {outcome}
    }
}
