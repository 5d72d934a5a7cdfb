use eventlib::event;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Ping {
    n: u32,
}

#[event]
impl Ping {
    #[handler]
    fn count(&self, step: u32) {
        let _ = self.n + step;
    }
}

fn main() {}
