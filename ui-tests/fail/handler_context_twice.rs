use eventlib::{event, handler, Context};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Ping {
    n: u32,
}

#[event]
impl Ping {}

#[handler]
fn on_ping(event: &Ping, ctx: &Context, again: &Context) {
    let _ = (event.n, ctx.id(), again.id());
}

fn main() {}
