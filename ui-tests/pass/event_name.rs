//! An event's name defaults to `<crate>.<Type>`; `name = "..."` overrides it.
#![deny(warnings)]
use eventlib::{event, Event};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Defaulted {}

#[event]
impl Defaulted {}

#[derive(Serialize, Deserialize)]
struct Named {}

#[event(name = "billing.v2.Invoice_Paid")]
impl Named {}

fn main() {
    assert_eq!(
        Defaulted::NAME,
        concat!(env!("CARGO_CRATE_NAME"), ".Defaulted")
    );
    assert_eq!(Named::NAME, "billing.v2.Invoice_Paid");
}
