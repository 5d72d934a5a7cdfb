//! The producer's sender thread: takes batches from the outbox (or the
//! spool), sends them in pipelined `XADD`s, and settles each event once
//! Redis confirmed it or it is given up.

use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::RedisError;

use crate::failure::{Failure, FailureKind};
use crate::id::EventId;
use crate::record::Record;
use crate::redis::backoff::Backoff;
use crate::redis::conn::Link;
use crate::redis::fault::{describe, fault, is_topology_change, Fault};
use crate::redis::partitions;
use crate::redis::producer::exposure::Exposure;
use crate::redis::producer::figures::{self, Figures};
use crate::redis::producer::spool::{start_drain, Reader, Said, Spool, Tally};
use crate::redis::producer::stats::ProducerCounters;
use crate::redis::{groups, wire};
use crate::registry::registry;
use crate::transport::Outbox;
use std::sync::Mutex;

use super::{RedisTransport, INSTALLED};

mod held;
mod resp;

use held::{Held, Parked, ASK_AGAIN};

/// How long a producer whose connection Redis refuses (a wrong password,
/// an unknown user) waits before it tries to connect again; the events
/// logged meanwhile are given up.
const REFUSED_RETRY: Duration = Duration::from_secs(5);

/// Runs the sender of `transport` on `outbox` until the dispatcher stops.
pub(super) fn run(transport: RedisTransport, outbox: Outbox) {
    crate::meters::on_own_thread();
    let outbox = Arc::new(outbox);
    let source = match &transport.spool {
        None => Source::Queue,
        Some(spool) => {
            let tally = Arc::new(Tally::new(Arc::clone(&outbox)));
            let drained = start_drain(&outbox, &tally);
            let reader = Reader::new(Arc::clone(spool));
            transport.counters.set_spool_backlog(reader.backlog());
            Source::Spool {
                reader,
                spool: Arc::clone(spool),
                tally,
                drain_here: !drained,
            }
        }
    };
    let _ = INSTALLED.set(Arc::clone(&transport.counters));
    let keys = partitions::keys(&transport.stream, transport.partitions);
    let links = keys
        .iter()
        .map(|key| Link::for_key(transport.endpoint.clone(), key, Duration::from_secs(10)))
        .collect();
    let exposure = keys.iter().map(|_| Exposure::default()).collect();
    let held = keys.iter().map(|_| Held::default()).collect();
    let figures = figures::install(transport.endpoint.clone(), &transport.stream);
    Sender {
        figures,
        links,
        exposure,
        held,
        keys,
        next: 0,
        recorded: transport.partitions <= 1,
        transport,
        outbox,
        source,
        refused: None,
        deferred: Vec::new(),
    }
    .run();
}

/// Where the sender takes events from.
enum Source {
    /// The dispatcher's queue (the in-memory outbox).
    Queue,
    /// The spool, read in order; the queue's records are only counted.
    Spool {
        reader: Reader,
        spool: Arc<Spool>,
        tally: Arc<Tally>,
        drain_here: bool,
    },
}

/// One event in a batch.
struct Item {
    /// Empty for a record that keeps the envelope it was read from (see
    /// [`Item::envelope`]).
    envelope: Vec<u8>,
    origin: Origin,
    /// The partition of its partition key; `None` when it is spread.
    partition: Option<usize>,
}

enum Origin {
    Queued(Record),
    Spooled { recovered: bool },
}

/// Each event's reply, in the order of its batch.
type Replies = Vec<redis::RedisResult<redis::Value>>;

/// The connection is refused for good (credentials): events are given up
/// until a try at `next_try` succeeds.
struct Refusal {
    reason: String,
    next_try: Instant,
    given_up: u64,
}

struct Sender {
    transport: RedisTransport,
    /// One link per partition, to the node that serves it.
    links: Vec<Link>,
    /// The partitions' stream keys.
    keys: Vec<String>,
    /// Without `Confirm`, on a cluster: each partition's confirmed events
    /// no replica was yet seen to have.
    exposure: Vec<Exposure>,
    /// Each partition's events waiting for its replicas (with `Confirm`).
    held: Vec<Held>,
    /// The partition the next batch's spread events go to.
    next: usize,
    /// Whether the partition count is recorded for the operator's tools.
    recorded: bool,
    outbox: Arc<Outbox>,
    source: Source,
    refused: Option<Refusal>,
    /// This producer's figures over time (shared with `shutdown`).
    figures: &'static Mutex<Figures>,
    /// Outcomes of spooled events, told to the tally once the spool has
    /// recorded them: a process that exits when `flush` returns leaves no
    /// confirmed frame behind.
    deferred: Vec<(usize, Said)>,
}

