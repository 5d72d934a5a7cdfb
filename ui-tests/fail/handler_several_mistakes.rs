use eventlib::{event, handler};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Ping {
    n: u32,
}

#[event]
impl Ping {}

#[handler(retries = 3)]
const fn on_ping<T>(event: Ping, ctx: eventlib::Context) {
    let _ = (event.n, ctx);
}

fn main() {}
