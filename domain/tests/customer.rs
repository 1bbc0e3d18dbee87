//! Given/when/then tests for every Customer command and rule.

mod common;

use common::*;
use domain::DomainError;
use domain::customer::*;
use domain::testing::given;

fn register() -> CustomerCommand {
    CustomerCommand::Register {
        customer_id: customer_id(),
        name: name("Ada Lovelace"),
        email: email("ada@example.com"),
    }
}

#[test]
fn register_creates_the_customer() {
    let state = given::<Customer>([])
        .when(register())
        .then_expect_events(vec![registered()]);
    assert!(state.exists);
    assert_eq!(state.customer_id, Some(customer_id()));
    assert_eq!(state.email, Some(email("ada@example.com")));
}

#[test]
fn register_twice_is_rejected() {
    given::<Customer>([registered()])
        .when(register())
        .then_expect_error(DomainError::CustomerAlreadyRegistered);
}

#[test]
fn rename_changes_the_name() {
    let state = given::<Customer>([registered()])
        .when(CustomerCommand::Rename {
            name: name("Ada King"),
        })
        .then_expect_events(vec![
            CustomerRenamed {
                name: name("Ada King"),
            }
            .into(),
        ]);
    assert_eq!(state.name, Some(name("Ada King")));
}

#[test]
fn rename_to_the_same_name_is_rejected() {
    given::<Customer>([registered()])
        .when(CustomerCommand::Rename {
            name: name("  Ada Lovelace "),
        })
        .then_expect_error("customer_name_unchanged");
}

#[test]
fn change_email_changes_the_email() {
    let state = given::<Customer>([registered()])
        .when(CustomerCommand::ChangeEmail {
            email: email("ada@king.example"),
        })
        .then_expect_events(vec![
            CustomerEmailChanged {
                email: email("ada@king.example"),
            }
            .into(),
        ]);
    assert_eq!(state.email, Some(email("ada@king.example")));
}

#[test]
fn change_email_to_the_same_address_is_rejected() {
    // Emails are lowercased, so a case-only change is no change.
    given::<Customer>([registered()])
        .when(CustomerCommand::ChangeEmail {
            email: email("ADA@Example.com"),
        })
        .then_expect_error(DomainError::CustomerEmailUnchanged);
}

#[test]
fn commands_on_an_unregistered_customer_are_rejected() {
    given::<Customer>([])
        .when(CustomerCommand::Rename { name: name("X") })
        .then_expect_error(DomainError::CustomerNotFound);
    given::<Customer>([])
        .when(CustomerCommand::ChangeEmail {
            email: email("x@example.com"),
        })
        .then_expect_error("customer_not_found");
}

fn erase() -> CustomerCommand {
    CustomerCommand::Erase {
        reason: domain::values::Reason::parse("GDPR art. 17 request").expect("reason"),
    }
}

fn erased() -> CustomerEvent {
    CustomerErased {
        reason: domain::values::Reason::parse("GDPR art. 17 request").expect("reason"),
    }
    .into()
}

#[test]
fn erase_records_the_reason_and_leaves_the_fields_erased() {
    let state = given::<Customer>([registered()])
        .when(erase())
        .then_expect_events(vec![erased()]);
    assert!(state.erased);
    assert_eq!(
        state.name.as_ref().map(|n| n.as_str()),
        Some(domain::values::ERASED)
    );
    assert!(state.email.as_ref().is_some_and(|e| e.is_erased()));
}

#[test]
fn nothing_more_happens_to_an_erased_customer() {
    for command in [
        erase(),
        CustomerCommand::Rename {
            name: name("Ada King"),
        },
        CustomerCommand::ChangeEmail {
            email: email("ada@king.example"),
        },
    ] {
        given::<Customer>([registered(), erased()])
            .when(command)
            .then_expect_error(DomainError::CustomerErased);
    }
    given::<Customer>([])
        .when(erase())
        .then_expect_error(DomainError::CustomerNotFound);
}

#[test]
fn an_erased_address_reads_back_but_is_never_accepted_as_input() {
    let read: Result<domain::values::Email, _> = serde_json::from_str("\"[erased]\"");
    assert!(read.is_ok_and(|e| e.is_erased()));
    assert!(domain::values::Email::parse(domain::values::ERASED).is_err());
}
