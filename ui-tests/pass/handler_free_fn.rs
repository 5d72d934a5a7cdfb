//! Free function handlers: `fn` and `async fn` taking `&MyEvent`, with an
//! optional `&Context` before or after it, public or not.
#![deny(warnings)]
use eventlib::{event, handler, log, Context};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU32, Ordering};

static SEEN: AtomicU32 = AtomicU32::new(0);

#[derive(Serialize, Deserialize)]
pub struct Ping {
    n: u32,
}

#[event]
impl Ping {}

#[handler]
fn plain(event: &Ping) {
    SEEN.fetch_add(event.n, Ordering::SeqCst);
}

#[handler]
pub fn with_context(event: &Ping, ctx: &Context) -> anyhow::Result<()> {
    assert_eq!(ctx.name(), concat!(env!("CARGO_CRATE_NAME"), ".Ping"));
    SEEN.fetch_add(10 * event.n, Ordering::SeqCst);
    Ok(())
}

#[handler]
pub(crate) async fn context_first(ctx: &eventlib::Context, event: &Ping) {
    assert_eq!(ctx.attempt(), 1);
    SEEN.fetch_add(100 * event.n, Ordering::SeqCst);
}

fn main() {
    let _inline = eventlib::testing::inline();
    log!(Ping { n: 1 }).unwrap();
    assert_eq!(SEEN.load(Ordering::SeqCst), 111);
}
