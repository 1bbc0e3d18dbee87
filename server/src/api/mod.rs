//! The REST API. Every route is declared once in [`routes`] with its OpenAPI description; the
//! router is built from that table and `/api/openapi.json` is generated from it, so the document
//! cannot drift from what is served.

pub mod commands;
pub mod customers;
pub mod error;
pub mod extract;
pub mod openapi;
pub mod orders;
pub mod products;
pub mod projections;
pub mod streams;

use axum::Router;
use axum::routing::{MethodRouter, delete, get, post, put};

use crate::state::AppState;

/// One documented route.
#[derive(Debug, Clone, Copy)]
pub struct RouteSpec {
    pub method: &'static str,
    pub path: &'static str,
    pub summary: &'static str,
    pub tag: &'static str,
    /// Request body schema name (see `openapi::schemas`).
    pub request: Option<&'static str>,
    /// Success status and response schema name.
    pub status: u16,
    pub response: &'static str,
    /// Query parameters.
    pub query: &'static [&'static str],
    /// Needs the admin credential.
    pub admin: bool,
    /// A command: takes `If-Match`, `Idempotency-Key`, `X-Correlation-Id`, `X-User-Id`.
    pub command: bool,
}

const fn spec(
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    tag: &'static str,
) -> RouteSpec {
    RouteSpec {
        method,
        path,
        summary,
        tag,
        request: None,
        status: 200,
        response: "Object",
        query: &[],
        admin: false,
        command: false,
    }
}

impl RouteSpec {
    const fn req(mut self, schema: &'static str) -> Self {
        self.request = Some(schema);
        self
    }
    const fn res(mut self, status: u16, schema: &'static str) -> Self {
        self.status = status;
        self.response = schema;
        self
    }
    const fn query(mut self, params: &'static [&'static str]) -> Self {
        self.query = params;
        self
    }
    const fn admin(mut self) -> Self {
        self.admin = true;
        self
    }
    const fn command(mut self) -> Self {
        self.command = true;
        self
    }
}

const FRESH: &[&str] = &["min_position"];

