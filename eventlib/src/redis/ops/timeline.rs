//! The figures of every process over time, and which processes are alive,
//! as the workers publish them (see `redis/timeline.rs`).

use std::collections::BTreeMap;

use crate::error::Error;
use crate::redis::ops::operator::{Operator, Resend};
use crate::redis::partitions::has_hash_tag;
use crate::redis::server::Server;
use crate::redis::timeline::{self, Bucket, Process, Span};

impl Operator {
    /// The minute or hour buckets of `span` of the stream, oldest first,
    /// summed over every worker that published (a bucket nobody wrote to
    /// is empty).
    ///
    /// ```no_run
    /// use eventlib::redis::{Count, Operator, Span};
    ///
    /// let mut op = Operator::new("redis://127.0.0.1/")?;
    /// for minute in op.timeline(Span::Minutes(60))? {
    ///     let all = minute.total(None);
    ///     println!("{}: {} handled, {} failed", minute.start_secs, all.get(Count::Handled), all.get(Count::Failed));
    /// }
    /// # Ok::<(), eventlib::Error>(())
    /// ```
    pub fn timeline(&mut self, span: Span) -> Result<Vec<Bucket>, Error> {
        let partitioned = self.partitioned()?;
        let mut buckets = Vec::new();
        // On a cluster, the minute keys of a stream without a hash tag are
        // in slots of their own, and nothing publishes there: producers of
        // such a stream publish nothing (they say so), and the workers of
        // a partitioned one publish on their partitions' keys.
        if !(partitioned && self.on_cluster() && !has_hash_tag(&self.stream)) {
            let stream = self.stream.clone();
            buckets = self.run(Resend::Safe, |c| timeline::read(c, &stream, span))?;
        }
        if !partitioned {
            return Ok(buckets);
        }
        let mut by_start: BTreeMap<u64, Bucket> =
            buckets.into_iter().map(|b| (b.start_secs, b)).collect();
        let mut newest = 0;
        for part in &mut self.parts {
            let stream = part.op.stream.clone();
            let theirs = part
                .op
                .run(Resend::Safe, |c| timeline::read(c, &stream, span))?;
            newest = newest.max(theirs.len());
            for bucket in theirs {
                by_start
                    .entry(bucket.start_secs)
                    .or_insert_with(|| Bucket {
                        start_secs: bucket.start_secs,
                        ..Bucket::default()
                    })
                    .add(&bucket);
            }
        }
        // A read that crossed into the next minute (or hour) brought one
        // bucket more: as many as one read gives, the newest.
        let skip = by_start.len().saturating_sub(newest);
        Ok(by_start.into_values().skip(skip).collect())
    }

    /// The workers and producers of the stream that said they are alive within
    /// [`PROCESS_STALE`](crate::redis::PROCESS_STALE), by consumer name. On a
    /// partitioned stream, a worker says so on each partition it reads; it
    /// is listed once, as last seen, with every pause it applies.
    pub fn live_processes(&mut self) -> Result<BTreeMap<String, Process>, Error> {
        let partitioned = self.partitioned()?;
        let mut all = BTreeMap::new();
        if !(partitioned && self.on_cluster() && !has_hash_tag(&self.stream)) {
            let stream = self.stream.clone();
            all = self.run(Resend::Safe, |c| timeline::live_processes(c, &stream))?;
        }
        if !partitioned {
            return Ok(all);
        }
        for part in &mut self.parts {
            let stream = part.op.stream.clone();
            let theirs = part
                .op
                .run(Resend::Safe, |c| timeline::live_processes(c, &stream))?;
            for (name, process) in theirs {
                match all.get_mut(&name) {
                    Some(seen) => seen.merge(process),
                    None => {
                        all.insert(name, process);
                    }
                }
            }
        }
        Ok(all)
    }
}

/// [`Operator::timeline`] of `stream`, on a connection of its own.
///
/// # Errors
///
/// [`Error::Config`] for a malformed URL, [`Error::Connection`] or
/// [`Error::Tls`] when the server cannot be reached, [`Error::Server`] when
/// it refuses a command.
pub fn timeline(server: impl Into<Server>, stream: &str, span: Span) -> Result<Vec<Bucket>, Error> {
    Operator::new(server)?.stream(stream).timeline(span)
}

/// [`Operator::live_processes`] of `stream`, on a connection of its own.
///
/// # Errors
///
/// As [`timeline`].
pub fn live_processes(
    server: impl Into<Server>,
    stream: &str,
) -> Result<BTreeMap<String, Process>, Error> {
    Operator::new(server)?.stream(stream).live_processes()
}
