//! By-name data nests objects and arrays, and takes `null`.
#![deny(warnings)]
use eventlib::{event, handler, log, Record};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Address {
    city: String,
}

#[derive(Serialize, Deserialize)]
struct Order {
    items: Vec<u32>,
    ship_to: Address,
    coupon: Option<String>,
    lines: Vec<Address>,
}

#[event(name = "shop.Order")]
impl Order {}

#[handler("shop.Order")]
fn check(record: &Record) {
    let data = record.data();
    assert_eq!(data["items"][2], 3);
    assert_eq!(data["ship_to"]["city"], "Paris");
    assert!(data["coupon"].is_null());
    assert_eq!(data["lines"][0]["city"], "Lyon");
}

fn main() -> Result<(), eventlib::Error> {
    let _inline = eventlib::testing::inline();
    log!("shop.Order", {
        "items": [1, 2, 1 + 2],
        "ship_to": { "city": "Paris" },
        "coupon": null,
        "lines": [{ "city": "Lyon" }, { "city": "Nice" }],
    })?;
    Ok(())
}