impl Sender {
    fn figures(&self) -> std::sync::MutexGuard<'static, Figures> {
        self.figures.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts the outbox's depth, in the producer's stats and as a gauge.
    fn note_depth(&self, counters: &ProducerCounters) {
        let depth = self.outbox.depth() as u64;
        counters.set_depth(depth);
        #[cfg(feature = "metrics")]
        crate::meters::outbox_depth(&self.transport.stream, depth);
    }

    fn run(mut self) {
        let counters = Arc::clone(&self.transport.counters);
        counters.set_capacity(self.outbox.capacity() as u64);
        if let Source::Spool { spool, .. } = &self.source {
            if spool.found_bytes() > 0 {
                log::info!(
                    "eventlib: sending {} bytes of events an earlier run left in the spool `{}`",
                    spool.found_bytes(),
                    spool.dir().display()
                );
            }
        }
        let mut backoff = Backoff::new(Duration::from_millis(50), Duration::from_secs(2));
        let mut batch: Vec<Item> = Vec::new();
        let mut down_since: Option<Instant> = None;
        loop {
            self.figures().publish_if_due(false, false);
            self.ask_held(&mut batch);
            if batch.is_empty() {
                if self.held_len() >= self.outbox.capacity() {
                    // An outbox's worth waits for replicas: take no more
                    // until some is confirmed (the outbox fills meanwhile).
                    std::thread::sleep(ASK_AGAIN);
                    continue;
                }
                self.fill(&mut batch);
                self.note_depth(&counters);
                if batch.is_empty() {
                    self.idle();
                    continue;
                }
            }
            self.hold_back(&mut batch);
            let refused = match &mut self.refused {
                Some(refusal) if Instant::now() < refusal.next_try => {
                    refusal.given_up += batch.len() as u64;
                    Some(refusal.reason.clone())
                }
                _ => None,
            };
            let sent = match refused {
                _ if batch.is_empty() => None,
                Some(reason) => {
                    self.give_up(&mut batch, &reason);
                    None
                }
                None => Some(self.send(&batch)),
            };
            match sent {
                None => {}
                Some(Err(err)) if fault(&err) == Fault::Permanent => {
                    counters.add_failed_batch(1);
                    let reason = format!(
                        "Redis at {} refuses the producer: {}",
                        self.links[0].shown(),
                        describe(&err)
                    );
                    self.refuse(&reason, batch.len());
                    self.give_up(&mut batch, &reason);
                }
                Some(Err(err)) => {
                    counters.add_failed_batch(1);
                    self.note_depth(&counters);
                    if down_since.is_none() {
                        down_since = Some(Instant::now());
                        log::warn!(
                            "eventlib: cannot send to Redis at {} ({err}); events wait in the \
                             outbox ({} queued) and are sent when it is back",
                            self.links[0].shown(),
                            self.outbox.depth() + batch.len()
                        );
                    }
                    std::thread::sleep(backoff.next_wait());
                }
                Some(Ok((mut replies, parked))) => {
                    self.park(&mut batch, &mut replies, parked);
                    self.accepted_again();
                    if let Some(since) = down_since.take() {
                        log::info!(
                            "eventlib: Redis at {} is back after {:.1?}",
                            self.links[0].shown(),
                            since.elapsed()
                        );
                    }
                    let waiting = self.settle(&mut batch, replies);
                    if waiting.is_some() {
                        counters.add_failed_batch(1);
                        std::thread::sleep(backoff.next_wait());
                    } else {
                        counters.add_batch(1);
                        backoff.reset();
                    }
                }
            }
            if batch.is_empty() && self.held_len() == 0 {
                if let Source::Spool { reader, .. } = &mut self.source {
                    // Every frame read so far is settled.
                    reader.settled();
                    counters.set_spool_backlog(reader.backlog());
                    if reader.past_recovered() {
                        // Frames of an earlier run skipped as unreadable
                        // (told when skipped) are held no more.
                        self.outbox.release_earlier(u64::MAX);
                    }
                }
            }
            if let Source::Spool { tally, .. } = &self.source {
                for (index, said) in self.deferred.drain(..) {
                    tally.settled(index, said);
                }
            }
        }
    }

