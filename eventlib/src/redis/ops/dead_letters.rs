//! The dead letters of a stream as an operator sees them: counting,
//! listing a page at a time, finding by [`DeadLetterFilter`], replaying and
//! removing.

use std::borrow::BorrowMut;
use std::time::{Duration, SystemTime};

use crate::error::Error;
use crate::redis::dead_letter::{parse, DeadLetter};
use crate::redis::ops::operator::Resend;
use crate::redis::ops::Operator;
use crate::redis::reply::Entry;
use crate::redis::server::Server;
use crate::redis::stream_id::StreamId;
use crate::redis::{keys, wire};

/// The dead letters of a stream (`<stream>:dead`), through an
/// [`Operator`]: borrowed from it ([`Operator::dead_letters`]), or owned
/// (the [`dead_letters`] function), as `H` says.
///
/// ```no_run
/// let mut dead = eventlib::redis::dead_letters("redis://127.0.0.1/")?;
/// for letter in dead.list(100)? {
///     println!("{} {:?}: {}", letter.source_id, letter.handler, letter.reason);
///     if letter.handler.is_some() {
///         // The handler is fixed and deployed: run it again, it alone.
///         dead.replay(&letter)?;
///     }
/// }
/// # Ok::<(), eventlib::Error>(())
/// ```
///
/// Each method fails as the operator's calls do (see [`Operator`]).
#[derive(Debug)]
pub struct DeadLetters<H = Operator> {
    op: H,
}

/// Which dead letters an operator means: every field set must match (an
/// empty string counts as not set). The `eventlib` command's and the
/// dashboard's filters are this one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeadLetterFilter {
    /// The event's name, exactly.
    pub event: Option<String>,
    /// The handler: its path, or the path's last segment (`save_to_db`
    /// matches `shop::save_to_db`).
    pub handler: Option<String>,
    /// The handler group, exactly.
    pub group: Option<String>,
    /// Text the reason contains.
    pub reason: Option<String>,
    /// Only letters written at most this long ago.
    pub since: Option<Duration>,
}

impl DeadLetterFilter {
    /// Whether no field is set: the filter selects every letter.
    pub fn is_empty(&self) -> bool {
        set(&self.event).is_none()
            && set(&self.handler).is_none()
            && set(&self.group).is_none()
            && set(&self.reason).is_none()
            && self.since.is_none()
    }

    /// Whether `letter` passes every field that is set, `now` being the
    /// time `since` counts back from.
    pub fn matches(&self, letter: &DeadLetter, now: SystemTime) -> bool {
        set(&self.event).is_none_or(|e| letter.name.as_deref() == Some(e))
            && set(&self.handler).is_none_or(|wanted| {
                letter.handler.as_deref().is_some_and(|h| {
                    h == wanted
                        || h.strip_suffix(wanted)
                            .is_some_and(|path| path.ends_with("::"))
                })
            })
            && set(&self.group).is_none_or(|g| letter.group == g)
            && set(&self.reason).is_none_or(|r| letter.reason.contains(r))
            && self.since.is_none_or(|since| {
                now.duration_since(letter.failed_at)
                    .is_ok_and(|age| age <= since)
            })
    }
}

fn set(field: &Option<String>) -> Option<&str> {
    field.as_deref().filter(|v| !v.is_empty())
}

/// The dead letters of the default stream (`eventlib:events`, dead letters
/// in `eventlib:events:dead`) on the Redis server at `server`, with an
/// [`Operator`] of their own; use [`DeadLetters::stream`] for another
/// stream. Nothing is connected yet: this fails only with
/// [`Error::Config`], for a malformed URL.
pub fn dead_letters(server: impl Into<Server>) -> Result<DeadLetters, Error> {
    Ok(DeadLetters {
        op: Operator::new(server)?,
    })
}

impl Operator {
    /// The stream's dead letters, on this handle's connection.
    pub fn dead_letters(&mut self) -> DeadLetters<&mut Operator> {
        DeadLetters { op: self }
    }
}

impl DeadLetters {
    /// The event stream whose dead letters these are.
    pub fn stream(self, key: impl Into<String>) -> Self {
        DeadLetters {
            op: self.op.stream(key),
        }
    }
}

