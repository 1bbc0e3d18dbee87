//! The order list (live, filterable, paged) and the new-order form.

use domain::live::Topic;
use domain::order::OrderStatus;
use domain::views::{CustomerPage, ProductView};
use leptos::prelude::*;
use leptos_router::hooks::use_navigate;
use uuid::Uuid;

use domain::requests::{self, NewLine};

use crate::api::commands::PlaceOrder;
use crate::api::queries::{list_customers, list_orders, list_products};
use crate::components::error_box::{ActionError, ErrorBox};
use crate::components::pager::{Pager, Paging};
use crate::components::status_badge::StatusBadge;
use crate::error::UiError;
use crate::format::{money, short_id, time};
use crate::live::changed_of;

/// Most customers or products a picker offers (one bounded page; the lists' own pages page
/// through all of them).
pub const PICKER_LIMIT: u32 = 100;

/// The last option of a picker that shows only the first page.
fn more_option() -> impl IntoView {
    view! { <option disabled value="">{format!("… only the first {PICKER_LIMIT} are listed")}</option> }
}

#[component]
pub fn OrdersPage() -> impl IntoView {
    let changed = changed_of([Topic::Orders, Topic::Customers]);
    let (status, set_status) = signal(String::new());
    let (customer, set_customer) = signal(String::new());
    let paging = Paging::new();
    let (min_position, set_min_position) = signal(None::<i64>);

    let orders = Resource::new(
        move || {
            (
                changed.get(),
                status.get(),
                customer.get(),
                paging.cursor(),
                min_position.get(),
            )
        },
        |(_, status, customer, cursor, min_position)| {
            let status = (!status.is_empty()).then_some(status);
            let customer = customer.parse::<Uuid>().ok();
            list_orders(status, customer, cursor, min_position)
        },
    );
    // One load of the customers for the filter and the new-order form alike.
    let customers_changed = changed_of([Topic::Customers]);
    let customers = Resource::new(
        move || customers_changed.get(),
        |_| list_customers(None, Some(PICKER_LIMIT), None),
    );
    let reset_paging = move || paging.reset();

    view! {
        <section class="page" aria-labelledby="page-title">
            <h1 id="page-title">"Orders"</h1>
            <NewOrderForm customers on_placed=move |position| set_min_position.set(Some(position))/>
            <div class="card">
                <form class="row" on:submit=|ev| ev.prevent_default() aria-label="Filter orders">
                    <div class="row">
                        <label>"Status"
                            <select name="status" on:change=move |ev| { set_status.set(event_target_value(&ev)); reset_paging(); }>
                                <option value="">"All"</option>
                                {OrderStatus::ALL.iter().map(|s| view! { <option value=s.as_str()>{s.as_str()}</option> }).collect_view()}
                            </select>
                        </label>
                        <label>"Customer"
                            <select name="customer" on:change=move |ev| { set_customer.set(event_target_value(&ev)); reset_paging(); }>
                                <option value="">"All"</option>
                                <Transition fallback=|| ()>
                                    {move || Suspend::new(async move {
                                        let page = customers.await.unwrap_or_default();
                                        let more = page.next_cursor.is_some();
                                        view! {
                                            {page.customers.into_iter().map(|c| view! {
                                                <option value=c.customer_id.to_string()>{c.name}</option>
                                            }).collect_view()}
                                            {more.then(more_option)}
                                        }
                                    })}
                                </Transition>
                            </select>
                        </label>
                    </div>
                </form>
                <Transition fallback=|| view! { <p class="muted">"Loading orders…"</p> }>
                    {move || Suspend::new(async move {
                        match orders.await {
                            Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                            Ok(fresh) => {
                                let next = fresh.data.next_cursor.clone();
                                let stale = fresh.stale;
                                let empty = fresh.data.orders.is_empty();
                                view! {
                                    {stale.then(|| view! { <p class="notice" role="status">"The list is still catching up with your last change."</p> })}
                                    <table data-testid="orders-table">
                                        <thead><tr>
                                            <th>"Order"</th><th>"Customer"</th><th>"Status"</th>
                                            <th class="num">"Items"</th><th class="num">"Total"</th><th class="hide-sm">"Updated"</th>
                                        </tr></thead>
                                        <tbody>
                                            {fresh.data.orders.into_iter().map(|o| view! {
                                                <tr data-order-id=o.order_id.to_string()>
                                                    <td><a href=format!("/orders/{}", o.order_id) class="mono">{short_id(o.order_id)}</a></td>
                                                    <td>{o.customer_name.clone()}</td>
                                                    <td><StatusBadge status=o.status.as_str().to_string()/></td>
                                                    <td class="num">{o.item_count}</td>
                                                    <td class="num">{money(o.total_cents)}</td>
                                                    <td class="hide-sm muted">{time(&o.updated_at)}</td>
                                                </tr>
                                            }).collect_view()}
                                        </tbody>
                                    </table>
                                    {empty.then(|| view! { <p class="muted">"No orders match."</p> })}
                                    <Pager paging next back_label="Newer" next_label="Older"/>
                                }.into_any()
                            }
                        }
                    })}
                </Transition>
            </div>
        </section>
    }
}

