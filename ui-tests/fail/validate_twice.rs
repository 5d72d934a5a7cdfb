use eventlib::{event, ValidationError};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Ping {
    n: u32,
}

#[event]
impl Ping {
    #[validate]
    fn positive(&self) -> Result<(), ValidationError> {
        Ok(())
    }

    #[validate]
    fn small(&self) -> Result<(), ValidationError> {
        Ok(())
    }
}

fn main() {
    eventlib::log!(Ping { n: 1 }).unwrap();
}
