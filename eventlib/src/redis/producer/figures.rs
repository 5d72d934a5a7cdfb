//! Publishing this producer's figures: what it sent and gave up of each
//! event since the last time, added to the stream's minute and hour
//! buckets, and this process's line among the live ones (see
//! `redis/timeline.rs` for the layout). Done by the sender thread, on a
//! connection of its own: every few seconds, when a burst of events ends
//! (at most every 200 ms), and before it settles the last batch a `flush`
//! waits for; `shutdown` publishes what is left and withdraws the line. A
//! failure to publish never holds an event back; counts not written are
//! kept for the next time.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use crate::redis::cluster;
use crate::redis::conn::{Endpoint, Link};
use crate::redis::fault::{describe, fault, Fault};
use crate::redis::stream_id::millis;
use crate::redis::timeline::{self, Process};

/// The shortest time between two publications at the end of a burst.
const AT_BURST_END: Duration = Duration::from_millis(200);

/// What the sender did with one event and has not published yet.
#[derive(Default, Clone, Copy)]
struct Unpublished {
    sent: u64,
    given_up: u64,
}

/// The figures of the process's producer (one per process: the
/// dispatcher is global), shared by its sender thread and `shutdown`.
static FIGURES: OnceLock<Mutex<Figures>> = OnceLock::new();

/// The producer's figures, for the sender thread to count and publish.
pub(super) fn install(endpoint: Endpoint, stream: &str) -> &'static Mutex<Figures> {
    FIGURES.get_or_init(|| Mutex::new(Figures::new(endpoint, stream)))
}

/// What `shutdown` calls once the events settled: the last figures
/// published, and this process's line withdrawn.
pub(super) fn on_shutdown() {
    if let Some(figures) = FIGURES.get() {
        let mut figures = figures.lock().unwrap_or_else(|e| e.into_inner());
        figures.publish_if_due(true, true);
        figures.withdraw();
    }
}

pub(super) struct Figures {
    link: Link,
    stream: String,
    /// This process's name among the live ones.
    name: String,
    me: Process,
    last: Option<Instant>,
    /// What is not published yet, by event name.
    unpublished: BTreeMap<&'static str, Unpublished>,
    /// Redis refused the commands for good (an ACL user without them):
    /// said once, not tried again.
    refused: bool,
    /// On a cluster, the keys are in different slots: nothing is tried.
    cross_slot: bool,
    reconnects: AtomicU64,
}

impl Figures {
    pub(super) fn new(endpoint: Endpoint, stream: &str) -> Self {
        let host = timeline::host_name().unwrap_or_default();
        let pid = std::process::id();
        let key = timeline::processes_key(stream);
        // One transaction writes the buckets and the line: on a cluster,
        // only when they share a slot (a stream key with a hash tag).
        let cross_slot = endpoint.is_cluster()
            && cluster::slot(key.as_bytes())
                != cluster::slot(timeline::minute_key(stream, 0).as_bytes());
        Figures {
            cross_slot,
            link: Link::for_key(endpoint, &key, std::time::Duration::from_secs(5)),
            stream: stream.to_owned(),
            name: format!("producer:{host}:{pid}"),
            me: Process {
                kind: "producer".to_owned(),
                host,
                pid,
                started_ms: millis(SystemTime::now()),
                ..Process::default()
            },
            last: None,
            unpublished: BTreeMap::new(),
            refused: false,
            reconnects: AtomicU64::new(0),
        }
    }

    /// Redis confirmed an event of `name`.
    pub(super) fn sent(&mut self, name: &'static str) {
        self.unpublished.entry(name).or_default().sent += 1;
    }

    /// An event of `name` was given up.
    pub(super) fn given_up(&mut self, name: &'static str) {
        self.unpublished.entry(name).or_default().given_up += 1;
    }

    /// Publishes when [`PUBLISH_EVERY`](timeline::PUBLISH_EVERY) passed
    /// since the last try, or, with `burst_ended`, when something is
    /// unpublished and the last try is a little while ago, or at once
    /// with `flushing` (a `flush` waits for the batch about to be settled).
    pub(super) fn publish_if_due(&mut self, burst_ended: bool, flushing: bool) {
        if self.refused {
            return;
        }
        let since = self.last.map(|at| at.elapsed());
        let due = since.is_none_or(|s| s >= timeline::PUBLISH_EVERY)
            || (!self.unpublished.is_empty()
                && (flushing || (burst_ended && since.is_some_and(|s| s >= AT_BURST_END))));
        if !due {
            return;
        }
        self.last = Some(Instant::now());
        if self.cross_slot {
            self.refused = true;
            crate::notice::warn(&format!(
                "eventlib: this producer's figures on `{}` are not published: on a Redis \
                 Cluster the stream's keys are in different slots; give the stream a hash tag \
                 (`{{shop}}:events`) to see them. Its events are sent all the same",
                self.stream
            ));
            return;
        }
        match self.write() {
            Ok(()) => self.unpublished.clear(),
            Err(err) if fault(&err) == Fault::Permanent => {
                self.refused = true;
                self.unpublished.clear();
                crate::notice::warn(&format!(
                    "eventlib: Redis at {} refuses this producer's figures on `{}` ({}); its \
                     events are sent all the same, but `eventlib status`, `eventlib top` and \
                     the dashboard do not see what it sends: give its user the commands \
                     docs/security.md lists for a producer",
                    self.link.shown(),
                    self.stream,
                    describe(&err)
                ));
            }
            // Kept for the next time: nothing is lost or added twice (the
            // writes are one transaction).
            Err(_) => {}
        }
    }

    /// Removes this process's line (a clean stop); nothing is published
    /// after it.
    fn withdraw(&mut self) {
        if self.refused {
            return;
        }
        self.refused = true;
        let key = timeline::processes_key(&self.stream);
        let name = &self.name;
        let _ = self.link.run(&self.reconnects, |c| {
            redis::cmd("HDEL").arg(&key).arg(name).exec(c)
        });
    }

    fn write(&mut self) -> redis::RedisResult<()> {
        let now = millis(SystemTime::now());
        let minute_key = timeline::minute_key(&self.stream, now / 60_000);
        let hour_key = timeline::hour_key(&self.stream, now / 3_600_000);
        let mut pipe = redis::pipe();
        pipe.atomic();
        for (event, counts) in &self.unpublished {
            for (what, n) in [("sent", counts.sent), ("dropped", counts.given_up)] {
                if n > 0 {
                    let field = timeline::produced_field(event, what);
                    for key in [&minute_key, &hour_key] {
                        pipe.cmd("HINCRBY").arg(key).arg(&field).arg(n).ignore();
                    }
                }
            }
        }
        for (key, kept) in [
            (&minute_key, timeline::MINUTES_KEPT * 60),
            (&hour_key, timeline::HOURS_KEPT * 3600),
        ] {
            pipe.cmd("EXPIRE").arg(key).arg(kept).ignore();
        }
        let seen = Process {
            seen_ms: now,
            ..self.me.clone()
        };
        pipe.cmd("HSET")
            .arg(timeline::processes_key(&self.stream))
            .arg(&self.name)
            .arg(serde_json::to_string(&seen).unwrap_or_default())
            .ignore();
        let reconnects = &self.reconnects;
        self.link.run(reconnects, |c| pipe.exec(c))
    }
}
