//! A blocking `flush()` inside a `#[tokio::test]` (a current-thread
//! runtime, whose one thread must run the handlers) returns at once with a
//! report that is not clean and names `flush_async`; `flush_async` works.

use std::sync::mpsc;
use std::time::Duration;

use eventlib::{event, log, NotWaited};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Receipt {
    n: u64,
}

#[event(name = "inruntime.Receipt")]
impl Receipt {
    #[handler]
    async fn mail(&self) -> anyhow::Result<()> {
        tokio::time::sleep(Duration::from_millis(2)).await;
        Ok(())
    }
}

#[test]
fn a_blocking_flush_in_a_current_thread_runtime_returns_at_once_and_names_flush_async() {
    let (done, finished) = mpsc::channel();
    // On a thread of its own, so that a hang fails the test instead of blocking it.
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let reports = runtime.block_on(async {
            log!(Receipt { n: 1 }).unwrap();
            let blocking = (
                eventlib::flush(),
                eventlib::flush_timeout(Duration::from_secs(60)),
            );
            (blocking, eventlib::flush_async().await)
        });
        done.send(reports).unwrap();
    });
    let ((flushed, timed), awaited) = finished
        .recv_timeout(Duration::from_secs(60))
        .expect("a blocking flush inside the runtime never returned");
    for report in [flushed, timed] {
        assert_eq!(report.not_waited, Some(NotWaited::InRuntime), "{report}");
        assert!(!report.is_clean(), "{report}");
        assert!(report.to_string().contains("flush_async"), "{report}");
    }
    assert!(awaited.is_clean(), "{awaited}");
    assert_eq!(
        (awaited.handled, awaited.not_waited),
        (1, None),
        "{awaited}"
    );
}
