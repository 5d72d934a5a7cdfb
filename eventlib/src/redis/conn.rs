//! Connections: opening them with explicit timeouts, dropping them on I/O
//! errors, reconnecting with backoff, and reading replies.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use redis::{Client, Connection, RedisError, RedisResult, Value};

use crate::error::Error;

/// How long opening a connection (TCP, TLS, AUTH) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a write may block.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// A Redis server as given by its URL.
#[derive(Clone)]
pub(crate) struct Endpoint {
    client: Client,
    /// The URL with any password hidden, for messages.
    pub(crate) shown: String,
}

impl Endpoint {
    pub(crate) fn new(url: &str) -> Result<Self, Error> {
        let shown = hide_password(url);
        if url.starts_with("rediss://") && !cfg!(feature = "redis-tls") {
            return Err(Error::Transport(format!(
                "`{shown}` asks for TLS: build eventlib with the `redis-tls` feature"
            )));
        }
        let client = Client::open(url)
            .map_err(|err| Error::Transport(format!("invalid Redis URL `{shown}`: {err}")))?;
        Ok(Endpoint { client, shown })
    }

    /// A new connection whose replies may take up to `read_timeout`.
    pub(crate) fn connect(&self, read_timeout: Duration) -> RedisResult<Connection> {
        let conn = self.client.get_connection_with_timeout(CONNECT_TIMEOUT)?;
        // The sync client waits for ever unless told otherwise.
        conn.set_read_timeout(Some(read_timeout))?;
        conn.set_write_timeout(Some(WRITE_TIMEOUT))?;
        Ok(conn)
    }
}

fn hide_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or("", |(user, _)| user);
            format!("{scheme}://{user}:***@{host}")
        }
        None => url.to_owned(),
    }
}

/// One connection, opened on demand and dropped after an I/O error so the
/// next use reconnects.
pub(crate) struct Link {
    endpoint: Endpoint,
    read_timeout: Duration,
    conn: Option<Connection>,
    connected_once: bool,
}

impl Link {
    pub(crate) fn new(endpoint: Endpoint, read_timeout: Duration) -> Self {
        Link {
            endpoint,
            read_timeout,
            conn: None,
            connected_once: false,
        }
    }

    /// Runs `f` on the connection, opening it first if needed; counts a
    /// reconnection in `reconnects`.
    pub(crate) fn run<T>(
        &mut self,
        reconnects: &AtomicU64,
        f: impl FnOnce(&mut Connection) -> RedisResult<T>,
    ) -> RedisResult<T> {
        if self.conn.is_none() {
            let conn = self.endpoint.connect(self.read_timeout)?;
            if self.connected_once {
                reconnects.fetch_add(1, Ordering::Relaxed);
            }
            self.connected_once = true;
            self.conn = Some(conn);
        }
        let conn = self.conn.as_mut().expect("connected above");
        let result = f(conn);
        if let Err(err) = &result {
            if is_connection_error(err) || !redis::ConnectionLike::is_open(conn) {
                self.conn = None;
            }
        }
        result
    }

    pub(crate) fn shown(&self) -> &str {
        &self.endpoint.shown
    }
}

/// An error after which the connection cannot be trusted (a reply may be
/// half read).
pub(crate) fn is_connection_error(err: &RedisError) -> bool {
    err.is_io_error()
        || err.is_timeout()
        || err.is_connection_dropped()
        || err.is_connection_refusal()
        || err.is_unrecoverable_error()
}

/// Exponential backoff with jitter.
pub(crate) struct Backoff {
    base: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub(crate) fn new(base: Duration, max: Duration) -> Self {
        Backoff {
            base,
            max,
            next: base,
        }
    }

    /// The next wait: between half and all of the current step, which then
    /// doubles up to the maximum.
    pub(crate) fn next_wait(&mut self) -> Duration {
        let wait = jitter(self.next);
        self.next = (self.next * 2).min(self.max);
        wait
    }

    pub(crate) fn reset(&mut self) {
        self.next = self.base;
    }
}

/// The wait before attempt `attempt + 1` of a handler: `base * 2^(attempt-1)`,
/// capped at `max`, jittered.
pub(crate) fn retry_delay(base: Duration, max: Duration, attempt: u32) -> Duration {
    let factor = 1u32 << attempt.saturating_sub(1).min(20);
    jitter(base.saturating_mul(factor).min(max))
}