    /// Nothing to send for a while: the spool syncs what is due.
    fn idle(&mut self) {
        let held = self.held_len() > 0;
        if let Source::Spool { reader, spool, .. } = &mut self.source {
            spool.sync_if_due();
            if held {
                // Frames read wait for replicas: not settled yet.
                return;
            }
            reader.settled();
            self.transport.counters.set_spool_backlog(reader.backlog());
        }
    }

    /// Takes up to a batch of events, waiting a little for the first.
    fn fill(&mut self, batch: &mut Vec<Item>) {
        let max = self.transport.batch;
        // Back in time to ask a held partition's replicas again.
        let most = if self.held_len() > 0 {
            ASK_AGAIN
        } else {
            Duration::from_millis(200)
        };
        match &mut self.source {
            Source::Queue => {
                let Some(first) = self.outbox.recv_timeout(most) else {
                    return;
                };
                let route = |record: Record| {
                    let partition = self
                        .transport
                        .partition_by
                        .of_record(&record, self.transport.partitions);
                    Item::queued(record, partition)
                };
                batch.push(route(first));
                while batch.len() < max {
                    let Some(record) = self.outbox.try_recv() else {
                        break;
                    };
                    batch.push(route(record));
                }
            }
            Source::Spool {
                reader,
                tally,
                drain_here,
                ..
            } => {
                if *drain_here {
                    while let Some(record) = self.outbox.try_recv() {
                        tally.seen(record);
                    }
                }
                let wait = if *drain_here { 20 } else { 200 };
                let wait = Duration::from_millis(wait).min(most);
                for frame in reader.next_batch(max, wait) {
                    let partition = self
                        .transport
                        .partition_by
                        .of_envelope(&frame.envelope, self.transport.partitions);
                    batch.push(Item {
                        envelope: frame.envelope,
                        origin: Origin::Spooled {
                            recovered: frame.recovered,
                        },
                        partition,
                    });
                }
            }
        }
    }

    /// Sends `batch` in one pipelined round trip per partition it goes
    /// to: `Err` when every round trip failed as a whole, otherwise each
    /// event's own reply (a partition's failed round trip is the reply of
    /// each of its events), and the partitions whose replicas fell short.
    fn send(&mut self, batch: &[Item]) -> redis::RedisResult<(Replies, Vec<Parked>)> {
        if !self.transport.groups.is_empty() {
            // Before the first entry: a group declared now holds back
            // trimming from here on and sees every entry that follows.
            let groups: Vec<String> = self.transport.groups.clone();
            let groups: Vec<&str> = groups.iter().map(String::as_str).collect();
            let counters = Arc::clone(&self.transport.counters);
            for (link, key) in self.links.iter_mut().zip(&self.keys) {
                match groups::declare(link, counters.reconnects(), key, &groups) {
                    Ok(()) => {}
                    // Declaring is a convenience: it must not cost the events.
                    Err(err) if groups::refused(&err) => {
                        self.transport.groups.clear();
                        self.undeclared_groups(&groups, &err);
                        break;
                    }
                    Err(err) => return Err(err),
                }
            }
            self.transport.groups.clear();
        }
        if !self.recorded {
            // Once, for the operator's tools to find the partitions; a
            // failure costs no event and is tried again with the next batch.
            let key = crate::redis::keys::partition_counts(&self.transport.stream);
            let mut link = Link::for_key(
                self.links[0].endpoint().clone(),
                &key,
                Duration::from_secs(10),
            );
            let recorded = partitions::record(
                &mut link,
                self.transport.counters.reconnects(),
                &self.transport.stream,
                self.transport.partitions,
            );
            self.recorded = match recorded {
                Ok(()) => true,
                Err(err) if fault(&err) == Fault::Permanent => {
                    log::warn!(
                        "eventlib: cannot record the partition count of `{}` for the operator's \
                         tools ({}); its events are sent all the same",
                        self.transport.stream,
                        describe(&err)
                    );
                    true
                }
                Err(_) => false,
            };
        }
        if self.links.len() == 1 {
            let all: Vec<usize> = (0..batch.len()).collect();
            let (replies, parked) = self.send_to(0, batch, &all)?;
            return Ok((replies, parked.into_iter().collect()));
        }
        let spread = self.spread_to();
        let mut replies: Vec<Option<redis::RedisResult<redis::Value>>> =
            (0..batch.len()).map(|_| None).collect();
        let mut parked = Vec::new();
        let mut failed = None;
        let mut answered = false;
        for partition in 0..self.links.len() {
            let items: Vec<usize> = (0..batch.len())
                .filter(|&i| batch[i].partition.unwrap_or(spread) == partition)
                .collect();
            if items.is_empty() {
                continue;
            }
            match self.send_to(partition, batch, &items) {
                Ok((answers, short)) => {
                    answered = true;
                    for (&i, answer) in items.iter().zip(answers) {
                        replies[i] = Some(answer);
                    }
                    parked.extend(short);
                }
                Err(err) => {
                    for i in items {
                        replies[i] = Some(Err(err.clone()));
                    }
                    failed.get_or_insert(err);
                }
            }
        }
        match failed {
            Some(err) if !answered => Err(err),
            _ => Ok((replies.into_iter().flatten().collect(), parked)),
        }
    }

