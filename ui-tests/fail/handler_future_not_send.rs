use eventlib::{event, handler};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Ping {
    n: u32,
}

#[event]
impl Ping {}

use std::rc::Rc;

async fn tick() {}

#[handler]
async fn on_ping(event: &Ping) {
    let shared = Rc::new(event.n);
    tick().await;
    let _ = shared;
}

fn main() {}
