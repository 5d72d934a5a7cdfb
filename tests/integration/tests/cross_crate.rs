//! Link-time registration across crates: events declared in one crate,
//! handlers attached in another, all found once the binary links both.

mod common;

use eventlib::{log, HandlerKind};
use eventlib_test_events::{ran as methods, CartAdded, OrderPlaced, Signup};
use eventlib_test_handlers::{ran as functions, seen};

// The link line users write for a crate of handlers they never call. The
// imports above would link it too; this one says why it must be linked.
use eventlib_test_handlers as _;

const N: usize = 200;

#[test]
fn handlers_from_every_linked_crate_run() {
    for i in 0..N as u64 {
        log!(Signup {
            email: format!("user{i}@example.com"),
        })
        .unwrap();
        log!(OrderPlaced {
            order_id: i,
            total_cents: 100 * i,
        })
        .unwrap();
        log!(CartAdded {
            sku: format!("SKU-{i}"),
        })
        .unwrap();
    }
    common::flush();

    // Methods, declared in the events crate.
    assert_eq!(methods::count(&methods::WELCOME), N);
    assert_eq!(methods::count(&methods::RESERVE_STOCK), N);
    assert_eq!(methods::count(&methods::SEND_RECEIPT), N);
    // Free functions, in the handlers crate.
    assert_eq!(functions::count(&functions::ON_SIGNUP), N);
    assert_eq!(functions::count(&functions::BILL_ORDER), N);
    assert_eq!(functions::count(&functions::SHIP_ORDER), N);
    assert_eq!(functions::count(&functions::INDEX_CART_ITEM), N);
    // Wildcards, in the handlers crate.
    let signup = "eventlib_test_events.Signup";
    for name in [signup, "store.OrderPlaced", "store.cart.Added"] {
        assert_eq!(seen::count(&seen::EVERYTHING, name), N, "`*` on {name}");
    }
    assert_eq!(seen::total(&seen::EVERYTHING), 3 * N);
    assert_eq!(seen::count(&seen::STORE, "store.OrderPlaced"), N);
    assert_eq!(seen::count(&seen::STORE, "store.cart.Added"), N);
    assert_eq!(seen::total(&seen::STORE), 2 * N, "`store.*` saw {signup}");
    assert_eq!(seen::count(&seen::ORDERS, "store.OrderPlaced"), N);
    assert_eq!(seen::total(&seen::ORDERS), N);

    let stats = eventlib::stats();
    for name in [signup, "store.OrderPlaced", "store.cart.Added"] {
        let event = stats.event(name).unwrap();
        assert_eq!(
            (
                event.emitted,
                event.completed,
                event.dropped,
                event.in_flight
            ),
            (N as u64, N as u64, 0, 0),
            "{name}"
        );
        assert_eq!((event.failed, event.panicked), (0, 0), "{name}:\n{stats}");
    }
}

#[test]
fn the_registry_shows_both_crates_in_dispatch_order() {
    let registry = eventlib::registry();
    let order = registry.event("store.OrderPlaced").expect("linked");
    let handlers: Vec<(&str, HandlerKind)> =
        order.handlers().map(|h| (h.name(), h.kind())).collect();
    assert_eq!(
        handlers,
        [
            (
                "eventlib_test_events::OrderPlaced::reserve_stock",
                HandlerKind::Method
            ),
            (
                "eventlib_test_events::OrderPlaced::send_receipt",
                HandlerKind::Method
            ),
            ("eventlib_test_handlers::bill_order", HandlerKind::Function),
            ("eventlib_test_handlers::ship_order", HandlerKind::Function),
            (
                "eventlib_test_handlers::audit_everything",
                HandlerKind::Wildcard
            ),
            ("eventlib_test_handlers::audit_store", HandlerKind::Wildcard),
            (
                "eventlib_test_handlers::audit_orders",
                HandlerKind::Wildcard
            ),
        ]
    );
    for handler in order.handlers() {
        let crate_dir = if handler.kind() == HandlerKind::Method {
            "events-crate"
        } else {
            "handlers-crate"
        };
        assert!(
            handler.location().contains(crate_dir),
            "{} at {}",
            handler.name(),
            handler.location()
        );
    }
    assert!(order.location().contains("events-crate"));

    // The default name is `<crate name>.<type name>`.
    let signup = registry.event("eventlib_test_events.Signup").unwrap();
    assert_eq!(signup.type_name(), "eventlib_test_events::Signup");
    assert!(registry.problems().is_empty());

    // Listed sorted by name, whatever the link order.
    let names: Vec<&str> = registry.events().map(|e| e.name()).collect();
    assert_eq!(
        names,
        [
            "eventlib_test_events.Signup",
            "store.OrderPlaced",
            "store.cart.Added"
        ]
    );
}

#[test]
fn validation_declared_in_another_crate_runs_in_the_caller() {
    let err = log!(Signup {
        email: "nobody".into(),
    })
    .unwrap_err();
    match &err {
        eventlib::Error::Validation { event, error } => {
            assert_eq!(*event, "eventlib_test_events.Signup");
            assert_eq!(error.field(), Some("email"));
        }
        other => panic!("expected a validation error, got {other:?}"),
    }
    let by_name = log!("eventlib_test_events.Signup", { "email": "nobody" }).unwrap_err();
    assert!(
        matches!(by_name, eventlib::Error::Validation { .. }),
        "{by_name:?}"
    );
}
