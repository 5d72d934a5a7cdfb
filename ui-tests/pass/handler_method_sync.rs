//! A `fn` handler method: `&self`, returning `()`. Inside an `#[event]` impl,
//! `#[handler]` and `#[validate]` are read by `#[event]` and need no import.
#![deny(warnings)]
use eventlib::{event, log};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU32, Ordering};

static SEEN: AtomicU32 = AtomicU32::new(0);

#[derive(Serialize, Deserialize)]
struct Ping {
    n: u32,
}

#[event]
impl Ping {
    #[handler]
    fn count(&self) {
        SEEN.fetch_add(self.n, Ordering::SeqCst);
    }
}

fn main() {
    let _inline = eventlib::testing::inline();
    log!(Ping { n: 3 }).unwrap();
    assert_eq!(SEEN.load(Ordering::SeqCst), 3);
}
