//! One order: lines, totals, status, and only the actions its status allows. Every action sends
//! the version shown, so a concurrent change is reported as a conflict, and the page then shows
//! the fresh state while keeping what the person typed.

use domain::live::Topic;
use domain::order::{OrderAction, OrderStatus};
use domain::views::{CommandReply, OrderDetail};
use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};
use uuid::Uuid;

use crate::api::commands::{AddItem, ChangeQuantity, OrderTransition, RemoveItem, TransitionOrder};
use crate::api::queries::{get_order, list_products};
use crate::components::error_box::{ActionError, ErrorBox};
use crate::components::status_badge::StatusBadge;
use crate::error::UiError;
use crate::format::{money, time};
use crate::live::{changed_of, changed_of_with};
use crate::pages::orders::PICKER_LIMIT;

/// The order page's actions and form inputs. They live as long as the page, not the rendered
/// order, so a refetch after a conflict keeps the message and everything the person typed.
#[derive(Clone, Copy)]
struct OrderForms {
    add: ServerAction<AddItem>,
    remove: ServerAction<RemoveItem>,
    change: ServerAction<ChangeQuantity>,
    act: ServerAction<TransitionOrder>,
    add_product: RwSignal<String>,
    add_quantity: RwSignal<String>,
    carrier: RwSignal<String>,
    tracking: RwSignal<String>,
    reason: RwSignal<String>,
}

impl OrderForms {
    fn pending(&self) -> bool {
        self.add.pending().get()
            || self.remove.pending().get()
            || self.change.pending().get()
            || self.act.pending().get()
    }
}

