//! A worker's saved progress: what is kept of an entry whose handlers did
//! not all finish in one go, so that whichever worker takes it next runs
//! only what is left. It lives in the hash `<stream>:progress:<group>`:
//! field `<entry id>` holds a [`Progress`] as JSON, field
//! `<entry id>:passed` counts the deliveries of the entry to workers that
//! left it for others (those are no crash). This module owns the layout;
//! the handler threads read it back ([`load`]) and the acknowledging
//! thread writes and clears it in its transaction.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use redis::streams::StreamPendingCountReply;
use serde::{Deserialize, Serialize};

use crate::redis::conn::Link;
use crate::redis::reply;
use crate::redis::stream_id::StreamId;
use crate::redis::worker::shared::Shared;

/// The finished handlers as saved: sorted, each once.
fn sorted<S: serde::Serializer>(done: &[Cow<'static, str>], to: S) -> Result<S::Ok, S::Error> {
    to.collect_seq(done.iter().collect::<BTreeSet<_>>())
}

/// What is saved of an entry whose handlers need a retry, or that was left
/// for another worker after some handlers ran here.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Progress {
    /// Handlers (by path) that are finished: succeeded or dead-lettered.
    /// Borrowed from the registry when they finish here (every handler run
    /// of every entry marks one, and nearly every entry's progress is
    /// dropped unsaved), owned when read back from Redis. A list rather
    /// than a set: an event has a few handlers, and the list costs one
    /// small allocation where a tree costs a node; saved sorted.
    #[serde(default, serialize_with = "sorted")]
    done: Vec<Cow<'static, str>>,
    /// Failed attempts so far, by handler path.
    #[serde(default)]
    failures: BTreeMap<String, u32>,
    /// When the failed handlers run again (milliseconds since 1970).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retry_at: Option<u64>,
}

impl Progress {
    /// Whether `handler` is finished (succeeded or dead-lettered).
    pub(crate) fn is_done(&self, handler: &str) -> bool {
        self.done.iter().any(|done| done == handler)
    }

    /// Marks `handler` finished: its path, from the registry (borrowed) or
    /// from a replay's data (owned).
    pub(crate) fn finish(&mut self, handler: impl Into<Cow<'static, str>>) {
        let handler = handler.into();
        if !self.is_done(&handler) {
            self.done.push(handler);
        }
    }

    /// The attempt `handler` is at next: one more than its failures, at most
    /// `max_attempts` (saved progress is data from Redis: a count out of
    /// range is read as the last attempt).
    pub(crate) fn next_attempt(&self, handler: &str, max_attempts: u32) -> u32 {
        self.failures(handler).saturating_add(1).min(max_attempts)
    }

    /// How many attempts of `handler` failed.
    pub(crate) fn failures(&self, handler: &str) -> u32 {
        self.failures.get(handler).copied().unwrap_or(0)
    }

    /// Records that attempt `attempt` of `handler` failed.
    pub(crate) fn failed(&mut self, handler: &str, attempt: u32) {
        self.failures.insert(handler.to_owned(), attempt);
    }

    /// When the failed handlers are due again, in milliseconds since 1970.
    pub(crate) fn retry_at(&self) -> Option<u64> {
        self.retry_at
    }

    pub(crate) fn set_retry_at(&mut self, millis: u64) {
        self.retry_at = Some(millis);
    }

    /// The JSON saved.
    pub(crate) fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// The field counting how many times entry `id` was left for another
/// worker.
fn passed_field(id: StreamId) -> String {
    format!("{id}:passed")
}

/// Whether a field of the progress hash is an entry's saved progress (and
/// not one of its counts).
pub(crate) fn is_progress_field(field: &str) -> bool {
    !field.ends_with(":passed")
}

/// The saved progress of entry `id` and how many times it was delivered
/// to a worker that meant to handle it.
pub(crate) fn load(
    shared: &Shared,
    link: &mut Link,
    id: StreamId,
) -> redis::RedisResult<(Progress, u64)> {
    let config = shared.config();
    let (saved, passed, pending): (Option<Vec<u8>>, Option<u64>, StreamPendingCountReply) = link
        .run(shared.counters().reconnects(), |c| {
            redis::pipe()
                .cmd("HGET")
                .arg(config.progress_key())
                .arg(id)
                .cmd("HGET")
                .arg(config.progress_key())
                .arg(passed_field(id))
                .cmd("XPENDING")
                .arg(&config.stream)
                .arg(&config.group)
                .arg(id)
                .arg(id)
                .arg(1)
                .query(c)
        })?;
    let progress = saved
        .and_then(|raw| serde_json::from_slice(&raw).ok())
        .unwrap_or_default();
    // Deliveries to workers that left the entry for others are no crash.
    let deliveries = reply::delivery_count(&pending).saturating_sub(passed.unwrap_or(0));
    Ok((progress, deliveries))
}

/// Queues the saving of entry `id`'s progress (JSON from
/// [`Progress::encode`]), if any, on the settling transaction.
pub(crate) fn save(pipe: &mut redis::Pipeline, key: &str, id: StreamId, progress: Option<&[u8]>) {
    if let Some(progress) = progress {
        pipe.cmd("HSET").arg(key).arg(id).arg(progress).ignore();
    }
}

/// Queues counting one delivery of entry `id` as passed on to another
/// worker.
pub(crate) fn count_passed(pipe: &mut redis::Pipeline, key: &str, id: StreamId) {
    pipe.cmd("HINCRBY")
        .arg(key)
        .arg(passed_field(id))
        .arg(1)
        .ignore();
}

/// The fields to delete once entry `id` is acknowledged.
pub(crate) fn fields_of(id: StreamId) -> [String; 2] {
    [id.to_string(), passed_field(id)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_are_counted_and_bounded() {
        let mut progress = Progress::default();
        assert_eq!(progress.next_attempt("a::h", 3), 1);
        progress.failed("a::h", 2);
        assert_eq!(progress.next_attempt("a::h", 3), 3);
        progress.failed("a::h", u32::MAX);
        assert_eq!(progress.next_attempt("a::h", 3), 3);
        assert!(!progress.is_done("a::h"));
        progress.finish("a::h");
        assert!(progress.is_done("a::h"));
    }

    #[test]
    fn progress_reads_back_and_old_layouts_are_accepted() {
        let mut progress = Progress::default();
        progress.finish("a::h");
        progress.failed("a::i", 1);
        progress.set_retry_at(1_700_000_000_000);
        let back: Progress = serde_json::from_slice(&progress.encode()).unwrap();
        assert!(back.is_done("a::h"));
        assert_eq!(back.failures("a::i"), 1);
        assert_eq!(back.retry_at(), Some(1_700_000_000_000));
        let bare: Progress = serde_json::from_str("{}").unwrap();
        assert_eq!(bare.retry_at(), None);
    }

    #[test]
    fn finished_handlers_are_saved_sorted_and_once() {
        let mut progress = Progress::default();
        for handler in ["b::h", "a::h", "b::h"] {
            progress.finish(handler);
        }
        progress.finish(String::from("a::h"));
        let saved: serde_json::Value = serde_json::from_slice(&progress.encode()).unwrap();
        assert_eq!(saved["done"], serde_json::json!(["a::h", "b::h"]));
    }

    #[test]
    fn fields_of_an_entry() {
        let id = StreamId { ms: 5, seq: 1 };
        assert_eq!(fields_of(id), ["5-1", "5-1:passed"]);
        assert!(is_progress_field("5-1"));
        assert!(!is_progress_field("5-1:passed"));
    }
}
