use eventlib::event;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Wrapper<T> {
    inner: T,
}

#[event]
impl<T> Wrapper<T> {}

fn main() {}
