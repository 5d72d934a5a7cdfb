//! The store's real backends: a SQLite database (through sqlx, as the
//! outbox) and a Redis counter, both shared by every handler run, both
//! opened by `main` before the first `log!`.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context as _};
use eventlib::{Context, EventId};
use eventlib_sql::{sqlite, Relay, RelayOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use tokio::runtime::Handle;

use crate::{CartItemAdded, ProductViewed};

/// Connect, read and write timeouts: a Redis that is down must not stall a pool thread.
const REDIS_TIMEOUT: Duration = Duration::from_millis(250);
/// After a failed connection, fail fast for this long before trying again.
const REDIS_RETRY_AFTER: Duration = Duration::from_secs(1);
/// How often the relay looks for committed cart adds (SQLite has no notifications).
const RELAY_POLL: Duration = Duration::from_millis(100);

static DB: OnceLock<Db> = OnceLock::new();
static REDIS: OnceLock<RedisCounter> = OnceLock::new();

/// The database the page and the handlers write to.
pub fn db() -> &'static Db {
    DB.get()
        .expect("main opens the database before the first log!")
}

/// The Redis counter handlers bump.
pub fn redis() -> &'static RedisCounter {
    REDIS
        .get()
        .expect("main sets up Redis before the first log!")
}

/// A SQLite file: the store's tables and the outbox, over a pool of
/// connections on the service's runtime.
pub struct Db {
    path: PathBuf,
    pool: SqlitePool,
    /// The runtime the pool lives on: synchronous code waits on it.
    runtime: Handle,
}

impl Db {
    /// Creates a fresh database file in the temp directory; `DeleteOnDrop`
    /// removes it.
    pub fn open_temp(runtime: &Handle) -> anyhow::Result<&'static Db> {
        let path = std::env::temp_dir().join(format!("shoestore-{}.sqlite3", std::process::id()));
        remove_files(&path);
        Db::open(path, runtime)
    }

    /// Opens the database at `path`, creating it, the store's tables and the
    /// outbox table when missing. Several processes may share it (WAL, busy
    /// timeout).
    pub fn open(path: PathBuf, runtime: &Handle) -> anyhow::Result<&'static Db> {
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5));
        let pool = runtime
            .block_on(async {
                let pool = SqlitePoolOptions::new()
                    .max_connections(4)
                    .connect_with(options)
                    .await?;
                sqlx::raw_sql(
                    "CREATE TABLE IF NOT EXISTS product_views (
                         event_id TEXT PRIMARY KEY,
                         user_id INTEGER NOT NULL,
                         product_id INTEGER NOT NULL,
                         source TEXT NOT NULL,
                         price_cents INTEGER NOT NULL,
                         viewed_at_ms INTEGER NOT NULL
                     );
                     CREATE TABLE IF NOT EXISTS cart_items (
                         -- NULL for the rows of the server with event logging off.
                         event_id TEXT UNIQUE,
                         user_id INTEGER NOT NULL,
                         product_id INTEGER NOT NULL,
                         quantity INTEGER NOT NULL
                     );
                     CREATE TABLE IF NOT EXISTS stock_reservations (
                         event_id TEXT PRIMARY KEY,
                         product_id INTEGER NOT NULL,
                         quantity INTEGER NOT NULL
                     );",
                )
                .execute(&pool)
                .await?;
                // The outbox table: cart adds wait there for the relay.
                sqlite::migrate(&pool).await?;
                anyhow::Ok(pool)
            })
            .with_context(|| format!("opening {}", path.display()))?;
        let db = Db { path, pool, runtime: runtime.clone() };
        DB.set(db)
            .map_err(|_| anyhow!("the database is already open"))?;
        Ok(self::db())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The cart add: the cart row and its `CartItemAdded` commit together,
    /// or neither does. The event waits in the outbox table until the
    /// relay hands it to the dispatcher, under the id returned here.
    pub async fn add_to_cart(&self, item: CartItemAdded) -> Result<EventId, eventlib_sql::Error> {
        let row = cart_row(&item);
        let mut tx = self.pool.begin().await?;
        let id = sqlite::log(&mut tx, item).await?;
        row.bind(Some(id.to_string())).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The same cart add with event logging off: the cart row alone, in a
    /// transaction of its own.
    pub async fn add_to_cart_untracked(&self, item: &CartItemAdded) -> Result<(), sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        cart_row(item)
            .bind(None::<String>)
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    }

    /// Cart rows committed with their event, and without (logging off).
    pub fn cart_rows(&self) -> anyhow::Result<(u64, u64)> {
        let (tracked, untracked): (i64, i64) = self.runtime.block_on(
            sqlx::query_as("SELECT COUNT(event_id), COUNT(*) - COUNT(event_id) FROM cart_items")
                .fetch_one(&self.pool),
        )?;
        Ok((tracked as u64, untracked as u64))
    }

    /// The relay of this database's outbox, to run in the service.
    pub fn relay(&self) -> Relay {
        let options = RelayOptions { poll: RELAY_POLL, ..RelayOptions::default() };
        sqlite::relay(self.pool.clone(), options)
    }

    /// For synchronous handlers (on eventlib's threads, never the runtime's).
    pub fn insert_view(
        &self,
        ctx: &Context,
        view: &ProductViewed,
        price_cents: u64,
    ) -> anyhow::Result<()> {
        let viewed_at = ctx.emitted_at().duration_since(UNIX_EPOCH)?.as_millis() as i64;
        self.runtime.block_on(
            sqlx::query("INSERT INTO product_views VALUES (?, ?, ?, ?, ?, ?)")
                .bind(ctx.id().to_string())
                .bind(view.user_id as i64)
                .bind(view.product_id as i64)
                .bind(&view.source)
                .bind(price_cents as i64)
                .bind(viewed_at)
                .execute(&self.pool),
        )?;
        Ok(())
    }

    /// Keyed by the event id: a second delivery of the same cart add
    /// reserves nothing more.
    pub async fn reserve_stock(&self, ctx: &Context, item: &CartItemAdded) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO stock_reservations VALUES (?, ?, ?) ON CONFLICT (event_id) DO NOTHING",
        )
        .bind(ctx.id().to_string())
        .bind(item.product_id as i64)
        .bind(item.quantity)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The rows of `table` (from synchronous code).
    pub fn count(&self, table: &str) -> anyhow::Result<u64> {
        let count: i64 = self.runtime.block_on(
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
                .fetch_one(&self.pool),
        )?;
        Ok(count as u64)
    }

    /// Closes the connections and deletes the file.
    pub fn close(&self) {
        self.runtime.block_on(self.pool.close());
        remove_files(&self.path);
    }
}

