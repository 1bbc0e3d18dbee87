//! Keyset paging of a list page: the cursor of the page shown, the cursors of the pages before
//! it (for "back"), and the two buttons. Every list of the UI is paged through this (the server
//! bounds every page; cursors are the server's opaque tokens).

use leptos::prelude::*;

/// Where a paged list is: the page shown and the way back. `Copy`, like a signal.
#[derive(Debug, Clone, Copy)]
pub struct Paging {
    cursor: RwSignal<Option<String>>,
    before: RwSignal<Vec<Option<String>>>,
}

impl Default for Paging {
    fn default() -> Self {
        Self::new()
    }
}

impl Paging {
    /// At the first page.
    pub fn new() -> Self {
        Self {
            cursor: RwSignal::new(None),
            before: RwSignal::new(Vec::new()),
        }
    }

    /// The cursor of the page to show (tracked: a resource keyed on it reloads on a turn).
    pub fn cursor(&self) -> Option<String> {
        self.cursor.get()
    }

    /// Back to the first page (after a filter changed).
    pub fn reset(&self) {
        self.before.set(Vec::new());
        self.cursor.set(None);
    }

    fn forward(&self, next: Option<String>) {
        self.before.update(|b| b.push(self.cursor.get_untracked()));
        self.cursor.set(next);
    }

    fn back(&self) {
        let mut before = self.before.get_untracked();
        let previous = before.pop().flatten();
        self.before.set(before);
        self.cursor.set(previous);
    }
}

/// "Previous" and "Next" buttons for `paging`; `next` is the shown page's `next_cursor`.
#[component]
pub fn Pager(
    paging: Paging,
    next: Option<String>,
    #[prop(default = "Previous")] back_label: &'static str,
    #[prop(default = "Next")] next_label: &'static str,
) -> impl IntoView {
    let last = next.is_none();
    view! {
        <div class="actions">
            <button class="secondary" disabled=move || paging.before.with(Vec::is_empty) on:click=move |_| paging.back()>
                {back_label}
            </button>
            <button class="secondary" disabled=last on:click=move |_| paging.forward(next.clone())>
                {next_label}
            </button>
        </div>
    }
}
