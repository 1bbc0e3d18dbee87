//! The REST API. Every route is declared once in [`routes`] with its OpenAPI description (the
//! handlers' request, query and response types; see [`route_spec`]); the router is built from
//! that table and `/api/openapi.json` is generated from it, so the document cannot drift from
//! what is served.

pub mod auth;
pub mod commands;
pub mod console;
pub mod contract;
pub mod customers;
pub mod error;
pub mod extract;
pub mod integrity;
pub mod openapi;
pub mod orders;
pub mod products;
pub mod projections;
pub mod route_spec;
pub mod streams;

use axum::Router;
use axum::routing::{MethodRouter, delete, get, post, put};
use domain::console::{CorrelationTree, DeadLetterPage, EventSearchPage, EventStats};
use domain::integrity::{ChainAnchor, ChainStatus, ChainVerifyStatus};
use domain::requests::{
    AddItem, CancelOrder, ChangeEmail, ChangeQuantity, ChangeRole, CorrectStock, CreateProduct,
    CreateToken, CreateUser, DisableUser, EraseCustomer, ListOrders, ListStreams, PlaceOrder,
    ReceiveStock, RegisterCustomer, RenameCustomer, RenameProduct, RepriceProduct, SearchEvents,
    ShipOrder, SignIn, SignUp, SkipEvent,
};
use domain::views::{
    ActivityEntry, CommandReply, CustomerPage, CustomerView, DashboardStats, EventView,
    OrderDetail, OrderPage, ProductPage, ProductView, ProjectionStatus, RebuildAccepted,
    RelayStatus, StreamPage, TokenCreated, TokenView, UserPage, Viewer,
};
use eventstore::projection::RebuildStarted;

pub use self::route_spec::{Access, Reply, RouteSpec};
use self::route_spec::{fresh, fresh_list, json, list, query, spec};
use crate::api::auth::{AdminLogin, SessionInfo};
use crate::api::console::DeadLetterQuery;
use crate::api::orders::{ActivityQuery, FreshQuery, PageQuery};
use crate::api::streams::{EventsQuery, LimitQuery};
use crate::health::{Health, Readiness};
use crate::state::AppState;

