use eventlib::{event, ValidationError};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Ping {
    n: u32,
}

// Every mistake of one `#[event]` impl is reported at once.
#[event(name = "shop..Ping")]
impl Ping {
    #[validate]
    async fn check(&self, strict: bool) -> Result<(), ValidationError> {
        let _ = strict;
        Ok(())
    }

    #[handler]
    fn bump(&mut self) {
        self.n += 1;
    }

    #[handler(group = "")]
    fn count(&self) {}
}

fn main() {
    eventlib::log!(Ping { n: 1 }).unwrap();
}
