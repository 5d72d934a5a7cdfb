//! An `#[event]` impl keeps its other items: constants, ordinary methods,
//! associated functions; an enum is an event as well as a struct.
#![deny(warnings)]
use eventlib::{event, log};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
enum Signal {
    Start,
    Stop { code: u8 },
}

#[event]
impl Signal {
    /// Not a handler.
    const MAX_CODE: u8 = 9;

    pub fn stop(code: u8) -> Self {
        Signal::Stop {
            code: code.min(Self::MAX_CODE),
        }
    }

    fn is_stop(&self) -> bool {
        matches!(self, Signal::Stop { .. })
    }

    #[handler]
    fn report(&self) {
        let _ = self.is_stop();
    }

    #[eventlib::handler]
    async fn by_path(&self) {}
}

fn main() {
    log!(Signal::Start).unwrap();
    log!(Signal::stop(12)).unwrap();
    eventlib::flush();
}
