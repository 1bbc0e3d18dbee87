//! The dashboard: order statistics, the orders-per-minute sparkline, top products, the live
//! activity feed and projection lag, all refreshed live.

use domain::live::Topic;
use leptos::prelude::*;

use crate::api::queries::{get_activity, get_dashboard, low_stock, projection_statuses};
use crate::components::error_box::ErrorBox;
use crate::components::sparkline::Sparkline;
use crate::components::status_badge::StatusBadge;
use crate::format::{money, time};
use crate::live::{changed_of, use_live};

#[component]
pub fn DashboardPage() -> impl IntoView {
    let stats_changed = changed_of([Topic::Dashboard]);
    let activity_changed = changed_of([Topic::Activity]);
    let stats = Resource::new(move || stats_changed.get(), |_| get_dashboard(None));
    let activity = Resource::new(move || activity_changed.get(), |_| get_activity());
    let live = use_live();
    let lags = Resource::new(|| (), |_| projection_statuses());
    let stock_changed = changed_of([Topic::Products]);
    let low = Resource::new(move || stock_changed.get(), |_| low_stock());

    view! {
        <section class="page" aria-labelledby="page-title">
            <h1 id="page-title">"Dashboard"</h1>
            <Transition fallback=|| view! { <p class="muted">"Loading statistics…"</p> }>
                {move || Suspend::new(async move {
                    match stats.await {
                        Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                        Ok(fresh) => {
                            let s = fresh.data;
                            let empty = s.orders_by_status.iter().all(|c| c.count == 0);
                            view! {
                                {empty.then(|| view! {
                                    <div class="card hint" data-testid="empty-hint">
                                        <h2>"No orders yet"</h2>
                                        <p>"Place one from the " <a href="/orders">"Orders"</a> " page, or stop the server and fill the database with demo customers, products and orders:"</p>
                                        <pre>"server seed --orders 200"</pre>
                                        <p class="muted">"(" <code>"scripts/run.sh"</code> " offers this on an empty database.)"</p>
                                    </div>
                                })}
                                <div class="grid" data-testid="stats">
                                    {s.orders_by_status.iter().map(|c| view! {
                                        <div class="card stat" data-testid=format!("status-{}", c.status.as_str())>
                                            <div class="value">{c.count}</div>
                                            <div class="label"><StatusBadge status=c.status.as_str().to_string()/></div>
                                        </div>
                                    }).collect_view()}
                                    <div class="card stat" data-testid="revenue">
                                        <div class="value">{money(s.revenue_cents)}</div>
                                        <div class="label">"Revenue (confirmed or later)"</div>
                                    </div>
                                    <div class="card stat" data-testid="average">
                                        <div class="value">{money(s.average_order_cents)}</div>
                                        <div class="label">"Average order value"</div>
                                    </div>
                                </div>
                                <div class="grid" style="margin-top:1rem">
                                    <div class="card">
                                        <h2>"Orders per minute, last hour"</h2>
                                        <Sparkline values=s.orders_per_minute.clone() label="Orders placed per minute over the last 60 minutes"/>
                                        <p class="muted">{format!("{} orders in the last hour", s.orders_per_minute.iter().sum::<i64>())}</p>
                                    </div>
                                    <div class="card">
                                        <h2>"Top products"</h2>
                                        <table>
                                            <thead><tr><th>"Product"</th><th class="num">"Units"</th></tr></thead>
                                            <tbody>
                                                {s.top_products.iter().map(|p| view! {
                                                    <tr><td>{p.name.clone()}</td><td class="num">{p.quantity}</td></tr>
                                                }).collect_view()}
                                            </tbody>
                                        </table>
                                    </div>
                                </div>
                            }.into_any()
                        }
                    }
                })}
            </Transition>
            <div class="grid" style="margin-top:1rem">
                <div class="card">
                    <h2>"Live activity"</h2>
                    <Transition fallback=|| view! { <p class="muted">"Loading activity…"</p> }>
                        {move || Suspend::new(async move {
                            match activity.await {
                                Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                                Ok(entries) if entries.is_empty() => view! { <p class="muted">"No activity yet."</p> }.into_any(),
                                Ok(entries) => view! {
                                    <ul class="feed" data-testid="activity" aria-live="polite">
                                        {entries.into_iter().map(|e| view! {
                                            <li><span class="muted mono">{time(&e.at)}</span>" "{e.text}</li>
                                        }).collect_view()}
                                    </ul>
                                }.into_any(),
                            }
                        })}
                    </Transition>
                </div>
                <div class="card">
                    <h2>"Low stock"</h2>
                    <Transition fallback=|| view! { <p class="muted">"Loading stock…"</p> }>
                        {move || Suspend::new(async move {
                            match low.await {
                                Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                                Ok(list) if list.is_empty() => view! { <p class="muted">"Every product has stock."</p> }.into_any(),
                                Ok(list) => view! {
                                    <table data-testid="low-stock">
                                        <thead><tr><th>"Product"</th><th class="num">"Available"</th><th class="num">"Reserved"</th></tr></thead>
                                        <tbody>
                                            {list.into_iter().map(|p| view! {
                                                <tr data-sku=p.sku.clone()><td>{format!("{} ({})", p.name, p.sku)}</td><td class="num">{p.available}</td><td class="num">{p.reserved}</td></tr>
                                            }).collect_view()}
                                        </tbody>
                                    </table>
                                    <p class="muted"><a href="/products">"Receive stock on the products page"</a></p>
                                }.into_any(),
                            }
                        })}
                    </Transition>
                </div>
                <div class="card">
                    <h2>"Projection lag"</h2>
                    <table data-testid="lag">
                        <thead><tr><th>"Projection"</th><th>"State"</th><th class="num">"Lag"</th></tr></thead>
                        <tbody>
                            // Inside a Transition: the server renders the awaited rows, so the
                            // browser hydrates the same table (only admins get any).
                            <Transition fallback=|| ()>
                            {move || Suspend::new(async move {
                                let pushed = live.projections.get();
                                let initial = lags.await.unwrap_or_default();
                                let rows = pushed.unwrap_or(initial);
                                rows.into_iter().map(|p| view! {
                                    <tr>
                                        <td>{p.name.clone()}</td>
                                        <td><StatusBadge status=serde_json::to_value(p.state).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()/></td>
                                        <td class="num">{p.lag}</td>
                                    </tr>
                                }).collect_view()
                            })}
                            </Transition>
                        </tbody>
                    </table>
                </div>
            </div>
        </section>
    }
}
