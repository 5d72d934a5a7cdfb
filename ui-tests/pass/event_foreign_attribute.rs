//! Inside an `#[event]` impl, `#[event]` reads only eventlib's own
//! attributes (`handler`, `eventlib::handler`, `validate`, ...). Another
//! crate's or tool's attribute that is also named `handler` (here
//! `#[rustfmt::handler]`) stays on its method, which is not registered.
#![deny(warnings)]
use eventlib::{event, log};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU32, Ordering};

static SEEN: AtomicU32 = AtomicU32::new(0);

#[derive(Serialize, Deserialize)]
struct Ping;

#[event(name = "ui.Foreign")]
impl Ping {
    #[handler]
    fn ours(&self) {
        SEEN.fetch_add(1, Ordering::SeqCst);
    }

    #[eventlib::handler]
    fn ours_by_path(&self) {
        SEEN.fetch_add(10, Ordering::SeqCst);
    }

    #[rustfmt::handler]
    fn not_ours(&self) {
        SEEN.fetch_add(100, Ordering::SeqCst);
    }
}

fn main() {
    let _inline = eventlib::testing::inline();
    log!(Ping).unwrap();
    assert_eq!(SEEN.load(Ordering::SeqCst), 11);
    Ping.not_ours();
    assert_eq!(SEEN.load(Ordering::SeqCst), 111);
    let handlers = eventlib::registry().event("ui.Foreign").unwrap().handlers().count();
    assert_eq!(handlers, 2);
}