impl<H: BorrowMut<Operator>> DeadLetters<H> {
    fn op(&mut self) -> &mut Operator {
        self.op.borrow_mut()
    }

    /// How many dead letters there are (on a partitioned stream, in every
    /// partition).
    pub fn len(&mut self) -> Result<u64, Error> {
        let op = self.op();
        let mut count = own_len(op)?;
        if op.partitioned()? {
            for part in &mut op.parts {
                count += own_len(&mut part.op)?;
            }
        }
        Ok(count)
    }

    /// Whether there are none.
    pub fn is_empty(&mut self) -> Result<bool, Error> {
        Ok(self.len()? == 0)
    }

    /// The oldest `count` dead letters.
    pub fn list(&mut self, count: usize) -> Result<Vec<DeadLetter>, Error> {
        self.page(None, count)
    }

    /// Up to `count` dead letters after the one `after` names (its
    /// [`reference`](DeadLetter::reference); from the oldest when `None`),
    /// oldest first: one page of a listing, without reading what comes
    /// before it. On a partitioned stream the page spans every partition,
    /// in the order of the letters' ids (partition by partition for equal
    /// ids).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for an `after` that is not a dead letter's
    /// reference, or names a partition the stream does not have, and the
    /// connection and server errors of every method.
    pub fn page(&mut self, after: Option<&str>, count: usize) -> Result<Vec<DeadLetter>, Error> {
        let after = after.map(Reference::parse).transpose()?;
        let op = self.op();
        let partitioned = op.partitioned()?;
        // Where the cursor's letter is: 0 the stream's own key, 1.. its
        // partitions.
        let at = match &after {
            None => 0,
            Some(after) => after.position(op)?,
        };
        let mut found: Vec<(StreamId, usize, DeadLetter)> = Vec::new();
        let mut read = |op: &mut Operator, label: Option<&str>, position: usize| {
            let start = match &after {
                None => "-".to_owned(),
                Some(after) if position <= at => format!("({}", after.id),
                Some(after) => after.id.to_string(),
            };
            for letter in own_range(op, label, &start, "+", count)? {
                let id = entry_id(&letter.id)?;
                found.push((id, position, letter));
            }
            Ok::<(), Error>(())
        };
        read(op, None, 0)?;
        if partitioned {
            for (i, part) in op.parts.iter_mut().enumerate() {
                read(&mut part.op, Some(&part.label), i + 1)?;
            }
        }
        found.sort_by_key(|(id, position, _)| (*id, *position));
        Ok(found
            .into_iter()
            .take(count)
            .map(|(_, _, letter)| letter)
            .collect())
    }

    /// Up to `limit` dead letters that `filter` selects, oldest first,
    /// after the one `after` names (from the oldest when `None`), read a
    /// page of the stream at a time (never the whole stream at once);
    /// `more` is true when the limit stopped the search (more may match
    /// after the last one returned). The one selection the `eventlib`
    /// command and the dashboard share.
    ///
    /// ```no_run
    /// let mut dead = eventlib::redis::dead_letters("redis://127.0.0.1/")?;
    /// let filter = eventlib::redis::DeadLetterFilter {
    ///     handler: Some("save_to_db".into()),
    ///     ..Default::default()
    /// };
    /// let (letters, more) = dead.find(&filter, None, 50)?;
    /// # let _ = (letters, more);
    /// # Ok::<(), eventlib::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`page`](Self::page).
    pub fn find(
        &mut self,
        filter: &DeadLetterFilter,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<DeadLetter>, bool), Error> {
        const PAGE: usize = 500;
        let now = SystemTime::now();
        let mut after = after.map(str::to_owned);
        let mut found = Vec::new();
        if limit == 0 {
            return Ok((found, false));
        }
        loop {
            let page = self.page(after.as_deref(), PAGE)?;
            let Some(last) = page.last().map(DeadLetter::reference) else {
                return Ok((found, false));
            };
            for letter in page {
                if filter.matches(&letter, now) {
                    found.push(letter);
                    if found.len() == limit {
                        return Ok((found, true));
                    }
                }
            }
            after = Some(last);
        }
    }

