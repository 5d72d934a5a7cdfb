use eventlib::event;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Ping {
    n: u32,
}

#[event(name = "shop.2nd-Ping")]
impl Ping {}

fn main() {
    eventlib::log!(Ping { n: 1 }).unwrap();
}
