//! Handlers return `Result<(), E>` for any `E: Into<anyhow::Error>`: here
//! `anyhow::Error` and a `std::error::Error` type; an `Err` reaches the
//! caller in an inline scope.
#![deny(warnings)]
use eventlib::{event, log};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Ping {
    n: u32,
}

#[event]
impl Ping {
    #[handler]
    fn must_be_small(&self) -> anyhow::Result<()> {
        anyhow::ensure!(self.n < 10, "{} is too big", self.n);
        Ok(())
    }

    #[handler]
    fn must_be_even(&self) -> Result<(), std::io::Error> {
        if self.n % 2 == 1 {
            return Err(std::io::Error::other("odd"));
        }
        Ok(())
    }
}

fn main() {
    let _inline = eventlib::testing::inline();
    log!(Ping { n: 2 }).unwrap();
    assert!(log!(Ping { n: 3 }).is_err());
}
