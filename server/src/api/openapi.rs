//! `GET /api/openapi.json`: the OpenAPI 3.1 document, built with `utoipa` from the route table
//! ([`super::routes`]) the router itself is built from. Bodies and query parameters come from
//! the handlers' own types (their `ToSchema` / `IntoParams` derives); what the table adds is the
//! HTTP around them: path parameters, the command headers, security, and the error answers each
//! kind of route can give (every one the JSON error shape, [`ErrorBody`]). `/api/docs` serves a
//! Swagger UI of it (assets vendored in `utoipa-swagger-ui`, nothing from a CDN).

use std::collections::BTreeSet;
use std::sync::OnceLock;

use axum::Json;
use axum::Router;
use serde_json::{Value, json};
use utoipa::openapi::extensions::ExtensionsBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{
    HttpMethod, OperationBuilder, Parameter, ParameterBuilder, ParameterIn,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, KnownFormat, OpenApi, OpenApiBuilder, Paths,
    Ref, RefOr, Required,
};
use utoipa::{PartialSchema, ToSchema};

use super::error::ErrorBody;
use super::route_spec::{Access, Components, Reply, RouteSpec};
use super::routes;
use crate::state::AppState;

/// A JSON object of any shape (the document itself).
pub fn any_object(_: &mut Components) -> RefOr<Schema> {
    ObjectBuilder::new().schema_type(Type::Object).into()
}

fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

fn uuid() -> RefOr<Schema> {
    string()
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
        .into()
}

fn header_param(name: &str, schema: RefOr<Schema>, description: &str) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .schema(Some(schema))
        .description(Some(description))
        .build()
}

/// The path parameters of a route template: ids are UUIDs, but for stream ids (`order-<uuid>`),
/// projection names and usernames.
fn path_params(spec: &RouteSpec) -> Vec<Parameter> {
    spec.path
        .split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| {
            let schema: RefOr<Schema> = match name {
                "name" => string()
                    .enum_values(Some(
                        domain::live::ProjectionName::ALL
                            .iter()
                            .map(|p| p.name())
                            .collect::<Vec<_>>(),
                    ))
                    .into(),
                "username" => string()
                    .min_length(Some(1))
                    .max_length(Some(32))
                    .pattern(Some("^[A-Za-z0-9][A-Za-z0-9._-]*$"))
                    .into(),
                "id" if spec.path.starts_with("/api/streams") => string()
                    .min_length(Some(1))
                    .max_length(Some(200))
                    .description(Some("A stream id, e.g. `order-<uuid>`"))
                    .into(),
                _ => uuid(),
            };
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .schema(Some(schema))
                .build()
        })
        .collect()
}

/// The headers a request may carry.
fn header_params(spec: &RouteSpec) -> Vec<Parameter> {
    let mut out = vec![
        header_param(
            "X-Correlation-Id",
            uuid(),
            "Generated when absent; echoed on the response and recorded with the events",
        ),
        header_param(
            "traceparent",
            string()
                .pattern(Some("^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"))
                .into(),
            "W3C trace context: continued by the server and recorded with the events (a new trace when absent or invalid)",
        ),
    ];
    if spec.command {
        out.push(header_param(
            "If-Match",
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                .minimum(Some(0))
                .into(),
            "The stream version you expect (the `ETag` or `version` you read; `\"3\"` and `W/\"3\"` are accepted too): 409 when it moved on",
        ));
        out.push(header_param(
            "Idempotency-Key",
            string()
                .min_length(Some(1))
                .max_length(Some(200))
                .pattern(Some("^[!-~]+$"))
                .into(),
            "A retry with the same key returns the first reply (`Idempotent-Replayed: true`) and writes nothing",
        ));
        out.push(header_param(
            "X-Causation-Id",
            uuid(),
            "The event or command this request reacts to: recorded with the command's events (the console's causation tree)",
        ));
    }
    out
}

fn error_response(description: &str, retry_after: bool) -> Response {
    let mut builder = ResponseBuilder::new().description(description).content(
        "application/json",
        ContentBuilder::new()
            .schema(Some(RefOr::Ref(Ref::from_schema_name(ErrorBody::name()))))
            .build(),
    );
    if retry_after {
        builder = builder.header(
            "Retry-After",
            HeaderBuilder::new()
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .minimum(Some(0)),
                ))
                .description(Some("Seconds to wait before trying again"))
                .build(),
        );
    }
    builder.build()
}

/// The error answers a route can give, by what kind of route it is.
fn error_statuses(spec: &RouteSpec) -> BTreeSet<u16> {
    // 401 everywhere: a wrong credential is refused even where none is needed, and sign-in
    // refuses a wrong password. 421 everywhere: a `Host` we do not serve (DNS rebinding).
    let mut out = BTreeSet::from([400, 401, 408, 421, 429, 500, 503]);
    if spec.access != Access::Public || spec.method != "GET" || matches!(spec.reply, Reply::Upgrade)
    {
        // Not allowed, or a state change (or websocket) from another site.
        out.insert(403);
    }
    if spec.path.contains('{') || spec.method != "GET" || spec.params.is_some() {
        // A write can name another aggregate (the order's customer, a line's product), a filter
        // a projection that does not exist.
        out.insert(404);
    }
    if spec.method != "GET" {
        out.extend([409, 422, 507]);
    }
    if spec.request.is_some() {
        out.extend([413, 415]);
    }
    if let Some((status, _, _)) = spec.alternate {
        out.remove(&status);
    }
    out
}

