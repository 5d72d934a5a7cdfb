//! On tokio: async handlers are handed to the runtime by a one-line
//! spawner, run on its workers and can use tokio's own timers and I/O.

mod common;
#[path = "common/jobs.rs"]
mod jobs;

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use eventlib::{handler, Dispatcher};
use jobs::{Job, JOBS};

static ON_TOKIO: AtomicU32 = AtomicU32::new(0);

#[handler]
async fn on_tokio(job: &Job) -> anyhow::Result<()> {
    anyhow::ensure!(
        tokio::runtime::Handle::try_current().is_ok(),
        "job {} is not on a tokio runtime",
        job.n
    );
    // Needs tokio's timer driver: fails anywhere but on the runtime.
    tokio::time::sleep(Duration::from_millis(1)).await;
    ON_TOKIO.fetch_add(1, Ordering::SeqCst);
    Ok(())
}

#[test]
fn async_handlers_run_on_the_tokio_runtime() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("test-tokio-worker")
        .enable_all()
        .build()
        .unwrap();
    let handle = runtime.handle().clone();
    let spawned = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&spawned);
    Dispatcher::builder()
        .spawner(move |task| {
            counter.fetch_add(1, Ordering::SeqCst);
            drop(handle.spawn(task));
        })
        .install()
        .unwrap();

    runtime.block_on(async {
        jobs::log_jobs();
        // From async code: waits without blocking a runtime worker.
        tokio::time::timeout(common::DEADLINE, eventlib::flush_async())
            .await
            .expect("handlers still running");
    });

    assert_eq!(ON_TOKIO.load(Ordering::SeqCst), JOBS);
    // Two async handlers per job went through the spawner.
    assert_eq!(spawned.load(Ordering::SeqCst), 2 * JOBS as usize);
    jobs::assert_all_ran("test-tokio-worker");
}
