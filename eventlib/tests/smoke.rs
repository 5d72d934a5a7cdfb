use eventlib::{event, handler, log, Record};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicUsize, Ordering};

static A: AtomicUsize = AtomicUsize::new(0);
static B: AtomicUsize = AtomicUsize::new(0);
static W: AtomicUsize = AtomicUsize::new(0);

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Viewed {
    id: u64,
}

#[event]
impl Viewed {
    #[handler]
    fn a(&self, ctx: &eventlib::Context) {
        assert_eq!(ctx.name(), "smoke.Viewed");
        A.fetch_add(1, Ordering::SeqCst);
    }
    #[handler]
    async fn b(&self) -> anyhow::Result<()> {
        B.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

#[handler("smoke.*")]
fn w(r: &Record) {
    assert!(r.data()["id"].is_u64());
    W.fetch_add(1, Ordering::SeqCst);
}

#[test]
fn smoke() {
    for i in 0..100 {
        log!(Viewed { id: i }).unwrap();
    }
    log!("smoke.Viewed", { "id": 5 }).unwrap();
    eventlib::flush();
    assert_eq!(A.load(Ordering::SeqCst), 101);
    assert_eq!(B.load(Ordering::SeqCst), 101);
    assert_eq!(W.load(Ordering::SeqCst), 101);
    println!("{}", eventlib::registry());
    println!("{}", eventlib::stats());
}
