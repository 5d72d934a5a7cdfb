//! Tokio runtimes that come and go in one process, as the runtimes of a
//! test binary's `#[tokio::test]`s do: each event's async handlers run on
//! the runtime it was logged in, never on one shut down before.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::Duration;

use eventlib::{event, log};
use serde::{Deserialize, Serialize};

static SHIPPED: Mutex<BTreeSet<u64>> = Mutex::new(BTreeSet::new());

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Parcel {
    round: u64,
}

#[event(name = "runtimes.Parcel")]
impl Parcel {
    #[handler]
    async fn ship(&self) -> anyhow::Result<()> {
        // Needs a live tokio runtime: its timer.
        tokio::time::sleep(Duration::from_millis(2)).await;
        SHIPPED.lock().unwrap().insert(self.round);
        Ok(())
    }
}

#[test]
fn three_runtimes_one_after_the_other_each_run_their_handlers() {
    for round in 1..=3 {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let report = runtime.block_on(async {
            log!(Parcel { round }).unwrap();
            tokio::time::timeout(Duration::from_secs(30), eventlib::flush_async())
                .await
                .unwrap_or_else(|_| panic!("round {round}: flush_async never returned"))
        });
        drop(runtime);
        assert!(report.is_clean(), "round {round}: {report}");
        assert_eq!(report.handled, round, "round {round}: {report}");
        assert!(SHIPPED.lock().unwrap().contains(&round), "round {round}");
    }
}
