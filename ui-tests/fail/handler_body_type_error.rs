use eventlib::{event, handler};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Ping {
    n: u32,
}

#[event]
impl Ping {
    #[handler]
    fn count(&self) {
        let total: u32 = self.n + "1";
        let _ = total;
    }
}

#[handler]
async fn on_ping(event: &Ping) -> anyhow::Result<()> {
    let doubled: String = event.n * 2;
    let _ = doubled;
    Ok(())
}

fn main() {}
