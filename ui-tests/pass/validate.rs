//! `#[validate]`: runs in the caller; its `Err` is `log!`'s.
#![deny(warnings)]
use eventlib::{event, log, ValidationError};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Ping {
    n: u32,
}

#[event(name = "shop.Ping")]
impl Ping {
    #[validate]
    fn check(&self) -> Result<(), ValidationError> {
        if self.n == 0 {
            return Err(ValidationError::new("n must be positive"));
        }
        Ok(())
    }
}

fn main() {
    assert!(log!(Ping { n: 1 }).is_ok());
    assert!(matches!(
        log!(Ping { n: 0 }),
        Err(eventlib::Error::Validation { .. })
    ));
    assert!(log!("shop.Ping", { "n": 0 }).is_err());
    eventlib::flush();
}
