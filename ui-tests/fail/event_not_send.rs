use eventlib::event;
use serde::{Deserialize, Serialize};
use std::cell::Cell;

#[derive(Serialize, Deserialize)]
struct Ping {
    n: Cell<u32>,
}

#[event]
impl Ping {}

fn main() {}
