use eventlib::{event, handler};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Ping {
    n: u32,
}

#[event]
impl Ping {}

struct Oops;

#[handler]
fn on_ping(event: &Ping) -> Result<(), Oops> {
    if event.n == 0 {
        return Err(Oops);
    }
    Ok(())
}

fn main() {}
