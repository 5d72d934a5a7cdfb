use eventlib::{event, handler};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Ping {
    n: u32,
}

#[event]
impl Ping {}

#[handler]
fn on_any<E>(event: &E) {
    let _ = event;
}

fn main() {}
