use eventlib::event;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Ping;

#[event]
impl Ping {
    // A method follows its `#[event]`: `crate = ...` goes there.
    #[handler(crate = eventlib)]
    fn on_ping(&self) {}
}

fn main() {}
