use eventlib::event;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Ping {
    n: u32,
}

#[event]
#[event(name = "shop.Ping")]
impl Ping {}

fn main() {
    eventlib::log!(Ping { n: 1 }).unwrap();
}
