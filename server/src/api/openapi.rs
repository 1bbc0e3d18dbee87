//! `GET /api/openapi.json`: the OpenAPI 3 document, generated from the route table
//! ([`super::routes`]) the router itself is built from.

use axum::Json;
use serde_json::{Map, Value, json};

use super::{RouteSpec, routes};

fn string() -> Value {
    json!({ "type": "string" })
}
fn uuid() -> Value {
    json!({ "type": "string", "format": "uuid" })
}
fn int() -> Value {
    json!({ "type": "integer", "format": "int64" })
}

fn object(required: &[&str], optional: &[(&str, Value)], props: &[(&str, Value)]) -> Value {
    let mut properties = Map::new();
    for (name, schema) in props.iter().chain(optional) {
        properties.insert((*name).to_owned(), schema.clone());
    }
    json!({ "type": "object", "additionalProperties": false, "required": required, "properties": properties })
}

fn loose(description: &str) -> Value {
    json!({ "type": "object", "description": description })
}

/// Named schemas: request bodies exactly, responses by description (see `domain::views`).
pub fn schemas() -> Map<String, Value> {
    let mut s = Map::new();
    let mut add = |name: &str, schema: Value| {
        s.insert(name.to_owned(), schema);
    };
    add(
        "RegisterCustomer",
        object(
            &["name", "email"],
            &[("customer_id", uuid())],
            &[
                ("name", string()),
                ("email", json!({"type": "string", "format": "email"})),
            ],
        ),
    );
    add(
        "RenameCustomer",
        object(&["name"], &[], &[("name", string())]),
    );
    add(
        "ChangeEmail",
        object(
            &["email"],
            &[],
            &[("email", json!({"type": "string", "format": "email"}))],
        ),
    );
    add(
        "CreateProduct",
        object(
            &["sku", "name", "price_cents"],
            &[
                ("product_id", uuid()),
                (
                    "initial_stock",
                    json!({"type": "integer", "minimum": 0, "maximum": 1_000_000_000, "description": "Units on hand from the start (default 0)."}),
                ),
            ],
            &[
                (
                    "sku",
                    json!({"type": "string", "pattern": "^[A-Z0-9-]{1,32}$"}),
                ),
                ("name", string()),
                ("price_cents", json!({"type": "integer", "minimum": 0})),
            ],
        ),
    );
    add(
        "RepriceProduct",
        object(
            &["price_cents"],
            &[],
            &[("price_cents", json!({"type": "integer", "minimum": 0}))],
        ),
    );
    add(
        "ReceiveStock",
        object(
            &["quantity"],
            &[],
            &[(
                "quantity",
                json!({"type": "integer", "minimum": 1, "maximum": 1_000_000_000}),
            )],
        ),
    );
    add(
        "CorrectStock",
        object(
            &["on_hand", "reason"],
            &[],
            &[
                (
                    "on_hand",
                    json!({"type": "integer", "minimum": 0, "maximum": 1_000_000_000}),
                ),
                ("reason", string()),
            ],
        ),
    );
    add(
        "RenameProduct",
        object(&["name"], &[], &[("name", string())]),
    );
    add(
        "PlaceOrder",
        object(
            &["customer_id"],
            &[
                ("order_id", uuid()),
                (
                    "lines",
                    json!({
                        "type": "array",
                        "description": "Lines added in the same atomic append: all of them or, if one is refused, no order at all.",
                        "items": {
                            "type": "object",
                            "required": ["product_id", "quantity"],
                            "additionalProperties": false,
                            "properties": {
                                "product_id": uuid(),
                                "quantity": {"type": "integer", "minimum": 1, "maximum": 10000},
                            },
                        },
                    }),
                ),
            ],
            &[("customer_id", uuid())],
        ),
    );
    add(
        "AddItem",
        object(
            &["product_id", "quantity"],
            &[],
            &[
                ("product_id", uuid()),
                (
                    "quantity",
                    json!({"type": "integer", "minimum": 1, "maximum": 10000}),
                ),
            ],
        ),
    );
    add(
        "ChangeQuantity",
        object(
            &["quantity"],
            &[],
            &[(
                "quantity",
                json!({"type": "integer", "minimum": 1, "maximum": 10000}),
            )],
        ),
    );
    add(
        "ShipOrder",
        object(
            &["carrier", "tracking_number"],
            &[],
            &[("carrier", string()), ("tracking_number", string())],
        ),
    );
    add(
        "CancelOrder",
        object(&["reason"], &[], &[("reason", string())]),
    );
    add(
        "SkipEvent",
        object(&["reason"], &[], &[("reason", string())]),
    );
    add("Login", object(&["token"], &[], &[("token", string())]));
    let password =
        || json!({ "type": "string", "minLength": 8, "maxLength": 128, "format": "password" });
    let username = || json!({ "type": "string", "minLength": 1, "maxLength": 32, "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]*$" });
    add(
        "SignUp",
        object(
            &["username", "password", "name", "email"],
            &[],
            &[
                ("username", username()),
                ("password", password()),
                ("name", string()),
                ("email", json!({"type": "string", "format": "email"})),
            ],
        ),
    );
    add(
        "SignIn",
        object(
            &["username", "password"],
            &[],
            &[("username", string()), ("password", string())],
        ),
    );
    add(
        "CreateUser",
        object(
            &["username", "password", "display_name", "role"],
            &[],
            &[
                ("username", username()),
                ("password", password()),
                ("display_name", string()),
                (
                    "role",
                    json!({ "type": "string", "enum": ["staff", "admin"] }),
                ),
            ],
        ),
    );
    add(
        "ChangeRole",
        object(
            &["role"],
            &[],
            &[(
                "role",
                json!({ "type": "string", "enum": ["customer", "staff", "admin"] }),
            )],
        ),
    );
    add(
        "DisableUser",
        object(&["reason"], &[], &[("reason", string())]),
    );
    add("CreateToken", object(&["name"], &[], &[("name", string())]));
    add(
        "Viewer",
        json!({ "type": "object", "required": ["username", "display_name", "role", "customer_id"], "properties": { "username": string(), "display_name": string(), "role": { "type": "string", "enum": ["customer", "staff", "admin"] }, "customer_id": { "type": ["string", "null"], "format": "uuid" } } }),
    );
    add(
        "TokenCreated",
        json!({ "type": "object", "required": ["id", "name", "token"], "properties": { "id": uuid(), "name": string(), "token": string() } }),
    );
    add(
        "TokenList",
        json!({ "type": "array", "items": { "type": "object", "required": ["id", "name"], "properties": { "id": uuid(), "name": string() } } }),
    );
    add("Empty", json!({ "description": "No body" }));
    add(
        "CommandReply",
        json!({ "type": "object", "required": ["id", "version", "position"], "properties": { "id": uuid(), "version": int(), "position": int() } }),
    );
    add(
        "Session",
        json!({ "type": "object", "required": ["logged_in"], "properties": { "logged_in": { "type": "boolean" } } }),
    );
    add(
        "Error",
        json!({ "type": "object", "required": ["error"], "properties": { "error": { "type": "object", "required": ["code", "message", "details"], "properties": { "code": string(), "message": string(), "details": {} } } } }),
    );
    for (name, description) in [
        (
            "FreshCustomerPage",
            "Fresh<CustomerPage>: {data: {customers, next_cursor}, position, stale}",
        ),
        ("FreshCustomer", "Fresh<CustomerView>"),
        (
            "FreshProductPage",
            "Fresh<ProductPage>: {data: {products, next_cursor}, position, stale}",
        ),
        ("FreshProduct", "Fresh<ProductView>"),
        ("FreshProducts", "Fresh<Vec<ProductView>>"),
        (
            "FreshUserPage",
            "Fresh<UserPage>: {data: {users, next_cursor}, position, stale}",
        ),
        (
            "FreshOrderPage",
            "Fresh<OrderPage>: {data: {orders, next_cursor}, position, stale}",
        ),
        ("FreshOrderDetail", "Fresh<OrderDetail>"),
        ("FreshDashboard", "Fresh<DashboardStats>"),
        ("FreshActivity", "Fresh<Vec<ActivityEntry>>"),
        ("StreamPage", "{streams: [StreamView], next_after}"),
        ("EventList", "[EventView]: full event envelopes"),
        (
            "EventSearchPage",
            "{events: [EventView], next_after}: pass next_after back as after",
        ),
        (
            "EventStats",
            "{position, total, by_event_type: [{name, count}], by_stream_type, per_minute: [{minute, count}]}",
        ),
        (
            "DeadLetterPage",
            "{dead_letters: [DeadLetterView], next_before}",
        ),
        (
            "CorrelationTree",
            "{correlation_id, commands: [CommandNode {command_id, command, caused_by, user_id, at, events: [{event, caused: [CommandNode]}]}], event_count, depth, truncated}",
        ),
        ("ProjectionList", "[ProjectionStatus]"),
        ("ProjectionStatus", "ProjectionStatus"),
        ("RebuildStarted", "{projection, generation}"),
        (
            "RebuildList",
            "[{projection, generation, already_in_progress}]",
        ),
        ("RelayStatus", "RelayStatus"),
        (
            "ServerMessage",
            "domain::live::ServerMessage (JSON text frames); send ClientMessage",
        ),
        (
            "Readiness",
            "{ready, problems: [text], projections: [{name, state, lag, lag_seconds}], relay: {state, lag, lag_seconds}}",
        ),
        ("Text", "Prometheus text exposition format"),
        ("Object", "JSON object"),
    ] {
        add(name, loose(description));
    }
    s
}

