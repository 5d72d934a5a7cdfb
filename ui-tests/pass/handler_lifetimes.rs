//! Named lifetimes in a handler's signature are only names for borrows,
//! and are accepted.
#![deny(warnings)]
use eventlib::{event, handler, log, Context};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Ping {
    n: u32,
}

#[event]
impl Ping {
    #[handler]
    fn method<'a>(&'a self, ctx: &'a Context) -> anyhow::Result<()> {
        let _ = (self.n, ctx.id());
        Ok(())
    }
}

#[handler]
async fn free<'e>(event: &'e Ping) {
    let _ = event.n;
}

fn main() {
    let _inline = eventlib::testing::inline();
    log!(Ping { n: 1 }).unwrap();
}
