use eventlib::event;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Ping {
    n: u32,
}

#[event]
impl Ping {
    #[handler]
    fn bump(&mut self) {
        self.n += 1;
    }
}

fn main() {}
