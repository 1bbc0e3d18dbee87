//! A given/when/then harness for aggregate tests, public so other crates can use it:
//!
//! ```
//! use domain::testing::given;
//! use domain::order::{Order, OrderCommand};
//! given::<Order>([]).when(OrderCommand::Confirm).then_expect_error("order_not_found");
//! ```
//!
//! Failures panic with a readable message, as test assertions do.

use crate::aggregate::{Aggregate, DomainEvent, replay};
use crate::error::{DomainError, ValidationError};

/// Starts a scenario from a history of events.
pub fn given<A: Aggregate>(events: impl IntoIterator<Item = A::Event>) -> Given<A> {
    let history: Vec<A::Event> = events.into_iter().collect();
    let state = replay::<A>(&history);
    Given { history, state }
}

/// A history, folded into a state.
pub struct Given<A: Aggregate> {
    history: Vec<A::Event>,
    state: A::State,
}

impl<A: Aggregate> Given<A> {
    /// The state the history folds into.
    pub fn state(&self) -> &A::State {
        &self.state
    }

    /// The history.
    pub fn history(&self) -> &[A::Event] {
        &self.history
    }

    /// Decides `command` against the state.
    pub fn when(self, command: A::Command) -> When<A> {
        let result = A::decide(&self.state, &command);
        When {
            state: self.state,
            command,
            result,
        }
    }
}

/// The outcome of one command, to be checked with a `then_*` method.
pub struct When<A: Aggregate> {
    state: A::State,
    command: A::Command,
    result: Result<Vec<A::Event>, DomainError>,
}

impl<A: Aggregate> When<A> {
    /// The raw outcome.
    pub fn result(&self) -> &Result<Vec<A::Event>, DomainError> {
        &self.result
    }

    /// Asserts the command produced exactly `expected` (compared by value), and that each
    /// event survives `to_data`/`from_data`. Returns the state after the events.
    #[track_caller]
    pub fn then_expect_events(self, expected: Vec<A::Event>) -> A::State {
        let events = match self.result {
            Ok(events) => events,
            Err(e) => panic!(
                "expected events {expected:#?}\nbut {:?} was rejected: {} ({e:?})",
                self.command,
                e.code()
            ),
        };
        assert_eq!(events, expected, "unexpected events for {:?}", self.command);
        for event in &events {
            let back = A::Event::from_data(event.event_type(), &event.to_data());
            assert_eq!(
                back.as_ref(),
                Ok(event),
                "event does not round-trip through to_data/from_data"
            );
        }
        events.iter().fold(self.state, |s, e| A::evolve(s, e))
    }

    /// Asserts the command was rejected with `expected`: a `&str` compares the error code, a
    /// `DomainError` or `ValidationError` compares the whole value.
    #[track_caller]
    pub fn then_expect_error(self, expected: impl ExpectedError) {
        match self.result {
            Ok(events) => panic!(
                "expected error {}\nbut {:?} was accepted with {events:#?}",
                expected.describe(),
                self.command
            ),
            Err(actual) => assert!(
                expected.matches(&actual),
                "expected error {}\nbut got {} ({actual:?}) for {:?}",
                expected.describe(),
                actual.code(),
                self.command
            ),
        }
    }
}

/// What `then_expect_error` can compare against.
pub trait ExpectedError {
    /// Whether `actual` is the expected error.
    fn matches(&self, actual: &DomainError) -> bool;
    /// How the expectation reads in a failure message.
    fn describe(&self) -> String;
}

impl ExpectedError for &str {
    fn matches(&self, actual: &DomainError) -> bool {
        actual.code() == *self
    }
    fn describe(&self) -> String {
        format!("with code {self:?}")
    }
}

impl ExpectedError for DomainError {
    fn matches(&self, actual: &DomainError) -> bool {
        self == actual
    }
    fn describe(&self) -> String {
        format!("{self:?}")
    }
}

impl ExpectedError for ValidationError {
    fn matches(&self, actual: &DomainError) -> bool {
        matches!(actual, DomainError::Validation(v) if v == self)
    }
    fn describe(&self) -> String {
        format!("{self:?}")
    }
}
