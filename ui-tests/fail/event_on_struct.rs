use eventlib::event;
use serde::{Deserialize, Serialize};

#[event]
#[derive(Serialize, Deserialize)]
struct Ping {
    n: u32,
}

fn main() {
    eventlib::log!(Ping { n: 1 }).unwrap();
}
