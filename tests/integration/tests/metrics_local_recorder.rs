//! With the `metrics` feature, a thread-local recorder (`metrics::
//! with_local_recorder`, as tests of a service use) sees the counts made
//! on its thread while it is in place, and the global recorder does not,
//! even once the pool's threads keep the handles of the global recorder's
//! series for every thread; and one put in place by an async handler, on
//! a pool thread, is never the recorder whose handles are kept.

use eventlib::{event, log};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Signup {
    plan: u32,
}

#[event(name = "tests.local_recorder.Signup")]
impl Signup {
    #[handler]
    fn welcome(&self) {}
}

/// The value of `eventlib_events_emitted_total` for the event in a render,
/// 0 when the series is not there.
fn emitted(handle: &PrometheusHandle) -> u64 {
    let series = r#"eventlib_events_emitted_total{event="tests.local_recorder.Signup"} "#;
    handle
        .render()
        .lines()
        .find_map(|line| line.strip_prefix(series))
        .map_or(0, |value| value.parse().unwrap())
}

#[test]
fn a_thread_local_recorder_gets_its_threads_counts_and_the_global_one_does_not() {
    let global = PrometheusBuilder::new().install_recorder().unwrap();

    // Before the pool kept any handle, and after: the pool's threads
    // complete these events and keep the global recorder's handles.
    for plan in 0..3 {
        log!(Signup { plan }).unwrap();
        eventlib::flush();
    }
    assert_eq!(emitted(&global), 3);

    let local = PrometheusBuilder::new().build_recorder();
    let local_handle = local.handle();
    metrics::with_local_recorder(&local, || {
        for plan in 0..5 {
            log!(Signup { plan }).unwrap();
        }
    });
    eventlib::flush();
    assert_eq!(emitted(&local_handle), 5, "{}", local_handle.render());
    assert_eq!(emitted(&global), 3, "{}", global.render());

    // The global recorder's kept handles serve this thread again.
    log!(Signup { plan: 9 }).unwrap();
    eventlib::flush();
    assert_eq!(emitted(&global), 4, "{}", global.render());
    assert_eq!(emitted(&local_handle), 5);
}

/// An event without handlers: `log!` counts it emitted and completed at
/// once, in its caller.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Bare {
    n: u32,
}

#[event(name = "tests.local_recorder.Bare")]
impl Bare {}

/// Runs on the pool: each poll is user code, so a thread-local recorder
/// it puts in place gets what is counted under it, however many come and
/// go at the same address.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Audit {
    rounds: u32,
}

#[event(name = "tests.local_recorder.Audit")]
impl Audit {
    #[handler]
    async fn recount(&self) -> anyhow::Result<()> {
        for n in 0..self.rounds {
            let local = PrometheusBuilder::new().build_recorder();
            let handle = local.handle();
            metrics::with_local_recorder(&local, || log!(Bare { n }))?;
            let completed =
                r#"eventlib_events_completed_total{event="tests.local_recorder.Bare"} 1"#;
            anyhow::ensure!(
                handle.render().contains(completed),
                "round {n}: the local recorder missed the completion:\n{}",
                handle.render()
            );
        }
        Ok(())
    }
}

#[test]
fn a_thread_local_recorder_inside_an_async_handler_gets_its_counts() {
    log!(Audit { rounds: 4 }).unwrap();
    eventlib::flush();
    let audit = eventlib::stats();
    let audit = audit.event("tests.local_recorder.Audit").unwrap();
    assert_eq!(audit.handled, 1, "{}", eventlib::stats());
}
