//! `async fn` handler methods, with and without a context, returning
//! `anyhow::Result<()>` and `()`.
#![deny(warnings)]
use eventlib::{event, log, Context};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU32, Ordering};

static SEEN: AtomicU32 = AtomicU32::new(0);

#[derive(Serialize, Deserialize)]
struct Ping {
    n: u32,
}

async fn step() {}

#[event]
impl Ping {
    #[handler]
    async fn save(&self) -> anyhow::Result<()> {
        step().await;
        SEEN.fetch_add(self.n, Ordering::SeqCst);
        Ok(())
    }

    #[handler]
    async fn notify(&self, ctx: &Context) {
        step().await;
        assert_eq!(ctx.name(), concat!(env!("CARGO_CRATE_NAME"), ".Ping"));
        SEEN.fetch_add(10 * self.n, Ordering::SeqCst);
    }
}

fn main() {
    let _inline = eventlib::testing::inline();
    log!(Ping { n: 1 }).unwrap();
    assert_eq!(SEEN.load(Ordering::SeqCst), 11);
}
