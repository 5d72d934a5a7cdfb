//! The transactional outbox scenarios (feature `outbox`, which needs
//! PostgreSQL's server binaries and a `redis-server`): each sub-process
//! makes a PostgreSQL cluster of its own with the server's defaults
//! (`fsync` and `synchronous_commit` on) in the system's temporary
//! directory, and a SQLite file there.
//!
//! - [`caller`]: what logging inside the transaction costs the caller: a
//!   business `INSERT` plus the outbox write in one transaction, against
//!   the same transaction with the business `INSERT` alone.
//! - [`relay`]: events per second from committed rows to entries Redis
//!   confirmed, against the direct Redis producer (`log!` until `flush()`).
//! - [`latency`]: from `COMMIT` to the first handler, with `LISTEN` /
//!   `NOTIFY` and with polling only, against `log!` right after `COMMIT`.
//!
//! The cost of the worker's once-per-event-id marker is a Redis
//! end-to-end scenario (`on_redis::consumer::marker_cost`).

pub(crate) mod caller;
mod cpu;
pub(crate) mod latency;
pub(crate) mod relay;

use std::path::PathBuf;
use std::time::Duration;

use eventlib_postgres_tests::Postgres;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

/// The business table of every scenario: an order row per transaction.
const ORDERS: &str = "CREATE TABLE IF NOT EXISTS orders (
    id BIGINT PRIMARY KEY,
    customer BIGINT NOT NULL,
    amount_cents BIGINT NOT NULL
)";

/// The scenario's runtime: sqlx and the relay run on it.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// A cluster with PostgreSQL's defaults, and a pool of `connections` to
/// it with the outbox table and the orders table made.
async fn postgres(connections: u32) -> (Postgres, PgPool) {
    let pg = Postgres::start_with(&[]);
    let pool = PgPoolOptions::new()
        .max_connections(connections)
        .connect(&pg.url())
        .await
        .expect("a connection to the scenario's PostgreSQL");
    eventlib_sql::postgres::migrate(&pool)
        .await
        .expect("the outbox table");
    sqlx::raw_sql(ORDERS)
        .execute(&pool)
        .await
        .expect("the orders table");
    (pg, pool)
}

/// The server's `synchronous_commit` and `fsync`, for the notes.
async fn postgres_settings(pool: &PgPool) -> String {
    let (sync, fsync): (String, String) =
        sqlx::query_as("SELECT current_setting('synchronous_commit'), current_setting('fsync')")
            .fetch_one(pool)
            .await
            .expect("the settings");
    format!("PostgreSQL synchronous_commit={sync}, fsync={fsync}")
}

/// A SQLite file in the system's temporary directory (removed on drop),
/// in WAL mode with `synchronous=FULL`: a commit is on disk when it returns.
struct SqliteFile {
    path: PathBuf,
    pool: SqlitePool,
}

impl SqliteFile {
    async fn open(label: &str) -> SqliteFile {
        let path = std::env::temp_dir().join(format!(
            "eventlib-bench-{label}-{}.sqlite3",
            std::process::id()
        ));
        remove(&path);
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .expect("the scenario's SQLite file");
        eventlib_sql::sqlite::migrate(&pool)
            .await
            .expect("the outbox table");
        sqlx::raw_sql(ORDERS)
            .execute(&pool)
            .await
            .expect("the orders table");
        SqliteFile { path, pool }
    }
}

impl SqliteFile {
    /// The connection's `journal_mode` and `synchronous`, for the notes.
    async fn settings(&self) -> String {
        let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&self.pool)
            .await
            .expect("journal_mode");
        let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&self.pool)
            .await
            .expect("synchronous");
        let synchronous = ["OFF", "NORMAL", "FULL", "EXTRA"]
            .get(synchronous as usize)
            .unwrap_or(&"?");
        format!("SQLite journal_mode={journal}, synchronous={synchronous}")
    }
}

impl Drop for SqliteFile {
    fn drop(&mut self) {
        remove(&self.path);
    }
}

fn remove(path: &std::path::Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.to_path_buf().into_os_string();
        file.push(suffix);
        let _ = std::fs::remove_file(file);
    }
}

/// The `p`th percentile of sorted `values`.
fn percentile(sorted: &[Duration], p: usize) -> Duration {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}
