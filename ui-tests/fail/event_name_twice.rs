use eventlib::event;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Ping {
    n: u32,
}

#[event(name = "shop.Ping", name = "shop.Pong")]
impl Ping {}

fn main() {}
