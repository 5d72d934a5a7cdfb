//! The figures of every process over time, and which processes are alive,
//! as the workers publish them (see `redis/timeline.rs`).

use std::collections::BTreeMap;

use crate::error::Error;
use crate::redis::ops::operator::{Operator, Resend};
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
        let stream = self.stream.clone();
        self.run(Resend::Safe, |c| timeline::read(c, &stream, span))
    }

    /// The workers and producers of the stream that said they are alive within
    /// [`PROCESS_STALE`](crate::redis::PROCESS_STALE), by consumer name.
    pub fn live_processes(&mut self) -> Result<BTreeMap<String, Process>, Error> {
        let stream = self.stream.clone();
        self.run(Resend::Safe, |c| timeline::live_processes(c, &stream))
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
