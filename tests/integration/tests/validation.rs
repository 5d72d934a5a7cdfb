//! `#[validate]` runs in the caller: an invalid event is returned as
//! `Error::Validation` and goes nowhere, not counted, not handled, not
//! captured.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};

use eventlib::{event, log, testing, Error, ValidationError};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Payment {
    amount_cents: i64,
    currency: String,
}

static PAYMENTS_HANDLED: AtomicUsize = AtomicUsize::new(0);

#[event(name = "val.Payment")]
impl Payment {
    #[validate]
    fn check(&self) -> Result<(), ValidationError> {
        if self.amount_cents <= 0 {
            return Err(ValidationError::new("must be positive").on_field("amount_cents"));
        }
        if self.currency.len() != 3 {
            return Err(ValidationError::new("a currency is three letters"));
        }
        Ok(())
    }

    #[handler]
    fn count(&self) {
        PAYMENTS_HANDLED.fetch_add(1, Ordering::SeqCst);
    }

    #[handler]
    async fn count_too(&self) {
        PAYMENTS_HANDLED.fetch_add(1, Ordering::SeqCst);
    }
}

fn payment(amount_cents: i64, currency: &str) -> Payment {
    Payment {
        amount_cents,
        currency: currency.into(),
    }
}

fn counts() -> (u64, u64, u64, u64) {
    let stats = eventlib::stats();
    let e = stats.event("val.Payment").unwrap();
    (e.emitted, e.completed, e.dropped, e.handled)
}

#[test]
fn an_invalid_event_is_refused_and_goes_nowhere() {
    let err = log!(payment(-5, "EUR")).unwrap_err();
    match &err {
        Error::Validation { event, error } => {
            assert_eq!(*event, "val.Payment");
            assert_eq!(error.field(), Some("amount_cents"));
            assert_eq!(error.message(), "must be positive");
        }
        other => panic!("expected Error::Validation, got {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "event `val.Payment` failed validation: amount_cents: must be positive"
    );
    let err = log!(payment(5, "EURO")).unwrap_err();
    assert!(
        matches!(&err, Error::Validation { error, .. } if error.field().is_none()),
        "{err:?}"
    );
    common::flush();
    assert_eq!(counts(), (0, 0, 0, 0));
    assert_eq!(PAYMENTS_HANDLED.load(Ordering::SeqCst), 0);

    // A valid one goes through, as a control.
    log!(payment(5, "EUR")).unwrap();
    common::flush();
    assert_eq!(counts(), (1, 1, 0, 2));
    assert_eq!(PAYMENTS_HANDLED.load(Ordering::SeqCst), 2);

    // Not captured, and not run inline either.
    {
        let cap = testing::capture();
        assert!(matches!(
            log!(payment(0, "EUR")),
            Err(Error::Validation { .. })
        ));
        assert!(cap.is_empty());
    }
    {
        let _inline = testing::inline();
        assert!(matches!(
            log!(payment(0, "EUR")),
            Err(Error::Validation { .. })
        ));
    }
    assert_eq!(counts(), (1, 1, 0, 2));
    assert_eq!(PAYMENTS_HANDLED.load(Ordering::SeqCst), 2);
}