fn status_text(status: u16) -> &'static str {
    match status {
        400 => "Invalid input (`code` says which rule)",
        401 => "Not signed in",
        403 => "Signed in, not allowed",
        404 => "No such thing",
        408 => "The request took too long",
        421 => "This server does not serve that `Host`",
        409 => "Someone changed it first (`If-Match`), or it is already running",
        413 => "The body is too large",
        415 => "The body is not JSON",
        422 => "A business rule said no",
        429 => "Too many requests: wait `Retry-After` seconds",
        500 => "Our fault; logged",
        503 => "Not available right now: retry after `Retry-After` seconds",
        507 => "The database is out of space",
        _ => "Error",
    }
}

fn success_response(spec: &RouteSpec, components: &mut Components) -> Response {
    let mut builder = ResponseBuilder::new().description(spec.summary);
    match spec.reply {
        Reply::Json(schema) => {
            builder = builder.content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(schema(components)))
                    .build(),
            );
        }
        Reply::Text => {
            builder = builder.content(
                "text/plain",
                ContentBuilder::new().schema(Some(String::schema())).build(),
            );
        }
        Reply::Empty | Reply::Upgrade => {}
    }
    if spec.etag {
        builder = builder.header(
            "ETag",
            HeaderBuilder::new()
                .schema(Some(string().pattern(Some("^\"[0-9]+\"$"))))
                .description(Some(
                    "The stream version, quoted: send it back as `If-Match`",
                ))
                .build(),
        );
    }
    if spec.command {
        builder = builder.header(
            "Idempotent-Replayed",
            HeaderBuilder::new()
                .schema(Some(string().enum_values(Some(["true"]))))
                .description(Some("Present when this is the stored reply of a retry"))
                .build(),
        );
    }
    builder.build()
}

fn operation(spec: &RouteSpec, components: &mut Components) -> utoipa::openapi::path::Operation {
    let mut parameters = path_params(spec);
    if let Some(params) = spec.params {
        parameters.extend(params());
    }
    parameters.extend(header_params(spec));
    let mut op = OperationBuilder::new()
        .operation_id(Some(spec.id))
        .summary(Some(spec.summary))
        .tag(spec.tag)
        .parameters(Some(parameters))
        .response(spec.status.to_string(), success_response(spec, components));
    for status in error_statuses(spec) {
        op = op.response(
            status.to_string(),
            error_response(status_text(status), matches!(status, 429 | 503)),
        );
    }
    if let Some((status, description, schema)) = spec.alternate {
        op = op.response(
            status.to_string(),
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(schema(components)))
                        .build(),
                )
                .build(),
        );
    }
    if let Some(request) = spec.request {
        op = op.request_body(Some(
            RequestBodyBuilder::new()
                .required(Some(Required::True))
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(request(components)))
                        .build(),
                )
                .build(),
        ));
    }
    op = op.extensions(Some(
        ExtensionsBuilder::new()
            .add("x-eventide-role", json!(spec.access.as_str()))
            .build(),
    ));
    if spec.access != Access::Public {
        op = op
            .securities(Some([
                SecurityRequirement::new("bearer", Vec::<String>::new()),
                SecurityRequirement::new("session", Vec::<String>::new()),
            ]))
            .description(Some(format!(
                "Needs the role `{}` or higher{}. 401 when not signed in, 403 when not allowed.",
                spec.access.as_str(),
                if spec.access == Access::Customer {
                    " (a customer acts only on their own orders and customer record)"
                } else {
                    ""
                }
            )));
    }
    op.build()
}

fn method(spec: &RouteSpec) -> HttpMethod {
    match spec.method {
        "POST" => HttpMethod::Post,
        "PUT" => HttpMethod::Put,
        "DELETE" => HttpMethod::Delete,
        "PATCH" => HttpMethod::Patch,
        _ => HttpMethod::Get,
    }
}

/// The whole document.
pub fn build() -> OpenApi {
    let mut components: Components = Vec::new();
    super::route_spec::json::<ErrorBody>(&mut components);
    let mut paths = Paths::new();
    for (spec, _) in routes() {
        let op = operation(&spec, &mut components);
        paths.add_path_operation(spec.path, vec![method(&spec)], op);
    }
    let mut schemas = ComponentsBuilder::new();
    let mut seen = BTreeSet::new();
    for (name, schema) in components {
        if seen.insert(name.clone()) {
            schemas = schemas.schema(name, schema);
        }
    }
    let components = schemas
        .security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        )
        .security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
                crate::security::session::COOKIE,
            ))),
        )
        .build();
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Eventide API")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "Event-sourced order management. Errors are `{\"error\": {code, message, details}}`. \
                     Sign in with `Authorization: Bearer <API token>` or the session cookie of `POST /api/auth/login`.",
                )),
        )
        .paths(paths)
        .components(Some(components))
        .build()
}

/// The document as JSON, built once.
pub fn document_json() -> &'static Value {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    DOCUMENT.get_or_init(|| serde_json::to_value(build()).unwrap_or(Value::Null))
}

pub async fn document() -> Json<Value> {
    Json(document_json().clone())
}

/// `/api/docs`: Swagger UI over `/api/openapi.json`.
pub fn docs() -> Router<AppState> {
    utoipa_swagger_ui::SwaggerUi::new("/api/docs")
        .config(utoipa_swagger_ui::Config::from("/api/openapi.json"))
        .into()
}
