//! A free handler in another module names the event by its path.
#![deny(warnings)]
use eventlib::log;
use std::sync::atomic::{AtomicU32, Ordering};

static SEEN: AtomicU32 = AtomicU32::new(0);

mod shop {
    use serde::{Deserialize, Serialize};

    #[derive(Serialize, Deserialize)]
    pub struct Order {
        pub total: u32,
    }

    #[eventlib::event(name = "shop.Order")]
    impl Order {}
}

mod billing {
    #[eventlib::handler]
    async fn charge(order: &crate::shop::Order) -> anyhow::Result<()> {
        crate::SEEN.fetch_add(order.total, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }
}

fn main() {
    let _inline = eventlib::testing::inline();
    log!(shop::Order { total: 42 }).unwrap();
    assert_eq!(SEEN.load(Ordering::SeqCst), 42);
}
