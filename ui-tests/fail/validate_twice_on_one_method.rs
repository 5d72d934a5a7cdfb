use eventlib::{event, ValidationError};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Ping {
    n: u32,
}

#[event]
impl Ping {
    #[validate]
    #[validate]
    fn positive(&self) -> Result<(), ValidationError> {
        Ok(())
    }
}

fn main() {}