/// Every route of the API and the operational endpoints, with its handler.
pub fn routes() -> Vec<(RouteSpec, MethodRouter<AppState>)> {
    use self::{customers as c, orders as o, products as p, projections as pr, streams as s};
    vec![
        // Customers
        (
            spec("POST", "/api/customers", "Register a customer", "customers")
                .req("RegisterCustomer")
                .res(201, "CommandReply")
                .command(),
            post(c::register),
        ),
        (
            spec(
                "POST",
                "/api/customers/{id}/rename",
                "Rename a customer",
                "customers",
            )
            .req("RenameCustomer")
            .res(200, "CommandReply")
            .command(),
            post(c::rename),
        ),
        (
            spec(
                "POST",
                "/api/customers/{id}/email",
                "Change a customer's email",
                "customers",
            )
            .req("ChangeEmail")
            .res(200, "CommandReply")
            .command(),
            post(c::change_email),
        ),
        (
            spec("GET", "/api/customers", "List customers", "customers")
                .res(200, "FreshCustomers")
                .query(FRESH),
            get(c::list),
        ),
        (
            spec("GET", "/api/customers/{id}", "One customer", "customers")
                .res(200, "FreshCustomer")
                .query(FRESH),
            get(c::get_one),
        ),
        // Products
        (
            spec("POST", "/api/products", "Create a product", "products")
                .req("CreateProduct")
                .res(201, "CommandReply")
                .command(),
            post(p::create),
        ),
        (
            spec(
                "POST",
                "/api/products/{id}/reprice",
                "Reprice a product",
                "products",
            )
            .req("RepriceProduct")
            .res(200, "CommandReply")
            .command(),
            post(p::reprice),
        ),
        (
            spec(
                "POST",
                "/api/products/{id}/rename",
                "Rename a product",
                "products",
            )
            .req("RenameProduct")
            .res(200, "CommandReply")
            .command(),
            post(p::rename),
        ),
        (
            spec(
                "POST",
                "/api/products/{id}/discontinue",
                "Discontinue a product",
                "products",
            )
            .res(200, "CommandReply")
            .command(),
            post(p::discontinue),
        ),
        (
            spec("GET", "/api/products", "List products", "products")
                .res(200, "FreshProducts")
                .query(FRESH),
            get(p::list),
        ),
        (
            spec("GET", "/api/products/{id}", "One product", "products")
                .res(200, "FreshProduct")
                .query(FRESH),
            get(p::get_one),
        ),
        // Orders
        (
            spec(
                "POST",
                "/api/orders",
                "Place an order (the client may supply its id)",
                "orders",
            )
            .req("PlaceOrder")
            .res(201, "CommandReply")
            .command(),
            post(o::place),
        ),
        (
            spec(
                "POST",
                "/api/orders/{id}/items",
                "Add an item to a draft order",
                "orders",
            )
            .req("AddItem")
            .res(200, "CommandReply")
            .command(),
            post(o::add_item),
        ),
        (
            spec(
                "DELETE",
                "/api/orders/{id}/items/{product_id}",
                "Remove an item from a draft order",
                "orders",
            )
            .res(200, "CommandReply")
            .command(),
            delete(o::remove_item),
        ),
        (
            spec(
                "PUT",
                "/api/orders/{id}/items/{product_id}",
                "Change an item's quantity",
                "orders",
            )
            .req("ChangeQuantity")
            .res(200, "CommandReply")
            .command(),
            put(o::change_quantity),
        ),
        (
            spec(
                "POST",
                "/api/orders/{id}/confirm",
                "Confirm a draft order",
                "orders",
            )
            .res(200, "CommandReply")
            .command(),
            post(o::confirm),
        ),
        (
            spec(
                "POST",
                "/api/orders/{id}/ship",
                "Ship a confirmed order",
                "orders",
            )
            .req("ShipOrder")
            .res(200, "CommandReply")
            .command(),
            post(o::ship),
        ),
        (
            spec(
                "POST",
                "/api/orders/{id}/deliver",
                "Mark a shipped order delivered",
                "orders",
            )
            .res(200, "CommandReply")
            .command(),
            post(o::deliver),
        ),
        (
            spec(
                "POST",
                "/api/orders/{id}/cancel",
                "Cancel an order",
                "orders",
            )
            .req("CancelOrder")
            .res(200, "CommandReply")
            .command(),
            post(o::cancel),
        ),
        (
            spec("GET", "/api/orders", "List orders, newest first", "orders")
                .res(200, "FreshOrderPage")
                .query(&["status", "customer", "cursor", "limit", "min_position"]),
            get(o::list),
        ),
        (
            spec(
                "GET",
                "/api/orders/{id}",
                "One order with its lines",
                "orders",
            )
            .res(200, "FreshOrderDetail")
            .query(FRESH),
            get(o::get_one),
        ),
        // Dashboard
        (
            spec("GET", "/api/dashboard", "Dashboard statistics", "dashboard")
                .res(200, "FreshDashboard")
                .query(FRESH),
            get(o::dashboard),
        ),
        (
            spec(
                "GET",
                "/api/activity",
                "Activity feed, newest first",
                "dashboard",
            )
            .res(200, "FreshActivity")
            .query(&["limit", "min_position"]),
            get(o::activity),
        ),
        // Audit (reads the log directly)
        (
            spec("GET", "/api/streams", "Browse streams", "audit")
                .res(200, "StreamPage")
                .query(&["type", "prefix", "after", "limit"]),
            get(s::list),
        ),
        (
            spec(
                "GET",
                "/api/streams/{id}/events",
                "A stream's events (full envelopes)",
                "audit",
            )
            .res(200, "EventList")
            .query(&["from_version", "limit"]),
            get(s::events),
        ),
        (
            spec(
                "GET",
                "/api/correlations/{id}/events",
                "Events sharing a correlation id",
                "audit",
            )
            .res(200, "EventList")
            .query(&["limit"]),
            get(s::correlated),
        ),
        // Operations
        (
            spec("GET", "/api/projections", "Projection status", "operations")
                .res(200, "ProjectionList"),
            get(pr::list),
        ),
        (
            spec(
                "POST",
                "/api/projections/rebuild",
                "Rebuild every projection",
                "operations",
            )
            .res(202, "RebuildList")
            .admin(),
            post(pr::rebuild_all),
        ),
        (
            spec(
                "POST",
                "/api/projections/{name}/rebuild",
                "Rebuild one projection",
                "operations",
            )
            .res(202, "RebuildStarted")
            .admin(),
            post(pr::rebuild),
        ),
        (
            spec(
                "POST",
                "/api/projections/{name}/retry",
                "Retry a faulted projection",
                "operations",
            )
            .res(200, "ProjectionStatus")
            .admin(),
            post(pr::retry),
        ),
        (
            spec(
                "POST",
                "/api/projections/{name}/skip",
                "Skip the event a projection faulted on",
                "operations",
            )
            .req("SkipEvent")
            .res(200, "ProjectionStatus")
            .admin(),
            post(pr::skip),
        ),
        (
            spec("GET", "/api/relay", "Broker relay status", "operations").res(200, "RelayStatus"),
            get(pr::relay),
        ),
        // Admin session
        (
            spec(
                "POST",
                "/api/admin/login",
                "Log in as admin (sets an HttpOnly session cookie)",
                "admin",
            )
            .req("Login")
            .res(200, "Session"),
            post(crate::security::admin::login),
        ),
        (
            spec("POST", "/api/admin/logout", "Log out", "admin").res(200, "Session"),
            post(crate::security::admin::logout),
        ),
        (
            spec(
                "GET",
                "/api/admin/session",
                "Whether the caller is logged in as admin",
                "admin",
            )
            .res(200, "Session"),
            get(crate::security::admin::session),
        ),
        // Meta
        (
            spec("GET", "/api/openapi.json", "This document", "meta"),
            get(openapi::document),
        ),
        (
            spec(
                "GET",
                "/ws",
                "Websocket: live updates (ClientMessage / ServerMessage)",
                "live",
            )
            .res(101, "ServerMessage"),
            get(crate::ws::handler),
        ),
        (
            spec("GET", "/health", "Liveness", "meta"),
            get(crate::health::health),
        ),
        (
            spec(
                "GET",
                "/ready",
                "Readiness: database, migrations, projections",
                "meta",
            )
            .res(200, "Readiness"),
            get(crate::health::ready),
        ),
        (
            spec(
                "GET",
                "/metrics",
                "Prometheus metrics (text format)",
                "meta",
            )
            .res(200, "Text"),
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
        .route("/api", axum::routing::any(error::api_not_found))
        .route("/api/", axum::routing::any(error::api_not_found))
        .route("/api/{*rest}", axum::routing::any(error::api_not_found))
}
