use eventlib::handler;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Ping {
    n: u32,
}

#[handler]
struct Audit;

fn main() {}
