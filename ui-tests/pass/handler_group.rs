//! The `group` argument, on a method, a free handler and a wildcard.
#![deny(warnings)]
use eventlib::{event, handler, log, Record};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Ping {
    n: u32,
}

#[event(name = "shop.Ping")]
impl Ping {
    #[handler(group = "analytics")]
    fn count(&self) {}
}

#[handler(group = "billing-v2")]
fn charge(_event: &Ping) {}

#[handler("shop.*", group = "audit_log")]
fn audit(_record: &Record) {}

fn main() {
    let groups: Vec<&str> = eventlib::registry().handlers().map(|h| h.group()).collect();
    assert!(groups.contains(&"analytics"), "{groups:?}");
    assert!(groups.contains(&"billing-v2"), "{groups:?}");
    assert!(groups.contains(&"audit_log"), "{groups:?}");
    log!(Ping { n: 1 }).unwrap();
    eventlib::flush();
}
