//! A dependency renamed in Cargo.toml (`ev = { package = "eventlib", ... }`):
//! `crate = ev` on `#[event]` and on a free `#[handler]` tells the macros
//! where the runtime is, and the handlers inside the impl follow their
//! `#[event]` (`#[ev::handler]` or a bare `#[handler]`).
#![deny(warnings)]
// What `ev = { package = "eventlib", ... }` in Cargo.toml does (Cargo
// refuses one crate under two names in one manifest, and the other cases
// need `eventlib`): `ev` is the crate's name here. The macros' unit tests
// check that the expansion then names no other path.
extern crate eventlib as ev;

use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU32, Ordering};

static SEEN: AtomicU32 = AtomicU32::new(0);

#[derive(Serialize, Deserialize)]
struct Ping {
    n: u32,
}

#[ev::event(crate = ev, name = "ui.Renamed")]
impl Ping {
    #[ev::validate]
    fn check(&self) -> Result<(), ev::ValidationError> {
        match self.n {
            0 => Err(ev::ValidationError::new("n is 0")),
            _ => Ok(()),
        }
    }

    #[ev::handler]
    fn by_path(&self, _ctx: &ev::Context) {
        SEEN.fetch_add(self.n, Ordering::SeqCst);
    }

    #[handler]
    async fn bare(&self) -> anyhow::Result<()> {
        SEEN.fetch_add(self.n * 10, Ordering::SeqCst);
        Ok(())
    }
}

#[ev::handler(crate = ev)]
fn free(event: &Ping) {
    SEEN.fetch_add(event.n * 100, Ordering::SeqCst);
}

#[ev::handler("ui.*", crate = ev, group = "audit")]
fn wildcard(record: &ev::Record) {
    assert_eq!(record.name(), "ui.Renamed");
    SEEN.fetch_add(1000, Ordering::SeqCst);
}

fn main() {
    let _inline = ev::testing::inline();
    ev::log!(Ping { n: 1 }).unwrap();
    ev::log!("ui.Renamed", { "n": 2 }).unwrap();
    assert!(ev::log!(Ping { n: 0 }).is_err());
    assert_eq!(SEEN.load(Ordering::SeqCst), 111 + 222 + 2000);
}
