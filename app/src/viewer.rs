//! Who is signed in, for the whole app: fetched once per page load from the `me` server
//! function (the session cookie is HttpOnly, so only the server can tell). Navigation shows only
//! what the viewer's role may do, by the same policy the server applies
//! (`domain::account::Role::can`); the server still decides every call.

use domain::account::Capability;
use domain::views::Viewer;
use leptos::prelude::*;

use crate::api::auth::me;
use crate::error::UiError;

/// The signed-in user, as a resource.
#[derive(Clone, Copy)]
pub struct ViewerContext(pub Resource<Result<Option<Viewer>, UiError>>);

/// Provides [`ViewerContext`] to every page.
pub fn provide_viewer() {
    provide_context(ViewerContext(Resource::new(|| (), |_| me())));
}

/// The signed-in user (`None` while loading or when nobody is).
pub fn viewer() -> Signal<Option<Viewer>> {
    let ctx = use_context::<ViewerContext>();
    Signal::derive(move || {
        ctx.and_then(|ViewerContext(r)| r.get())
            .and_then(Result::ok)
            .flatten()
    })
}

/// Whether the signed-in user may do `capability`.
pub fn can(capability: Capability) -> Signal<bool> {
    let viewer = viewer();
    Signal::derive(move || viewer.get().is_some_and(|v| v.can(capability)))
}

/// A full page load of `path` (after signing in or out: every server-rendered resource is
/// fetched again with the new session).
pub fn reload_to(path: &str) {
    let _ = window().location().set_href(path);
}
