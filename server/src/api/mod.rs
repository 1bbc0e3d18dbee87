//! The REST API. Every route is declared once in [`routes`] with its OpenAPI description; the
//! router is built from that table and `/api/openapi.json` is generated from it, so the document
//! cannot drift from what is served.

pub mod auth;
pub mod commands;
pub mod console;
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

/// The least role that may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, signed in or not.
    Public,
    /// Any signed-in user; a customer only on their own orders and customer record.
    Customer,
    /// Staff and admins.
    Staff,
    /// Admins.
    Admin,
}

impl Access {
    /// The name in the OpenAPI document (`x-eventide-role`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Public => "anonymous",
            Self::Customer => "customer",
            Self::Staff => "staff",
            Self::Admin => "admin",
        }
    }
}

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
    /// Who may call it (documented in the OpenAPI document; decided by the application layer,
    /// and `server/tests/access_matrix.rs` checks that the two agree).
    pub access: Access,
    /// A command: takes `If-Match`, `Idempotency-Key`, `X-Correlation-Id`.
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
        access: Access::Public,
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
    const fn access(mut self, access: Access) -> Self {
        self.access = access;
        self
    }
    const fn command(mut self) -> Self {
        self.command = true;
        self
    }
}

const FRESH: &[&str] = &["min_position"];
/// Query parameters of a paged list.
const PAGE: &[&str] = &["cursor", "limit", "min_position"];

