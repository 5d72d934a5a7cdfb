//! Test scopes never start the global dispatcher: a binary can open an
//! inline scope and a capture, log through them, close them, and then
//! install its own configuration, which the next `log!` uses.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use eventlib::{event, log, testing, Dispatcher, Mode};
use serde::{Deserialize, Serialize};

static HANDLED: AtomicU64 = AtomicU64::new(0);
static HOOKED: Mutex<Vec<String>> = Mutex::new(Vec::new());

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Order {
    fail: bool,
}

#[event(name = "scopes.Order")]
impl Order {
    #[handler]
    fn handle(&self) -> anyhow::Result<()> {
        HANDLED.fetch_add(1, Ordering::SeqCst);
        anyhow::ensure!(!self.fail, "refused");
        Ok(())
    }
}

#[test]
fn inline_and_capture_scopes_then_install() {
    {
        let _inline = testing::inline();
        log!(Order { fail: false }).unwrap();
        let err = log!(Order { fail: true }).unwrap_err();
        assert!(
            matches!(err, eventlib::Error::Handlers(ref f) if f.len() == 1),
            "{err}"
        );
    }
    assert_eq!(HANDLED.load(Ordering::SeqCst), 2);
    {
        let cap = testing::capture();
        log!(Order { fail: false }).unwrap();
        assert_eq!(cap.events::<Order>(), vec![Order { fail: false }]);
    }
    assert_eq!(
        HANDLED.load(Ordering::SeqCst),
        2,
        "captured events run no handler"
    );

    // No dispatcher was started by the scopes: this configuration is the one
    // in place, and its hook (not the default one) sees the next failure.
    Dispatcher::builder()
        .mode(Mode::Inline)
        .error_hook(|failure| HOOKED.lock().unwrap().push(failure.to_string()))
        .install()
        .expect("the scopes must not have started the global dispatcher");
    log!(Order { fail: true }).unwrap();
    assert_eq!(
        HANDLED.load(Ordering::SeqCst),
        3,
        "inline mode ran it before log! returned"
    );
    let hooked = HOOKED.lock().unwrap();
    assert_eq!(hooked.len(), 1, "{hooked:?}");
    assert!(hooked[0].contains("refused"), "{hooked:?}");
}
