//! The causation tree of one correlation id: which command appended which events, and which
//! commands those events (or commands) caused, across streams.
//!
//! Every event's `causation_id` is the id of the command that appended it; the command's own
//! name and cause are stored beside it in the metadata (`command`, `caused_by`; the latter from
//! the `X-Causation-Id` header of the request). A command whose cause is an event of this
//! correlation hangs under that event; one caused by another command of it hangs under that
//! command's last event; every other command is a root.

use std::collections::{HashMap, HashSet};

use domain::console::{CommandNode, CorrelationTree, EventNode};
use domain::views::EventView;
use uuid::Uuid;

/// Deepest nesting of one tree: a command deeper than this starts a tree of its own at the top
/// level (its `caused_by` still names its cause), so the JSON stays far below the nesting
/// limits of JSON parsers (serde_json's is 128; each level here is four).
pub const MAX_DEPTH: usize = 20;

/// Metadata key of the command's name.
pub const COMMAND_KEY: &str = "command";
/// Metadata key of the command's cause.
pub const CAUSED_BY_KEY: &str = "caused_by";

/// A command as its events describe it (any of its events carries the same metadata).
struct Command {
    id: Uuid,
    name: Option<String>,
    caused_by: Option<Uuid>,
    events: Vec<EventView>,
}

/// Builds the tree from the correlation's events in log order, each with its command's name and
/// cause (read from its metadata by the caller).
pub fn build(
    correlation_id: Uuid,
    events: Vec<(EventView, Option<String>, Option<Uuid>)>,
    truncated: bool,
) -> CorrelationTree {
    let event_count = events.len();
    let mut order: Vec<Uuid> = Vec::new();
    let mut commands: HashMap<Uuid, Command> = HashMap::new();
    for (event, name, caused_by) in events {
        // Events without a causation id (tools, imports) are a command of their own.
        let id = event.causation_id.unwrap_or(event.event_id);
        let command = commands.entry(id).or_insert_with(|| {
            order.push(id);
            Command {
                id,
                name: name.clone(),
                caused_by,
                events: Vec::new(),
            }
        });
        command.events.push(event);
    }
    let event_ids: HashSet<Uuid> = commands
        .values()
        .flat_map(|c| c.events.iter().map(|e| e.event_id))
        .collect();
    // The event a command hangs under: its cause, or its causing command's last event.
    let parent_event = |c: &Command| -> Option<Uuid> {
        let cause = c.caused_by?;
        if cause == c.id {
            return None;
        }
        if event_ids.contains(&cause) {
            return Some(cause);
        }
        commands
            .get(&cause)
            .and_then(|parent| parent.events.last().map(|e| e.event_id))
    };
    let mut children: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    let mut roots = Vec::new();
    for id in &order {
        let Some(command) = commands.get(id) else {
            continue;
        };
        match parent_event(command) {
            Some(event) => children.entry(event).or_default().push(*id),
            None => roots.push(*id),
        }
    }
    // Cycles (forged metadata) would leave commands unreachable: they become roots.
    let mut walk = Walk {
        commands,
        children,
        placed: HashSet::new(),
        depth: 0,
        deferred: Vec::new(),
    };
    let mut tree: Vec<CommandNode> = Vec::new();
    let mut next = roots;
    // Roots, then the commands cut off at MAX_DEPTH, then any left over (cycles).
    loop {
        for id in std::mem::take(&mut next) {
            if let Some(node) = walk.node(id, 1) {
                tree.push(node);
            }
        }
        next = std::mem::take(&mut walk.deferred);
        if next.is_empty() {
            next = order
                .iter()
                .filter(|id| !walk.placed.contains(*id))
                .take(1)
                .copied()
                .collect();
        }
        if next.is_empty() {
            break;
        }
    }
    let depth = walk.depth;
    CorrelationTree {
        correlation_id,
        commands: tree,
        event_count,
        depth,
        truncated,
    }
}

/// The walk over the commands, placing each once.
struct Walk {
    commands: HashMap<Uuid, Command>,
    children: HashMap<Uuid, Vec<Uuid>>,
    placed: HashSet<Uuid>,
    depth: usize,
    /// Commands below [`MAX_DEPTH`], placed later at the top level.
    deferred: Vec<Uuid>,
}