/// Every route of the API and the operational endpoints, with its handler.
pub fn routes() -> Vec<(RouteSpec, MethodRouter<AppState>)> {
    use self::{customers as c, orders as o, products as p, projections as pr, streams as s};
    vec![
        // Customers
        (
            spec("POST", "/api/customers", "Register a customer", "customers")
                .access(Access::Staff)
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
            .access(Access::Customer)
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
            .access(Access::Customer)
            .req("ChangeEmail")
            .res(200, "CommandReply")
            .command(),
            post(c::change_email),
        ),
        (
            spec(
                "GET",
                "/api/customers",
                "List customers (a customer: their own)",
                "customers",
            )
            .access(Access::Customer)
            .res(200, "FreshCustomerPage")
            .query(PAGE),
            get(c::list),
        ),
        (
            spec("GET", "/api/customers/{id}", "One customer", "customers")
                .access(Access::Customer)
                .res(200, "FreshCustomer")
                .query(FRESH),
            get(c::get_one),
        ),
        // Products
        (
            spec("POST", "/api/products", "Create a product", "products")
                .access(Access::Staff)
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
            .access(Access::Staff)
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
            .access(Access::Staff)
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
            .access(Access::Staff)
            .res(200, "CommandReply")
            .command(),
            post(p::discontinue),
        ),
        (
            spec(
                "POST",
                "/api/products/{id}/stock",
                "Receive stock (units arrived)",
                "products",
            )
            .access(Access::Staff)
            .req("ReceiveStock")
            .res(200, "CommandReply")
            .command(),
            post(p::receive_stock),
        ),
        (
            spec(
                "PUT",
                "/api/products/{id}/stock",
                "Correct the stock on hand to a counted number (never below what is reserved)",
                "products",
            )
            .access(Access::Staff)
            .req("CorrectStock")
            .res(200, "CommandReply")
            .command(),
            put(p::correct_stock),
        ),
        (
            spec("GET", "/api/products", "List products", "products")
                .res(200, "FreshProductPage")
                .query(PAGE),
            get(p::list),
        ),
        (
            spec(
                "GET",
                "/api/low-stock",
                "Products on sale with few units available, least first",
                "products",
            )
            .access(Access::Staff)
            .res(200, "FreshProducts")
            .query(FRESH),
            get(p::low_stock),
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
            .access(Access::Customer)
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
            .access(Access::Customer)
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
            .access(Access::Customer)
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
            .access(Access::Customer)
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
            .access(Access::Customer)
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
            .access(Access::Staff)
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
            .access(Access::Staff)
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
            .access(Access::Customer)
            .req("CancelOrder")
            .res(200, "CommandReply")
            .command(),
            post(o::cancel),
        ),
        (
            spec("GET", "/api/orders", "List orders, newest first", "orders")
                .access(Access::Customer)
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
            .access(Access::Customer)
            .res(200, "FreshOrderDetail")
            .query(FRESH),
            get(o::get_one),
        ),
        // Dashboard
        (
            spec("GET", "/api/dashboard", "Dashboard statistics", "dashboard")
                .access(Access::Staff)
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
            .access(Access::Staff)
            .res(200, "FreshActivity")
            .query(&["limit", "min_position"]),
            get(o::activity),
        ),
        // Audit (reads the log directly)
        (
            spec("GET", "/api/streams", "Browse streams", "audit")
                .access(Access::Staff)
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
            .access(Access::Customer)
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
            .access(Access::Staff)
            .res(200, "EventList")
            .query(&["limit"]),
            get(s::correlated),
        ),
        (
            spec(
                "GET",
                "/api/correlations/{id}/tree",
                "What one correlation id caused: commands and events by causation",
                "audit",
            )
            .access(Access::Staff)
            .res(200, "CorrelationTree"),
            get(console::correlation_tree),
        ),
        (
            spec(
                "GET",
                "/api/events",
                "Search the whole log (keyset-paged by position)",
                "audit",
            )
            .access(Access::Staff)
            .res(200, "EventSearchPage")
            .query(&[
                "type",
                "stream_type",
                "stream",
                "user",
                "correlation",
                "from",
                "to",
                "order",
                "after",
                "limit",
            ]),
            get(console::search),
        ),
        (
            spec(
                "GET",
                "/api/stats/events",
                "Events per type and stream type, appends per minute (last hour)",
                "audit",
            )
            .access(Access::Staff)
            .res(200, "EventStats"),
            get(console::stats),
        ),
        // Operations
        (
            spec(
                "GET",
                "/api/dead-letters",
                "Dead letters of the projections, open and resolved, with payloads",
                "operations",
            )
            .access(Access::Admin)
            .res(200, "DeadLetterPage")
            .query(&["projection", "before", "limit"]),
            get(console::dead_letters),
        ),
        (
            spec("GET", "/api/projections", "Projection status", "operations")
                .access(Access::Admin)
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
            .access(Access::Admin)
            .res(202, "RebuildList"),
            post(pr::rebuild_all),
        ),
        (
            spec(
                "POST",
                "/api/projections/{name}/rebuild",
                "Rebuild one projection",
                "operations",
            )
            .access(Access::Admin)
            .res(202, "RebuildStarted"),
            post(pr::rebuild),
        ),
        (
            spec(
                "POST",
                "/api/projections/{name}/retry",
                "Retry a faulted projection",
                "operations",
            )
            .access(Access::Admin)
            .res(200, "ProjectionStatus"),
            post(pr::retry),
        ),
        (
            spec(
                "POST",
                "/api/projections/{name}/skip",
                "Skip the event a projection faulted on",
                "operations",
            )
            .access(Access::Admin)
            .req("SkipEvent")
            .res(200, "ProjectionStatus"),
            post(pr::skip),
        ),
        (
            spec("GET", "/api/relay", "Broker relay status", "operations")
                .access(Access::Admin)
                .res(200, "RelayStatus"),
            get(pr::relay),
        ),
        (
            spec(
                "POST",
                "/api/relay/retry",
                "Read the event the relay faulted on again",
                "operations",
            )
            .access(Access::Admin)
            .res(200, "RelayStatus"),
            post(pr::relay_retry),
        ),
        (
            spec(
                "POST",
                "/api/relay/skip",
                "Skip the event the relay faulted on (with a reason; never published)",
                "operations",
            )
            .access(Access::Admin)
            .req("SkipEvent")
            .res(200, "RelayStatus"),
            post(pr::relay_skip),
        ),
        // Identity
        (
            spec(
                "POST",
                "/api/auth/signup",
                "Sign up as a customer (starts a session)",
                "identity",
            )
            .req("SignUp")
            .res(201, "Viewer"),
            post(auth::sign_up),
        ),
        (
            spec(
                "POST",
                "/api/auth/login",
                "Sign in (starts a session; throttled)",
                "identity",
            )
            .req("SignIn")
            .res(200, "Viewer"),
            post(auth::sign_in),
        ),
        (
            spec(
                "POST",
                "/api/auth/logout",
                "Sign out (ends the session everywhere)",
                "identity",
            )
            .res(204, "Empty"),
            post(auth::sign_out),
        ),
        (
            spec("GET", "/api/auth/me", "Who is signed in", "identity")
                .access(Access::Customer)
                .res(200, "Viewer"),
            get(auth::me),
        ),
        (
            spec(
                "POST",
                "/api/users",
                "Create a staff or admin account",
                "identity",
            )
            .access(Access::Admin)
            .req("CreateUser")
            .res(201, "CommandReply")
            .command(),
            post(auth::create_user),
        ),
        (
            spec(
                "GET",
                "/api/users",
                "List accounts (the users read model)",
                "identity",
            )
            .access(Access::Admin)
            .res(200, "FreshUserPage")
            .query(PAGE),
            get(auth::users),
        ),
        (
            spec(
                "PUT",
                "/api/users/{username}/role",
                "Change an account's role",
                "identity",
            )
            .access(Access::Admin)
            .req("ChangeRole")
            .res(200, "CommandReply")
            .command(),
            put(auth::change_role),
        ),
        (
            spec(
                "POST",
                "/api/users/{username}/disable",
                "Disable an account",
                "identity",
            )
            .access(Access::Admin)
            .req("DisableUser")
            .res(200, "CommandReply")
            .command(),
            post(auth::disable_user),
        ),
        (
            spec(
                "POST",
                "/api/users/{username}/enable",
                "Enable an account",
                "identity",
            )
            .access(Access::Admin)
            .res(200, "CommandReply")
            .command(),
            post(auth::enable_user),
        ),
        (
            spec(
                "GET",
                "/api/tokens",
                "My API tokens (never their secrets)",
                "identity",
            )
            .access(Access::Customer)
            .res(200, "TokenList"),
            get(auth::tokens),
        ),
        (
            spec(
                "POST",
                "/api/tokens",
                "Create an API token (its secret is shown once)",
                "identity",
            )
            .access(Access::Customer)
            .req("CreateToken")
            .res(201, "TokenCreated"),
            post(auth::create_token),
        ),
        (
            spec(
                "DELETE",
                "/api/tokens/{id}",
                "Revoke one of my API tokens",
                "identity",
            )
            .access(Access::Customer)
            .res(200, "CommandReply"),
            delete(auth::revoke_token),
        ),
        // Admin session (the admin token)
        (
            spec(
                "POST",
                "/api/admin/login",
                "Log in as admin (sets an HttpOnly session cookie)",
                "admin",
            )
            .req("Login")
            .res(200, "Session"),
            post(auth::admin_login),
        ),
        (
            spec("POST", "/api/admin/logout", "Log out", "admin").res(200, "Session"),
            post(auth::admin_logout),
        ),
        (
            spec(
                "GET",
                "/api/admin/session",
                "Whether the caller is logged in as admin",
                "admin",
            )
            .res(200, "Session"),
            get(auth::admin_session),
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
