use eventlib::{event, ValidationError};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Ping {
    n: u32,
}

#[event]
impl Ping {
    #[validate]
    fn check(&mut self) -> Result<(), ValidationError> {
        self.n = self.n.max(1);
        Ok(())
    }
}

fn main() {}
