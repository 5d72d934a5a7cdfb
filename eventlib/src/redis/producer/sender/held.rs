//! With [`Confirm`](crate::redis::Confirm): the partitions whose replicas
//! fell short. Their events are held (sent ones until the replicas have
//! them, later ones unsent and in order) while the sender goes on with the
//! other partitions, and each is asked again on its own connection.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Item, Replies, Sender};

/// How often a partition whose replicas fell short is asked again, and
/// how long each ask waits for them: the other partitions are sent to in
/// between.
pub(super) const ASK_AGAIN: Duration = Duration::from_millis(50);
const ASK_WAIT_MS: u64 = 5;

/// With [`Confirm`](crate::redis::Confirm): a partition whose replicas have not
/// confirmed what it was sent. Its events wait here, and the other
/// partitions go on; it is asked again every [`ASK_AGAIN`].
#[derive(Default)]
pub(super) struct Held {
    /// Written to the partition's primary on the connection of generation
    /// `connection`, not yet confirmed by enough replicas. The partition is
    /// held while there are any.
    sent: Vec<Item>,
    connection: Option<u64>,
    /// The partition's events that came meanwhile, sent once it is
    /// confirmed (in order: a partition key's events stay in order).
    unsent: Vec<Item>,
    next_ask: Option<Instant>,
}

impl Held {
    fn holding(&self) -> bool {
        !self.sent.is_empty()
    }

    fn len(&self) -> usize {
        self.sent.len() + self.unsent.len()
    }
}

/// The events `items` of a batch, written to `partition` on the
/// connection of generation `connection`, whose replicas fell short.
pub(super) struct Parked {
    pub(super) partition: usize,
    pub(super) items: Vec<usize>,
    pub(super) connection: Option<u64>,
}

/// What asking a held partition's replicas again gave.
enum Asked {
    Confirmed,
    Short,
    /// The connection its events were written on is gone: they are sent
    /// again.
    Lost,
}

impl Sender {
    /// How many events wait for replicas, sent or not.
    pub(super) fn held_len(&self) -> usize {
        self.held.iter().map(Held::len).sum()
    }

    /// The partition this batch's spread events go to: each in turn,
    /// passing over those held while any is not.
    pub(super) fn spread_to(&mut self) -> usize {
        let n = self.links.len();
        let start = self.next;
        self.next = self.next.wrapping_add(1);
        (0..n)
            .map(|k| (start + k) % n)
            .find(|&p| !self.held[p].holding())
            .unwrap_or(start % n)
    }

    /// Moves the events of held partitions out of `batch`, to be sent
    /// once their partition is confirmed; spread events are held only when
    /// every partition is.
    pub(super) fn hold_back(&mut self, batch: &mut Vec<Item>) {
        if !self.held.iter().any(Held::holding) {
            return;
        }
        let all = self.held.iter().all(Held::holding);
        let spread = self.next % self.links.len();
        let mut kept = Vec::with_capacity(batch.len());
        for item in batch.drain(..) {
            match item.partition {
                Some(p) if self.held[p].holding() => self.held[p].unsent.push(item),
                None if all => self.held[spread].unsent.push(item),
                _ => kept.push(item),
            }
        }
        *batch = kept;
    }

    /// Takes the events of `parked` out of `batch` (and their replies out
    /// of `replies`): Redis has them, their replicas not yet.
    pub(super) fn park(
        &mut self,
        batch: &mut Vec<Item>,
        replies: &mut Replies,
        parked: Vec<Parked>,
    ) {
        if parked.is_empty() {
            return;
        }
        let mut to: Vec<Option<usize>> = vec![None; batch.len()];
        for park in &parked {
            for &i in &park.items {
                if replies[i].is_ok() {
                    to[i] = Some(park.partition);
                }
            }
        }
        let now = Instant::now();
        for park in &parked {
            let held = &mut self.held[park.partition];
            if !held.holding() {
                held.connection = park.connection;
                held.next_ask = Some(now + ASK_AGAIN);
                if let Some(confirm) = self.transport.confirm {
                    crate::notice::warn(&format!(
                        "eventlib: fewer than {} replica(s) of the primary of `{}` confirmed a \
                         batch within {:?}; its events wait for them, and the other partitions \
                         go on",
                        confirm.replicas, self.keys[park.partition], confirm.timeout
                    ));
                }
            }
        }
        let mut kept = Vec::with_capacity(batch.len());
        let mut kept_replies = Vec::with_capacity(replies.len());
        for ((item, reply), to) in batch.drain(..).zip(replies.drain(..)).zip(to) {
            match to {
                Some(p) => self.held[p].sent.push(item),
                None => {
                    kept.push(item);
                    kept_replies.push(reply);
                }
            }
        }
        *batch = kept;
        *replies = kept_replies;
    }

    /// Asks each held partition whose time has come whether its replicas
    /// have its events now: confirmed, they are delivered and the events
    /// held back go to the front of `batch`; on a lost connection, all go
    /// there to be sent again.
    pub(super) fn ask_held(&mut self, batch: &mut Vec<Item>) {
        let Some(confirm) = self.transport.confirm else {
            return;
        };
        let now = Instant::now();
        let counters = Arc::clone(&self.transport.counters);
        for p in 0..self.held.len() {
            let held = &self.held[p];
            if held.len() == 0 || held.next_ask.is_some_and(|at| at > now) {
                continue;
            }
            let asked = if held.holding() {
                let connection = held.connection;
                let link = &mut self.links[p];
                let answer = link.run(counters.reconnects(), |conn| {
                    redis::cmd("WAIT")
                        .arg(confirm.replicas)
                        .arg(ASK_WAIT_MS)
                        .query::<i64>(conn)
                });
                match answer {
                    Ok(n) if link.generation() == connection => {
                        if n >= i64::from(confirm.replicas) {
                            Asked::Confirmed
                        } else {
                            Asked::Short
                        }
                    }
                    _ => Asked::Lost,
                }
            } else {
                Asked::Confirmed
            };
            let held = &mut self.held[p];
            if let Asked::Short = asked {
                counters.add_short_wait(1);
                held.next_ask = Some(now + ASK_AGAIN);
                continue;
            }
            let mut sent = std::mem::take(&mut held.sent);
            let unsent = std::mem::take(&mut held.unsent);
            held.next_ask = None;
            held.connection = None;
            if let Asked::Lost = asked {
                counters.add_unconfirmed_resent(sent.len() as u64);
                batch.splice(0..0, sent.into_iter().chain(unsent));
                continue;
            }
            if !sent.is_empty() {
                let replies = sent.iter().map(|_| Ok(redis::Value::Okay)).collect();
                let transient = self.settle(&mut sent, replies);
                debug_assert!(transient.is_none() && sent.is_empty());
            }
            batch.splice(0..0, unsent);
        }
    }
}