#[component]
pub fn OrderPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let id = Memo::new(move |_| params.read().get("id").and_then(|s| s.parse::<Uuid>().ok()));
    let initial_min = query
        .read_untracked()
        .get("min_position")
        .and_then(|s| s.parse::<i64>().ok());
    let (min_position, set_min_position) = signal(initial_min);
    // Changes of this order's details (or resyncs); `set_touched` reloads after a conflict.
    let live_changes =
        changed_of_with(move || id.get().map(|id| Topic::Order { id }).into_iter().collect());
    let (touched, set_touched) = signal(0u32);
    let order = Resource::new(
        move || {
            (
                id.get(),
                min_position.get(),
                live_changes.get(),
                touched.get(),
            )
        },
        |(id, min, _, _)| async move {
            match id {
                Some(id) => get_order(id, min).await,
                None => Err(UiError::not_found("That order")),
            }
        },
    );
    let forms = OrderForms {
        add: ServerAction::new(),
        remove: ServerAction::new(),
        change: ServerAction::new(),
        act: ServerAction::new(),
        add_product: RwSignal::new(String::new()),
        add_quantity: RwSignal::new("1".to_string()),
        carrier: RwSignal::new(String::new()),
        tracking: RwSignal::new(String::new()),
        reason: RwSignal::new(String::new()),
    };
    provide_context(forms);
    // After a command: read our own write; after a conflict: reload the fresh state.
    let after = move |result: Option<Result<CommandReply, UiError>>| match result {
        Some(Ok(reply)) => set_min_position.set(Some(reply.position)),
        Some(Err(e)) if e.is_conflict() => set_touched.update(|n| *n += 1),
        _ => {}
    };
    Effect::new(move |_| after(forms.add.value().get()));
    Effect::new(move |_| after(forms.remove.value().get()));
    Effect::new(move |_| after(forms.change.value().get()));
    Effect::new(move |_| after(forms.act.value().get()));

    view! {
        <section class="page" aria-labelledby="page-title">
            <ActionError result=forms.add.value().into()/>
            <ActionError result=forms.remove.value().into()/>
            <ActionError result=forms.change.value().into()/>
            <ActionError result=forms.act.value().into()/>
            <Transition fallback=|| view! { <p class="muted">"Loading the order…"</p> }>
                {move || Suspend::new(async move {
                    match order.await {
                        Err(e) => view! { <h1 id="page-title">"Order"</h1><ErrorBox error=e/> }.into_any(),
                        Ok(fresh) => view! { <OrderView detail=fresh.data stale=fresh.stale/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn OrderView(detail: OrderDetail, stale: bool) -> impl IntoView {
    let s = detail.summary.clone();
    let status = s.status;
    let version = s.version;
    let order_id = s.order_id;
    view! {
        <h1 id="page-title">"Order " <span class="mono">{order_id.to_string()}</span></h1>
        {stale.then(|| view! { <p class="notice" role="status">"Still catching up with your last change; this may be a moment old."</p> })}
        <div class="grid">
            <div class="card stat"><div class="label">"Status"</div><div class="value" data-testid="order-status"><StatusBadge status=status.as_str().to_string()/></div></div>
            <div class="card stat"><div class="label">"Customer"</div><div class="value" style="font-size:1.1rem">{s.customer_name.clone()}</div></div>
            <div class="card stat"><div class="label">"Total"</div><div class="value" data-testid="order-total">{money(s.total_cents)}</div></div>
            <div class="card stat"><div class="label">"Version"</div><div class="value" data-testid="order-version">{version}</div></div>
        </div>
        <p class="muted">"Placed " {time(&s.created_at)} " · updated " {time(&s.updated_at)} " · "
            <a href=format!("/audit/order-{order_id}")>"Audit timeline"</a></p>
        {detail.carrier.clone().map(|c| view! { <p>"Shipped with " {c} ", tracking " <span class="mono">{detail.tracking_number.clone().unwrap_or_default()}</span></p> })}
        {detail.cancel_reason.clone().map(|r| view! { <p class="notice">"Cancelled: " {r}</p> })}
        <div class="card">
            <h2>"Lines"</h2>
            <LinesTable detail=detail.clone() editable=status.allows(OrderAction::ChangeQuantity)/>
            {status.allows(OrderAction::AddItem).then(|| view! { <AddLineForm order_id version/> })}
        </div>
        <TransitionActions order_id version status/>
    }
}

#[component]
fn LinesTable(detail: OrderDetail, editable: bool) -> impl IntoView {
    let order_id = detail.summary.order_id;
    let version = detail.summary.version;
    let forms = expect_context::<OrderForms>();
    let (remove, change) = (forms.remove, forms.change);
    let pending = move || forms.pending();
    view! {
        <table data-testid="order-lines">
            <thead><tr><th>"Product"</th><th class="hide-sm">"SKU"</th><th class="num">"Unit price"</th><th class="num">"Qty"</th><th class="num">"Line total"</th>{editable.then(|| view! { <th>"Edit"</th> })}</tr></thead>
            <tbody>
                {detail.lines.into_iter().map(|l| {
                    let product_id = l.product_id;
                    let (qty, set_qty) = signal(l.quantity.to_string());
                    view! {
                        <tr data-product-id=product_id.to_string()>
                            <td>{l.product_name.clone()}</td>
                            <td class="hide-sm mono">{l.sku.clone()}</td>
                            <td class="num">{money(l.unit_price_cents)}</td>
                            <td class="num">{l.quantity}</td>
                            <td class="num">{money(l.line_total_cents)}</td>
                            {editable.then(|| view! {
                                <td class="row">
                                    <label class="sr">"New quantity"
                                        <input type="number" min="1" max="10000" style="width:6rem" prop:value=qty on:input=move |ev| set_qty.set(event_target_value(&ev))/>
                                    </label>
                                    <button class="secondary" disabled=pending on:click=move |_| {
                                        let quantity = qty.get_untracked().trim().parse::<u32>().unwrap_or(0);
                                        change.dispatch(ChangeQuantity { order_id, expected_version: version, product_id, quantity });
                                    }>"Update"</button>
                                    <button class="secondary" disabled=pending on:click=move |_| {
                                        remove.dispatch(RemoveItem { order_id, expected_version: version, product_id });
                                    }>"Remove"</button>
                                </td>
                            })}
                        </tr>
                    }
                }).collect_view()}
            </tbody>
            <tfoot><tr><th colspan="4">"Total"</th><th class="num">{money(detail.summary.total_cents)}</th></tr></tfoot>
        </table>
    }
}

#[component]
fn AddLineForm(order_id: Uuid, version: i64) -> impl IntoView {
    let products_changed = changed_of([Topic::Products]);
    let products = Resource::new(
        move || products_changed.get(),
        |_| list_products(None, Some(PICKER_LIMIT), None),
    );
    let forms = expect_context::<OrderForms>();
    let add = forms.add;
    let (product, set_product) = forms.add_product.split();
    let (quantity, set_quantity) = forms.add_quantity.split();
    view! {
        <form class="row" aria-label="Add a line" on:submit=move |ev| {
            ev.prevent_default();
            let Ok(product_id) = product.get_untracked().parse::<Uuid>() else { return };
            let quantity = quantity.get_untracked().trim().parse::<u32>().unwrap_or(0);
            add.dispatch(AddItem { order_id, expected_version: version, product_id, quantity });
        }>
            <label>"Product"
                <select name="product" required prop:value=product on:change=move |ev| set_product.set(event_target_value(&ev))>
                    <option value="">"Choose…"</option>
                    <Transition fallback=|| ()>
                        {move || Suspend::new(async move {
                            products.await.unwrap_or_default().products.into_iter().filter(|p| !p.discontinued).map(|p| view! {
                                <option value=p.product_id.to_string() selected=p.product_id.to_string() == product.get_untracked()>{format!("{} · {}", p.name, money(p.price_cents))}</option>
                            }).collect_view()
                        })}
                    </Transition>
                </select>
            </label>
            <label>"Quantity"
                <input name="quantity" type="number" prop:value=quantity on:input=move |ev| set_quantity.set(event_target_value(&ev))/>
            </label>
            <button type="submit" disabled=move || forms.pending()>"Add line"</button>
        </form>
    }
}

#[component]
fn TransitionActions(order_id: Uuid, version: i64, status: OrderStatus) -> impl IntoView {
    let forms = expect_context::<OrderForms>();
    let act = forms.act;
    let (carrier, set_carrier) = forms.carrier.split();
    let (tracking, set_tracking) = forms.tracking.split();
    let (reason, set_reason) = forms.reason.split();
    let pending = move || forms.pending();
    // Shipping and delivery are staff work: customers see no such buttons (the server refuses
    // them anyway).
    let fulfil = crate::viewer::can(domain::account::Capability::Fulfil);
    let send = move |transition: OrderTransition| {
        act.dispatch(TransitionOrder {
            order_id,
            expected_version: version,
            transition,
        });
    };
    view! {
        <div class="card" style="margin-top:1rem">
            <h2>"Actions"</h2>
            {status.is_terminal().then(|| view! { <p class="muted">"This order is final; no further actions."</p> })}
            <div class="actions">
                {status.allows(OrderAction::Confirm).then(|| view! {
                    <button disabled=pending on:click=move |_| send(OrderTransition::Confirm)>"Confirm order"</button>
                })}
                {move || (fulfil.get() && status.allows(OrderAction::MarkDelivered)).then(|| view! {
                    <button disabled=pending on:click=move |_| send(OrderTransition::Deliver)>"Mark delivered"</button>
                })}
            </div>
            {move || (fulfil.get() && status.allows(OrderAction::Ship)).then(|| view! {
                <form class="row" aria-label="Ship" on:submit=move |ev| {
                    ev.prevent_default();
                    send(OrderTransition::Ship { carrier: carrier.get_untracked(), tracking_number: tracking.get_untracked() });
                }>
                    <label>"Carrier"<input name="carrier" prop:value=carrier on:input=move |ev| set_carrier.set(event_target_value(&ev))/></label>
                    <label>"Tracking number"<input name="tracking" prop:value=tracking on:input=move |ev| set_tracking.set(event_target_value(&ev))/></label>
                    <button type="submit" disabled=pending>"Ship"</button>
                </form>
            })}
            {status.allows(OrderAction::Cancel).then(|| view! {
                <form class="row" aria-label="Cancel" on:submit=move |ev| {
                    ev.prevent_default();
                    send(OrderTransition::Cancel { reason: reason.get_untracked() });
                }>
                    <label>"Reason"<input name="reason" prop:value=reason on:input=move |ev| set_reason.set(event_target_value(&ev))/></label>
                    <button type="submit" class="danger" disabled=pending>"Cancel order"</button>
                </form>
            })}
        </div>
    }
}
