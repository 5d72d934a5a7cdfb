use eventlib::{event, log};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ProductViewed {
    user_id: u64,
    product_id: u64,
}

#[event] // registered as "quickstart.ProductViewed": crate name, type name
impl ProductViewed {
    #[handler] // one of many: each runs on its own, off the caller's path
    fn save_to_db(&self) -> anyhow::Result<()> {
        println!("saved {self:?}");
        Ok(())
    }
}

fn main() -> Result<(), eventlib::Error> {
    log!(ProductViewed { user_id: 7, product_id: 42 })?; // queued; returns at once
    eventlib::flush(); // handlers run on a pool: wait for them before exiting
    Ok(())
}