/// Every route of the API and the operational endpoints, with its handler.
pub fn routes() -> Vec<(RouteSpec, MethodRouter<AppState>)> {
    use self::{customers as c, orders as o, products as p, projections as pr, streams as s};
    vec![
        // Customers
        (
            spec(
                "register_customer",
                "POST",
                "/api/customers",
                "Register a customer",
                "customers",
            )
            .access(Access::Staff)
            .req(json::<RegisterCustomer>)
            .res(201, json::<CommandReply>)
            .command(),
            post(c::register),
        ),
        (
            spec(
                "rename_customer",
                "POST",
                "/api/customers/{id}/rename",
                "Rename a customer",
                "customers",
            )
            .access(Access::Customer)
            .req(json::<RenameCustomer>)
            .res(200, json::<CommandReply>)
            .command(),
            post(c::rename),
        ),
        (
            spec(
                "change_customer_email",
                "POST",
                "/api/customers/{id}/email",
                "Change a customer's email",
                "customers",
            )
            .access(Access::Customer)
            .req(json::<ChangeEmail>)
            .res(200, json::<CommandReply>)
            .command(),
            post(c::change_email),
        ),
        (
            spec(
                "erase_customer",
                "POST",
                "/api/customers/{id}/erase",
                "Erase a customer's personal data (their data key is deleted; audited with the reason)",
                "customers",
            )
            .access(Access::Admin)
            .req(json::<EraseCustomer>)
            .res(200, json::<CommandReply>)
            .command(),
            post(c::erase),
        ),
        (
            spec(
                "list_customers",
                "GET",
                "/api/customers",
                "List customers (a customer: their own)",
                "customers",
            )
            .access(Access::Customer)
            .res(200, fresh::<CustomerPage>)
            .params(query::<PageQuery>),
            get(c::list),
        ),
        (
            spec(
                "get_customer",
                "GET",
                "/api/customers/{id}",
                "One customer",
                "customers",
            )
            .access(Access::Customer)
            .res(200, fresh::<CustomerView>)
            .etag()
            .params(query::<FreshQuery>),
            get(c::get_one),
        ),
        // Products
        (
            spec(
                "create_product",
                "POST",
                "/api/products",
                "Create a product",
                "products",
            )
            .access(Access::Staff)
            .req(json::<CreateProduct>)
            .res(201, json::<CommandReply>)
            .command(),
            post(p::create),
        ),
        (
            spec(
                "reprice_product",
                "POST",
                "/api/products/{id}/reprice",
                "Reprice a product",
                "products",
            )
            .access(Access::Staff)
            .req(json::<RepriceProduct>)
            .res(200, json::<CommandReply>)
            .command(),
            post(p::reprice),
        ),
        (
            spec(
                "rename_product",
                "POST",
                "/api/products/{id}/rename",
                "Rename a product",
                "products",
            )
            .access(Access::Staff)
            .req(json::<RenameProduct>)
            .res(200, json::<CommandReply>)
            .command(),
            post(p::rename),
        ),
        (
            spec(
                "discontinue_product",
                "POST",
                "/api/products/{id}/discontinue",
                "Discontinue a product",
                "products",
            )
            .access(Access::Staff)
            .res(200, json::<CommandReply>)
            .command(),
            post(p::discontinue),
        ),
        (
            spec(
                "receive_stock",
                "POST",
                "/api/products/{id}/stock",
                "Receive stock (units arrived)",
                "products",
            )
            .access(Access::Staff)
            .req(json::<ReceiveStock>)
            .res(200, json::<CommandReply>)
            .command(),
            post(p::receive_stock),
        ),
        (
            spec(
                "correct_stock",
                "PUT",
                "/api/products/{id}/stock",
                "Correct the stock on hand to a counted number (never below what is reserved)",
                "products",
            )
            .access(Access::Staff)
            .req(json::<CorrectStock>)
            .res(200, json::<CommandReply>)
            .command(),
            put(p::correct_stock),
        ),
        (
            spec(
                "list_products",
                "GET",
                "/api/products",
                "List products",
                "products",
            )
            .res(200, fresh::<ProductPage>)
            .params(query::<PageQuery>),
            get(p::list),
        ),
        (
            spec(
                "low_stock",
                "GET",
                "/api/low-stock",
                "Products on sale with few units available, least first",
                "products",
            )
            .access(Access::Staff)
            .res(200, fresh_list::<ProductView>)
            .params(query::<FreshQuery>),
            get(p::low_stock),
        ),
        (
            spec(
                "get_product",
                "GET",
                "/api/products/{id}",
                "One product",
                "products",
            )
            .res(200, fresh::<ProductView>)
            .etag()
            .params(query::<FreshQuery>),
            get(p::get_one),
        ),
        // Orders
        (
            spec(
                "place_order",
                "POST",
                "/api/orders",
                "Place an order (the client may supply its id)",
                "orders",
            )
            .access(Access::Customer)
            .req(json::<PlaceOrder>)
            .res(201, json::<CommandReply>)
            .command(),
            post(o::place),
        ),
        (
            spec(
                "add_item",
                "POST",
                "/api/orders/{id}/items",
                "Add an item to a draft order",
                "orders",
            )
            .access(Access::Customer)
            .req(json::<AddItem>)
            .res(200, json::<CommandReply>)
            .command(),
            post(o::add_item),
        ),
        (
            spec(
                "remove_item",
                "DELETE",
                "/api/orders/{id}/items/{product_id}",
                "Remove an item from a draft order",
                "orders",
            )
            .access(Access::Customer)
            .res(200, json::<CommandReply>)
            .command(),
            delete(o::remove_item),
        ),
        (
            spec(
                "change_quantity",
                "PUT",
                "/api/orders/{id}/items/{product_id}",
                "Change an item's quantity",
                "orders",
            )
            .access(Access::Customer)
            .req(json::<ChangeQuantity>)
            .res(200, json::<CommandReply>)
            .command(),
            put(o::change_quantity),
        ),
        (
            spec(
                "confirm_order",
                "POST",
                "/api/orders/{id}/confirm",
                "Confirm a draft order",
                "orders",
            )
            .access(Access::Customer)
            .res(200, json::<CommandReply>)
            .command(),
            post(o::confirm),
        ),
        (
            spec(
                "ship_order",
                "POST",
                "/api/orders/{id}/ship",
                "Ship a confirmed order",
                "orders",
            )
            .access(Access::Staff)
            .req(json::<ShipOrder>)
            .res(200, json::<CommandReply>)
            .command(),
            post(o::ship),
        ),
        (
            spec(
                "deliver_order",
                "POST",
                "/api/orders/{id}/deliver",
                "Mark a shipped order delivered",
                "orders",
            )
            .access(Access::Staff)
            .res(200, json::<CommandReply>)
            .command(),
            post(o::deliver),
        ),
        (
            spec(
                "cancel_order",
                "POST",
                "/api/orders/{id}/cancel",
                "Cancel an order",
                "orders",
            )
            .access(Access::Customer)
            .req(json::<CancelOrder>)
            .res(200, json::<CommandReply>)
            .command(),
            post(o::cancel),
        ),
        (
            spec(
                "list_orders",
                "GET",
                "/api/orders",
                "List orders, newest first",
                "orders",
            )
            .access(Access::Customer)
            .res(200, fresh::<OrderPage>)
            .params(query::<ListOrders>),
            get(o::list),
        ),
        (
            spec(
                "get_order",
                "GET",
                "/api/orders/{id}",
                "One order with its lines",
                "orders",
            )
            .access(Access::Customer)
            .res(200, fresh::<OrderDetail>)
            .etag()
            .params(query::<FreshQuery>),
            get(o::get_one),
        ),
        // Dashboard
        (
            spec(
                "dashboard",
                "GET",
                "/api/dashboard",
                "Dashboard statistics",
                "dashboard",
            )
            .access(Access::Staff)
            .res(200, fresh::<DashboardStats>)
            .params(query::<FreshQuery>),
            get(o::dashboard),
        ),
        (
            spec(
                "activity",
                "GET",
                "/api/activity",
                "Activity feed, newest first",
                "dashboard",
            )
            .access(Access::Staff)
            .res(200, fresh_list::<ActivityEntry>)
            .params(query::<ActivityQuery>),
            get(o::activity),
        ),
        // Audit (reads the log directly)
        (
            spec(
                "list_streams",
                "GET",
                "/api/streams",
                "Browse streams",
                "audit",
            )
            .access(Access::Staff)
            .res(200, json::<StreamPage>)
            .params(query::<ListStreams>),
            get(s::list),
        ),
        (
            spec(
                "stream_events",
                "GET",
                "/api/streams/{id}/events",
                "A stream's events (full envelopes)",
                "audit",
            )
            .access(Access::Customer)
            .res(200, list::<EventView>)
            .params(query::<EventsQuery>),
            get(s::events),
        ),
        (
            spec(
                "correlated_events",
                "GET",
                "/api/correlations/{id}/events",
                "Events sharing a correlation id",
                "audit",
            )
            .access(Access::Staff)
            .res(200, list::<EventView>)
            .params(query::<LimitQuery>),
            get(s::correlated),
        ),
        (
            spec(
                "correlation_tree",
                "GET",
                "/api/correlations/{id}/tree",
                "What one correlation id caused: commands and events by causation",
                "audit",
            )
            .access(Access::Staff)
            .res(200, json::<CorrelationTree>),
            get(console::correlation_tree),
        ),
        (
            spec(
                "search_events",
                "GET",
                "/api/events",
                "Search the whole log (keyset-paged by position)",
                "audit",
            )
            .access(Access::Staff)
            .res(200, json::<EventSearchPage>)
            .params(query::<SearchEvents>),
            get(console::search),
        ),
        (
            spec(
                "event_stats",
                "GET",
                "/api/stats/events",
                "Events per type and stream type, appends per minute (last hour)",
                "audit",
            )
            .access(Access::Staff)
            .res(200, json::<EventStats>),
            get(console::stats),
        ),
        // Operations
        (
            spec(
                "dead_letters",
                "GET",
                "/api/dead-letters",
                "Dead letters of the projections, open and resolved, with payloads",
                "operations",
            )
            .access(Access::Admin)
            .res(200, json::<DeadLetterPage>)
            .params(query::<DeadLetterQuery>),
            get(console::dead_letters),
        ),
        (
            spec(
                "list_projections",
                "GET",
                "/api/projections",
                "Projection status",
                "operations",
            )
            .access(Access::Admin)
            .res(200, list::<ProjectionStatus>),
            get(pr::list),
        ),
        (
            spec(
                "rebuild_all_projections",
                "POST",
                "/api/projections/rebuild",
                "Rebuild every projection",
                "operations",
            )
            .access(Access::Admin)
            .res(202, list::<RebuildStarted>),
            post(pr::rebuild_all),
        ),
        (
            spec(
                "rebuild_projection",
                "POST",
                "/api/projections/{name}/rebuild",
                "Rebuild one projection",
                "operations",
            )
            .access(Access::Admin)
            .res(202, json::<RebuildAccepted>),
            post(pr::rebuild),
        ),
        (
            spec(
                "retry_projection",
                "POST",
                "/api/projections/{name}/retry",
                "Retry a faulted projection",
                "operations",
            )
            .access(Access::Admin)
            .res(200, json::<ProjectionStatus>),
            post(pr::retry),
        ),
        (
            spec(
                "skip_projection_event",
                "POST",
                "/api/projections/{name}/skip",
                "Skip the event a projection faulted on",
                "operations",
            )
            .access(Access::Admin)
            .req(json::<SkipEvent>)
            .res(200, json::<ProjectionStatus>),
            post(pr::skip),
        ),
        (
            spec(
                "relay_status",
                "GET",
                "/api/relay",
                "Broker relay status",
                "operations",
            )
            .access(Access::Admin)
            .res(200, json::<RelayStatus>),
            get(pr::relay),
        ),
        (
            spec(
                "retry_relay",
                "POST",
                "/api/relay/retry",
                "Read the event the relay faulted on again",
                "operations",
            )
            .access(Access::Admin)
            .res(200, json::<RelayStatus>),
            post(pr::relay_retry),
        ),
        (
            spec(
                "skip_relay_event",
                "POST",
                "/api/relay/skip",
                "Skip the event the relay faulted on (with a reason; never published)",
                "operations",
            )
            .access(Access::Admin)
            .req(json::<SkipEvent>)
            .res(200, json::<RelayStatus>),
            post(pr::relay_skip),
        ),
        // Log integrity (the hash chain)
        (
            spec(
                "chain_status",
                "GET",
                "/api/admin/chain",
                "The hash chain's head and the last verify",
                "operations",
            )
            .access(Access::Admin)
            .res(200, json::<ChainStatus>),
            get(integrity::status),
        ),
        (
            spec(
                "start_chain_verify",
                "POST",
                "/api/admin/chain/verify",
                "Start a verify of the whole event log (409 while one runs)",
                "operations",
            )
            .access(Access::Admin)
            .res(202, json::<ChainVerifyStatus>),
            post(integrity::start_verify),
        ),
        (
            spec(
                "chain_verify_status",
                "GET",
                "/api/admin/chain/verify",
                "Progress and outcome of the last verify",
                "operations",
            )
            .access(Access::Admin)
            .res(200, json::<ChainVerifyStatus>),
            get(integrity::verify_status),
        ),
        (
            spec(
                "chain_anchor",
                "GET",
                "/api/admin/chain/anchor",
                "The chain head as an anchor to keep outside the database (a download)",
                "operations",
            )
            .access(Access::Admin)
            .res(200, json::<ChainAnchor>),
            get(integrity::anchor),
        ),
        // Identity
        (
            spec(
                "sign_up",
                "POST",
                "/api/auth/signup",
                "Sign up as a customer (starts a session)",
                "identity",
            )
            .req(json::<SignUp>)
            .res(201, json::<Viewer>),
            post(auth::sign_up),
        ),
        (
            spec(
                "sign_in",
                "POST",
                "/api/auth/login",
                "Sign in (starts a session; throttled)",
                "identity",
            )
            .req(json::<SignIn>)
            .res(200, json::<Viewer>),
            post(auth::sign_in),
        ),
        (
            spec(
                "sign_out",
                "POST",
                "/api/auth/logout",
                "Sign out (ends the session everywhere)",
                "identity",
            )
            .reply(204, Reply::Empty),
            post(auth::sign_out),
        ),
        (
            spec("me", "GET", "/api/auth/me", "Who is signed in", "identity")
                .access(Access::Customer)
                .res(200, json::<Viewer>),
            get(auth::me),
        ),
        (
            spec(
                "create_user",
                "POST",
                "/api/users",
                "Create a staff or admin account",
                "identity",
            )
            .access(Access::Admin)
            .req(json::<CreateUser>)
            .res(201, json::<CommandReply>)
            .command(),
            post(auth::create_user),
        ),
        (
            spec(
                "list_users",
                "GET",
                "/api/users",
                "List accounts (the users read model)",
                "identity",
            )
            .access(Access::Admin)
            .res(200, fresh::<UserPage>)
            .params(query::<PageQuery>),
            get(auth::users),
        ),
        (
            spec(
                "change_role",
                "PUT",
                "/api/users/{username}/role",
                "Change an account's role",
                "identity",
            )
            .access(Access::Admin)
            .req(json::<ChangeRole>)
            .res(200, json::<CommandReply>)
            .command(),
            put(auth::change_role),
        ),
        (
            spec(
                "disable_user",
                "POST",
                "/api/users/{username}/disable",
                "Disable an account",
                "identity",
            )
            .access(Access::Admin)
            .req(json::<DisableUser>)
            .res(200, json::<CommandReply>)
            .command(),
            post(auth::disable_user),
        ),
        (
            spec(
                "enable_user",
                "POST",
                "/api/users/{username}/enable",
                "Enable an account",
                "identity",
            )
            .access(Access::Admin)
            .res(200, json::<CommandReply>)
            .command(),
            post(auth::enable_user),
        ),
        (
            spec(
                "list_tokens",
                "GET",
                "/api/tokens",
                "My API tokens (never their secrets)",
                "identity",
            )
            .access(Access::Customer)
            .res(200, list::<TokenView>),
            get(auth::tokens),
        ),
        (
            spec(
                "create_token",
                "POST",
                "/api/tokens",
                "Create an API token (its secret is shown once)",
                "identity",
            )
            .access(Access::Customer)
            .req(json::<CreateToken>)
            .res(201, json::<TokenCreated>),
            post(auth::create_token),
        ),
        (
            spec(
                "revoke_token",
                "DELETE",
                "/api/tokens/{id}",
                "Revoke one of my API tokens",
                "identity",
            )
            .access(Access::Customer)
            .res(200, json::<CommandReply>),
            delete(auth::revoke_token),
        ),
        // Admin session (the admin token)
        (
            spec(
                "admin_login",
                "POST",
                "/api/admin/login",
                "Log in as admin (sets an HttpOnly session cookie)",
                "admin",
            )
            .req(json::<AdminLogin>)
            .res(200, json::<SessionInfo>),
            post(auth::admin_login),
        ),
        (
            spec(
                "admin_logout",
                "POST",
                "/api/admin/logout",
                "Log out",
                "admin",
            )
            .res(200, json::<SessionInfo>),
            post(auth::admin_logout),
        ),
        (
            spec(
                "admin_session",
                "GET",
                "/api/admin/session",
                "Whether the caller is logged in as admin",
                "admin",
            )
            .res(200, json::<SessionInfo>),
            get(auth::admin_session),
        ),
        // Meta
        (
            spec(
                "openapi_document",
                "GET",
                "/api/openapi.json",
                "This document (OpenAPI 3.1)",
                "meta",
            )
            .res(200, openapi::any_object),
            get(openapi::document),
        ),
        (
            spec(
                "websocket",
                "GET",
                "/ws",
                "Websocket: live updates (ClientMessage / ServerMessage)",
                "live",
            )
            .reply(101, Reply::Upgrade),
            get(crate::ws::handler),
        ),
        (
            spec("health", "GET", "/health", "Liveness", "meta").res(200, json::<Health>),
            get(crate::health::health),
        ),
        (
            spec(
                "ready",
                "GET",
                "/ready",
                "Readiness: database, migrations, projections",
                "meta",
            )
            .res(200, json::<Readiness>)
            .alternate(503, "Not ready: `problems` says why", json::<Readiness>),
            get(crate::health::ready),
        ),
        (
            spec(
                "metrics",
                "GET",
                "/metrics",
                "Prometheus metrics (text format)",
                "meta",
            )
            .reply(200, Reply::Text),
            get(crate::metrics::metrics),
        ),
    ]
}

/// The API router (state applied by the caller), built from [`routes`], with a JSON 404 for
/// unknown `/api/*` paths.
pub fn router() -> Router<AppState> {
    let mut router = Router::new();
    for (spec, handler) in routes() {
        router = router.route(spec.path, handler);
    }
    router
        .merge(openapi::docs())
        .route("/api", axum::routing::any(error::api_not_found))
        .route("/api/", axum::routing::any(error::api_not_found))
        .route("/api/{*rest}", axum::routing::any(error::api_not_found))
}
