use eventlib::event;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Ping {
    n: u32,
}

#[event]
impl Ping {}

#[event]
impl Ping {
    fn n(&self) -> u32 {
        self.n
    }
}

fn main() {
    eventlib::log!(Ping { n: 1 }).unwrap();
}
