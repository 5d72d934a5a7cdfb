//! Typed events from async code: `try_log` never waits (a full queue is
//! `QueueFull` at once, whatever the policy), and `log_async` waits for
//! room without blocking the thread that polls it: on a current-thread
//! runtime, another task keeps running while it waits, and the event is
//! queued (not dropped) once there is room.

mod common;
#[path = "common/held.rs"]
mod held;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use eventlib::{Error, Overflow};
use held::Job;

#[test]
fn try_log_refuses_at_once_and_log_async_waits_without_blocking_its_thread() {
    // Under Block, `log!` would block the runtime's one thread for good.
    held::small_dispatcher(Overflow::Block).install().unwrap();
    held::fill_the_queue();

    let refused = eventlib::try_log(Job { n: 3 });
    assert!(
        matches!(refused, Err(Error::QueueFull { event: held::NAME })),
        "{refused:?}"
    );
    assert_eq!(held::counts(), (4, 0, 1, 3), "refused, counted as dropped");

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let ticks = Arc::new(AtomicUsize::new(0));
    let queued = runtime.block_on(async {
        let ticker = {
            let ticks = Arc::clone(&ticks);
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    ticks.fetch_add(1, Ordering::SeqCst);
                }
            })
        };
        let logging = tokio::spawn(eventlib::log_async(Job { n: 4 }));
        // The queue stays full while the gate is shut: the waiting log
        // must leave the thread to the ticker.
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!logging.is_finished(), "queued into a full queue?");
        assert!(
            ticks.load(Ordering::SeqCst) >= 5,
            "the runtime's thread was blocked"
        );
        assert_eq!(held::counts().2, 1, "nothing more dropped while waiting");
        held::GATE.open();
        let id = tokio::time::timeout(Duration::from_secs(20), logging)
            .await
            .expect("log_async never found the room")
            .unwrap();
        ticker.abort();
        id
    });
    let id = queued.expect("queued once there was room");
    let report = eventlib::flush_timeout(Duration::from_secs(20));
    assert!(report.abandoned == 0, "{report}");
    assert_eq!(held::handled(), 4, "{id} handled with jobs 0 to 2");
    assert_eq!(held::counts(), (5, 4, 1, 0));
}