/// Pick a customer, add lines from the catalog with quantities, see the total, place the order.
#[component]
fn NewOrderForm(
    customers: Resource<Result<CustomerPage, UiError>>,
    on_placed: impl Fn(i64) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    // Live: a customer or product created elsewhere shows up without a reload.
    let products_changed = changed_of([Topic::Products]);
    let products = Resource::new(
        move || products_changed.get(),
        |_| list_products(None, Some(PICKER_LIMIT), None),
    );
    let (customer, set_customer) = signal(String::new());
    let (product, set_product) = signal(String::new());
    let (quantity, set_quantity) = signal("1".to_string());
    let (lines, set_lines) = signal(Vec::<(ProductView, u32)>::new());
    let (form_error, set_form_error) = signal(None::<String>);
    let place = ServerAction::<PlaceOrder>::new();
    let navigate = use_navigate();
    // One idempotency key per submission: kept while the same order is sent again (a retry
    // after an error answers the first result instead of placing a second order), replaced
    // once the form changes or the order is placed.
    let (submission_key, set_submission_key) = signal(None::<String>);
    Effect::new(move |_| {
        customer.track();
        lines.track();
        set_submission_key.set(None);
    });

    Effect::new(move |_| {
        if let Some(Ok(reply)) = place.value().get() {
            on_placed(reply.position);
            set_lines.set(Vec::new());
            set_submission_key.set(None);
            navigate(
                &format!("/orders/{}?min_position={}", reply.id, reply.position),
                Default::default(),
            );
        }
    });

    let catalog = move || {
        products
            .get()
            .and_then(Result::ok)
            .map(|page| page.products)
            .unwrap_or_default()
    };
    let add_line = move |_| {
        set_form_error.set(None);
        let Some(p) = catalog()
            .into_iter()
            .find(|p| p.product_id.to_string() == product.get_untracked())
        else {
            set_form_error.set(Some("Choose a product first.".into()));
            return;
        };
        let Ok(q) = quantity.get_untracked().trim().parse::<u32>() else {
            set_form_error.set(Some("Quantity must be a whole number.".into()));
            return;
        };
        if lines.with_untracked(|l| l.iter().any(|(x, _)| x.product_id == p.product_id)) {
            set_form_error.set(Some(format!("{} is already on the order.", p.name)));
            return;
        }
        set_lines.update(|l| l.push((p, q)));
    };
    let total = move || {
        lines.with(|l| {
            l.iter()
                .map(|(p, q)| p.price_cents * i64::from(*q))
                .sum::<i64>()
        })
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        set_form_error.set(None);
        let Ok(customer_id) = customer.get_untracked().parse::<Uuid>() else {
            set_form_error.set(Some("Choose a customer.".into()));
            return;
        };
        let lines = lines
            .get_untracked()
            .into_iter()
            .map(|(p, q)| NewLine {
                product_id: p.product_id,
                quantity: i64::from(q),
            })
            .collect();
        let key = submission_key
            .get_untracked()
            .unwrap_or_else(crate::submission::new_key);
        set_submission_key.set(Some(key.clone()));
        place.dispatch(PlaceOrder {
            order: requests::PlaceOrder {
                order_id: None,
                customer_id,
                lines,
            },
            idempotency_key: Some(key),
        });
    };
    let customer_options = move |page: CustomerPage| {
        let more = page.next_cursor.is_some();
        view! {
            {page.customers.into_iter().map(|c| view! { <option value=c.customer_id.to_string()>{format!("{} <{}>", c.name, c.email)}</option> }).collect_view()}
            {more.then(more_option)}
        }
    };

    view! {
        <details class="card" open style="margin-bottom:1rem">
            <summary><h2 style="display:inline">"New order"</h2></summary>
            <form on:submit=submit aria-label="New order">
                <div class="row">
                    <label>"Customer"
                        <select name="customer" required on:change=move |ev| set_customer.set(event_target_value(&ev))>
                            <option value="">"Choose…"</option>
                            <Transition fallback=|| ()>
                                {move || Suspend::new(async move { customer_options(customers.await.unwrap_or_default()) })}
                            </Transition>
                        </select>
                    </label>
                </div>
                <div class="row">
                    <label>"Product"
                        <select name="product" on:change=move |ev| set_product.set(event_target_value(&ev))>
                            <option value="">"Choose…"</option>
                            <Transition fallback=|| ()>
                                {move || Suspend::new(async move {
                                    let page = products.await.unwrap_or_default();
                                    let more = page.next_cursor.is_some();
                                    view! {
                                        {page.products.into_iter().filter(|p| !p.discontinued).map(|p| view! {
                                            <option value=p.product_id.to_string()>{format!("{} ({}) · {}", p.name, p.sku, money(p.price_cents))}</option>
                                        }).collect_view()}
                                        {more.then(more_option)}
                                    }
                                })}
                            </Transition>
                        </select>
                    </label>
                    <label>"Quantity"
                        <input name="quantity" type="number" min="1" max="10000" prop:value=quantity on:input=move |ev| set_quantity.set(event_target_value(&ev))/>
                    </label>
                    <button type="button" class="secondary" on:click=add_line>"Add line"</button>
                </div>
                <table data-testid="new-order-lines">
                    <thead><tr><th>"Product"</th><th class="num">"Unit price"</th><th class="num">"Qty"</th><th class="num">"Line total"</th><th></th></tr></thead>
                    <tbody>
                        {move || lines.get().into_iter().enumerate().map(|(i, (p, q))| view! {
                            <tr>
                                <td>{p.name.clone()}</td>
                                <td class="num">{money(p.price_cents)}</td>
                                <td class="num">{q}</td>
                                <td class="num">{money(p.price_cents * i64::from(q))}</td>
                                <td><button type="button" class="secondary" on:click=move |_| set_lines.update(|l| { l.remove(i); })>"Remove"</button></td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                    <tfoot><tr><th colspan="3">"Total"</th><th class="num" data-testid="new-order-total">{move || money(total())}</th><th></th></tr></tfoot>
                </table>
                {move || form_error.get().map(|m| view! { <div class="error" role="alert">{m}</div> })}
                <ActionError result=place.value().into()/>
                <div class="actions">
                    <button type="submit" disabled=move || place.pending().get()>
                        {move || if place.pending().get() { "Placing…" } else { "Place order" }}
                    </button>
                </div>
            </form>
        </details>
    }
}
