//! The producer side: [`RedisTransport`] sends the dispatcher's outbox to a
//! stream in pipelined `XADD` batches.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::record::Record;
use crate::redis::backoff::Backoff;
use crate::redis::conn::{Endpoint, Link};
use crate::redis::stats::{ProducerCounters, ProducerStats};
use crate::redis::{wire, DEFAULT_STREAM};
use crate::transport::{Outbox, Transport};

/// Sends events to a Redis stream instead of handling them in this process.
///
/// Install it on the dispatcher; `log!` then validates each event and puts
/// it in the dispatcher's bounded queue as usual (never waiting for Redis),
/// and a thread of this transport sends the queue to the stream in
/// pipelined `XADD` batches. An event counts as delivered (and `flush()`
/// stops waiting for it) only once Redis has confirmed its `XADD`. While
/// Redis is unreachable the events wait in the queue, the thread reconnects
/// with backoff, and everything queued is sent when Redis is back; once the
/// queue is full, the dispatcher's [`Overflow`](crate::Overflow) policy
/// applies.
///
/// ```no_run
/// use eventlib::redis::RedisTransport;
/// use eventlib::Dispatcher;
///
/// Dispatcher::builder()
///     .capacity(100_000)
///     .transport(RedisTransport::new("redis://:secret@127.0.0.1:6379/")?)
///     .install()?;
/// // log!(...) as usual; at exit:
/// let report = eventlib::shutdown(std::time::Duration::from_secs(10));
/// assert_eq!(report.abandoned, 0, "events still waiting for Redis");
/// # Ok::<(), eventlib::Error>(())
/// ```
pub struct RedisTransport {
    endpoint: Endpoint,
    stream: String,
    batch: usize,
    max_len: Option<usize>,
    counters: Arc<ProducerCounters>,
}

static INSTALLED: OnceLock<Arc<ProducerCounters>> = OnceLock::new();

impl RedisTransport {
    /// A transport to the Redis server at `url`: `redis://[user][:password]@host[:port][/db]`,
    /// or `rediss://...` for TLS (feature `redis-tls`). Nothing is
    /// connected yet, so this succeeds while Redis is down; it fails only on
    /// a malformed URL, or a `rediss://` one without the `redis-tls`
    /// feature, with [`Error::Config`].
    pub fn new(url: &str) -> Result<Self, Error> {
        Ok(RedisTransport {
            endpoint: Endpoint::new(url)?,
            stream: DEFAULT_STREAM.to_owned(),
            batch: 256,
            max_len: None,
            counters: Arc::default(),
        })
    }

    /// The stream key (default `eventlib:events`).
    pub fn stream(mut self, key: impl Into<String>) -> Self {
        self.stream = key.into();
        self
    }

    /// How many events one pipelined round trip sends at most (default 256).
    pub fn batch_size(mut self, events: usize) -> Self {
        self.batch = events.max(1);
        self
    }

    /// Caps the stream at about `entries` (`XADD ... MAXLEN ~ entries`), a
    /// guard for when no worker runs for a long time. **Entries past the cap
    /// are removed whether handled or not**; workers trim handled entries
    /// without it. Off by default.
    pub fn max_len(mut self, entries: usize) -> Self {
        self.max_len = Some(entries);
        self
    }

    /// The counters of this transport (live: read them at any time).
    pub fn stats(&self) -> ProducerStats {
        ProducerStats::read(&self.counters)
    }
}

/// The counters of the installed Redis transport, `None` when none runs.
pub fn producer_stats() -> Option<ProducerStats> {
    INSTALLED
        .get()
        .map(|counters| ProducerStats::read(counters))
}

impl Transport for RedisTransport {
    fn name(&self) -> &'static str {
        "redis"
    }

    fn run(self: Box<Self>, outbox: Outbox) {
        let _ = INSTALLED.set(Arc::clone(&self.counters));
        Sender {
            link: Link::new(self.endpoint.clone(), Duration::from_secs(10)),
            transport: *self,
            outbox,
        }
        .run();
    }
}

struct Sender {
    transport: RedisTransport,
    link: Link,
    outbox: Outbox,
}

impl Sender {
    fn run(mut self) {
        let counters = Arc::clone(&self.transport.counters);
        counters.set_capacity(self.outbox.capacity() as u64);
        let mut backoff = Backoff::new(Duration::from_millis(50), Duration::from_secs(2));
        let mut batch: Vec<(Record, Vec<u8>)> = Vec::new();
        let mut down_since: Option<Instant> = None;
        loop {
            if batch.is_empty() {
                self.fill(&mut batch);
                counters.set_depth(self.outbox.depth() as u64);
                if batch.is_empty() {
                    continue;
                }
            }
            match self.send(&batch) {
                Ok(()) => {
                    for (record, _) in batch.drain(..) {
                        self.outbox.delivered(&record);
                    }
                    counters.add_batch(1);
                    backoff.reset();
                    if let Some(since) = down_since.take() {
                        log::info!(
                            "eventlib: Redis at {} is back after {:.1?}",
                            self.link.shown(),
                            since.elapsed()
                        );
                    }
                }
                Err(err) => {
                    counters.add_failed_batch(1);
                    counters.set_depth(self.outbox.depth() as u64);
                    if down_since.is_none() {
                        down_since = Some(Instant::now());
                        log::warn!(
                            "eventlib: cannot send to Redis at {} ({err}); events wait in the \
                             outbox ({} queued) and are sent when it is back",
                            self.link.shown(),
                            self.outbox.depth() + batch.len()
                        );
                    }
                    std::thread::sleep(backoff.next_wait());
                }
            }
        }
    }

    /// Takes up to a batch of events off the outbox, waiting a little for
    /// the first.
    fn fill(&self, batch: &mut Vec<(Record, Vec<u8>)>) {
        let Some(first) = self.outbox.recv_timeout(Duration::from_millis(200)) else {
            return;
        };
        let payload = wire::encode(&first);
        batch.push((first, payload));
        while batch.len() < self.transport.batch {
            let Some(record) = self.outbox.try_recv() else {
                break;
            };
            let payload = wire::encode(&record);
            batch.push((record, payload));
        }
    }

    fn send(&mut self, batch: &[(Record, Vec<u8>)]) -> redis::RedisResult<()> {
        let mut pipe = redis::pipe();
        for (_, payload) in batch {
            let cmd = pipe.cmd("XADD").arg(&self.transport.stream);
            if let Some(max_len) = self.transport.max_len {
                cmd.arg("MAXLEN").arg("~").arg(max_len);
            }
            cmd.arg("*").arg(wire::FIELD).arg(payload.as_slice());
        }
        let counters = &self.transport.counters;
        self.link
            .run(counters.reconnects(), |conn| pipe.exec(conn))?;
        counters.add_sent(batch.len() as u64);
        Ok(())
    }
}
