//! The batch shape both order read models (`orders`, `dashboard`) share: every order a batch
//! touches is read from the read model's rows once, the batch's events are folded into it in
//! memory, and its rows are written once at the end. A single event is a batch of one, so the
//! runner's event-by-event fallback and a replay run the same code as a catch-up.
//!
//! What an order looks like in memory, and how an event changes it, is the read model's
//! [`OrderFold`]; this file only keeps the before/after pairs and says which rows to write.

use std::collections::{HashMap, HashSet};

use domain::order::OrderEvent;
use eventstore::RecordedEvent;
use tracing::warn;
use uuid::Uuid;

/// One order as a read model holds it in memory while folding a batch.
pub(crate) trait OrderFold: Default + Clone {
    /// Applies one of the order's events.
    fn fold(&mut self, event: &RecordedEvent, e: &OrderEvent);

    /// Whether the order exists (was placed), i.e. has a row.
    fn exists(&self) -> bool;

    /// Whether the order's lines (its rows in the lines table) equal `other`'s.
    fn same_lines(&self, other: &Self) -> bool;
}

/// An order a batch touches: as its rows stood before the batch (`None`: no row) and after the
/// batch's events.
#[derive(Debug)]
pub(crate) struct Touched<S> {
    pub(crate) before: Option<S>,
    pub(crate) after: S,
    /// Whether an event of the batch reached it yet (it is then in `TouchedOrders::ids`).
    listed: bool,
}

impl<S: OrderFold> Touched<S> {
    /// Whether the order's lines must be (re)written.
    fn lines_changed(&self) -> bool {
        self.before
            .as_ref()
            .is_none_or(|before| !before.same_lines(&self.after))
    }
}

/// The orders of one batch, in the order the batch first touches them.
#[derive(Debug)]
pub(crate) struct TouchedOrders<S> {
    ids: Vec<Uuid>,
    orders: HashMap<Uuid, Touched<S>>,
}

impl<S: OrderFold> TouchedOrders<S> {
    /// The orders of `events` (order id and event, in log order) whose rows must be read before
    /// folding: all but those the batch itself creates, i.e. whose first event in the batch,
    /// folded into an order that does not exist, makes it exist. Those are written as new rows,
    /// and an insert of a row that exists after all fails loudly.
    pub(crate) fn to_load<'e>(
        events: impl IntoIterator<Item = (Uuid, &'e RecordedEvent, &'e OrderEvent)>,
    ) -> Vec<Uuid> {
        let mut seen = HashSet::new();
        let mut load = Vec::new();
        for (id, event, e) in events {
            if seen.insert(id) {
                let mut fresh = S::default();
                fresh.fold(event, e);
                if !fresh.exists() {
                    load.push(id);
                }
            }
        }
        load
    }

    /// Starts the fold from the rows read for the orders of [`Self::to_load`].
    pub(crate) fn new(loaded: HashMap<Uuid, S>) -> Self {
        Self {
            ids: Vec::new(),
            orders: loaded
                .into_iter()
                .map(|(id, s)| {
                    let touched = Touched {
                        before: Some(s.clone()),
                        after: s,
                        listed: false,
                    };
                    (id, touched)
                })
                .collect(),
        }
    }

    /// Folds one event into its order; returns whether the event placed it (the order did not
    /// exist before and does now).
    pub(crate) fn fold(&mut self, order_id: Uuid, event: &RecordedEvent, e: &OrderEvent) -> bool {
        let touched = self.orders.entry(order_id).or_insert_with(|| Touched {
            before: None,
            after: S::default(),
            listed: false,
        });
        if !touched.listed {
            touched.listed = true;
            self.ids.push(order_id);
        }
        let existed = touched.after.exists();
        touched.after.fold(event, e);
        !existed && touched.after.exists()
    }

    /// Every touched order that exists after the batch, in first-touch order.
    pub(crate) fn existing(&self) -> impl Iterator<Item = (Uuid, &Touched<S>)> {
        self.ids.iter().filter_map(|id| {
            let touched = self.orders.get(id)?;
            touched.after.exists().then_some((*id, touched))
        })
    }

    /// Warns about the touched orders that do not exist: the read model does not hold them
    /// (only possible when an operator skipped a poison placement), and their events are left
    /// out rather than faulting again on every later event of the order.
    pub(crate) fn warn_missing(&self, projection: &'static str) {
        for id in &self.ids {
            if self.orders.get(id).is_some_and(|t| !t.after.exists()) {
                warn!(projection, order_id = %id, "events for an order the read model does not hold");
            }
        }
    }

    /// Orders with a row before the batch whose lines changed: their old lines are deleted.
    pub(crate) fn stale_lines(&self) -> Vec<Uuid> {
        self.ids
            .iter()
            .filter(|id| {
                self.orders
                    .get(id)
                    .is_some_and(|t| t.before.is_some() && t.lines_changed())
            })
            .copied()
            .collect()
    }

    /// Existing orders whose lines are (re)inserted: new orders and those of
    /// [`Self::stale_lines`].
    pub(crate) fn new_lines(&self) -> Vec<(Uuid, &S)> {
        self.existing()
            .filter(|(_, t)| t.lines_changed())
            .map(|(id, t)| (id, &t.after))
            .collect()
    }
}
