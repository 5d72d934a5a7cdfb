//! Wildcard handlers take `&eventlib::Record`: every event (`"*"`), a
//! prefix (`"shop.*"`), and an exact event name.
#![deny(warnings)]
use eventlib::{event, handler, log, Context, Record};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU32, Ordering};

static ALL: AtomicU32 = AtomicU32::new(0);
static SHOP: AtomicU32 = AtomicU32::new(0);
static EXACT: AtomicU32 = AtomicU32::new(0);

#[derive(Serialize, Deserialize)]
struct Order {
    total: u32,
}

#[event(name = "shop.Order")]
impl Order {}

#[derive(Serialize, Deserialize)]
struct Login {}

#[event(name = "auth.Login")]
impl Login {}

#[handler("*")]
fn every(record: &Record) {
    assert!(record.data().is_object());
    ALL.fetch_add(1, Ordering::SeqCst);
}

#[handler("shop.*")]
async fn shop(record: &Record, ctx: &Context) -> anyhow::Result<()> {
    assert_eq!(ctx.name(), record.name());
    SHOP.fetch_add(1, Ordering::SeqCst);
    Ok(())
}

#[handler("auth.Login")]
fn exact(record: &eventlib::Record) {
    assert_eq!(record.name(), "auth.Login");
    EXACT.fetch_add(1, Ordering::SeqCst);
}

fn main() {
    let _inline = eventlib::testing::inline();
    log!(Order { total: 1 }).unwrap();
    log!(Login {}).unwrap();
    assert_eq!(ALL.load(Ordering::SeqCst), 2);
    assert_eq!(SHOP.load(Ordering::SeqCst), 1);
    assert_eq!(EXACT.load(Ordering::SeqCst), 1);
}
