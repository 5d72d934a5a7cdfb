//! A runtime shut down while async handlers run on it: their runs are
//! counted as abandoned failures, the error hook hears of each, and a
//! flush afterwards returns at once instead of waiting for them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use eventlib::{event, log, FailureKind};
use serde::{Deserialize, Serialize};

static STARTED: AtomicU64 = AtomicU64::new(0);

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Upload {
    n: u64,
}

#[event(name = "inflight.Upload")]
impl Upload {
    #[handler]
    async fn store(&self) -> anyhow::Result<()> {
        STARTED.fetch_add(1, Ordering::SeqCst);
        // Never ends while its runtime lives.
        std::future::pending::<()>().await;
        Ok(())
    }
}

#[test]
fn handlers_in_flight_when_their_runtime_shuts_down_are_counted_and_not_waited_for() {
    let heard: Arc<Mutex<Vec<String>>> = Arc::default();
    let hook = Arc::clone(&heard);
    eventlib::Dispatcher::builder()
        .error_hook(move |failure| {
            if let FailureKind::Abandoned(reason) = &failure.kind {
                hook.lock().unwrap().push(reason.clone());
            }
        })
        .install()
        .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        for n in 0..3 {
            log!(Upload { n }).unwrap();
        }
        while STARTED.load(Ordering::SeqCst) < 3 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    });
    drop(runtime);
    // Bounded so that the old behaviour fails instead of hanging.
    let report = eventlib::flush_timeout(Duration::from_secs(30));
    assert_eq!(report.abandoned, 0, "{report}");
    assert_eq!((report.completed, report.failed), (3, 3), "{report}");
    let heard = heard.lock().unwrap();
    assert_eq!(heard.len(), 3, "{heard:?}");
    assert!(heard[0].contains("shut down"), "{heard:?}");
    let stats = eventlib::stats();
    let upload = stats.event("inflight.Upload").unwrap();
    assert_eq!((upload.failed, upload.in_flight), (3, 0), "{upload:?}");
}
