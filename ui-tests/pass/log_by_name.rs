//! `log!("name", { ... })`: values are Rust expressions, keys may repeat
//! across nesting levels; `{}` is an event without fields.
#![deny(warnings)]
use eventlib::{event, log};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Ping {
    n: u32,
    label: String,
}

#[event(name = "shop.Ping")]
impl Ping {}

#[derive(Serialize, Deserialize)]
struct Tick {}

#[event(name = "shop.Tick")]
impl Tick {}

fn main() -> Result<(), eventlib::Error> {
    let n = 4;
    log!("shop.Ping", { "n": n + 1, "label": format!("#{n}") })?;
    log!("shop.Ping", { "n": 1, "label": "x", })?;
    log!("shop.Tick", {})?;
    eventlib::flush();
    Ok(())
}
