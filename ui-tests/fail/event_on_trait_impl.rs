use eventlib::event;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Ping {
    n: u32,
}

#[event]
impl Default for Ping {
    fn default() -> Self {
        Ping { n: 0 }
    }
}

fn main() {
    eventlib::log!(Ping::default()).unwrap();
}
