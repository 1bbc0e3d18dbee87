//! Who is signed in, for the whole app. The session cookie is HttpOnly, so only the server can
//! tell: once the page has hydrated, the `me` server function is asked and the answer fills a
//! signal. Server and browser first render the same (nobody known), so hydration never meets a
//! different page; the role-aware parts then appear reactively. Navigation shows only what the
//! viewer's role may do, by the same policy the server applies (`domain::account::Role::can`);
//! the server still decides every call.

use domain::account::Capability;
use domain::views::Viewer;
use leptos::prelude::*;

use crate::api::auth::me;

/// The signed-in user (`None` until known, or when nobody is) and whether the answer is in.
#[derive(Clone, Copy)]
pub struct ViewerContext {
    /// The user.
    pub viewer: RwSignal<Option<Viewer>>,
    /// Whether `me` has answered.
    pub known: RwSignal<bool>,
}

/// Provides [`ViewerContext`] to every page and asks the server once the page runs in the browser.
pub fn provide_viewer() {
    let ctx = ViewerContext {
        viewer: RwSignal::new(None),
        known: RwSignal::new(false),
    };
    provide_context(ctx);
    // Effects run in the browser only, after hydration.
    Effect::new(move |_| {
        leptos::task::spawn_local(async move {
            let answer = me().await.ok().flatten();
            ctx.viewer.set(answer);
            ctx.known.set(true);
        });
    });
}

/// The signed-in user.
pub fn viewer() -> Signal<Option<Viewer>> {
    let ctx = use_context::<ViewerContext>();
    Signal::derive(move || ctx.and_then(|c| c.viewer.get()))
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