/// A uniformly random duration in `[d/2, d]`, so that many clients that
/// failed together do not retry together.
pub(crate) fn jitter(d: Duration) -> Duration {
    let half = d / 2;
    let span = u64::try_from((d - half).as_micros()).unwrap_or(u64::MAX);
    if span == 0 {
        return d;
    }
    half + Duration::from_micros(random() % (span + 1))
}

fn random() -> u64 {
    std::thread_local! {
        static STATE: std::cell::Cell<u64> = std::cell::Cell::new({
            let mut hasher = RandomState::new().build_hasher();
            hasher.write_u64(0x9e37_79b9_7f4a_7c15);
            hasher.finish() | 1
        });
    }
    // xorshift64*: plenty for jitter.
    STATE.with(|state| {
        let mut x = state.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        state.set(x);
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    })
}

// Reading replies: RESP2 and RESP3 shapes alike.

pub(crate) fn text(value: &Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
        Value::SimpleString(s) => Some(s.clone()),
        Value::VerbatimString { text, .. } => Some(text.clone()),
        Value::Int(n) => Some(n.to_string()),
        Value::Okay => Some("OK".into()),
        _ => None,
    }
}

pub(crate) fn int(value: &Value) -> Option<i64> {
    match value {
        Value::Int(n) => Some(*n),
        other => text(other)?.parse().ok(),
    }
}

pub(crate) fn items(value: &Value) -> &[Value] {
    match value {
        Value::Array(items) | Value::Set(items) => items,
        _ => &[],
    }
}

/// A flat `[key, value, key, value]` array or a map, as pairs.
pub(crate) fn pairs(value: &Value) -> Vec<(String, &Value)> {
    match value {
        Value::Map(map) => map
            .iter()
            .filter_map(|(k, v)| Some((text(k)?, v)))
            .collect(),
        _ => items(value)
            .chunks(2)
            .filter_map(|pair| match pair {
                [k, v] => Some((text(k)?, v)),
                _ => None,
            })
            .collect(),
    }
}

pub(crate) fn bytes(value: &Value) -> Option<&[u8]> {
    match value {
        Value::BulkString(bytes) => Some(bytes),
        Value::SimpleString(s) => Some(s.as_bytes()),
        _ => None,
    }
}

/// One stream entry as read back.
pub(crate) struct Entry {
    pub(crate) id: crate::redis::wire::StreamId,
    /// `None` when the entry was deleted while pending.
    pub(crate) fields: Option<Vec<(String, Vec<u8>)>>,
}

impl Entry {
    pub(crate) fn field(&self, name: &str) -> Option<&[u8]> {
        self.fields
            .as_ref()?
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_slice())
    }

    /// The field names, for a message about an entry without the envelope.
    pub(crate) fn field_names(&self) -> Vec<&str> {
        self.fields
            .iter()
            .flatten()
            .map(|(k, _)| k.as_str())
            .collect()
    }
}

/// The entries of an `[[id, [field, value, ...]], ...]` array.
pub(crate) fn entries(value: &Value) -> Vec<Entry> {
    items(value)
        .iter()
        .filter_map(|entry| {
            let [id, fields] = items(entry) else {
                return None;
            };
            let id = text(id)?.parse().ok()?;
            let fields = match fields {
                Value::Nil => None,
                fields => Some(
                    pairs(fields)
                        .into_iter()
                        .map(|(k, v)| (k, bytes(v).map(<[u8]>::to_vec).unwrap_or_default()))
                        .collect(),
                ),
            };
            Some(Entry { id, fields })
        })
        .collect()
}

/// The entries of an `XREADGROUP` reply (one stream), empty on timeout.
pub(crate) fn read_reply(value: &Value) -> Vec<Entry> {
    let streams = match value {
        Value::Map(map) => map.iter().map(|(_, v)| v).collect::<Vec<_>>(),
        Value::Nil => return Vec::new(),
        other => items(other)
            .iter()
            .filter_map(|s| items(s).get(1))
            .collect(),
    };
    streams.into_iter().flat_map(entries).collect()
}
