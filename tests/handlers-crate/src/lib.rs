//! Handlers attached from outside to the events of `eventlib-test-events`:
//! free functions (`fn` and `async fn`, with and without `&Context`,
//! returning `()` or `anyhow::Result<()>`) and wildcards.
//!
//! Nothing here is called by name: a binary that wants these handlers must
//! link the crate with `use eventlib_test_handlers as _;`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use eventlib::{handler, Context, Record};
use eventlib_test_events::{CartAdded, OrderPlaced, Signup};

/// How many times each typed handler of this crate ran.
pub mod ran {
    use super::*;

    /// [`on_signup`](super::on_signup).
    pub static ON_SIGNUP: AtomicUsize = AtomicUsize::new(0);
    /// [`bill_order`](super::bill_order).
    pub static BILL_ORDER: AtomicUsize = AtomicUsize::new(0);
    /// [`ship_order`](super::ship_order).
    pub static SHIP_ORDER: AtomicUsize = AtomicUsize::new(0);
    /// [`index_cart_item`](super::index_cart_item).
    pub static INDEX_CART_ITEM: AtomicUsize = AtomicUsize::new(0);

    /// The counter's value now.
    pub fn count(counter: &AtomicUsize) -> usize {
        counter.load(Ordering::SeqCst)
    }
}

/// The names of the events each wildcard handler of this crate saw.
pub mod seen {
    use super::*;

    /// [`audit_everything`](super::audit_everything), pattern `*`.
    pub static EVERYTHING: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
    /// [`audit_store`](super::audit_store), pattern `store.*`.
    pub static STORE: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
    /// [`audit_orders`](super::audit_orders), pattern `store.OrderPlaced`.
    pub static ORDERS: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());

    /// How many events named `name` the wildcard saw.
    pub fn count(seen: &Mutex<Vec<&'static str>>, name: &str) -> usize {
        seen.lock().unwrap().iter().filter(|n| **n == name).count()
    }

    /// How many events the wildcard saw.
    pub fn total(seen: &Mutex<Vec<&'static str>>) -> usize {
        seen.lock().unwrap().len()
    }
}

/// Sync, no context, returns `()`.
#[handler]
fn on_signup(event: &Signup) {
    assert!(
        event.email.contains('@'),
        "validation let {event:?} through"
    );
    ran::ON_SIGNUP.fetch_add(1, Ordering::SeqCst);
}

/// Async, with context, returns `anyhow::Result<()>`.
#[handler]
async fn bill_order(order: &OrderPlaced, ctx: &Context) -> anyhow::Result<()> {
    anyhow::ensure!(ctx.name() == "store.OrderPlaced", "wrong context");
    anyhow::ensure!(ctx.attempt() == 1, "first delivery expected");
    let _ = order.total_cents;
    ran::BILL_ORDER.fetch_add(1, Ordering::SeqCst);
    Ok(())
}

/// Sync, with context, returns `anyhow::Result<()>`.
#[handler]
fn ship_order(order: &OrderPlaced, ctx: &Context) -> anyhow::Result<()> {
    anyhow::ensure!(ctx.name() == "store.OrderPlaced", "wrong context");
    let _ = order.order_id;
    ran::SHIP_ORDER.fetch_add(1, Ordering::SeqCst);
    Ok(())
}

/// Async, no context, returns `()`.
#[handler]
async fn index_cart_item(item: &CartAdded) {
    assert!(!item.sku.is_empty());
    ran::INDEX_CART_ITEM.fetch_add(1, Ordering::SeqCst);
}

/// Wildcard `*`: every event of the binary.
#[handler("*")]
fn audit_everything(record: &Record) {
    seen::EVERYTHING.lock().unwrap().push(record.name());
}

/// Wildcard `store.*`, async, with context.
#[handler("store.*")]
async fn audit_store(record: &Record, ctx: &Context) -> anyhow::Result<()> {
    anyhow::ensure!(record.id() == ctx.id(), "record and context disagree");
    anyhow::ensure!(record.data().is_object(), "data is not an object");
    seen::STORE.lock().unwrap().push(record.name());
    Ok(())
}

/// A pattern that is an exact name.
#[handler("store.OrderPlaced")]
fn audit_orders(record: &Record) -> anyhow::Result<()> {
    anyhow::ensure!(record.is::<OrderPlaced>(), "not an OrderPlaced");
    seen::ORDERS.lock().unwrap().push(record.name());
    Ok(())
}
