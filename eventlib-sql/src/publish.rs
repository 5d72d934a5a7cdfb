//! A relay's stats on Redis, for the operator's tools: the hash
//! `<stream>:relays`, one field per relay (its name), whose value is the
//! compact JSON `{"backlog":n,"moved":n,"failed":n,"unsendable":n,
//! "relinked":n,"handled_nowhere":n,"standing_by_for":name|null,"at_ms":ms}`
//! (`backlog` is `null` before the first count). A running relay writes
//! it every [`EVERY`] and sets the key to expire [`KEEP`] later, so the
//! key vanishes once no relay writes; a relay stopped with
//! `RelayTask::stop` removes its field.

use std::sync::Mutex;
use std::time::Duration;

use crate::stats::{now_ms, RelayStats};

/// How often a running relay writes its stats.
pub(crate) const EVERY: Duration = Duration::from_secs(5);
/// How long the hash lives after the last write of any relay.
pub(crate) const KEEP: Duration = Duration::from_secs(15);
/// Connect, read and write timeouts: a Redis that is down must not hold
/// the stats task for long.
const TIMEOUT: Duration = Duration::from_secs(1);

/// The hash of the relays' stats of `stream`.
pub(crate) fn key(stream: &str) -> String {
    format!("{stream}:relays")
}

/// Where one relay writes its stats.
pub(crate) struct Publisher {
    url: String,
    key: String,
    field: String,
    /// Connected on the first write; dropped on an error and made again.
    conn: Mutex<Option<redis::Connection>>,
}

impl Publisher {
    pub(crate) fn new(url: String, stream: &str, field: String) -> Self {
        Publisher {
            url,
            key: key(stream),
            field,
            conn: Mutex::new(None),
        }
    }

    /// Writes `stats` (blocking, at most a few seconds).
    pub(crate) fn publish(&self, stats: &RelayStats) -> redis::RedisResult<()> {
        let value = serde_json::json!({
            "backlog": stats.backlog,
            "moved": stats.moved,
            "failed": stats.failed(),
            "unsendable": stats.unsendable,
            "relinked": stats.relinked,
            "handled_nowhere": stats.handled_nowhere,
            "standing_by_for": stats.standing_by_for,
            "at_ms": now_ms(),
        })
        .to_string();
        self.with_connection(|conn| {
            redis::pipe()
                .atomic()
                .hset(&self.key, &self.field, value)
                .ignore()
                .pexpire(&self.key, KEEP.as_millis() as i64)
                .ignore()
                .exec(conn)
        })
    }

    /// Removes this relay's field (blocking).
    pub(crate) fn withdraw(&self) -> redis::RedisResult<()> {
        self.with_connection(|conn| {
            redis::cmd("HDEL")
                .arg(&self.key)
                .arg(&self.field)
                .exec(conn)
        })
    }

    fn with_connection(
        &self,
        call: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<()>,
    ) -> redis::RedisResult<()> {
        let mut guard = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let conn = match guard.take() {
            Some(conn) => guard.insert(conn),
            None => {
                let conn =
                    redis::Client::open(self.url.as_str())?.get_connection_with_timeout(TIMEOUT)?;
                conn.set_read_timeout(Some(TIMEOUT))?;
                conn.set_write_timeout(Some(TIMEOUT))?;
                guard.insert(conn)
            }
        };
        let result = call(conn);
        if result.is_err() {
            *guard = None;
        }
        result
    }
}

/// `<hostname>:<pid>`, the name of a relay unless it is given one.
pub(crate) fn default_name() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "relay".to_owned());
    format!("{host}:{}", std::process::id())
}
