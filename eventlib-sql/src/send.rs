//! Handing a batch of outbox rows to the dispatcher, and knowing when the
//! transport confirmed them: a Redis producer's `XADD` answered, or the
//! local pool's handlers finished.

use std::collections::BTreeMap;

use eventlib::outbox::{Batch, ResendError, Settling};

/// A committed outbox row, as a store claimed it.
pub(crate) struct Row {
    /// Its sequence number, to delete or mark it.
    pub(crate) seq: i64,
    /// The envelope (the `envelope` column).
    pub(crate) envelope: String,
}

impl From<(i64, String)> for Row {
    /// A row as `SELECT seq, envelope` reads it.
    fn from((seq, envelope): (i64, String)) -> Self {
        Row { seq, envelope }
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

    /// Adds what an earlier batch, finished in the same cycle, came to
    /// (its rows, and whether something of it was refused or given up).
    pub(crate) fn and(mut self, earlier: Sent) -> Sent {
        self.delivered.extend(earlier.delivered);
        self.poison.extend(earlier.poison);
        self.nowhere.extend(earlier.nowhere);
        self.refused = self.refused.or(earlier.refused);
        self.unconfirmed |= earlier.unconfirmed;
        self
    }
}

/// A batch handed to the dispatcher: what became of each row, and the
/// wait for the transport to confirm the events handed over.
pub(crate) struct Handed {
    sent: Sent,
    settling: Option<Settling>,
}

impl Handed {
    /// Rows handed over (or marked): the batch's [`Sent::claimed`].
    #[cfg(feature = "postgres")]
    pub(crate) fn claimed(&self) -> usize {
        self.sent.claimed
    }

    /// Whether every row was handed over or marked: nothing refused.
    #[cfg(feature = "postgres")]
    pub(crate) fn clean(&self) -> bool {
        self.sent.clean()
    }

    /// Waits until every event the batch handed over is settled. Which of
    /// them a transport gave up is not told per row: any drop keeps the
    /// whole batch ([`Sent::unconfirmed`]), to be sent again under the
    /// same ids.
    pub(crate) async fn confirmed(self) -> Sent {
        let mut sent = self.sent;
        if let Some(settling) = self.settling {
            if settling.await.dropped > 0 {
                sent.delivered.clear();
                sent.unconfirmed = true;
            }
        }
        sent
    }
}

/// Hands `rows` to the dispatcher in order, as one [`Batch`]; the rows
/// whose event cannot be sent are kept to be marked, and the first one
/// the dispatcher refuses stops the batch.
///
/// Only the batch's own events are waited for ([`Handed::confirmed`]):
/// a service that logs other events, or the same ones, all the time does
/// not hold the relay up, and the next batch may be handed over while
/// this one waits.
pub(crate) async fn hand(rows: Vec<Row>) -> Handed {
    let claimed = rows.len();
    // A dispatch may wait for room in the queue: off the runtime's threads.
    tokio::task::spawn_blocking(move || {
        let batch = Batch::new();
        let mut sent = Sent {
            claimed,
            ..Sent::default()
        };
        let mut handed = BTreeMap::new();
        for row in rows {
            match batch.resend(row.envelope.into_bytes()) {
                Ok(resent) => {
                    sent.delivered.push(row.seq);
                    *handed.entry(resent.name()).or_insert(0) += 1;
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
        sent.nowhere = handed
            .into_iter()
            .filter(|(name, _)| eventlib::outbox::goes_nowhere(name))
            .map(|(name, rows)| (name.to_owned(), rows))
            .collect();
        Handed {
            sent,
            settling: Some(batch.settled()),
        }
    })
    .await
    .unwrap_or_else(|_| Handed {
        sent: Sent {
            claimed,
            refused: Some(eventlib::Error::ShutDown),
            ..Sent::default()
        },
        settling: None,
    })
}

/// [`hand`], then [`Handed::confirmed`].
#[cfg(feature = "sqlite")]
pub(crate) async fn send(rows: Vec<Row>) -> Sent {
    hand(rows).await.confirmed().await
}