    /// The dead letter that `reference` names (see
    /// [`DeadLetter::reference`]), if there is one. On a partitioned
    /// stream, a bare id is looked for in every partition.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a `reference` that is not a dead letter's, or
    /// a bare id found in more than one partition, and the connection and
    /// server errors of every method.
    pub fn get(&mut self, reference: &str) -> Result<Option<DeadLetter>, Error> {
        let wanted = Reference::parse(reference)?;
        let op = self.op();
        let partitioned = op.partitioned()?;
        let id = wanted.id.to_string();
        if wanted.partition.is_some() {
            let at = wanted.position(op)?;
            let part = &mut op.parts[at - 1];
            return Ok(own_range(&mut part.op, Some(&part.label), &id, &id, 1)?
                .into_iter()
                .next());
        }
        let mut found = own_range(op, None, &id, &id, 1)?;
        if partitioned {
            for part in &mut op.parts {
                found.extend(own_range(&mut part.op, Some(&part.label), &id, &id, 1)?);
            }
        }
        if found.len() > 1 {
            let named: Vec<String> = found.iter().map(DeadLetter::reference).collect();
            return Err(Error::Config {
                option: "id",
                reason: format!(
                    "`{id}` is the id of {} dead letters, one per partition: name one as `{}`",
                    found.len(),
                    named.join("`, `")
                ),
            });
        }
        Ok(found.pop())
    }

    /// Puts the event back in the event stream for the group that gave up
    /// on it (and, for a handler's failure, for that handler alone: its
    /// siblings do not run again), and removes the dead letter; both in one
    /// transaction. Returns the new entry's id. On a partitioned stream
    /// the event goes back to the partition it was dead-lettered from.
    ///
    /// A poison entry whose envelope is a JSON object is replayed like any
    /// other once its cause is fixed (a handler crate linked, a registry
    /// deployed); one without a usable envelope cannot be: fix it and
    /// `XADD` it yourself (see `docs/wire-format.md`), then
    /// [`remove`](Self::remove) it.
    ///
    /// # Errors
    ///
    /// [`Error::Transport`] for a dead letter that cannot be replayed as it
    /// is (no envelope, or one that is not a JSON object);
    /// [`Error::Config`] for a letter of a key that is neither this stream
    /// nor one of its partitions; otherwise those of the connection (see
    /// [`DeadLetters`]).
    pub fn replay(&mut self, letter: &DeadLetter) -> Result<String, Error> {
        let envelope = letter.envelope.as_deref().ok_or_else(|| {
            Error::Transport(format!(
                "dead letter {} has no envelope to replay: fix the entry and XADD it yourself",
                letter.reference()
            ))
        })?;
        let handlers = letter.handler.clone().map(|h| vec![h]);
        let envelope = wire::retarget(envelope.as_bytes(), &letter.group, handlers.as_deref())
            .map_err(|reason| {
                Error::Transport(format!(
                    "dead letter {} cannot be replayed: {reason}",
                    letter.reference()
                ))
            })?;
        let op = home(self.op(), letter)?;
        let (stream, dead) = (op.stream.clone(), keys::dead_letters(&op.stream));
        let (new_id, _): (String, i64) = op.run(Resend::Never, |c| {
            redis::pipe()
                .atomic()
                .cmd("XADD")
                .arg(&stream)
                .arg("*")
                .arg(wire::FIELD)
                .arg(envelope.as_slice())
                .cmd("XDEL")
                .arg(&dead)
                .arg(&letter.id)
                .query(c)
        })?;
        Ok(new_id)
    }

    /// Deletes a dead letter (handled by hand, or not worth handling).
    ///
    /// # Errors
    ///
    /// As [`replay`](Self::replay), without the envelope's.
    pub fn remove(&mut self, letter: &DeadLetter) -> Result<(), Error> {
        let op = home(self.op(), letter)?;
        let key = keys::dead_letters(&op.stream);
        // Deleting it again deletes nothing.
        op.run(Resend::Safe, |c| {
            redis::cmd("XDEL").arg(&key).arg(&letter.id).exec(c)
        })
    }
}

/// A dead letter as an operator names it: `<id>`, or `<partition>/<id>`.
struct Reference {
    partition: Option<String>,
    id: StreamId,
}

