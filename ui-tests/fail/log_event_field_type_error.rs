use eventlib::{event, log};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Ping {
    n: u32,
}

#[event]
impl Ping {}

fn main() -> Result<(), eventlib::Error> {
    log!(Ping { n: "one" })?;
    Ok(())
}
