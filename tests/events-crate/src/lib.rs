//! Events declared in a crate of their own, for the cross-crate tests.
//!
//! This crate depends on `eventlib` and `serde` only: that it builds proves
//! the macros' expansions need no other dependency in the user's crate.

use std::sync::atomic::{AtomicUsize, Ordering};

use eventlib::{event, Context, ValidationError};
use serde::{Deserialize, Serialize};

/// How many times each method handler of this crate ran.
pub mod ran {
    use super::*;

    /// `Signup::welcome`.
    pub static WELCOME: AtomicUsize = AtomicUsize::new(0);
    /// `OrderPlaced::reserve_stock`.
    pub static RESERVE_STOCK: AtomicUsize = AtomicUsize::new(0);
    /// `OrderPlaced::send_receipt`.
    pub static SEND_RECEIPT: AtomicUsize = AtomicUsize::new(0);

    /// The counter's value now.
    pub fn count(counter: &AtomicUsize) -> usize {
        counter.load(Ordering::SeqCst)
    }
}

/// A user signed up. Default name: `eventlib_test_events.Signup`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signup {
    /// Must contain `@`.
    pub email: String,
}

#[event]
impl Signup {
    #[validate]
    fn check(&self) -> Result<(), ValidationError> {
        if !self.email.contains('@') {
            return Err(ValidationError::new("an email needs an `@`").on_field("email"));
        }
        Ok(())
    }

    #[handler]
    fn welcome(&self) {
        ran::WELCOME.fetch_add(1, Ordering::SeqCst);
    }
}

/// An order was placed; named explicitly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderPlaced {
    /// The order's number.
    pub order_id: u64,
    /// What the order costs, in cents.
    pub total_cents: u64,
}

#[event(name = "store.OrderPlaced")]
impl OrderPlaced {
    #[handler]
    fn reserve_stock(&self) {
        ran::RESERVE_STOCK.fetch_add(1, Ordering::SeqCst);
    }

    #[handler]
    async fn send_receipt(&self, ctx: &Context) -> Result<(), std::io::Error> {
        if ctx.name() != "store.OrderPlaced" {
            return Err(std::io::Error::other(format!(
                "context of another event: {}",
                ctx.name()
            )));
        }
        ran::SEND_RECEIPT.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// An item was added to a cart; its handlers are all in other crates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CartAdded {
    /// The item's stock-keeping unit.
    pub sku: String,
}

#[event(name = "store.cart.Added")]
impl CartAdded {}