impl Reference {
    fn parse(text: &str) -> Result<Reference, Error> {
        let (partition, id) = match text.split_once('/') {
            Some((partition, id)) => (Some(partition.to_owned()), id),
            None => (None, text),
        };
        Ok(Reference {
            partition,
            id: entry_id(id)?,
        })
    }

    /// Where the letter is among `op`'s keys: 0 its own, `i + 1` its
    /// partition `i` (`op.partitioned()` already called).
    fn position(&self, op: &Operator) -> Result<usize, Error> {
        let Some(label) = &self.partition else {
            return Ok(0);
        };
        op.parts
            .iter()
            .position(|p| p.label == *label)
            .map(|i| i + 1)
            .ok_or_else(|| Error::Config {
                option: "id",
                reason: format!(
                    "`{label}` is not a partition of `{}` (its partitions are named `<i>-of-<n>`, \
                     as the listing shows them)",
                    op.stream
                ),
            })
    }
}

/// The dead letters of `op`'s own key between `start` and `end` (as
/// `XRANGE` takes them), at most `count`, told which key and partition
/// they are of.
fn own_range(
    op: &mut Operator,
    partition: Option<&str>,
    start: &str,
    end: &str,
    count: usize,
) -> Result<Vec<DeadLetter>, Error> {
    let key = keys::dead_letters(&op.stream);
    let entries: Vec<Entry> = op.read(
        redis::cmd("XRANGE")
            .arg(key)
            .arg(start)
            .arg(end)
            .arg("COUNT")
            .arg(count),
    )?;
    Ok(entries
        .iter()
        .map(|entry| DeadLetter {
            stream: op.stream.clone(),
            partition: partition.map(str::to_owned),
            ..parse(entry)
        })
        .collect())
}

/// How many dead letters `op`'s own key has.
fn own_len(op: &mut Operator) -> Result<u64, Error> {
    let key = keys::dead_letters(&op.stream);
    op.read(redis::cmd("XLEN").arg(key))
}

/// The handle on the key `letter` was dead-lettered from: `op`'s own, or
/// one of its partitions'.
fn home<'a>(op: &'a mut Operator, letter: &DeadLetter) -> Result<&'a mut Operator, Error> {
    if !letter.stream.is_empty() && letter.stream != op.stream {
        op.partitioned()?;
    }
    let stream = op.stream.clone();
    op.on_stream(&letter.stream).ok_or_else(|| Error::Config {
        option: "stream",
        reason: format!(
            "dead letter {} is of `{}`, which is neither `{stream}` nor one of its partitions",
            letter.reference(),
            letter.stream
        ),
    })
}

/// A dead letter's id, checked before it reaches Redis.
fn entry_id(id: &str) -> Result<StreamId, Error> {
    id.parse().map_err(|reason| Error::Config {
        option: "id",
        reason: format!("{reason} (`<ms>-<seq>`, such as `1700000000000-0`)"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_selects_on_every_field_set_and_ignores_empty_ones() {
        let now = SystemTime::now();
        let letter = DeadLetter {
            id: "5-1".into(),
            source_id: "1-0".into(),
            group: "billing".into(),
            handler: Some("shop::Paid::charge".into()),
            reason: "card refused".into(),
            attempts: 3,
            failed_at: now - Duration::from_secs(600),
            worker: "w".into(),
            name: Some("shop.Paid".into()),
            event_id: None,
            envelope: None,
            fields: None,
            stream: "s".into(),
            partition: None,
        };
        let with = |filter: DeadLetterFilter| filter.matches(&letter, now);
        assert!(DeadLetterFilter::default().is_empty());
        assert!(with(DeadLetterFilter::default()));
        assert!(with(DeadLetterFilter {
            handler: Some("charge".into()),
            group: Some(String::new()),
            ..Default::default()
        }));
        assert!(!with(DeadLetterFilter {
            handler: Some("arge".into()),
            ..Default::default()
        }));
        assert!(with(DeadLetterFilter {
            event: Some("shop.Paid".into()),
            reason: Some("refused".into()),
            since: Some(Duration::from_secs(3600)),
            ..Default::default()
        }));
        assert!(!with(DeadLetterFilter {
            since: Some(Duration::from_secs(60)),
            ..Default::default()
        }));
        assert!(!with(DeadLetterFilter {
            group: Some("emails".into()),
            ..Default::default()
        }));
    }
}
