//! The transactional outbox's relays as they publish themselves (see
//! `eventlib-sql`): the hash `<stream>:relays`, one field per relay, value
//! `{"backlog":n|null,"moved":n,"failed":n,"unsendable":n,"relinked":n,
//! "handled_nowhere":n,"standing_by_for":name|null,"at_ms":ms}`; the key
//! expires 15 s after the last relay wrote it.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::redis::ops::operator::{Operator, Resend};

/// One relay of a transactional outbox, as it last said.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RelayFigures {
    /// The relay's name.
    #[serde(skip)]
    pub name: String,
    /// Committed rows not yet sent, as last counted (`None`: not counted
    /// yet).
    #[serde(default)]
    pub backlog: Option<u64>,
    /// Rows sent and deleted since the relay started.
    #[serde(default)]
    pub moved: u64,
    /// Sends that failed (sent again later).
    #[serde(default)]
    pub failed: u64,
    /// Rows that could not be sent at all (kept, marked).
    #[serde(default)]
    pub unsendable: u64,
    /// Rows another relay marked unsendable because its program did not
    /// link their event (an older version, while a deploy rolls out), that
    /// this relay's program links, so that it cleared the mark and sent
    /// them.
    #[serde(default)]
    pub relinked: u64,
    /// Rows sent to a program with no transport installed and no handler
    /// of their event: deleted with nothing done (a relay process that
    /// was not given the transport it was meant to send to).
    #[serde(default)]
    pub handled_nowhere: u64,
    /// On SQLite, where one relay at a time sends a database file's rows:
    /// the relay this one stands by for (`None` while it sends).
    #[serde(default)]
    pub standing_by_for: Option<String>,
    /// When it wrote this, in milliseconds since 1970.
    #[serde(default)]
    pub at_ms: u64,
}

impl RelayFigures {
    /// The figures of the relay `name`, all zero: set the fields, then
    /// [`Operator::publish_relay`].
    pub fn named(name: impl Into<String>) -> Self {
        RelayFigures {
            name: name.into(),
            ..RelayFigures::default()
        }
    }
}

/// The hash of the relays of `stream`.
fn key(stream: &str) -> String {
    format!("{stream}:relays")
}

impl Operator {
    /// The relays of a transactional outbox that publish to this stream,
    /// by name (none when no relay wrote in the last 15 s).
    pub fn relays(&mut self) -> Result<Vec<RelayFigures>, Error> {
        let key = key(&self.stream);
        let all: std::collections::BTreeMap<String, String> =
            self.run_on_key(&key, Resend::Safe, |c| {
                redis::cmd("HGETALL").arg(&key).query(c)
            })?;
        Ok(all
            .into_iter()
            .filter_map(|(name, json)| {
                let figures: RelayFigures = serde_json::from_str(&json).ok()?;
                Some(RelayFigures { name, ..figures })
            })
            .collect())
    }

    /// Writes `figures` as the field of the relay `figures.name` in
    /// `<stream>:relays`, and has the hash expire `keep` later (one
    /// `MULTI`/`EXEC`, on the node that serves the hash on a cluster):
    /// what a relay of `eventlib-sql` does every few seconds, for
    /// [`Operator::relays`] to read.
    pub fn publish_relay(&mut self, figures: &RelayFigures, keep: Duration) -> Result<(), Error> {
        let key = key(&self.stream);
        let json = serde_json::to_string(figures).map_err(|err| Error::Config {
            option: "relay figures",
            reason: err.to_string(),
        })?;
        let keep = i64::try_from(keep.as_millis()).unwrap_or(i64::MAX).max(1);
        self.run_on_key(&key, Resend::Safe, |c| {
            redis::pipe()
                .atomic()
                .hset(&key, &figures.name, &json)
                .ignore()
                .pexpire(&key, keep)
                .ignore()
                .exec(c)
        })
    }

    /// Removes the field of the relay `name` from `<stream>:relays`: what
    /// a relay that stops does.
    pub fn withdraw_relay(&mut self, name: &str) -> Result<(), Error> {
        let key = key(&self.stream);
        self.run_on_key(&key, Resend::Safe, |c| {
            redis::cmd("HDEL").arg(&key).arg(name).exec(c)
        })
    }
}
