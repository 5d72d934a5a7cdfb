use eventlib::{event, log};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Ping {
    n: u32,
}

#[event(name = "shop.Ping")]
impl Ping {}

fn main() -> Result<(), eventlib::Error> {
    log!("shop.Ping")?;
    Ok(())
}
