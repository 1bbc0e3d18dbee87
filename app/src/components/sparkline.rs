//! A tiny SVG line chart (orders per minute over the last hour).

use leptos::prelude::*;

#[component]
pub fn Sparkline(values: Vec<i64>, #[prop(into)] label: String) -> impl IntoView {
    let max = values.iter().copied().max().unwrap_or(0).max(1) as f64;
    let n = values.len().max(2) as f64 - 1.0;
    let points = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            format!(
                "{:.1},{:.1}",
                i as f64 * 300.0 / n,
                58.0 - (*v as f64 / max) * 56.0
            )
        })
        .collect::<Vec<_>>()
        .join(" ");
    view! {
        <svg class="sparkline" viewBox="0 0 300 60" preserveAspectRatio="none" role="img" aria-label=label>
            <polyline points=points/>
        </svg>
    }
}
