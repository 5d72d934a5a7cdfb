use eventlib::{event, handler};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Ping {
    n: u32,
}

#[event]
impl Ping {}

#[handler]
async fn on_ping(event: &Ping) -> Result<u32, std::io::Error> {
    Ok(event.n)
}

fn main() {}
