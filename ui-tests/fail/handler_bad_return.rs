use eventlib::{event, handler};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Ping {
    n: u32,
}

#[event]
impl Ping {}

#[handler]
fn on_ping(event: &Ping) -> u32 {
    event.n
}

fn main() {}
