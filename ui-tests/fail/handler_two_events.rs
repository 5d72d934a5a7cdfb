use eventlib::{event, handler};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Ping {
    n: u32,
}

#[derive(Serialize, Deserialize)]
struct Pong {
    n: u32,
}

#[event]
impl Ping {}

#[event]
impl Pong {}

#[handler]
fn on_both(ping: &Ping, pong: &Pong) {
    let _ = (ping.n, pong.n);
}

fn main() {}
