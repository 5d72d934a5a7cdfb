//! A relay's stats on Redis, for the operator's tools: the field of the
//! relay's name in the hash `<stream>:relays`, written with eventlib's
//! [`Operator::publish_relay`] (which owns its format, and reaches the
//! node that serves the hash on a Redis Cluster). A running relay writes
//! it every [`EVERY`] and sets the key to expire [`KEEP`] later, so the
//! key vanishes once no relay writes; a relay stopped with
//! `RelayTask::stop` removes its field.

use std::sync::Mutex;
use std::time::Duration;

use eventlib::redis::{Operator, RelayFigures, Server};

use crate::stats::{now_ms, RelayStats};

/// How often a running relay writes its stats.
pub(crate) const EVERY: Duration = Duration::from_secs(5);
/// How long the hash lives after the last write of any relay.
pub(crate) const KEEP: Duration = Duration::from_secs(15);

/// How long the relay waits for one write of its stats: a Redis that
/// accepts connections and does not answer must not hold the stats task
/// (nor a relay's `stop`) for the 10 s an operator's reply may take.
pub(crate) const WAIT: Duration = Duration::from_secs(3);

/// Runs `write` off the runtime's threads and waits [`WAIT`] at most for
/// it; past that it finishes on its own, and the wait is a failure.
pub(crate) async fn within(
    write: impl FnOnce() -> Result<(), eventlib::Error> + Send + 'static,
) -> Result<(), String> {
    match tokio::time::timeout(WAIT, tokio::task::spawn_blocking(write)).await {
        Ok(Ok(Ok(()))) => Ok(()),
        Ok(Ok(Err(err))) => Err(err.to_string()),
        Ok(Err(err)) => Err(err.to_string()),
        Err(_) => Err(format!("Redis did not answer within {WAIT:?}")),
    }
}

/// Where one relay writes its stats.
pub(crate) struct Publisher {
    server: Server,
    stream: String,
    name: String,
    /// Made on the first write (it keeps its connection); made again
    /// after a failure.
    op: Mutex<Option<Operator>>,
}

impl Publisher {
    pub(crate) fn new(server: Server, stream: &str, name: String) -> Self {
        Publisher {
            server,
            stream: stream.to_owned(),
            name,
            op: Mutex::new(None),
        }
    }

    /// Writes `stats` (blocking, at most a few seconds).
    pub(crate) fn publish(&self, stats: &RelayStats) -> Result<(), eventlib::Error> {
        let mut figures = RelayFigures::named(&self.name);
        figures.backlog = stats.backlog;
        figures.moved = stats.moved;
        figures.failed = stats.failed();
        figures.unsendable = stats.unsendable;
        figures.relinked = stats.relinked;
        figures.handled_nowhere = stats.handled_nowhere;
        figures.standing_by_for = stats.standing_by_for.clone();
        figures.at_ms = now_ms();
        self.with_operator(|op| op.publish_relay(&figures, KEEP))
    }

    /// Removes this relay's field (blocking).
    pub(crate) fn withdraw(&self) -> Result<(), eventlib::Error> {
        self.with_operator(|op| op.withdraw_relay(&self.name))
    }

    fn with_operator(
        &self,
        call: impl FnOnce(&mut Operator) -> Result<(), eventlib::Error>,
    ) -> Result<(), eventlib::Error> {
        let mut guard = self.op.lock().unwrap_or_else(|e| e.into_inner());
        let op = match guard.take() {
            Some(op) => guard.insert(op),
            None => guard.insert(Operator::new(&self.server)?.stream(self.stream.as_str())),
        };
        let result = call(op);
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