    /// Sends the events `items` of `batch` to partition `partition` in one
    /// pipelined round trip, with [`Confirm`](super::Confirm) followed by a
    /// `WAIT` for its replicas; the events to hold when they fell short
    /// (the partition is asked again on the same connection).
    fn send_to(
        &mut self,
        partition: usize,
        batch: &[Item],
        items: &[usize],
    ) -> redis::RedisResult<(Replies, Option<Parked>)> {
        let key = &self.keys[partition];
        let max_len = self.transport.max_len;
        let envelopes = || items.iter().map(|&i| batch[i].envelope());
        let head = resp::xadd_head(key, max_len);
        let size = envelopes()
            .map(|envelope| resp::xadd_len(&head, envelope))
            .sum();
        let mut packed = Vec::with_capacity(size);
        for envelope in envelopes() {
            resp::xadd(&mut packed, &head, envelope);
        }
        let mut commands = items.len();
        let confirm = self.transport.confirm;
        if let Some(confirm) = confirm {
            redis::cmd("WAIT")
                .arg(confirm.replicas)
                .arg(confirm.timeout_ms())
                .write_packed_command(&mut packed);
            commands += 1;
        }
        let counters = Arc::clone(&self.transport.counters);
        let link = &mut self.links[partition];
        let exposed = confirm.is_none() && link.endpoint().is_cluster();
        let look = exposed && self.exposure[partition].due();
        if look {
            redis::cmd("INFO")
                .arg("replication")
                .write_packed_command(&mut packed);
            commands += 1;
        }
        let sent = link.run(counters.reconnects(), |conn| {
            redis::ConnectionLike::req_packed_commands(conn, &packed, 0, commands)
        });
        let mut replies: Replies = match sent {
            Ok(replies) => replies.into_iter().map(resp::reply).collect(),
            Err(err) => {
                if exposed {
                    self.exposed_lost(partition, &err);
                }
                return Err(err);
            }
        };
        let link = &mut self.links[partition];
        if look {
            let info = replies
                .pop()
                .and_then(Result::ok)
                .and_then(|value| redis::from_redis_value::<String>(value).ok());
            if let Some(info) = info {
                self.exposure[partition].looked(&info);
            }
        }
        if exposed {
            let confirmed = replies.iter().filter(|r| r.is_ok()).count() as u64;
            self.exposure[partition].confirmed(confirmed);
        }
        let connection = link.generation();
        if replies
            .iter()
            .any(|reply| matches!(reply, Err(err) if is_topology_change(err)))
        {
            link.rerouted();
        }
        let Some(confirm) = confirm else {
            return Ok((replies, None));
        };
        let reached = match replies.pop() {
            Some(Ok(redis::Value::Int(n))) => n,
            _ => 0,
        };
        if reached >= i64::from(confirm.replicas) || !replies.iter().any(Result::is_ok) {
            return Ok((replies, None));
        }
        counters.add_short_wait(1);
        let parked = Parked {
            partition,
            items: items.to_vec(),
            connection,
        };
        Ok((replies, Some(parked)))
    }

