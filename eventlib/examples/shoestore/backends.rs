//! The store's real backends: a SQLite database and a Redis counter, both
//! shared by every handler run, both opened by `main` before the first `log!`.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context as _};
use eventlib::Context;
use rusqlite::{params, Connection};

use crate::{CartItemAdded, ProductViewed};

/// Connect, read and write timeouts: a Redis that is down must not stall a pool thread.
const REDIS_TIMEOUT: Duration = Duration::from_millis(250);
/// After a failed connection, fail fast for this long before trying again.
const REDIS_RETRY_AFTER: Duration = Duration::from_secs(1);

static DB: OnceLock<Db> = OnceLock::new();
static REDIS: OnceLock<RedisCounter> = OnceLock::new();

/// The database handlers write to.
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

/// A SQLite file in the temp directory, one connection behind a mutex.
pub struct Db {
    path: PathBuf,
    conn: Mutex<Option<Connection>>,
}

impl Db {
    /// Creates a fresh database file with the store's two tables, in the
    /// temp directory; `DeleteOnDrop` removes it.
    pub fn open_temp() -> anyhow::Result<&'static Db> {
        let path = std::env::temp_dir().join(format!("shoestore-{}.sqlite3", std::process::id()));
        remove_files(&path);
        Db::open(path)
    }

    /// Opens the database at `path`, creating it and the store's two tables
    /// when missing. Several processes may share it (WAL, busy timeout).
    pub fn open(path: PathBuf) -> anyhow::Result<&'static Db> {
        let conn =
            Connection::open(&path).with_context(|| format!("opening {}", path.display()))?;
        conn.execute_batch(
            "PRAGMA busy_timeout = 5000;
             PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;
             CREATE TABLE IF NOT EXISTS product_views (
                 event_id TEXT PRIMARY KEY,
                 user_id INTEGER NOT NULL,
                 product_id INTEGER NOT NULL,
                 source TEXT NOT NULL,
                 price_cents INTEGER NOT NULL,
                 viewed_at_ms INTEGER NOT NULL
             );
             CREATE TABLE IF NOT EXISTS cart_items (
                 user_id INTEGER NOT NULL,
                 product_id INTEGER NOT NULL,
                 quantity INTEGER NOT NULL
             );",
        )?;
        let db = Db { path, conn: Mutex::new(Some(conn)) };
        DB.set(db)
            .map_err(|_| anyhow!("the database is already open"))?;
        Ok(self::db())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn conn(&self) -> anyhow::Result<MutexGuard<'_, Option<Connection>>> {
        // A panic elsewhere never leaves the connection half-used: recover the guard.
        let guard = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none() {
            bail!("the database is closed");
        }
        Ok(guard)
    }

    pub fn insert_view(
        &self,
        ctx: &Context,
        view: &ProductViewed,
        price_cents: u64,
    ) -> anyhow::Result<()> {
        let viewed_at = ctx.emitted_at().duration_since(UNIX_EPOCH)?.as_millis() as i64;
        let guard = self.conn()?;
        let conn = guard.as_ref().context("the database is closed")?;
        conn.execute(
            "INSERT INTO product_views VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                ctx.id().to_string(),
                view.user_id,
                view.product_id,
                view.source,
                price_cents,
                viewed_at
            ],
        )?;
        Ok(())
    }

    pub fn insert_cart_item(&self, item: &CartItemAdded) -> anyhow::Result<()> {
        let guard = self.conn()?;
        let conn = guard.as_ref().context("the database is closed")?;
        conn.execute(
            "INSERT INTO cart_items VALUES (?1, ?2, ?3)",
            params![item.user_id, item.product_id, item.quantity],
        )?;
        Ok(())
    }

    pub fn count(&self, table: &str) -> anyhow::Result<u64> {
        let guard = self.conn()?;
        let conn = guard.as_ref().context("the database is closed")?;
        Ok(
            conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |row| {
                row.get(0)
            })?,
        )
    }

    /// Closes the connection and deletes the file.
    pub fn close(&self) -> anyhow::Result<()> {
        if let Some(conn) = self.conn.lock().unwrap_or_else(|e| e.into_inner()).take() {
            conn.close().map_err(|(_, err)| err)?;
        }
        remove_files(&self.path);
        Ok(())
    }
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
        if let Err(err) = self.0.close() {
            eprintln!("closing {}: {err:#}", self.0.path().display());
        }
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
