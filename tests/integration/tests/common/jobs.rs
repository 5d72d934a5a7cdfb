//! The event the three executor binaries (`executor_pool`, `executor_tokio`,
//! `executor_smol`) handle alike; each adds a handler of its own that
//! proves it runs on that executor.

use std::sync::Mutex;

use eventlib::{event, log};
use serde::{Deserialize, Serialize};

/// How many jobs each binary logs.
pub const JOBS: u32 = 200;

/// The threads the sync and the async method handlers ran on.
pub static SYNC_THREADS: Mutex<Vec<String>> = Mutex::new(Vec::new());
pub static ASYNC_THREADS: Mutex<Vec<String>> = Mutex::new(Vec::new());

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Job {
    pub n: u32,
}

#[event(name = "exec.Job")]
impl Job {
    #[handler]
    fn sync_step(&self) {
        SYNC_THREADS
            .lock()
            .unwrap()
            .push(super::common::thread_name());
    }

    #[handler]
    async fn async_step(&self) {
        // Pending until another thread wakes it: the executor must poll it again.
        super::common::woken_by_another_thread().await;
        ASYNC_THREADS
            .lock()
            .unwrap()
            .push(super::common::thread_name());
    }
}

pub fn log_jobs() {
    for n in 0..JOBS {
        log!(Job { n }).unwrap();
    }
}

/// Every handler ran once per job, nothing failed, and the async method
/// ran on threads named `async_prefix...`.
pub fn assert_all_ran(async_prefix: &str) {
    let sync = SYNC_THREADS.lock().unwrap();
    assert_eq!(sync.len(), JOBS as usize);
    // A spawner takes async handlers only; sync ones stay on the pool.
    assert!(
        sync.iter().all(|t| t.starts_with("eventlib-pool-")),
        "sync handlers ran on {:?}",
        distinct(&sync)
    );
    let asynchronous = ASYNC_THREADS.lock().unwrap();
    assert_eq!(asynchronous.len(), JOBS as usize);
    assert!(
        asynchronous.iter().all(|t| t.starts_with(async_prefix)),
        "async handlers ran on {:?}, not on `{async_prefix}*` threads",
        distinct(&asynchronous)
    );
    let stats = eventlib::stats();
    let job = stats.event("exec.Job").unwrap();
    assert_eq!(
        (
            job.emitted,
            job.completed,
            job.in_flight,
            job.failed,
            job.panicked
        ),
        (u64::from(JOBS), u64::from(JOBS), 0, 0, 0),
        "\n{stats}"
    );
}

fn distinct(threads: &[String]) -> std::collections::BTreeSet<&str> {
    threads.iter().map(String::as_str).collect()
}
