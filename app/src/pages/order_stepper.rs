//! Time travel that reads like the product: an order at one version of its stream, rendered as
//! the order page renders it (status, customer, lines, total, shipping), with what that version
//! changed highlighted: lines added, changed or removed, and the status and total when they
//! moved. Replayed in the browser with the shared `domain` code.

use domain::order::{OrderLine, OrderState};
use leptos::prelude::*;

use crate::components::status_badge::StatusBadge;
use crate::format::{money, short_id};

fn same_line(a: &OrderLine, b: &OrderLine) -> bool {
    a.quantity == b.quantity && a.unit_price == b.unit_price && a.line_total == b.line_total
}

#[component]
pub fn OrderAtVersion(now: OrderState, before: OrderState) -> impl IntoView {
    if !now.exists {
        return view! { <p class="muted">"The order does not exist yet at this version."</p> }
            .into_any();
    }
    let status_changed = !before.exists || before.status != now.status;
    let total_changed = before.total != now.total;
    let removed: Vec<OrderLine> = before
        .lines
        .iter()
        .filter(|old| now.line(old.product_id).is_none())
        .cloned()
        .collect();
    let lines = now
        .lines
        .iter()
        .map(|line| {
            let change = match before.line(line.product_id) {
                None => "added",
                Some(old) if !same_line(old, line) => "changed",
                Some(_) => "",
            };
            (line.clone(), change)
        })
        .collect::<Vec<_>>();
    view! {
        <div class="order-at-version" data-testid="order-at-version">
            <p class:changed=status_changed data-field="status" data-changed=status_changed.to_string()>
                "Status " <StatusBadge status=now.status.as_str().to_string()/>
                {(status_changed && before.exists).then(|| view! { <span class="muted">{format!(" (was {})", before.status.label())}</span> })}
            </p>
            <p class="muted">{format!(
                "Customer {}{}",
                now.customer_name.as_ref().map(ToString::to_string).unwrap_or_default(),
                now.customer_id.map(|c| format!(" · {}", short_id(c.as_uuid()))).unwrap_or_default(),
            )}</p>
            <table data-testid="stepper-lines">
                <thead><tr><th>"Product"</th><th>"SKU"</th><th class="num">"Qty"</th><th class="num">"Unit price"</th><th class="num">"Line total"</th></tr></thead>
                <tbody>
                    {lines.into_iter().map(|(l, change)| view! {
                        <tr class=change data-line-change=change>
                            <td>{l.product_name.to_string()}</td>
                            <td class="mono">{l.sku.to_string()}</td>
                            <td class="num">{l.quantity.to_string()}</td>
                            <td class="num">{money(l.unit_price.cents())}</td>
                            <td class="num">{money(l.line_total.cents())}</td>
                        </tr>
                    }).collect_view()}
                    {removed.into_iter().map(|l| view! {
                        <tr class="removed" data-line-change="removed">
                            <td><s>{l.product_name.to_string()}</s></td>
                            <td class="mono"><s>{l.sku.to_string()}</s></td>
                            <td class="num"><s>{l.quantity.to_string()}</s></td>
                            <td class="num"><s>{money(l.unit_price.cents())}</s></td>
                            <td class="num"><s>{money(l.line_total.cents())}</s></td>
                        </tr>
                    }).collect_view()}
                </tbody>
                <tfoot>
                    <tr class:changed=total_changed data-field="total" data-changed=total_changed.to_string()>
                        <th colspan="4">"Total"</th>
                        <td class="num">{money(now.total.cents())}
                            {total_changed.then(|| view! { <span class="muted">{format!(" (was {})", money(before.total.cents()))}</span> })}
                        </td>
                    </tr>
                </tfoot>
            </table>
            {now.tracking_number.as_ref().map(|t| view! {
                <p>{format!("Shipped with {} · tracking {}", now.carrier.as_ref().map(ToString::to_string).unwrap_or_default(), t)}</p>
            })}
            {now.cancel_reason.as_ref().map(|r| view! { <p>{format!("Cancelled: {r}")}</p> })}
        </div>
    }
    .into_any()
}
