//! Losses are seen by a person with no logger installed and no hook
//! configured: the default hook writes to standard error, once per kind of
//! failure and then a summary per second, not one line per event.
//!
//! The scenario runs in a child process (this same test binary) so that
//! its standard error can be read.

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use eventlib::{event, log, Dispatcher, Overflow};
use serde::{Deserialize, Serialize};

const CHILD: &str = "EVENTLIB_LOSS_NOTICES_CHILD";
const EVENTS: u64 = 100_000;

static RELEASE: AtomicBool = AtomicBool::new(false);

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Stuck {
    n: u64,
}

#[event(name = "notices.Stuck")]
impl Stuck {
    /// Stuck until the scenario releases it; the odd ones then fail.
    #[handler]
    fn wait(&self) -> anyhow::Result<()> {
        while !RELEASE.load(Ordering::Acquire) {
            std::thread::sleep(Duration::from_millis(1));
        }
        anyhow::ensure!(self.n.is_multiple_of(2), "odd {}", self.n);
        Ok(())
    }
}

/// In the child: a queue of 16 behind one stuck handler thread, a burst of
/// events (nearly all dropped), then the handler let go.
fn scenario() {
    Dispatcher::builder()
        .capacity(16)
        .threads(1)
        .overflow(Overflow::DropNewest)
        .install()
        .unwrap();
    for n in 0..EVENTS {
        log!(Stuck { n }).unwrap();
    }
    RELEASE.store(true, Ordering::Release);
    let report = eventlib::shutdown(Duration::from_secs(30));
    println!("DROPPED={}", report.dropped);
    println!("FAILED={}", report.failed);
    println!("CLEAN={}", report.is_clean());
}

#[test]
fn drops_and_failures_reach_stderr_without_a_logger_aggregated() {
    if std::env::var_os(CHILD).is_some() {
        scenario();
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "drops_and_failures_reach_stderr_without_a_logger_aggregated",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let value = |key: &str| -> u64 {
        stdout
            .lines()
            .find_map(|l| l.split(&format!("{key}=")).nth(1)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {key} in {stdout}"))
    };
    let (dropped, failed) = (value("DROPPED"), value("FAILED"));
    assert!(dropped > EVENTS - 100, "dropped {dropped}");
    assert!(failed > 0, "failed {failed}");
    assert!(stdout.contains("CLEAN=false"), "{stdout}");

    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("eventlib: "))
        .collect();
    // A few lines a second, not one per event.
    assert!(lines.len() < 20, "{} lines:\n{stderr}", lines.len());
    // The first drop in full, the rest summed up: together, every drop.
    let full = lines
        .iter()
        .filter(|l| l.starts_with("eventlib: event `notices.Stuck`") && l.contains("dropped: "))
        .count() as u64;
    let summed: u64 = lines
        .iter()
        .filter_map(|l| l.strip_prefix("eventlib: dropped ")?.split(' ').next())
        .map(|n| n.replace(',', "").parse::<u64>().unwrap())
        .sum();
    assert!(full >= 1, "{stderr}");
    assert_eq!(full + summed, dropped, "{stderr}");
    assert!(
        lines.iter().any(|l| l.contains("failed: odd")),
        "the first failure is told in full:\n{stderr}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("shutdown") && l.contains("not clean")),
        "{stderr}"
    );
}
