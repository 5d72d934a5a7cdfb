//! A handler method with the optional `&eventlib::Context`.
#![deny(warnings)]
use eventlib::{event, log, Context};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, Ordering};

static SEEN: AtomicBool = AtomicBool::new(false);

#[derive(Serialize, Deserialize)]
struct Ping {
    n: u32,
}

#[event]
impl Ping {
    #[handler]
    fn check(&self, ctx: &Context) {
        assert_eq!(ctx.name(), concat!(env!("CARGO_CRATE_NAME"), ".Ping"));
        assert_eq!(ctx.attempt(), 1);
        SEEN.store(self.n == 1, Ordering::SeqCst);
    }
}

fn main() {
    let _inline = eventlib::testing::inline();
    log!(Ping { n: 1 }).unwrap();
    assert!(SEEN.load(Ordering::SeqCst));
}
