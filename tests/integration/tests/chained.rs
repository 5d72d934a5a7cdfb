//! A handler that logs a follow-up event, as real handlers do: `flush()`
//! waits for the follow-up too, and its context is its own.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use eventlib::{event, log, Context, EventId};
use serde::{Deserialize, Serialize};

const N: u32 = 500;

/// `(order id, payment event id)` seen by the payment handler.
static PAID: Mutex<Vec<(u32, EventId)>> = Mutex::new(Vec::new());
static FOLLOW_UP_FAILED: AtomicUsize = AtomicUsize::new(0);

#[derive(Debug, Clone, Serialize, Deserialize)]
struct OrderPlaced {
    order: u32,
}

#[event(name = "chain.OrderPlaced")]
impl OrderPlaced {
    #[handler]
    async fn ask_for_payment(&self) {
        // Logged from a later poll, after a suspension.
        common::yield_now().await;
        if log!(PaymentRequested { order: self.order }).is_err() {
            FOLLOW_UP_FAILED.fetch_add(1, Ordering::SeqCst);
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct PaymentRequested {
    order: u32,
}

#[event(name = "chain.PaymentRequested")]
impl PaymentRequested {
    #[handler]
    fn charge(&self, ctx: &Context) {
        assert_eq!(ctx.name(), "chain.PaymentRequested");
        PAID.lock().unwrap().push((self.order, ctx.id()));
    }
}

#[test]
fn flush_waits_for_events_logged_by_handlers() {
    let mut orders = Vec::new();
    for order in 0..N {
        orders.push(log!(OrderPlaced { order }).unwrap());
    }
    eventlib::flush();
    assert_eq!(FOLLOW_UP_FAILED.load(Ordering::SeqCst), 0);
    let mut paid = PAID.lock().unwrap().clone();
    paid.sort_unstable_by_key(|p| p.0);
    assert!(paid.iter().map(|p| p.0).eq(0..N), "{} paid", paid.len());
    // Each follow-up is an event of its own, with a fresh id.
    for (_, id) in &paid {
        assert!(!orders.contains(id));
    }
    let stats = eventlib::stats();
    for name in ["chain.OrderPlaced", "chain.PaymentRequested"] {
        let e = stats.event(name).unwrap();
        assert_eq!(
            (e.emitted, e.completed, e.in_flight),
            (u64::from(N), u64::from(N), 0),
            "{name}"
        );
    }
}
