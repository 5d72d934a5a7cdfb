//! On Linux, the built-in pool's threads run as background work
//! (`SCHED_BATCH`), so that their wake-ups never preempt the service's own
//! threads; the thread that logs keeps its policy.

#![cfg(target_os = "linux")]

mod common;

use std::sync::Mutex;

use eventlib::{event, log};
use serde::{Deserialize, Serialize};

/// `SCHED_OTHER` and `SCHED_BATCH`, as Linux numbers them.
const SCHED_OTHER: u32 = 0;
const SCHED_BATCH: u32 = 3;

/// The policy of the thread each handler ran on.
static SEEN: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// The calling thread's scheduling policy: field 41 of its `stat`.
fn policy() -> u32 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
    // The fields after the command name, which is in parentheses and may hold spaces.
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    after_name.split(' ').nth(41 - 3).unwrap().parse().unwrap()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Probe {
    n: u32,
}

#[event(name = "tests.sched.Probe")]
impl Probe {
    #[handler]
    fn first(&self) {
        SEEN.lock().unwrap().push(policy());
    }

    #[handler]
    fn second(&self) {
        SEEN.lock().unwrap().push(policy());
    }
}

#[test]
fn pool_threads_run_as_batch_work_and_callers_keep_their_policy() {
    assert_eq!(
        policy(),
        SCHED_OTHER,
        "the test thread starts as SCHED_OTHER"
    );
    for n in 0..20 {
        log!(Probe { n }).unwrap();
    }
    common::flush();
    let seen = SEEN.lock().unwrap();
    assert_eq!(seen.len(), 40);
    assert!(seen.iter().all(|&p| p == SCHED_BATCH), "{seen:?}");
    assert_eq!(policy(), SCHED_OTHER, "log! left the caller's policy alone");
}
