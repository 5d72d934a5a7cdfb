//! `log!(event)`, with or without a trailing comma, returns the event id.
#![deny(warnings)]
use eventlib::{event, log, EventId};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Ping {
    n: u32,
}

#[event]
impl Ping {}

fn send() -> Result<EventId, eventlib::Error> {
    let ping = Ping { n: 2 };
    log!(ping,)
}

fn main() -> Result<(), eventlib::Error> {
    let first = log!(Ping { n: 1 })?;
    let second = send()?;
    assert_ne!(first, second);
    eventlib::flush();
    Ok(())
}
