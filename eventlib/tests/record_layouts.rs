//! Events of every size and alignment are queued whole, handled with the
//! value logged, and dropped once: a record is written in two parts for
//! most event types (its header, then the event), and as one value for
//! those aligned beyond a word.

use std::sync::atomic::{AtomicUsize, Ordering};

use eventlib::{event, handler, log, Record};
use serde::{Deserialize, Serialize};

const EACH: usize = 200;

static RUNS: AtomicUsize = AtomicUsize::new(0);
static WILDCARD: AtomicUsize = AtomicUsize::new(0);
static DROPS: AtomicUsize = AtomicUsize::new(0);

/// A value that counts its drops.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Tracked(u64);

impl Clone for Tracked {
    fn clone(&self) -> Self {
        Tracked(self.0)
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        DROPS.fetch_add(1, Ordering::SeqCst);
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Unit;

#[event(name = "layout.Unit")]
impl Unit {
    #[handler]
    fn check(&self) {
        RUNS.fetch_add(1, Ordering::SeqCst);
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Byte {
    b: u8,
}

#[event(name = "layout.Byte")]
impl Byte {
    #[handler]
    fn check(&self) {
        assert_eq!(self.b, 0xA5);
        RUNS.fetch_add(1, Ordering::SeqCst);
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Small {
    a: u32,
    b: u16,
}

#[event(name = "layout.Small")]
impl Small {
    #[handler]
    fn check(&self) {
        assert_eq!(self.a, u32::from(self.b) * 3);
        RUNS.fetch_add(1, Ordering::SeqCst);
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Words {
    a: u64,
    b: u64,
    c: u64,
}

#[event(name = "layout.Words")]
impl Words {
    #[handler]
    fn check(&self) {
        assert_eq!((self.b, self.c), (self.a + 1, self.a + 2));
        RUNS.fetch_add(1, Ordering::SeqCst);
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Wide {
    n: u128,
}

#[event(name = "layout.Wide")]
impl Wide {
    #[handler]
    fn check(&self) {
        assert_eq!(self.n % 3, 0);
        RUNS.fetch_add(1, Ordering::SeqCst);
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[repr(align(64))]
struct Aligned {
    n: u64,
}

#[event(name = "layout.Aligned")]
impl Aligned {
    #[handler]
    fn check(&self) {
        assert_eq!(self as *const Self as usize % 64, 0, "aligned as declared");
        assert_eq!(self.n % 7, 0);
        RUNS.fetch_add(1, Ordering::SeqCst);
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Owned {
    name: String,
    values: Vec<u64>,
    tracked: Tracked,
}

#[event(name = "layout.Owned")]
impl Owned {
    #[handler]
    fn check(&self) {
        assert_eq!(self.name, format!("owned {}", self.tracked.0));
        assert_eq!(self.values.len() as u64, self.tracked.0 % 5);
        RUNS.fetch_add(1, Ordering::SeqCst);
    }
}

#[handler("layout.*")]
fn every(record: &Record) {
    // The data as JSON is read from the typed value.
    let data = record.data();
    match record.name() {
        "layout.Unit" => assert!(data.is_null()),
        "layout.Byte" => assert_eq!(data["b"], 0xA5),
        "layout.Words" => assert_eq!(data["b"].as_u64(), data["a"].as_u64().map(|a| a + 1)),
        "layout.Owned" => assert!(data["name"].as_str().unwrap().starts_with("owned ")),
        _ => assert!(data.is_object()),
    }
    WILDCARD.fetch_add(1, Ordering::SeqCst);
}

#[test]
fn events_of_every_layout_are_handled_whole_and_dropped_once() {
    for i in 0..EACH as u64 {
        log!(Unit).unwrap();
        log!(Byte { b: 0xA5 }).unwrap();
        let b = (i % 1000) as u16;
        log!(Small {
            a: u32::from(b) * 3,
            b
        })
        .unwrap();
        log!(Words {
            a: i,
            b: i + 1,
            c: i + 2
        })
        .unwrap();
        // Within JSON's integers: the wildcard handler reads it as JSON.
        log!(Wide {
            n: u128::from(i) * 3
        })
        .unwrap();
        log!(Aligned { n: i * 7 }).unwrap();
        log!(Owned {
            name: format!("owned {i}"),
            values: (0..i % 5).collect(),
            tracked: Tracked(i),
        })
        .unwrap();
    }
    eventlib::flush();
    let types = 7;
    assert_eq!(RUNS.load(Ordering::SeqCst), types * EACH);
    assert_eq!(WILDCARD.load(Ordering::SeqCst), types * EACH);
    for handler in eventlib::stats().handlers {
        assert_eq!((handler.failed, handler.panicked), (0, 0), "{handler:?}");
    }
    // Every record goes once its handlers are done (the pool thread that
    // ran the last one drops it, right after counting it): each `Tracked`
    // is dropped once, the one the record held (none was cloned).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while DROPS.load(Ordering::SeqCst) < EACH && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert_eq!(DROPS.load(Ordering::SeqCst), EACH);
}
