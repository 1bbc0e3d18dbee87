//! The HTML document and the application shell: navigation and routes.

use leptos::prelude::*;
use leptos_meta::{MetaTags, Title, provide_meta_context};
use leptos_router::{
    components::{Route, Router, Routes},
    path,
};

use crate::components::nav::NavBar;
use crate::live::provide_live;
use crate::pages::{
    admin::AdminPage, audit::AuditPage, correlation::CorrelationPage, customers::CustomersPage,
    dashboard::DashboardPage, events::EventsPage, not_found::NotFound, order::OrderPage,
    orders::OrdersPage, products::ProductsPage, signin::SignInPage, timeline::TimelinePage,
    tokens::TokensPage, users::UsersPage,
};

/// The full HTML document rendered by the server around [`App`].
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                // The bundle's name comes from the options (one source: Cargo.toml's
                // `output-name`, read by the server's build script).
                <link rel="icon" href="/favicon.ico" type="image/x-icon"/>
                <link rel="stylesheet" id="leptos" href=format!("/{}/{}.css", options.site_pkg_dir, options.output_name)/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The application: navigation plus one route per section.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    provide_live();
    crate::viewer::provide_viewer();
    mark_hydrated();
    view! {
        <Title text="Eventide"/>
        <Router>
            <NavBar/>
            <main id="content">
                <Routes fallback=|| view! { <NotFound/> }>
                    <Route path=path!("") view=DashboardPage/>
                    <Route path=path!("/orders") view=OrdersPage/>
                    <Route path=path!("/orders/:id") view=OrderPage/>
                    <Route path=path!("/customers") view=CustomersPage/>
                    <Route path=path!("/products") view=ProductsPage/>
                    <Route path=path!("/audit") view=AuditPage/>
                    <Route path=path!("/events") view=EventsPage/>
                    <Route path=path!("/audit/correlation/:id") view=CorrelationPage/>
                    <Route path=path!("/audit/:stream") view=TimelinePage/>
                    <Route path=path!("/admin") view=AdminPage/>
                    <Route path=path!("/signin") view=SignInPage/>
                    <Route path=path!("/tokens") view=TokensPage/>
                    <Route path=path!("/users") view=UsersPage/>
                </Routes>
            </main>
        </Router>
    }
}

/// Sets `<body data-hydrated="true">` once the wasm app has taken over the server-rendered page,
/// so browser tests never click before event handlers are attached. Effects never run on the server.
fn mark_hydrated() {
    Effect::new(move |_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
}
