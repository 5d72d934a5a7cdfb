//! On smol: async handlers are handed to smol's executor by a one-line
//! spawner, run on its threads and can use its timers; `flush_async` and
//! `shutdown_async` work from smol's `block_on`.

mod common;
#[path = "common/jobs.rs"]
mod jobs;

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use eventlib::{handler, log, Dispatcher, Error};
use jobs::{Job, JOBS};

static ON_SMOL: AtomicU32 = AtomicU32::new(0);

#[handler]
async fn on_smol(job: &Job) {
    smol::Timer::after(Duration::from_millis(1)).await;
    assert!(
        common::thread_name().starts_with("smol-"),
        "job {} resumed on {}",
        job.n,
        common::thread_name()
    );
    ON_SMOL.fetch_add(1, Ordering::SeqCst);
}

#[test]
fn async_handlers_run_on_smol() {
    let spawned = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&spawned);
    Dispatcher::builder()
        .spawner(move |task| {
            counter.fetch_add(1, Ordering::SeqCst);
            smol::spawn(task).detach();
        })
        .install()
        .unwrap();

    smol::block_on(async {
        jobs::log_jobs();
        let flushed = smol::future::or(
            async {
                eventlib::flush_async().await;
                true
            },
            async {
                smol::Timer::after(common::DEADLINE).await;
                false
            },
        );
        assert!(flushed.await, "handlers still running");
        assert_eq!(ON_SMOL.load(Ordering::SeqCst), JOBS);
        jobs::assert_all_ran("smol-");

        // Once more, then a shutdown from async code waits for it.
        log!(Job { n: JOBS }).unwrap();
        let report = eventlib::shutdown_async(common::DEADLINE).await;
        assert_eq!(report.abandoned, 0);
        assert!(matches!(log!(Job { n: 0 }), Err(Error::ShutDown)));
    });

    assert_eq!(ON_SMOL.load(Ordering::SeqCst), JOBS + 1);
    assert_eq!(spawned.load(Ordering::SeqCst), 2 * (JOBS as usize + 1));
}
