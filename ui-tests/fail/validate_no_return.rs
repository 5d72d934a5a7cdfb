use eventlib::event;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Ping {
    n: u32,
}

#[event]
impl Ping {
    #[validate]
    fn check(&self) {
        assert!(self.n > 0);
    }
}

fn main() {
    eventlib::log!(Ping { n: 1 }).unwrap();
}
