//! `Mode::Inline` for the whole process (development, Celery's eager
//! mode): `log!` returns after every handler has run in the caller;
//! failures go to the hook, not to the caller, unless asked to surface.

mod common;

use std::sync::Mutex;
use std::thread::ThreadId;

use eventlib::{event, log, Dispatcher, Mode};
use serde::{Deserialize, Serialize};

static RAN: Mutex<Vec<(&str, ThreadId)>> = Mutex::new(Vec::new());
static HOOK: Mutex<Vec<String>> = Mutex::new(Vec::new());

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Signup {
    fail: bool,
}

#[event(name = "eager.Signup")]
impl Signup {
    #[handler]
    fn first(&self) -> anyhow::Result<()> {
        RAN.lock()
            .unwrap()
            .push(("first", std::thread::current().id()));
        anyhow::ensure!(!self.fail, "asked to fail");
        Ok(())
    }

    #[handler]
    async fn second(&self) {
        common::woken_by_another_thread().await;
        RAN.lock()
            .unwrap()
            .push(("second", std::thread::current().id()));
    }
}

#[test]
fn inline_mode_runs_handlers_in_the_caller() {
    Dispatcher::builder()
        .mode(Mode::Inline)
        .error_hook(|failure| HOOK.lock().unwrap().push(failure.to_string()))
        .install()
        .unwrap();
    let me = std::thread::current().id();

    log!(Signup { fail: false }).unwrap();
    // No flush: both ran before log! returned, here, in order.
    assert_eq!(*RAN.lock().unwrap(), [("first", me), ("second", me)]);

    log!(Signup { fail: true }).expect("failures are not surfaced by default");
    assert_eq!(RAN.lock().unwrap().len(), 4);
    let hook = HOOK.lock().unwrap().clone();
    assert_eq!(hook.len(), 1, "{hook:?}");
    assert!(hook[0].contains("::first") && hook[0].contains("asked to fail"));

    let stats = eventlib::stats();
    let signup = stats.event("eager.Signup").unwrap();
    assert_eq!(
        (
            signup.emitted,
            signup.completed,
            signup.in_flight,
            signup.failed
        ),
        (2, 2, 0, 1)
    );
}
