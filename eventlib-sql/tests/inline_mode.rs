//! A relay in a program whose dispatcher runs handlers inline: the relay
//! hands events over on a thread that may block, so their async handlers
//! run there too, on a multi-thread and on a current-thread runtime.

mod support;

use std::sync::Mutex;
use std::time::Duration;

use eventlib::event;
use eventlib_sql::{sqlite, RelayOptions};
use serde::{Deserialize, Serialize};
use sqlx::sqlite::SqliteConnectOptions;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Shipped {
    parcel: u64,
}

static SHIPPED: Mutex<Vec<u64>> = Mutex::new(Vec::new());

#[event(name = "inline.Shipped")]
impl Shipped {
    /// Awaits the runtime's timer, as a handler calling a service would.
    #[eventlib::handler]
    async fn notify(&self) {
        tokio::time::sleep(Duration::from_millis(2)).await;
        SHIPPED.lock().unwrap().push(self.parcel);
    }
}

fn inline_mode() {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        eventlib::Dispatcher::builder()
            .mode(eventlib::Mode::Inline)
            .install()
            .unwrap();
    });
}

/// Commits parcels `parcels` to a fresh outbox and drains it.
async fn relay_in_inline_mode(test: &str, parcels: std::ops::Range<u64>) {
    inline_mode();
    let path = std::env::temp_dir().join(format!("eventlib-sql-{test}-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let pool = support::migrated_sqlite(SqliteConnectOptions::new().filename(&path), 4).await;
    let mut tx = pool.begin().await.unwrap();
    for parcel in parcels.clone() {
        sqlite::log(&mut tx, Shipped { parcel }).await.unwrap();
    }
    tx.commit().await.unwrap();
    let relay = sqlite::relay(pool.clone(), RelayOptions::default());
    let moved = tokio::time::timeout(Duration::from_secs(10), relay.drain())
        .await
        .expect("the drain returns")
        .unwrap_or_else(|err| panic!("{err}: {}", relay.stats()));
    assert_eq!(moved, parcels.end - parcels.start);
    let shipped = SHIPPED.lock().unwrap().clone();
    let mut ran: Vec<u64> = shipped
        .into_iter()
        .filter(|p| parcels.contains(p))
        .collect();
    ran.sort_unstable();
    assert_eq!(
        ran,
        parcels.collect::<Vec<_>>(),
        "each async handler ran once"
    );
    pool.close().await;
    let _ = std::fs::remove_file(&path);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_in_inline_mode_runs_async_handlers_on_a_multi_thread_runtime() {
    relay_in_inline_mode("inline-multi", 0..5).await;
}

#[tokio::test]
async fn a_relay_in_inline_mode_runs_async_handlers_on_a_current_thread_runtime() {
    relay_in_inline_mode("inline-current", 100..105).await;
}
