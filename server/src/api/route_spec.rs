//! One row of the API's route table: what the router serves and what the OpenAPI document says
//! about it, side by side. Request and response bodies and query parameters are named by the
//! Rust types the handlers use (`utoipa`'s `ToSchema` and `IntoParams` derives), never written
//! out as JSON, so the document describes exactly what the handlers read and send.

use utoipa::openapi::path::Parameter;
use utoipa::openapi::schema::{ArrayBuilder, Schema};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{IntoParams, PartialSchema, ToSchema};

/// The named schemas a body needs (`components.schemas`), collected while building.
pub type Components = Vec<(String, RefOr<Schema>)>;

/// A body's schema: registers the named types it uses and returns the schema (or a `$ref`).
pub type SchemaFn = fn(&mut Components) -> RefOr<Schema>;

/// Query parameters of a route, from its query type's `IntoParams` derive.
pub type ParamsFn = fn() -> Vec<Parameter>;

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

/// What a successful call answers.
#[derive(Clone, Copy)]
pub enum Reply {
    /// `application/json` of this schema.
    Json(SchemaFn),
    /// No body (204).
    Empty,
    /// `text/plain` (the Prometheus exposition format).
    Text,
    /// A websocket upgrade (101): the frames are `domain::live` messages, outside OpenAPI.
    Upgrade,
}

/// One documented route.
#[derive(Clone, Copy)]
pub struct RouteSpec {
    pub method: &'static str,
    pub path: &'static str,
    /// The OpenAPI `operationId` (what a generated client names the call).
    pub id: &'static str,
    pub summary: &'static str,
    pub tag: &'static str,
    pub request: Option<SchemaFn>,
    /// Success status and what it carries.
    pub status: u16,
    pub reply: Reply,
    /// A second answer with a body of its own instead of the error shape (`/ready`'s 503).
    pub alternate: Option<(u16, &'static str, SchemaFn)>,
    pub params: Option<ParamsFn>,
    /// Who may call it (documented in the OpenAPI document; decided by the application layer,
    /// and `server/tests/access.rs` checks that the two agree).
    pub access: Access,
    /// A command: takes `If-Match`, `Idempotency-Key`, `X-Causation-Id`; answers an `ETag`.
    pub command: bool,
    /// Answers an `ETag` (the stream version) beside the body.
    pub etag: bool,
}

impl std::fmt::Debug for RouteSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouteSpec")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// A route answering `200` with a JSON object of the given schema, public, not a command.
pub fn spec(
    id: &'static str,
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    tag: &'static str,
) -> RouteSpec {
    RouteSpec {
        method,
        path,
        id,
        summary,
        tag,
        request: None,
        status: 200,
        reply: Reply::Empty,
        alternate: None,
        params: None,
        access: Access::Public,
        command: false,
        etag: false,
    }
}

impl RouteSpec {
    pub fn req(mut self, schema: SchemaFn) -> Self {
        self.request = Some(schema);
        self
    }
    pub fn res(mut self, status: u16, schema: SchemaFn) -> Self {
        self.status = status;
        self.reply = Reply::Json(schema);
        self
    }
    pub fn reply(mut self, status: u16, reply: Reply) -> Self {
        self.status = status;
        self.reply = reply;
        self
    }
    /// Also answers `status` with this body (described by `description`), not the error shape.
    pub fn alternate(mut self, status: u16, description: &'static str, schema: SchemaFn) -> Self {
        self.alternate = Some((status, description, schema));
        self
    }
    pub fn params(mut self, params: ParamsFn) -> Self {
        self.params = Some(params);
        self
    }
    pub fn access(mut self, access: Access) -> Self {
        self.access = access;
        self
    }
    /// A command: its reply carries the stream version as an `ETag` too.
    pub fn command(mut self) -> Self {
        self.command = true;
        self.etag = true;
        self
    }
    pub fn etag(mut self) -> Self {
        self.etag = true;
        self
    }
}

/// Registers `T` (and what it refers to) and returns a `$ref` to it.
pub fn json<T: ToSchema>(components: &mut Components) -> RefOr<Schema> {
    register::<T>(components);
    RefOr::Ref(Ref::from_schema_name(T::name()))
}

/// An array of `T`.
pub fn list<T: ToSchema>(components: &mut Components) -> RefOr<Schema> {
    ArrayBuilder::new().items(json::<T>(components)).into()
}

/// `Fresh<T>`: a read model's answer with its position (`data` a `$ref` to `T`).
pub fn fresh<T: ToSchema>(components: &mut Components) -> RefOr<Schema> {
    register::<T>(components);
    <domain::views::Fresh<T> as PartialSchema>::schema()
}

/// `Fresh<Vec<T>>`: as [`fresh`], `data` an array of `T` (utoipa would name the inner generic
/// `Vec`, so the derived `Fresh<T>` schema gets its `data` replaced).
pub fn fresh_list<T: ToSchema>(components: &mut Components) -> RefOr<Schema> {
    let mut schema = fresh::<T>(components);
    if let RefOr::T(Schema::Object(object)) = &mut schema {
        object
            .properties
            .insert("data".to_owned(), list::<T>(components));
    }
    schema
}

/// The query parameters of `Q`.
pub fn query<Q: IntoParams>() -> Vec<Parameter> {
    Q::into_params(|| Some(utoipa::openapi::path::ParameterIn::Query))
}

fn register<T: ToSchema>(components: &mut Components) {
    T::schemas(components);
    components.push((T::name().into_owned(), T::schema()));
}
