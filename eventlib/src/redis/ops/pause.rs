//! Pausing and resuming a handler or a whole group (see `redis/pause.rs`):
//! the workers of the group notice within about a second.

use crate::error::Error;
use crate::redis::ops::operator::{Operator, Resend};
use crate::redis::pause::{self, Pause};
use crate::redis::server::Server;

impl Operator {
    /// Pauses `handler` (its path) of `group`, or the whole group when
    /// `None`: its workers stop running it within about a second; its
    /// entries wait, nothing is dead-lettered, and it resumes where it
    /// stopped ([`resume`](Self::resume)). `by` says who paused it (shown
    /// by the operator's tools). Returns whether it was not paused already.
    ///
    /// ```no_run
    /// use eventlib::redis::Operator;
    ///
    /// let mut op = Operator::new("redis://127.0.0.1/")?;
    /// op.pause("default", Some("shop::send_mail"), "on call: mail provider down")?;
    /// // ... the provider is back:
    /// op.resume("default", Some("shop::send_mail"))?;
    /// # Ok::<(), eventlib::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidName`] for a group name that breaks the grammar, and
    /// the errors of every call of the handle.
    pub fn pause(&mut self, group: &str, handler: Option<&str>, by: &str) -> Result<bool, Error> {
        check_group(group)?;
        self.each_key(|op| {
            let stream = op.stream.clone();
            op.run(Resend::Never, |c| {
                pause::set(c, &stream, group, handler, by)
            })
        })
    }

    /// Resumes what [`pause`](Self::pause) paused; returns whether it was
    /// paused.
    ///
    /// # Errors
    ///
    /// As [`pause`](Self::pause).
    pub fn resume(&mut self, group: &str, handler: Option<&str>) -> Result<bool, Error> {
        check_group(group)?;
        self.each_key(|op| {
            let stream = op.stream.clone();
            op.run(Resend::Never, |c| pause::clear(c, &stream, group, handler))
        })
    }

    /// Every pause of the stream (on a partitioned stream, a pause of any
    /// partition, once, with the earliest time it was set).
    pub fn pauses(&mut self) -> Result<Vec<Pause>, Error> {
        let mut all: Vec<Pause> = Vec::new();
        self.each_key(|op| {
            let stream = op.stream.clone();
            for pause in op.run(Resend::Safe, |c| pause::read(c, &stream))? {
                match all
                    .iter_mut()
                    .find(|p| p.group == pause.group && p.handler == pause.handler)
                {
                    Some(seen) if seen.at_ms <= pause.at_ms => {}
                    Some(seen) => *seen = pause,
                    None => all.push(pause),
                }
            }
            Ok(false)
        })?;
        Ok(all)
    }

    /// Runs `f` on the stream's own key and, on a partitioned stream, on
    /// every partition's (a pause is read by each partition's worker from
    /// its partition's key); whether `f` said yes for any.
    fn each_key(
        &mut self,
        mut f: impl FnMut(&mut Operator) -> Result<bool, Error>,
    ) -> Result<bool, Error> {
        let mut any = false;
        if self.partitioned()? {
            for part in &mut self.parts {
                any |= f(&mut part.op)?;
            }
        }
        any |= f(self)?;
        Ok(any)
    }
}

/// [`Operator::pause`] on `stream`, on a connection of its own.
///
/// # Errors
///
/// As [`Operator::pause`].
pub fn pause(
    server: impl Into<Server>,
    stream: &str,
    group: &str,
    handler: Option<&str>,
    by: &str,
) -> Result<bool, Error> {
    Operator::new(server)?
        .stream(stream)
        .pause(group, handler, by)
}

/// [`Operator::resume`] on `stream`, on a connection of its own.
///
/// # Errors
///
/// As [`Operator::pause`].
pub fn resume(
    server: impl Into<Server>,
    stream: &str,
    group: &str,
    handler: Option<&str>,
) -> Result<bool, Error> {
    Operator::new(server)?.stream(stream).resume(group, handler)
}

/// [`Operator::pauses`] of `stream`, on a connection of its own.
///
/// # Errors
///
/// As [`Operator::pause`], without the name check.
pub fn pauses(server: impl Into<Server>, stream: &str) -> Result<Vec<Pause>, Error> {
    Operator::new(server)?.stream(stream).pauses()
}

fn check_group(group: &str) -> Result<(), Error> {
    crate::name::validate_group(group).map_err(|reason| Error::InvalidName {
        name: group.to_owned(),
        reason,
    })
}