    /// The connection to the primary of `partition` was lost: the events
    /// it confirmed that no replica was seen to have are counted and said.
    fn exposed_lost(&mut self, partition: usize, err: &RedisError) {
        let exposed = self.exposure[partition].lost();
        if exposed == 0 {
            return;
        }
        self.transport
            .counters
            .add_unreplicated_at_failover(exposed);
        crate::notice::warn(&format!(
            "eventlib: the connection to the primary of `{}` was lost ({}): up to {exposed} \
             event(s) it had confirmed were not yet seen on a replica, and a failover may have \
             lost them (RedisTransport::confirm waits for replicas instead)",
            self.keys[partition],
            describe(err)
        ));
    }

    /// Settles what Redis answered: confirmed events are delivered, events
    /// refused for good are given up (one message for the batch), and those
    /// refused for a transient reason stay in `batch` to be sent again;
    /// returns the first transient error, if any.
    fn settle(
        &mut self,
        batch: &mut Vec<Item>,
        replies: Vec<redis::RedisResult<redis::Value>>,
    ) -> Option<RedisError> {
        let mut transient = None;
        let mut refused: Vec<Item> = Vec::new();
        let mut first_refusal: Option<RedisError> = None;
        let mut kept = Vec::new();
        // Counted and published before anything is settled: a process that
        // exits when `flush` returns has published what it sent.
        let last = batch.len() == replies.len() && self.outbox.depth() == 0;
        let flushing = last && self.outbox.flush_waiting();
        // A confirmed spooled event's index and id, read once from its
        // envelope (for the figures and the tally).
        let heads: Vec<Option<(usize, EventId)>> = batch
            .iter()
            .zip(&replies)
            .map(|(item, reply)| match (&item.origin, reply) {
                (Origin::Spooled { .. }, Ok(_)) => head(&item.envelope),
                _ => None,
            })
            .collect();
        let mut figures = self.figures();
        for ((item, reply), head) in batch.iter().zip(&replies).zip(&heads) {
            let name = match &item.origin {
                Origin::Queued(record) => Some(record.name()),
                Origin::Spooled { .. } => head.map(|(index, _)| registry().decl(index as u32).name),
            };
            if let (Some(name), Ok(_)) = (name, reply) {
                figures.sent(name);
            }
        }
        figures.publish_if_due(last, flushing);
        drop(figures);
        let mut replies = replies.into_iter();
        for (item, head) in batch.drain(..).zip(heads) {
            match replies.next() {
                Some(Ok(_)) => self.delivered(item, head),
                Some(Err(err)) if fault(&err) == Fault::Permanent => {
                    first_refusal.get_or_insert(err);
                    refused.push(item);
                }
                Some(Err(err)) => {
                    transient.get_or_insert(err);
                    kept.push(item);
                }
                None => kept.push(item),
            }
        }
        if let Some(err) = first_refusal {
            let reason = format!(
                "Redis at {} refused it for good: {}",
                self.links[0].shown(),
                describe(&err)
            );
            log::error!(
                "eventlib: Redis at {} refused {} event(s) of a batch for good ({}); they are \
                 given up, counted as dropped and told to the error hook",
                self.links[0].shown(),
                refused.len(),
                describe(&err)
            );
            self.give_up(&mut refused, &reason);
        }
        *batch = kept;
        transient
    }

    /// `head`: a spooled event's index and id, as read from its envelope.
    fn delivered(&mut self, item: Item, head: Option<(usize, EventId)>) {
        let counters = &self.transport.counters;
        counters.add_sent(1);
        match item.origin {
            Origin::Queued(record) => self.outbox.delivered(&record),
            Origin::Spooled {
                recovered: true, ..
            } => {
                counters.add_resent(1);
                self.outbox.release_earlier(1);
            }
            Origin::Spooled {
                recovered: false, ..
            } => {
                if let Some((index, _)) = head {
                    self.deferred.push((index, Said::Confirmed));
                }
            }
        }
    }

