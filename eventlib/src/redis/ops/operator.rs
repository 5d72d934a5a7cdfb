//! [`Operator`]: the operator's handle on one stream, one connection kept
//! across its calls and opened again after a failure.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use redis::{Connection, ErrorKind, FromRedisValue, RedisError, RedisResult, ServerErrorKind};

use crate::error::Error;
use crate::redis::conn::{Endpoint, Link};
use crate::redis::fault::{describe, is_connection_error};
use crate::redis::ops::parts::Part;
use crate::redis::server::Server;
use crate::redis::DEFAULT_STREAM;

/// How long a reply may take; a blocking read waits less (see
/// [`Operator::read_after`]).
pub(super) const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// An operator's handle on a stream: its status, its entries as they
/// arrive, envelopes written by hand, groups destroyed, and its dead
/// letters, all on one connection that it keeps.
///
/// Nothing connects until the first call. A call that finds the kept
/// connection dropped (the server restarted, a proxy cut it) connects
/// again: a read is then sent once more on the new connection, so it
/// succeeds as soon as the server is back; a write (an envelope, a replay,
/// a group destroyed) is not sent twice, it fails and the next call
/// connects again. [`reconnections`](Self::reconnections) counts the new
/// connections.
///
/// ```no_run
/// use std::time::Duration;
/// use eventlib::redis::{DeadLetterFilter, Operator};
///
/// let mut op = Operator::new("redis://127.0.0.1/")?.stream("shop:events");
/// let status = op.status()?;
/// println!("{} entries, {} dead letter(s)", status.length, status.dead_letters);
///
/// // Follow the stream from its newest entry, on the same connection.
/// let mut at = op.tail_from_now()?;
/// for _ in 0..10 {
///     for entry in op.tail(&mut at, Duration::from_secs(5), 100)? {
///         println!("{} {}", entry.id, entry.name.as_deref().unwrap_or("-"));
///     }
/// }
///
/// // Replay what one handler could not handle, a page at a time.
/// let filter = DeadLetterFilter {
///     handler: Some("save_to_db".into()),
///     ..Default::default()
/// };
/// let mut dead = op.dead_letters();
/// let (letters, _more) = dead.find(&filter, None, 50)?;
/// for letter in &letters {
///     dead.replay(letter)?;
/// }
/// println!("{} reconnection(s)", op.reconnections());
/// # Ok::<(), eventlib::Error>(())
/// ```
///
/// Every call fails with [`Error::Connection`] when the server cannot be
/// reached, refuses the credentials or is still loading its data after a
/// restart, [`Error::Tls`] when the
/// certificates do not match on either side, and [`Error::Server`] when it
/// refuses a command (a missing ACL permission, `WRONGTYPE` for a key that
/// is not a stream).
pub struct Operator {
    link: Link,
    pub(super) stream: String,
    /// On a partitioned stream, a handle on each partition, kept between
    /// calls (see `parts.rs`).
    pub(super) parts: Vec<Part>,
    /// On a cluster, links to the slots of keys that `MOVED` sent a
    /// command to (keys derived from a stream key without a hash tag live
    /// in other slots than it).
    elsewhere: Vec<(u16, Link)>,
    /// Whether the last call left a connection open: a connection failure
    /// then means the server dropped a kept connection.
    connected: bool,
    reconnects: AtomicU64,
}

/// Whether a command may be sent again after its connection dropped.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Resend {
    /// A read, or a write whose second run changes nothing.
    Safe,
    /// A write that the lost connection may have carried out already.
    Never,
}

impl Operator {
    /// A handle on the default stream (`eventlib:events`) of the Redis
    /// server at `server`: a URL, or a [`Server`] with TLS certificates.
    /// Nothing is connected yet.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a malformed URL or unusable certificates.
    pub fn new(server: impl Into<Server>) -> Result<Operator, Error> {
        Ok(Operator {
            link: Link::for_key(Endpoint::new(server)?, DEFAULT_STREAM, READ_TIMEOUT),
            stream: DEFAULT_STREAM.to_owned(),
            parts: Vec::new(),
            elsewhere: Vec::new(),
            connected: false,
            reconnects: AtomicU64::new(0),
        })
    }

    /// The event stream this handle works on (its dead letters are in
    /// `<key>:dead`). On a Redis Cluster the handle talks to the primary
    /// that serves the key's slot. On a partitioned stream, give the
    /// stream's name (`eventlib:events`): the status, dead letters,
    /// pauses, timeline and live processes then span every partition (see
    /// [`partition_keys`](crate::redis::partition_keys)); a partition's own
    /// key limits them to that partition.
    pub fn stream(mut self, key: impl Into<String>) -> Self {
        self.stream = key.into();
        self.link = Link::for_key(self.link.endpoint().clone(), &self.stream, READ_TIMEOUT);
        self.parts.clear();
        self.elsewhere.clear();
        self
    }

    /// A handle on `key` of the same server (or cluster), sharing nothing
    /// but the server.
    pub(super) fn on_key(&self, key: &str) -> Operator {
        Operator {
            link: Link::for_key(self.link.endpoint().clone(), key, READ_TIMEOUT),
            stream: key.to_owned(),
            parts: Vec::new(),
            elsewhere: Vec::new(),
            connected: false,
            reconnects: AtomicU64::new(0),
        }
    }

    /// Whether this handle is on a Redis Cluster.
    pub(super) fn on_cluster(&self) -> bool {
        self.link.endpoint().is_cluster()
    }

    /// How many times the handle connected again after losing its
    /// connection.
    pub fn reconnections(&self) -> u64 {
        self.reconnects.load(Ordering::Relaxed)
            + self.parts.iter().map(|p| p.op.reconnections()).sum::<u64>()
    }

