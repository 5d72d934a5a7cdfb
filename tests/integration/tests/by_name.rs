//! Logging by name, with JSON-like data: good data, unknown and invalid
//! names, data that does not fit the type (the error names the field),
//! extra fields, and validation.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};

use eventlib::{event, log, testing, Error, ValidationError};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Item {
    sku: String,
    qty: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Order {
    order_id: u64,
    items: Vec<Item>,
    note: Option<String>,
}

static ORDERS_HANDLED: AtomicUsize = AtomicUsize::new(0);

#[event(name = "byname.Order")]
impl Order {
    #[validate]
    fn check(&self) -> Result<(), ValidationError> {
        if self.items.is_empty() {
            return Err(ValidationError::new("an order has items").on_field("items"));
        }
        Ok(())
    }

    #[handler]
    fn count(&self) {
        ORDERS_HANDLED.fetch_add(1, Ordering::SeqCst);
    }
}

/// Refuses fields it does not declare.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Strict {
    id: u32,
}

#[event(name = "byname.Strict")]
impl Strict {}

/// Ignores fields it does not declare (serde's default).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Lenient {
    id: u32,
}

#[event(name = "byname.Lenient")]
impl Lenient {}

fn invalid_data(result: Result<eventlib::EventId, Error>) -> (Option<String>, String, String) {
    match result {
        Err(err @ Error::InvalidData { .. }) => {
            let message = err.to_string();
            let Error::InvalidData {
                event,
                field,
                reason,
            } = err
            else {
                unreachable!()
            };
            (field, reason, format!("{event}|{message}"))
        }
        other => panic!("expected InvalidData, got {other:?}"),
    }
}

#[test]
fn good_data_becomes_the_typed_event() {
    let sku = String::from("A-1");
    let cap = testing::capture();
    log!("byname.Order", {
        "order_id": 7,
        "items": [{ "sku": sku, "qty": 2 }, { "sku": "B-2", "qty": 1 + 1 }],
        "note": null,
    })
    .unwrap();
    assert_eq!(
        cap.events::<Order>(),
        [Order {
            order_id: 7,
            items: vec![
                Item {
                    sku: "A-1".into(),
                    qty: 2
                },
                Item {
                    sku: "B-2".into(),
                    qty: 2
                },
            ],
            note: None,
        }]
    );
    assert_eq!(cap.records()[0].data()["items"][1]["sku"], "B-2");
}

#[test]
fn by_name_events_reach_their_handlers() {
    log!("byname.Order", { "order_id": 1, "items": [{ "sku": "A", "qty": 1 }], "note": "gift" })
        .unwrap();
    eventlib::log_json(
        "byname.Order",
        serde_json::json!({ "order_id": 2, "items": [{ "sku": "A", "qty": 1 }], "note": null }),
    )
    .unwrap();
    common::flush();
    assert_eq!(ORDERS_HANDLED.load(Ordering::SeqCst), 2);
}

#[test]
fn an_unknown_name_is_unknown_event() {
    let err = log!("byname.Nope", { "id": 1 }).unwrap_err();
    assert!(
        matches!(&err, Error::UnknownEvent { name } if name == "byname.Nope"),
        "{err:?}"
    );
    // Names are case-sensitive.
    let err = eventlib::log_json("byname.order", serde_json::json!({})).unwrap_err();
    assert!(matches!(err, Error::UnknownEvent { .. }), "{err:?}");
}

#[test]
fn an_invalid_name_is_invalid_name() {
    // `log!` checks a literal name at compile time; names known only at
    // run time go through `log_json`.
    for bad in ["", "byname..Order", "byname.Order!", "9lives.Cat"] {
        match eventlib::log_json(bad, serde_json::json!({})) {
            Err(Error::InvalidName { name, reason }) => {
                assert_eq!(name, bad);
                assert!(!reason.is_empty());
            }
            other => panic!("{bad:?}: expected InvalidName, got {other:?}"),
        }
    }
}

#[test]
fn a_missing_field_is_named() {
    let (field, reason, message) =
        invalid_data(log!("byname.Order", { "items": [], "note": null }));
    assert!(message.contains("`order_id`"), "{message}");
    assert_eq!(field.as_deref(), Some("order_id"), "{message}");
    assert_eq!(reason, "missing");

    let (field, reason, message) = invalid_data(log!("byname.Order", {
        "order_id": 1,
        "items": [{ "sku": "A", "qty": 1 }, { "sku": "B" }],
        "note": null,
    }));
    assert!(
        message.contains("field `items[1].qty`: missing"),
        "{message}"
    );
    assert_eq!(field.as_deref(), Some("items[1].qty"), "{message}");
    assert_eq!(reason, "missing");
}

#[test]
fn a_wrong_type_names_the_field() {
    let (field, reason, message) =
        invalid_data(log!("byname.Order", { "order_id": "seven", "items": [], "note": null }));
    assert_eq!(field.as_deref(), Some("order_id"));
    assert!(reason.contains("expected u64"), "{reason}");
    assert_eq!(
        message,
        "byname.Order|invalid data for event `byname.Order`: field `order_id`: invalid type: \
         string \"seven\", expected u64"
    );

    let (field, _, _) = invalid_data(log!("byname.Order", {
        "order_id": 1,
        "items": [{ "sku": "A", "qty": 1 }, { "sku": 2, "qty": 1 }],
        "note": null,
    }));
    assert_eq!(field.as_deref(), Some("items[1].sku"));

    // Data that is not an object at all: no field to name.
    let err = eventlib::log_json("byname.Lenient", serde_json::json!([1, 2])).unwrap_err();
    let (field, _, _) = invalid_data(Err(err));
    assert_eq!(field, None);
}

#[test]
fn extra_fields_are_ignored_unless_the_type_denies_them() {
    let cap = testing::capture();
    log!("byname.Lenient", { "id": 1, "extra": true }).unwrap();
    assert_eq!(cap.events::<Lenient>(), [Lenient { id: 1 }]);

    let (_, reason, _) = invalid_data(log!("byname.Strict", { "id": 1, "extra": true }));
    assert!(reason.contains("unknown field `extra`"), "{reason}");
    log!("byname.Strict", { "id": 2 }).unwrap();
    assert_eq!(cap.events::<Strict>(), [Strict { id: 2 }]);
    assert_eq!(cap.len(), 2);
}

#[test]
fn validation_runs_on_by_name_events() {
    let cap = testing::capture();
    let err = log!("byname.Order", { "order_id": 1, "items": [], "note": null }).unwrap_err();
    match &err {
        Error::Validation { event, error } => {
            assert_eq!(*event, "byname.Order");
            assert_eq!(error.field(), Some("items"));
            assert_eq!(error.message(), "an order has items");
        }
        other => panic!("expected a validation error, got {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "event `byname.Order` failed validation: items: an order has items"
    );
    assert!(cap.is_empty());
}
