//! With no setup, the built-in pool runs async handlers: wake-ups from
//! other threads and a timer of an I/O library bringing its own reactor
//! (async-io, under smol) work on it.

mod common;
#[path = "common/jobs.rs"]
mod jobs;

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use eventlib::handler;
use jobs::{Job, JOBS};

static TIMED: AtomicU32 = AtomicU32::new(0);

#[handler]
async fn after_a_timer(job: &Job) {
    smol::Timer::after(Duration::from_millis(1)).await;
    assert!(
        common::thread_name().starts_with("eventlib-pool-"),
        "job {} resumed on {}",
        job.n,
        common::thread_name()
    );
    TIMED.fetch_add(1, Ordering::SeqCst);
}

#[test]
fn async_handlers_run_on_the_built_in_pool() {
    jobs::log_jobs();
    // The first log! started the default dispatcher: too late to configure.
    assert!(matches!(
        eventlib::Dispatcher::builder().threads(1).install(),
        Err(eventlib::Error::AlreadyInstalled)
    ));
    common::flush();
    jobs::assert_all_ran("eventlib-pool-");
    assert_eq!(TIMED.load(Ordering::SeqCst), JOBS);
}
