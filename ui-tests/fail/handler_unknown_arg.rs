use eventlib::{event, handler};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Ping {
    n: u32,
}

#[event]
impl Ping {}

#[handler(retries = 3)]
fn on_ping(event: &Ping) {
    let _ = event.n;
}

fn main() {}
