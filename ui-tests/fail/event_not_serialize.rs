use eventlib::event;
use serde::Deserialize;

#[derive(Deserialize)]
struct Ping {
    n: u32,
}

#[event]
impl Ping {}

fn main() {
    eventlib::log!(Ping { n: 1 }).unwrap();
}
