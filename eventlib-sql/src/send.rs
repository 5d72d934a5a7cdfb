//! Handing a batch of outbox rows to the dispatcher, and knowing when the
//! transport confirmed them: a Redis producer's `XADD` answered, or the
//! local pool's handlers finished.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use eventlib::outbox::{ResendError, Watch};

/// A committed outbox row, as a store claimed it.
pub(crate) struct Row {
    /// Its sequence number, to delete or mark it.
    pub(crate) seq: i64,
    /// The event's name (the `name` column).
    pub(crate) name: String,
    /// The envelope (the `envelope` column).
    pub(crate) envelope: String,
}

impl From<(i64, String, String)> for Row {
    /// A row as `SELECT seq, name, envelope` reads it.
    fn from((seq, name, envelope): (i64, String, String)) -> Self {
        Row {
            seq,
            name,
            envelope,
        }
    }
}

/// How the `error` column of a row begins when its event is not linked
/// into the relay's program. That happens while a deploy rolls out: the
/// service's new version logs a new event, and a relay of the old version
/// claims its row. A relay of a program that links the event clears the
/// mark and sends the row (see `Store::relink`); a row whose data does
/// not fit its type, or whose envelope cannot be read, stays marked.
pub(crate) const NOT_LINKED: &str = "not linked into the relay's program: ";

/// What one cycle of a store came to.
#[derive(Debug, Default)]
pub(crate) struct Sent {
    /// Rows the cycle claimed and handed on (0: nothing waited).
    pub(crate) claimed: usize,
    /// Rows the transport confirmed: to delete (deleted, once the store
    /// returns them).
    pub(crate) delivered: Vec<i64>,
    /// Rows that can never be sent, with the reason: to mark.
    pub(crate) poison: Vec<(i64, String)>,
    /// Of the delivered rows, how many of each event went nowhere: no
    /// transport is installed and the program links no handler of it.
    pub(crate) nowhere: Vec<(String, usize)>,
    /// The dispatcher refused an event: the rest of the batch waits.
    pub(crate) refused: Option<eventlib::Error>,
    /// The transport gave an event up while the batch was out: no row of
    /// the batch is deleted, and the batch is sent again.
    pub(crate) unconfirmed: bool,
    /// Another relay holds the outbox (SQLite's lease), named so: this
    /// cycle claimed nothing.
    pub(crate) standby: Option<String>,
}

impl Sent {
    /// Whether the whole batch went out: nothing refused or given up.
    pub(crate) fn clean(&self) -> bool {
        self.refused.is_none() && !self.unconfirmed
    }

    /// Adds what an earlier batch, finished in the same cycle, came to.
    pub(crate) fn and(mut self, earlier: Sent) -> Sent {
        self.delivered.extend(earlier.delivered);
        self.poison.extend(earlier.poison);
        self.nowhere.extend(earlier.nowhere);
        self
    }
}

/// The first and the longest wait between two looks at the counters of
/// the batch's events (a look reads a few atomics).
const LOOK_FIRST: Duration = Duration::from_micros(20);
const LOOK_AT_MOST: Duration = Duration::from_micros(100);

/// Hands `rows` to the dispatcher in order, then waits until the
/// transport confirmed them.
///
/// Confirmed means: no event of the batch's names is in flight any more.
/// Waiting for those names only, not for `flush()` (every event of the
/// process), keeps a relay moving in a service that logs other events all
/// the time.
pub(crate) async fn send(rows: Vec<Row>) -> Sent {
    let claimed = rows.len();
    let names: BTreeSet<&str> = rows.iter().map(|row| row.name.as_str()).collect();
    // Which events a transport gives up is not told per event: any drop of
    // the batch's names while it is out keeps the whole batch (a re-send
    // keeps the ids).
    let known = Watch::of(
        names
            .into_iter()
            .filter(|name| Watch::of([*name]).is_some()),
    )
    .unwrap_or_default();
    let dropped_before = known.dropped();
    // Set if this future is dropped first (a relay stopped while the
    // transport cannot confirm): the thread that waits gives up.
    let abandoned = Arc::new(AtomicBool::new(false));
    let _abandon = Abandon(Arc::clone(&abandoned));
    // A dispatch may wait for room in the queue, and the wait for the
    // confirmation looks at the counters every few tens of microseconds:
    // both off the runtime's threads.
    let (mut sent, waited) = tokio::task::spawn_blocking(move || {
        let mut sent = Sent {
            claimed,
            ..Sent::default()
        };
        let mut handed = BTreeMap::new();
        for row in rows {
            match eventlib::outbox::resend(row.envelope.as_bytes()) {
                Ok(_) => {
                    sent.delivered.push(row.seq);
                    *handed.entry(row.name).or_insert(0) += 1;
                }
                Err(ResendError::Dispatch(err)) => {
                    sent.refused = Some(err);
                    break;
                }
                Err(ResendError::UnknownEvent(reason)) => {
                    sent.poison.push((row.seq, format!("{NOT_LINKED}{reason}")));
                }
                Err(other) => sent.poison.push((row.seq, other.to_string())),
            }
        }
        let waited = if sent.delivered.is_empty() {
            Waited::NothingSent
        } else {
            sent.nowhere = handed
                .iter()
                .filter(|(name, _)| eventlib::outbox::goes_nowhere(name))
                .map(|(name, rows)| (name.clone(), *rows))
                .collect();
            match Watch::of(handed.keys().map(String::as_str)) {
                Some(watch) => {
                    wait_settled(&watch, &abandoned);
                    Waited::Settled
                }
                None => Waited::UnknownName,
            }
        };
        (sent, waited)
    })
    .await
    .unwrap_or_else(|_| {
        let refused = Sent {
            claimed,
            refused: Some(eventlib::Error::ShutDown),
            ..Sent::default()
        };
        (refused, Waited::NothingSent)
    });
    match waited {
        Waited::NothingSent => return sent,
        Waited::Settled => {}
        // A name the registry does not know (a row written by hand under
        // another name than its envelope's): every event is waited for.
        Waited::UnknownName => {
            eventlib::flush_async().await;
        }
    }
    if known.dropped() > dropped_before {
        sent.delivered.clear();
        sent.unconfirmed = true;
    }
    sent
}

/// How the wait for the batch's confirmation ended.
enum Waited {
    /// Nothing was handed to the dispatcher.
    NothingSent,
    /// Nothing of the batch's names is in flight.
    Settled,
    /// A name the registry does not know: every event was waited for.
    UnknownName,
}

/// Sets its flag when dropped.
struct Abandon(Arc<AtomicBool>);

impl Drop for Abandon {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Waits until nothing of `watch`'s names is in flight, or `abandoned` is
/// set (on a thread that may block).
fn wait_settled(watch: &Watch, abandoned: &AtomicBool) {
    let mut pause = LOOK_FIRST;
    while !watch.settled() && !abandoned.load(Ordering::Relaxed) {
        std::thread::sleep(pause);
        pause = (pause * 2).min(LOOK_AT_MOST);
    }
}
