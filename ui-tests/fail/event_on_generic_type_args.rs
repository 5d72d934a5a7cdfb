use eventlib::event;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Wrapper<T> {
    inner: T,
}

#[event]
impl Wrapper<u32> {}

fn main() {}
