//! The product catalog: list (with stock: on hand, reserved, available, live), create, reprice,
//! receive stock and discontinue.

use domain::live::Topic;
use domain::stock::LOW_STOCK;
use leptos::prelude::*;

use crate::api::commands::{CreateProduct, DiscontinueProduct, ReceiveStock, RepriceProduct};
use crate::api::queries::list_products;
use crate::components::error_box::{ActionError, ErrorBox};
use crate::components::pager::{Pager, Paging};
use crate::format::money;
use crate::live::changed_of;

#[component]
pub fn ProductsPage() -> impl IntoView {
    let changed = changed_of([Topic::Products]);
    let create = ServerAction::<CreateProduct>::new();
    let reprice = ServerAction::<RepriceProduct>::new();
    let discontinue = ServerAction::<DiscontinueProduct>::new();
    let receive = ServerAction::<ReceiveStock>::new();
    let (min_position, set_min_position) = signal(None::<i64>);
    Effect::new(move |_| {
        for value in [
            create.value().get(),
            reprice.value().get(),
            discontinue.value().get(),
            receive.value().get(),
        ] {
            if let Some(Ok(reply)) = value {
                set_min_position.update(|m| *m = Some(m.unwrap_or(0).max(reply.position)));
            }
        }
    });
    let paging = Paging::new();
    let products = Resource::new(
        move || (changed.get(), paging.cursor(), min_position.get()),
        |(_, cursor, min)| list_products(cursor, None, min),
    );
    let sku = RwSignal::new(String::new());
    let name = RwSignal::new(String::new());
    let price = RwSignal::new(String::new());
    let stock = RwSignal::new(String::new());
    let pending = move || {
        create.pending().get()
            || reprice.pending().get()
            || discontinue.pending().get()
            || receive.pending().get()
    };
    view! {
        <section class="page" aria-labelledby="page-title">
            <h1 id="page-title">"Products"</h1>
            <div class="card" style="margin-bottom:1rem">
                <h2>"Create a product"</h2>
                <form class="row" aria-label="Create a product" on:submit=move |ev| {
                    ev.prevent_default();
                    create.dispatch(CreateProduct { sku: sku.get_untracked(), name: name.get_untracked(), price: price.get_untracked(), stock: Some(stock.get_untracked()) });
                }>
                    <label>"SKU"<input name="sku" required prop:value=sku on:input=move |ev| sku.set(event_target_value(&ev))/></label>
                    <label>"Name"<input name="name" required prop:value=name on:input=move |ev| name.set(event_target_value(&ev))/></label>
                    <label>"Price"<input name="price" inputmode="decimal" placeholder="19.99" required prop:value=price on:input=move |ev| price.set(event_target_value(&ev))/></label>
                    <label>"Stock"<input name="stock" inputmode="numeric" placeholder="0" style="width:6rem" prop:value=stock on:input=move |ev| stock.set(event_target_value(&ev))/></label>
                    <button type="submit" disabled=pending>"Create"</button>
                </form>
                <ActionError result=create.value().into()/>
            </div>
            <ActionError result=reprice.value().into()/>
            <ActionError result=discontinue.value().into()/>
            <ActionError result=receive.value().into()/>
            <div class="card">
                <Transition fallback=|| view! { <p class="muted">"Loading the catalog…"</p> }>
                    {move || Suspend::new(async move {
                        match products.await {
                            Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                            Ok(page) => view! {
                                <table data-testid="products-table">
                                    <thead><tr><th>"SKU"</th><th>"Name"</th><th class="num">"Price"</th><th class="num">"On hand"</th><th class="num">"Reserved"</th><th class="num">"Available"</th><th>"Status"</th><th>"Change"</th></tr></thead>
                                    <tbody>
                                        {page.products.into_iter().map(|p| {
                                            let new_price = RwSignal::new(String::new());
                                            let received = RwSignal::new(String::new());
                                            let (id, version) = (p.product_id, p.version);
                                            view! {
                                                <tr data-sku=p.sku.clone()>
                                                    <td class="mono">{p.sku.clone()}</td>
                                                    <td><a href=format!("/audit/product-{id}")>{p.name.clone()}</a></td>
                                                    <td class="num">{money(p.price_cents)}</td>
                                                    <td class="num" data-stock="on-hand">{p.on_hand}</td>
                                                    <td class="num" data-stock="reserved">{p.reserved}</td>
                                                    <td class="num" data-stock="available" class:low=p.available <= LOW_STOCK>{p.available}</td>
                                                    <td>{if p.discontinued { "discontinued" } else { "on sale" }}</td>
                                                    <td>{(!p.discontinued).then(|| view! {
                                                        <form class="row" aria-label=format!("Reprice {}", p.sku) on:submit=move |ev| {
                                                            ev.prevent_default();
                                                            reprice.dispatch(RepriceProduct { product_id: id, expected_version: version, price: new_price.get_untracked() });
                                                        }>
                                                            <label>"New price"<input name="price" inputmode="decimal" style="width:7rem" prop:value=new_price on:input=move |ev| new_price.set(event_target_value(&ev))/></label>
                                                            <button type="submit" class="secondary" disabled=pending>"Reprice"</button>
                                                            <button type="button" class="danger" disabled=pending on:click=move |_| {
                                                                discontinue.dispatch(DiscontinueProduct { product_id: id, expected_version: version });
                                                            }>"Discontinue"</button>
                                                        </form>
                                                        <form class="row" aria-label=format!("Receive stock of {}", p.sku) on:submit=move |ev| {
                                                            ev.prevent_default();
                                                            receive.dispatch(ReceiveStock { product_id: id, quantity: received.get_untracked() });
                                                            received.set(String::new());
                                                        }>
                                                            <label>"Units"<input name="received" inputmode="numeric" style="width:5rem" prop:value=received on:input=move |ev| received.set(event_target_value(&ev))/></label>
                                                            <button type="submit" class="secondary" disabled=pending>"Receive"</button>
                                                        </form>
                                                    })}</td>
                                                </tr>
                                            }
                                        }).collect_view()}
                                    </tbody>
                                </table>
                                <Pager paging next=page.next_cursor/>
                            }.into_any(),
                        }
                    })}
                </Transition>
            </div>
        </section>
    }
}
