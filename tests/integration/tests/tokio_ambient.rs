//! A tokio service that gives the dispatcher no spawner: with eventlib's
//! `tokio` feature, its async handlers run on the runtime `log!` is called
//! in, where tokio's timers work, instead of panicking on the built-in
//! pool for want of a reactor.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use eventlib::{event, log};
use serde::{Deserialize, Serialize};

static DONE: AtomicU64 = AtomicU64::new(0);

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Order {
    n: u64,
}

#[event(name = "ambient.Order")]
impl Order {
    #[handler]
    async fn ship(&self) -> anyhow::Result<()> {
        tokio::time::sleep(Duration::from_millis(5)).await;
        DONE.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

#[test]
fn async_handlers_find_the_runtime_without_a_spawner() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        for n in 0..100 {
            log!(Order { n }).unwrap();
        }
        let report = eventlib::flush_async().await;
        assert!(report.is_clean(), "{report}");
        assert_eq!((report.handled, report.panicked), (100, 0), "{report}");
    });
    assert_eq!(DONE.load(Ordering::SeqCst), 100);
}
