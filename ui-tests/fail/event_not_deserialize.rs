use eventlib::event;
use serde::Serialize;

#[derive(Serialize)]
struct Ping {
    n: u32,
}

#[event]
impl Ping {}

fn main() {
    eventlib::log!(Ping { n: 1 }).unwrap();
}
