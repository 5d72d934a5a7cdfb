//! Five `#[tokio::test]`s in one binary, each on its own runtime, each
//! logging an event whose async handler needs that runtime, each checking
//! that its own handler ran. A sixth test runs the five as a child process
//! ten times with `--test-threads=1` and ten times with `--test-threads=4`,
//! each run under a time limit, so that a hang fails instead of blocking.

use std::collections::BTreeSet;
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use eventlib::{event, log};
use serde::{Deserialize, Serialize};

static RAN: Mutex<BTreeSet<u32>> = Mutex::new(BTreeSet::new());

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Welcome {
    test: u32,
}

#[event(name = "each.Welcome")]
impl Welcome {
    #[handler]
    async fn send(&self) -> anyhow::Result<()> {
        tokio::time::sleep(Duration::from_millis(3)).await;
        RAN.lock().unwrap().insert(self.test);
        Ok(())
    }
}

async fn logs_and_sees_its_handler_run(test: u32) {
    log!(Welcome { test }).unwrap();
    // Bounded so that a handler that never runs fails the test instead of hanging it.
    let report = tokio::time::timeout(Duration::from_secs(60), eventlib::flush_async())
        .await
        .unwrap_or_else(|_| panic!("test {test}: flush_async never returned"));
    assert!(report.is_clean(), "{report}");
    assert!(
        RAN.lock().unwrap().contains(&test),
        "test {test}: its handler did not run"
    );
}

#[tokio::test]
async fn each_runtime_1() {
    logs_and_sees_its_handler_run(1).await;
}

#[tokio::test]
async fn each_runtime_2() {
    logs_and_sees_its_handler_run(2).await;
}

#[tokio::test]
async fn each_runtime_3() {
    logs_and_sees_its_handler_run(3).await;
}

#[tokio::test]
async fn each_runtime_4() {
    logs_and_sees_its_handler_run(4).await;
}

#[tokio::test]
async fn each_runtime_5() {
    logs_and_sees_its_handler_run(5).await;
}

/// A limit no correct run comes near, even on a loaded machine: it only
/// turns a hang into a failure.
const LIMIT: Duration = Duration::from_secs(120);

#[test]
fn the_five_pass_ten_times_in_a_row_with_one_and_four_test_threads() {
    let binary = std::env::current_exe().unwrap();
    for threads in ["1", "4"] {
        for run in 1..=10 {
            let mut child = Command::new(&binary)
                .args(["each_runtime_", "--test-threads", threads])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            let started = Instant::now();
            let status = loop {
                if let Some(status) = child.try_wait().unwrap() {
                    break status;
                }
                if started.elapsed() > LIMIT {
                    child.kill().unwrap();
                    child.wait().unwrap();
                    panic!("--test-threads={threads}, run {run}: still running after {LIMIT:?}");
                }
                std::thread::sleep(Duration::from_millis(20));
            };
            let output = child.wait_with_output().unwrap();
            let stdout = String::from_utf8_lossy(&output.stdout);
            assert!(
                status.success() && stdout.contains("5 passed"),
                "--test-threads={threads}, run {run}: {status}\n{stdout}\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
}
