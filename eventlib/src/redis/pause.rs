//! Pausing a handler, or a whole group, during an incident: the workers of
//! the group stop running it, its entries wait (nothing is dead-lettered
//! or lost) and it resumes where it stopped. This module owns the layout:
//! the hash `<stream>:paused`, field `<group>` (the whole group) or
//! `<group>|<handler path>`, value a [`Pause`] as JSON. The operator's
//! side writes it; workers read it about once a second.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::redis::stream_id::millis;

/// The hash of pauses of `stream`.
pub(crate) fn key(stream: &str) -> String {
    format!("{stream}:paused")
}

/// The field of a pause of `group` (of `handler` alone when given).
pub(crate) fn field(group: &str, handler: Option<&str>) -> String {
    match handler {
        Some(handler) => format!("{group}|{handler}"),
        None => group.to_owned(),
    }
}

/// One pause, as an operator set it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Pause {
    /// The group paused.
    pub group: String,
    /// The handler paused (its path), or `None` for the whole group.
    pub handler: Option<String>,
    /// When it was paused, in milliseconds since 1970.
    pub at_ms: u64,
    /// Who paused it, as the operator's tool said (free text).
    #[serde(default)]
    pub by: String,
}

/// Every pause of `stream`.
pub(crate) fn read(c: &mut redis::Connection, stream: &str) -> redis::RedisResult<Vec<Pause>> {
    Ok(stored(c, stream)?
        .into_iter()
        .filter_map(|(field, json)| {
            let mut pause: Pause = serde_json::from_str(&json).unwrap_or_default();
            // The field is what counts; the JSON adds when and who.
            match field.split_once('|') {
                Some((group, handler)) => {
                    pause.group = group.to_owned();
                    pause.handler = Some(handler.to_owned());
                }
                None => {
                    pause.group = field;
                    pause.handler = None;
                }
            }
            (!pause.group.is_empty()).then_some(pause)
        })
        .collect())
}

/// Pauses `group` (its `handler` alone when given); returns whether it was
/// not paused already.
pub(crate) fn set(
    c: &mut redis::Connection,
    stream: &str,
    group: &str,
    handler: Option<&str>,
    by: &str,
) -> redis::RedisResult<bool> {
    let pause = Pause {
        group: group.to_owned(),
        handler: handler.map(str::to_owned),
        at_ms: millis(SystemTime::now()),
        by: by.to_owned(),
    };
    let json = serde_json::to_string(&pause).unwrap_or_default();
    redis::cmd("HSETNX")
        .arg(key(stream))
        .arg(field(group, handler))
        .arg(json)
        .query(c)
}

/// Resumes `group` (its `handler` alone when given); returns whether it
/// was paused.
pub(crate) fn clear(
    c: &mut redis::Connection,
    stream: &str,
    group: &str,
    handler: Option<&str>,
) -> redis::RedisResult<bool> {
    redis::cmd("HDEL")
        .arg(key(stream))
        .arg(field(group, handler))
        .query(c)
}

/// The pauses of `stream` as stored (field to JSON), to be copied with
/// [`add_missing`].
pub(crate) fn stored(
    c: &mut redis::Connection,
    stream: &str,
) -> redis::RedisResult<BTreeMap<String, String>> {
    redis::cmd("HGETALL").arg(key(stream)).query(c)
}

/// Adds to `stream` the `pauses` (as [`stored`]) it lacks, leaving those it
/// has as they are.
pub(crate) fn add_missing(
    c: &mut redis::Connection,
    stream: &str,
    pauses: &BTreeMap<String, String>,
) -> redis::RedisResult<()> {
    let mut pipe = redis::pipe();
    for (field, json) in pauses {
        pipe.cmd("HSETNX")
            .arg(key(stream))
            .arg(field)
            .arg(json)
            .ignore();
    }
    pipe.exec(c)
}

/// What a worker of one group must hold back, from every pause of the
/// stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Held {
    /// The whole group is paused.
    pub(crate) group: bool,
    /// These handlers (paths) are paused.
    pub(crate) handlers: Vec<String>,
}

impl Held {
    /// What `pauses` hold back of `group`.
    pub(crate) fn of(pauses: &[Pause], group: &str) -> Held {
        let mut held = Held::default();
        for pause in pauses.iter().filter(|p| p.group == group) {
            match &pause.handler {
                None => held.group = true,
                Some(handler) => held.handlers.push(handler.clone()),
            }
        }
        held.handlers.sort();
        held.handlers.dedup();
        held
    }

    /// Whether `handler` may not run now.
    pub(crate) fn holds(&self, handler: &str) -> bool {
        self.group || self.handlers.iter().any(|h| h == handler)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pause(group: &str, handler: Option<&str>) -> Pause {
        Pause {
            group: group.into(),
            handler: handler.map(Into::into),
            ..Pause::default()
        }
    }

    #[test]
    fn a_group_holds_back_its_own_pauses_only() {
        let pauses = [
            pause("default", Some("shop::mail")),
            pause("audit", None),
            pause("default", Some("shop::mail")),
        ];
        let default = Held::of(&pauses, "default");
        assert!(!default.group);
        assert_eq!(default.handlers, ["shop::mail"]);
        assert!(default.holds("shop::mail"));
        assert!(!default.holds("shop::log"));
        let audit = Held::of(&pauses, "audit");
        assert!(audit.group && audit.holds("anything"));
        assert_eq!(Held::of(&pauses, "other"), Held::default());
        assert_eq!(field("g", Some("a::h")), "g|a::h");
        assert_eq!(field("g", None), "g");
    }
}
