//! Handing a batch of outbox rows to the dispatcher, and knowing when the
//! transport confirmed them: a Redis producer's `XADD` answered, or the
//! local pool's handlers finished.

use std::collections::BTreeSet;
use std::time::Duration;

use eventlib::outbox::ResendError;

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

/// What one batch came to.
#[derive(Debug, Default)]
pub(crate) struct Sent {
    /// Rows the transport confirmed: to delete.
    pub(crate) delivered: Vec<i64>,
    /// Rows that can never be sent, with the reason: to mark.
    pub(crate) poison: Vec<(i64, String)>,
    /// The dispatcher refused an event: the rest of the batch waits.
    pub(crate) refused: Option<eventlib::Error>,
    /// The transport gave an event up while the batch was out: no row of
    /// the batch is deleted, and the batch is sent again.
    pub(crate) unconfirmed: bool,
}

/// The first and the longest wait between two looks at the counters of
/// the batch's events.
const LOOK_FIRST: Duration = Duration::from_micros(20);
const LOOK_AT_MOST: Duration = Duration::from_millis(2);

/// Hands `rows` to the dispatcher in order, then waits until the
/// transport confirmed them.
///
/// Confirmed means: no event of the batch's names is in flight any more.
/// Waiting for those names only, not for `flush()` (every event of the
/// process), keeps a relay moving in a service that logs other events all
/// the time.
pub(crate) async fn send(rows: Vec<Row>) -> Sent {
    let names: BTreeSet<String> = rows.iter().map(|row| row.name.clone()).collect();
    // Which events a transport gives up is not told per event: any drop of
    // the batch's names while it is out keeps the whole batch (a re-send
    // keeps the ids).
    let dropped_before = dropped(&eventlib::stats(), &names);
    // A dispatch may wait for room in the queue, and the wait for the
    // confirmation looks at the counters every few tens of microseconds:
    // both off the runtime's threads.
    let (mut sent, waited) = tokio::task::spawn_blocking(move || {
        let (mut sent, mut handed) = (Sent::default(), BTreeSet::new());
        for row in rows {
            match eventlib::outbox::resend(row.envelope.as_bytes()) {
                Ok(_) => {
                    sent.delivered.push(row.seq);
                    handed.insert(row.name);
                }
                Err(ResendError::Dispatch(err)) => {
                    sent.refused = Some(err);
                    break;
                }
                Err(other) => sent.poison.push((row.seq, other.to_string())),
            }
        }
        let waited = if sent.delivered.is_empty() {
            Waited::NothingSent
        } else {
            wait_settled(&handed).map_or(Waited::UnknownName, Waited::Settled)
        };
        (sent, waited)
    })
    .await
    .unwrap_or_else(|_| {
        let refused = Sent {
            refused: Some(eventlib::Error::ShutDown),
            ..Sent::default()
        };
        (refused, Waited::NothingSent)
    });
    let settled = match waited {
        Waited::NothingSent => return sent,
        Waited::Settled(stats) => stats,
        Waited::UnknownName => {
            eventlib::flush_async().await;
            eventlib::stats()
        }
    };
    if dropped(&settled, &names) > dropped_before {
        sent.delivered.clear();
        sent.unconfirmed = true;
    }
    sent
}

/// How the wait for the batch's confirmation ended.
enum Waited {
    /// Nothing was handed to the dispatcher.
    NothingSent,
    /// Nothing of the batch's names is in flight: the counters then.
    Settled(eventlib::Stats),
    /// A name the registry does not know (a row written by hand under
    /// another name than its envelope's): wait for every event instead.
    UnknownName,
}

/// Waits until nothing of `names` is in flight (on a thread that may
/// block); returns the counters read then, or `None` when a name is not
/// registered.
fn wait_settled(names: &BTreeSet<String>) -> Option<eventlib::Stats> {
    let mut pause = LOOK_FIRST;
    loop {
        match settled(names)? {
            Settled::Yes(stats) => return Some(stats),
            Settled::No => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(LOOK_AT_MOST);
            }
        }
    }
}

enum Settled {
    /// Nothing of these names in flight; the counters read first.
    Yes(eventlib::Stats),
    No,
}

/// Whether every event of `names` emitted so far is completed or dropped.
/// The settled counts are read before the emitted ones (counters only
/// grow, and an event is emitted before it settles): equal sums then
/// mean nothing of these names was in flight when the first were read.
/// `None` when a name is not registered.
fn settled(names: &BTreeSet<String>) -> Option<Settled> {
    let first = eventlib::stats();
    let then = eventlib::stats();
    for name in names {
        let (before, after) = (first.event(name)?, then.event(name)?);
        if after.emitted > before.completed + before.dropped {
            return Some(Settled::No);
        }
    }
    Some(Settled::Yes(first))
}

/// The events of `names` the dispatcher or the transport dropped so far.
fn dropped(stats: &eventlib::Stats, names: &BTreeSet<String>) -> u64 {
    names
        .iter()
        .filter_map(|name| stats.event(name))
        .map(|event| event.dropped)
        .sum()
}