fn operation(spec: &RouteSpec) -> Value {
    let mut parameters: Vec<Value> = spec
        .path
        .split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": if name == "name" || name == "username" || spec.path.starts_with("/api/streams") { string() } else { uuid() } }))
        .collect();
    for name in spec.query {
        parameters
            .push(json!({ "name": name, "in": "query", "required": false, "schema": string() }));
    }
    if spec.command {
        parameters.push(json!({ "name": "If-Match", "in": "header", "required": false, "schema": int(), "description": "Expected stream version (409 on mismatch)" }));
        parameters.push(json!({ "name": "Idempotency-Key", "in": "header", "required": false, "schema": string(), "description": "Replays return the first reply" }));
    }
    parameters.push(json!({ "name": "X-Correlation-Id", "in": "header", "required": false, "schema": uuid(), "description": "Generated when absent; echoed on the response" }));
    if spec.command {
        parameters.push(json!({ "name": "X-Causation-Id", "in": "header", "required": false, "schema": uuid(), "description": "The event or command this request reacts to: recorded with the command's events (the console's causation tree)" }));
    }
    let error = json!({ "description": "Error", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } });
    let mut responses = Map::new();
    let content_type = if spec.response == "Text" {
        "text/plain"
    } else {
        "application/json"
    };
    responses.insert(
        spec.status.to_string(),
        json!({ "description": spec.summary, "content": { content_type: { "schema": { "$ref": format!("#/components/schemas/{}", spec.response) } } } }),
    );
    responses.insert("default".to_owned(), error);
    let mut op = json!({
        "summary": spec.summary,
        "operationId": format!("{} {}", spec.method.to_lowercase(), spec.path),
        "tags": [spec.tag],
        "parameters": parameters,
        "responses": responses,
    });
    if let Some(request) = spec.request {
        op["requestBody"] = json!({ "required": true, "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{request}") } } } });
    }
    op["x-eventide-role"] = json!(spec.access.as_str());
    if spec.access != super::Access::Public {
        op["security"] = json!([{ "bearer": [] }, { "session": [] }]);
        op["description"] = json!(format!(
            "Needs the role `{}` or higher{}. 401 when not signed in, 403 when not allowed.",
            spec.access.as_str(),
            if spec.access == super::Access::Customer {
                " (a customer acts only on their own orders and customer record)"
            } else {
                ""
            }
        ));
    }
    op
}

/// The whole document.
pub fn build() -> Value {
    let mut paths = Map::new();
    for (spec, _) in routes() {
        let entry = paths
            .entry(spec.path.to_owned())
            .or_insert_with(|| json!({}));
        entry[spec.method.to_lowercase()] = operation(&spec);
    }
    json!({
        "openapi": "3.0.3",
        "info": { "title": "Eventide API", "version": env!("CARGO_PKG_VERSION"), "description": "Event-sourced order management. Errors are {\"error\": {code, message, details}}." },
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "securitySchemes": {
                "bearer": { "type": "http", "scheme": "bearer" },
                "session": { "type": "apiKey", "in": "cookie", "name": crate::security::session::COOKIE }
            }
        }
    })
}

pub async fn document() -> Json<Value> {
    Json(build())
}
