use eventlib::handler;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Ping {
    n: u32,
}

impl Ping {
    #[handler]
    fn count(&self) {
        let _ = self.n;
    }
}

fn main() {}
