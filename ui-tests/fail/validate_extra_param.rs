use eventlib::{event, ValidationError};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Ping {
    n: u32,
}

#[event]
impl Ping {
    #[validate]
    fn check(&self, max: u32) -> Result<(), ValidationError> {
        if self.n > max {
            return Err(ValidationError::new("too big"));
        }
        Ok(())
    }
}

fn main() {
    eventlib::log!(Ping { n: 1 }).unwrap();
}
