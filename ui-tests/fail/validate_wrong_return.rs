use eventlib::event;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Ping {
    n: u32,
}

#[event]
impl Ping {
    #[validate]
    fn check(&self) -> Result<(), String> {
        if self.n == 0 {
            return Err("n must be positive".into());
        }
        Ok(())
    }
}

fn main() {
    eventlib::log!(Ping { n: 1 }).unwrap();
}
