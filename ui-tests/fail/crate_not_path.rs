use eventlib::{event, handler};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Ping;

// `crate = ...` takes a path, as Cargo.toml names the dependency.
#[event(crate = "ev")]
impl Ping {}

#[handler(crate = 3)]
fn on_ping(_event: &Ping) {}

fn main() {}
