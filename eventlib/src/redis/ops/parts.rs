//! The partitions of a partitioned stream, as the operator's calls span
//! them: given the stream's name, a call reads (or changes) the stream's
//! own key and every partition's key, each through a handle of its own
//! (on a Redis Cluster each partition is in a slot of its own).
//!
//! Which partition counts a stream is split into is what producers and
//! workers record in `<stream>:partitions`; a stream split 6 ways, then 12,
//! has 18 partitions until the first 6 are drained and the count removed.

use crate::error::Error;
use crate::redis::ops::Operator;
use crate::redis::{keys, partitions};

/// One partition of the stream an [`Operator`] works on.
pub(crate) struct Part {
    /// How operators name it: `2-of-6`.
    pub(crate) label: String,
    /// Its handle.
    pub(crate) op: Operator,
}

impl Operator {
    /// Whether the handle's stream is split into partitions; when it is,
    /// `parts` holds a handle on each, kept from the
    /// last call while the counts do not change.
    pub(crate) fn partitioned(&mut self) -> Result<bool, Error> {
        let counts = self.partition_counts()?;
        let wanted: Vec<(String, String)> = counts
            .iter()
            .flat_map(|&count| {
                partitions::keys(&self.stream, count)
                    .into_iter()
                    .enumerate()
                    .map(move |(i, key)| (partitions::label(i, count), key))
            })
            .collect();
        let same = self.parts.len() == wanted.len()
            && self
                .parts
                .iter()
                .zip(&wanted)
                .all(|(part, (_, key))| part.op.stream == *key);
        if !same {
            self.parts = wanted
                .into_iter()
                .map(|(label, key)| Part {
                    label,
                    op: self.on_key(&key),
                })
                .collect();
        }
        Ok(!self.parts.is_empty())
    }

    /// The partition counts recorded for the stream (`SMEMBERS
    /// <stream>:partitions`), greatest first. A user not allowed `SMEMBERS`
    /// there (the ACLs of a stream that is not partitioned need not allow
    /// it) sees the stream's own key only.
    fn partition_counts(&mut self) -> Result<Vec<usize>, Error> {
        let key = keys::partition_counts(&self.stream);
        let cmd = redis::cmd("SMEMBERS").arg(&key).clone();
        let read = if self.on_cluster() {
            self.on_key(&key).read(&cmd)
        } else {
            self.read(&cmd)
        };
        let mut counts: Vec<usize> = match read {
            Ok(counts) => counts,
            Err(Error::Server { reason })
                if reason.contains("NOPERM") || reason.contains("NoPerm") =>
            {
                Vec::new()
            }
            Err(err) => return Err(err),
        };
        counts.retain(|&n| n > 1 && n <= partitions::MAX_PARTITIONS);
        counts.sort_unstable_by(|a, b| b.cmp(a));
        Ok(counts)
    }

    /// The handle on the key `stream`: this one, or one of its partitions'.
    pub(crate) fn on_stream(&mut self, stream: &str) -> Option<&mut Operator> {
        if stream.is_empty() || stream == self.stream {
            return Some(self);
        }
        self.parts
            .iter_mut()
            .find(|p| p.op.stream == stream)
            .map(|p| &mut p.op)
    }
}
