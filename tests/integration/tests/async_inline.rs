//! Inline scopes in async tests: on a current-thread and a multi-thread
//! tokio runtime and on smol, async handlers that await the runtime's own
//! timers run to completion and their failures come back; a blocking
//! inline `log!` inside a tokio runtime fails at once instead of hanging.

use std::sync::Mutex;
use std::time::Duration;

use eventlib::{event, log, testing, Error};
use serde::{Deserialize, Serialize};

/// The bound on every test here: reached only if a scope deadlocks.
const HANG: Duration = Duration::from_secs(20);

/// The emails the async handler finished with (tests run in parallel).
static SLEPT: Mutex<Vec<String>> = Mutex::new(Vec::new());
/// The emails the sync handler saw (tests run in parallel).
static SYNC_RAN: Mutex<Vec<String>> = Mutex::new(Vec::new());

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Signup {
    email: String,
}

#[event(name = "asyncinline.Signup")]
impl Signup {
    #[handler]
    fn count(&self) {
        SYNC_RAN.lock().unwrap().push(self.email.clone());
    }

    /// Awaits tokio's timer: needs the test's runtime to drive it.
    #[handler]
    async fn welcome(&self) -> anyhow::Result<()> {
        tokio::time::sleep(Duration::from_millis(20)).await;
        SLEPT.lock().unwrap().push(self.email.clone());
        anyhow::ensure!(self.email.contains('@'), "no @ in {}", self.email);
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Tick {
    n: u32,
}

#[event(name = "asyncinline.Tick")]
impl Tick {
    /// Awaits smol's timer (async-io), which works under any executor.
    #[handler]
    async fn wait(&self) -> anyhow::Result<()> {
        smol::Timer::after(Duration::from_millis(20)).await;
        anyhow::ensure!(self.n != 13, "unlucky");
        Ok(())
    }
}

async fn scenario(tag: &str) {
    let scope = testing::inline_async();
    scope
        .instrument(async {
            log!(Signup {
                email: format!("{tag}@b.c")
            })
            .unwrap();
            // Across an await point, and across threads on a multi-thread
            // runtime: the scope follows the future.
            tokio::task::yield_now().await;
            log!(Signup {
                email: format!("{tag}-nobody")
            })
            .unwrap();
        })
        .await;
    let err = scope.finish().await.unwrap_err();
    let Error::Handlers(failures) = &err else {
        panic!("{err}")
    };
    assert_eq!(failures.len(), 1, "{err}");
    assert!(
        err.to_string().contains(&format!("no @ in {tag}-nobody")),
        "{err}"
    );
    let slept = SLEPT.lock().unwrap();
    assert!(slept.contains(&format!("{tag}@b.c")), "{slept:?}");
    assert!(slept.contains(&format!("{tag}-nobody")), "{slept:?}");
}

#[tokio::test(flavor = "current_thread")]
async fn inline_async_on_a_current_thread_runtime() {
    tokio::time::timeout(HANG, scenario("current"))
        .await
        .expect("no hang");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inline_async_on_a_multi_thread_runtime() {
    tokio::time::timeout(HANG, scenario("multi"))
        .await
        .expect("no hang");
}

#[test]
fn inline_async_on_smol() {
    smol::block_on(async {
        let scope = testing::inline_async();
        let result = scope
            .run(async {
                log!(Tick { n: 1 }).unwrap();
                log!(Tick { n: 13 }).unwrap();
            })
            .await;
        let err = result.unwrap_err();
        assert!(err.to_string().contains("unlucky"), "{err}");
    });
}

#[tokio::test(flavor = "current_thread")]
async fn a_blocking_inline_log_in_a_runtime_fails_at_once() {
    let _inline = testing::inline();
    let err = log!(Signup {
        email: "refused@b.c".into()
    })
    .unwrap_err();
    assert!(matches!(err, Error::InlineInAsync { .. }), "{err}");
    assert!(err.to_string().contains("inline_async"), "{err}");
    let ran = SYNC_RAN.lock().unwrap();
    assert!(
        !ran.iter().any(|e| e == "refused@b.c"),
        "nothing ran: {ran:?}"
    );
}

/// A `#[tokio::test]` asserts both that the event was logged (with its
/// data) and what its handlers did, from one scope.
#[tokio::test]
async fn an_async_scope_shows_what_was_logged_and_what_the_handlers_did() {
    let scope = testing::inline_async();
    scope
        .instrument(async {
            log!(Signup {
                email: "both@shop".into()
            })
            .unwrap();
        })
        .await;
    assert_eq!(scope.names(), ["asyncinline.Signup"]);
    assert_eq!(scope.events::<Signup>()[0].email, "both@shop");
    assert!(SYNC_RAN.lock().unwrap().contains(&"both@shop".to_owned()));
    tokio::time::timeout(HANG, scope.finish())
        .await
        .expect("finish hung")
        .unwrap();
    assert!(SLEPT.lock().unwrap().contains(&"both@shop".to_owned()));
    assert_eq!(scope.len(), 1);
}

#[test]
fn a_sync_inline_scope_shows_what_was_logged() {
    let scope = testing::inline();
    let err = log!(Tick { n: 13 }).unwrap_err();
    assert!(err.to_string().contains("unlucky"), "{err}");
    log!(Tick { n: 1 }).unwrap();
    let ticks: Vec<u32> = scope.events::<Tick>().iter().map(|t| t.n).collect();
    assert_eq!(ticks, [13, 1]);
}