impl Walk {
    fn node(&mut self, id: Uuid, level: usize) -> Option<CommandNode> {
        if self.placed.contains(&id) {
            return None;
        }
        if level > MAX_DEPTH {
            self.deferred.push(id);
            return None;
        }
        self.placed.insert(id);
        let command = self.commands.remove(&id)?;
        self.depth = self.depth.max(level);
        let first = command.events.first()?;
        let (at, user_id, user_name) = (
            first.recorded_at,
            first.user_id.clone(),
            first.user_name.clone(),
        );
        let mut events = Vec::with_capacity(command.events.len());
        for event in command.events {
            let ids = self
                .children
                .get(&event.event_id)
                .cloned()
                .unwrap_or_default();
            let caused = ids
                .into_iter()
                .filter_map(|child| self.node(child, level + 1))
                .collect();
            events.push(EventNode { event, caused });
        }
        Some(CommandNode {
            command_id: command.id,
            command: command.name,
            caused_by: command.caused_by,
            user_id,
            user_name,
            at,
            events,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: u128, command: u128, position: i64) -> EventView {
        EventView {
            event_id: Uuid::from_u128(id),
            event_type: "E".to_owned(),
            schema_version: 1,
            stream_id: format!("s-{command}"),
            stream_type: "s".to_owned(),
            version: 1,
            position,
            recorded_at: chrono::DateTime::from_timestamp(position, 0).unwrap_or_default(),
            data: serde_json::Value::Null,
            correlation_id: Some(Uuid::from_u128(999)),
            causation_id: Some(Uuid::from_u128(command)),
            user_id: Some("u".to_owned()),
            user_name: None,
            user_role: None,
            traceparent: None,
        }
    }

    #[test]
    fn commands_caused_by_events_nest_three_levels_deep() {
        let c = |n: u128| Some(Uuid::from_u128(n));
        let tree = build(
            Uuid::from_u128(999),
            vec![
                (event(1, 100, 1), Some("PlaceOrder".into()), None),
                (event(2, 100, 2), Some("PlaceOrder".into()), None),
                (event(3, 200, 3), Some("ConfirmOrder".into()), c(2)),
                (event(4, 300, 4), Some("ShipOrder".into()), c(3)),
                (event(5, 400, 5), Some("Rename".into()), c(200)),
            ],
            false,
        );
        assert_eq!(tree.event_count, 5);
        assert_eq!(tree.depth, 3);
        assert_eq!(tree.commands.len(), 1);
        let root = &tree.commands[0];
        assert_eq!(root.command.as_deref(), Some("PlaceOrder"));
        assert!(root.events[0].caused.is_empty());
        let confirm = &root.events[1].caused[0];
        assert_eq!(confirm.command.as_deref(), Some("ConfirmOrder"));
        let under_confirm: Vec<_> = confirm.events[0]
            .caused
            .iter()
            .map(|n| n.command.clone().unwrap_or_default())
            .collect();
        assert_eq!(under_confirm, ["ShipOrder", "Rename"]);
    }

    #[test]
    fn a_cycle_of_forged_causes_still_shows_every_event() {
        let c = |n: u128| Some(Uuid::from_u128(n));
        let tree = build(
            Uuid::from_u128(999),
            vec![
                (event(1, 100, 1), None, c(2)),
                (event(2, 200, 2), None, c(1)),
            ],
            false,
        );
        let shown: usize = tree.commands.iter().map(count).sum();
        assert_eq!(shown, 2);
    }

    #[test]
    fn a_chain_deeper_than_the_cap_continues_at_the_top_level() {
        let n = (MAX_DEPTH * 2 + 3) as u128;
        let events = (1..=n)
            .map(|i| {
                let cause = (i > 1).then(|| Uuid::from_u128(i - 1));
                (event(i, 1000 + i, i as i64), None, cause)
            })
            .collect();
        let tree = build(Uuid::from_u128(999), events, false);
        assert_eq!(tree.depth, MAX_DEPTH);
        assert_eq!(tree.commands.len(), 3, "cut twice");
        let shown: usize = tree.commands.iter().map(count).sum();
        assert_eq!(shown, n as usize, "every event is shown once");
    }

    fn count(node: &CommandNode) -> usize {
        node.events
            .iter()
            .map(|e| 1 + e.caused.iter().map(count).sum::<usize>())
            .sum()
    }
}