    /// `cmd`'s reply, as `T`; sent again once if the kept connection
    /// turns out dropped.
    pub(super) fn read<T: FromRedisValue>(&mut self, cmd: &redis::Cmd) -> Result<T, Error> {
        self.run(Resend::Safe, |c| cmd.query(c))
    }

    /// Runs `f` on the connection, opening it first if needed; when the
    /// kept connection turns out dropped and `resend` allows, runs it once
    /// more on a new one. A failure is the crate's typed error.
    pub(super) fn run<T>(
        &mut self,
        resend: Resend,
        mut f: impl FnMut(&mut Connection) -> RedisResult<T>,
    ) -> Result<T, Error> {
        let kept = self.connected;
        let mut result = self.link.run(&self.reconnects, &mut f);
        if let Err(err) = &result {
            if kept && resend == Resend::Safe && dropped(err) {
                result = self.link.run(&self.reconnects, &mut f);
            }
        }
        // On a cluster, a command on a key of another slot: the node said
        // which slot (`MOVED` runs nothing, so sending it there is safe).
        let moved = match &result {
            Err(err) if err.kind() == ErrorKind::Server(ServerErrorKind::Moved) => {
                err.redirect_node().map(|(_, slot)| slot)
            }
            _ => None,
        };
        if let Some(slot) = moved.filter(|_| self.link.endpoint().is_cluster()) {
            let at = self.elsewhere_at(slot);
            result = self.elsewhere[at].1.run(&self.reconnects, &mut f);
        }
        self.connected = match &result {
            Ok(_) => true,
            Err(err) => !is_connection_error(err),
        };
        result.map_err(|err| self.error(&err))
    }

    /// Where in [`Operator::elsewhere`] the link of `slot` is, made if
    /// there is none.
    fn elsewhere_at(&mut self, slot: u16) -> usize {
        match self.elsewhere.iter().position(|(s, _)| *s == slot) {
            Some(at) => at,
            None => {
                let link = Link::for_slot(self.link.endpoint().clone(), slot, READ_TIMEOUT);
                self.elsewhere.push((slot, link));
                self.elsewhere.len() - 1
            }
        }
    }

    /// Runs `f`, whose commands are on `key` alone, on the node that
    /// serves `key`: [`Operator::run`] for a key of the stream's slot (or
    /// on one server); on a cluster, the link kept for the key's slot,
    /// which finds the slot's primary again after any failure. For a
    /// `MULTI`/`EXEC` on a key of another slot than the stream's, which a
    /// `MOVED` cannot redirect (the node aborts the whole transaction).
    pub(super) fn run_on_key<T>(
        &mut self,
        key: &str,
        resend: Resend,
        mut f: impl FnMut(&mut Connection) -> RedisResult<T>,
    ) -> Result<T, Error> {
        let slot = crate::redis::cluster::slot(key.as_bytes());
        if !self.on_cluster() || self.link.slot() == Some(slot) {
            return self.run(resend, f);
        }
        let at = self.elsewhere_at(slot);
        let link = &mut self.elsewhere[at].1;
        let mut result = link.run(&self.reconnects, &mut f);
        if matches!(&result, Err(err) if resend == Resend::Safe && dropped(err)) {
            result = link.run(&self.reconnects, &mut f);
        }
        if result.is_err() {
            link.rerouted();
        }
        result.map_err(|err| self.error(&err))
    }

    /// The crate's error for `err`. A server still loading its data after
    /// a restart can no more be used than one that cannot be reached, and
    /// is waited out the same way: it is a connection error.
    fn error(&self, err: &RedisError) -> Error {
        if err.kind() == ErrorKind::Server(ServerErrorKind::BusyLoading) {
            return Error::Connection {
                endpoint: self.link.shown().to_owned(),
                reason: describe(err),
            };
        }
        self.link.endpoint().error(err)
    }

    /// Whether the stream exists; refuses a key of another type (a key
    /// that is not eventlib's).
    pub(super) fn stream_exists(&mut self) -> Result<bool, Error> {
        let kind: String = self.read(redis::cmd("TYPE").arg(&self.stream))?;
        match kind.as_str() {
            "stream" => Ok(true),
            "none" => Ok(false),
            kind => Err(Error::Server {
                reason: format!(
                    "WRONGTYPE `{}` is a {kind}, not a stream: is it eventlib's? (see --stream)",
                    self.stream
                ),
            }),
        }
    }
}

/// A connection the server closed under us, as opposed to one that timed
/// out (sending the command again would wait as long again).
fn dropped(err: &RedisError) -> bool {
    is_connection_error(err) && !err.is_timeout()
}

impl fmt::Debug for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Operator")
            .field("server", &self.link.shown())
            .field("stream", &self.stream)
            .field("reconnections", &self.reconnections())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_loading_its_data_is_a_connection_error() {
        let op = Operator::new("redis://:secret@127.0.0.1:6379/").unwrap();
        let replies = [
            "-LOADING Redis is loading the dataset in memory\r\n",
            "-NOPERM no permissions\r\n",
            "-WRONGTYPE not a stream\r\n",
        ]
        .map(|line| redis::parse_redis_value(line.as_bytes()).unwrap());
        let errors = replies.map(|reply| op.error(&reply.extract_error().unwrap_err()));
        match &errors[0] {
            Error::Connection { endpoint, reason } => {
                assert_eq!(endpoint, "redis://:***@127.0.0.1:6379/");
                assert!(reason.contains("loading the dataset"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        for refused in &errors[1..] {
            assert!(matches!(refused, Error::Server { .. }), "{refused:?}");
        }
    }
}
