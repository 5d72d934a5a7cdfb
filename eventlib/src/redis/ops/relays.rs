//! The transactional outbox's relays as they publish themselves (see
//! `eventlib-sql`): the hash `<stream>:relays`, one field per relay, value
//! `{"backlog":n|null,"moved":n,"failed":n,"unsendable":n,"at_ms":ms}`; the
//! key expires 15 s after the last relay wrote it.

use serde::Deserialize;

use crate::error::Error;
use crate::redis::ops::operator::Operator;

/// One relay of a transactional outbox, as it last said.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
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
    /// When it wrote this, in milliseconds since 1970.
    #[serde(default)]
    pub at_ms: u64,
}

impl Operator {
    /// The relays of a transactional outbox that publish to this stream,
    /// by name (none when no relay wrote in the last 15 s).
    pub fn relays(&mut self) -> Result<Vec<RelayFigures>, Error> {
        let key = format!("{}:relays", self.stream);
        let all: std::collections::BTreeMap<String, String> =
            self.read(redis::cmd("HGETALL").arg(key))?;
        Ok(all
            .into_iter()
            .filter_map(|(name, json)| {
                let figures: RelayFigures = serde_json::from_str(&json).ok()?;
                Some(RelayFigures { name, ..figures })
            })
            .collect())
    }
}