/// The `INSERT` of a cart row, its event id to bind last.
fn cart_row(
    item: &CartItemAdded,
) -> sqlx::query::Query<'static, sqlx::Sqlite, sqlx::sqlite::SqliteArguments> {
    sqlx::query(
        "INSERT INTO cart_items (user_id, product_id, quantity, event_id) VALUES (?, ?, ?, ?)",
    )
    .bind(item.user_id as i64)
    .bind(item.product_id as i64)
    .bind(item.quantity)
}

/// Removes a SQLite database and its WAL files, if there.
fn remove_files(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.to_path_buf().into_os_string();
        file.push(suffix);
        let _ = std::fs::remove_file(file);
    }
}

/// Closes the database and deletes its file when dropped, so an early
/// return or a panic in `main` leaves nothing behind either.
pub struct DeleteOnDrop(pub &'static Db);

impl Drop for DeleteOnDrop {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// A counter in Redis over one shared connection, reconnecting when it is
/// lost, and failing fast (not stalling) while Redis is unreachable.
pub struct RedisCounter {
    url: String,
    state: Mutex<RedisState>,
}

#[derive(Default)]
struct RedisState {
    conn: Option<redis::Connection>,
    /// Set after a failed connection: when to try again, and why it failed.
    retry: Option<(Instant, String)>,
}

impl RedisCounter {
    pub fn install(url: String) -> &'static RedisCounter {
        REDIS.get_or_init(|| RedisCounter { url, state: Mutex::default() })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Adds one to `key`; returns the new value.
    pub fn incr(&self, key: &str) -> anyhow::Result<i64> {
        self.query(redis::cmd("INCR").arg(key))
    }

    /// The value of `key` (0 when absent).
    pub fn get(&self, key: &str) -> anyhow::Result<i64> {
        Ok(self
            .query::<Option<i64>>(redis::cmd("GET").arg(key))?
            .unwrap_or(0))
    }

    /// Sets `key` to 0.
    pub fn reset(&self, key: &str) -> anyhow::Result<()> {
        self.query(redis::cmd("SET").arg(key).arg(0))
    }

    fn query<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> anyhow::Result<T> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let conn = match state.conn.take() {
            Some(conn) => conn,
            None => self.connect(&mut state)?,
        };
        let conn = state.conn.insert(conn);
        cmd.query(conn).map_err(|err| {
            state.conn = None; // reconnect on the next call
            anyhow!("Redis at {}: {err}", self.url)
        })
    }

    fn connect(&self, state: &mut RedisState) -> anyhow::Result<redis::Connection> {
        if let Some((at, why)) = &state.retry {
            if Instant::now() < *at {
                bail!("Redis at {} unreachable: {why}", self.url);
            }
        }
        let connected = redis::Client::open(self.url.as_str()).and_then(|client| {
            let conn = client.get_connection_with_timeout(REDIS_TIMEOUT)?;
            conn.set_read_timeout(Some(REDIS_TIMEOUT))?;
            conn.set_write_timeout(Some(REDIS_TIMEOUT))?;
            Ok(conn)
        });
        connected.map_err(|err| {
            state.retry = Some((Instant::now() + REDIS_RETRY_AFTER, err.to_string()));
            anyhow!("Redis at {} unreachable: {err}", self.url)
        })
    }
}