    /// Gives up every event of `items`: counted as dropped (those of this
    /// run) and told to the error hook with `reason`.
    fn give_up(&mut self, items: &mut Vec<Item>, reason: &str) {
        self.transport.counters.add_undelivered(items.len() as u64);
        let mut figures = self.figures();
        for item in items.iter() {
            if let Some(name) = item.name() {
                figures.given_up(name);
            }
        }
        drop(figures);
        for item in items.drain(..) {
            match item.origin {
                Origin::Queued(record) => self.outbox.undelivered(&record, reason),
                Origin::Spooled { recovered, .. } => {
                    if recovered {
                        self.outbox.release_earlier(1);
                    }
                    let Some((index, id)) = head(&item.envelope) else {
                        log::error!(
                            "eventlib: a spooled event that is not an envelope was given up"
                        );
                        continue;
                    };
                    if recovered {
                        // Emitted by an earlier run: not this run's to count.
                        self.outbox.report(&Failure {
                            event: registry().decl(index as u32).name,
                            event_id: id,
                            handler: None,
                            kind: FailureKind::Undelivered(reason.to_owned()),
                        });
                    } else {
                        // The record itself, for the hook to name its id.
                        let record = wire::decode(&item.envelope, wire::StreamId::default())
                            .ok()
                            .map(|decoded| decoded.record);
                        let reason = reason.to_owned();
                        self.deferred
                            .push((index, Said::Refused { reason, record }));
                    }
                }
            }
        }
    }

    /// Redis refused to let this producer declare its groups: counted and
    /// said once (the producer does not try again), and the events are sent
    /// all the same.
    fn undeclared_groups(&self, groups: &[&str], err: &RedisError) {
        self.transport
            .counters
            .add_groups_undeclared(groups.len() as u64);
        let names: Vec<String> = groups.iter().map(|g| format!("`{g}`")).collect();
        crate::notice::warn(&format!(
            "eventlib: Redis at {} does not let this producer declare the consumer group(s) {} \
             on `{}` ({}); its events are sent all the same. A group its first worker creates \
             later starts at the stream's oldest entry, but what every existing group has \
             acknowledged by then is trimmed: create the groups at deploy with a user allowed \
             `XGROUP CREATE` (`eventlib groups create NAME`), or give this producer's user \
             `+xgroup|create`",
            self.links[0].shown(),
            names.join(", "),
            self.transport.stream,
            describe(err)
        ));
    }

    /// The connection was refused for good: give events up until the next
    /// try, and say so once per try.
    fn refuse(&mut self, reason: &str, events: usize) {
        let given_up = self.refused.as_ref().map_or(0, |r| r.given_up);
        if given_up == 0 {
            log::error!(
                "eventlib: {reason}; events are given up (counted as dropped and told to the \
                 error hook) instead of queued; the next try to connect is in {REFUSED_RETRY:?}"
            );
        } else {
            log::error!(
                "eventlib: {reason}; {given_up} event(s) given up since the last try; the next \
                 try is in {REFUSED_RETRY:?}"
            );
        }
        self.refused = Some(Refusal {
            reason: reason.to_owned(),
            next_try: Instant::now() + REFUSED_RETRY,
            given_up: events as u64,
        });
    }

    fn accepted_again(&mut self) {
        if let Some(refusal) = self.refused.take() {
            log::info!(
                "eventlib: Redis at {} accepts the producer again ({} event(s) were given up \
                 meanwhile)",
                self.links[0].shown(),
                refusal.given_up
            );
        }
    }
}

impl Item {
    /// The event's name, `None` for a spooled event this build does not
    /// know.
    fn name(&self) -> Option<&'static str> {
        match &self.origin {
            Origin::Queued(record) => Some(record.name()),
            Origin::Spooled { .. } => {
                head(&self.envelope).map(|(index, _)| registry().decl(index as u32).name)
            }
        }
    }

    fn queued(record: Record, partition: Option<usize>) -> Item {
        let envelope = match record.kept_envelope() {
            Some(_) => Vec::new(),
            None => wire::encode(&record),
        };
        Item {
            envelope,
            origin: Origin::Queued(record),
            partition,
        }
    }

    /// The envelope to send: the one its record was read from, if it
    /// keeps it (an outbox row's), or else the one encoded for it.
    fn envelope(&self) -> &[u8] {
        match &self.origin {
            Origin::Queued(record) => record.kept_envelope().unwrap_or(&self.envelope),
            Origin::Spooled { .. } => &self.envelope,
        }
    }
}

/// The event index and id of a spooled envelope (written by this crate's
/// encoder), `None` for an event this build does not know.
fn head(envelope: &[u8]) -> Option<(usize, EventId)> {
    #[derive(serde::Deserialize)]
    struct Head {
        id: String,
        name: String,
    }
    let head: Head = serde_json::from_slice(envelope).ok()?;
    let index = registry().index_of_name(&head.name).ok()?;
    Some((index as usize, head.id.parse().ok()?))
}
