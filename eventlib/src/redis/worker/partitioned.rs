//! A worker of a stream split into partitions: the workers of a group share
//! the partitions, each read by one worker at a time, and each partition a
//! worker holds runs as a worker of its own on that partition's key
//! (reading, handling, acknowledging, retries, dead letters, upkeep), with
//! the same consumer name and counters.
//!
//! Once a second every worker of the group writes its name and the
//! server's time in the group's member hash (`<stream>:members:<group>`),
//! forgets the members not seen for [`MEMBER_TTL`], and takes its share of
//! the partitions (see [`share_of`]): every worker computes the same split
//! from the same members. A
//! partition is read only under its lease (`<partition>:lease:<group>`,
//! `SET NX PX`, renewed each second with `GETEX`): a worker that is to let
//! a partition go stops reading it, finishes and acknowledges what it
//! holds, and only then frees the lease for the next one. A worker that
//! dies leaves its lease to expire after [`LEASE_TTL`]; its entries are
//! taken over after the visibility timeout, as on one stream.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use redis::RedisResult;

use crate::error::Error;
use crate::redis::conn::Link;
use crate::redis::worker::shared::Shared;
use crate::redis::worker::Worker;
use crate::redis::{keys, partitions, pause};

/// How often membership and leases are renewed.
const TICK: Duration = Duration::from_secs(1);
/// How long a member not heard from still counts.
const MEMBER_TTL: Duration = Duration::from_secs(5);
/// How long a lease lasts without being renewed.
const LEASE_TTL: Duration = Duration::from_secs(5);

/// One partition this worker holds.
struct Partition {
    worker: Worker,
    thread: JoinHandle<Result<(), Error>>,
}

/// Runs the worker of a partitioned stream until it is stopped.
pub(super) fn run(shared: &Arc<Shared>) -> Result<(), Error> {
    let config = shared.config();
    let keys = partitions::keys(&config.stream, config.partitions);
    let me = config.consumer.clone();
    let members = keys::members(&config.stream, &config.group);
    let read_timeout = Duration::from_secs(10);
    let mut member_link = Link::for_key(shared.endpoint().clone(), &members, read_timeout);
    let mut lease_links: Vec<Link> = keys
        .iter()
        .map(|key| Link::for_key(shared.endpoint().clone(), key, read_timeout))
        .collect();
    let leases: Vec<String> = keys
        .iter()
        .map(|key| keys::lease(key, &config.group))
        .collect();
    let reconnects = shared.counters().reconnects();
    let mut counts_link = Link::for_key(
        shared.endpoint().clone(),
        &keys::partition_counts(&config.stream),
        read_timeout,
    );
    if let Err(err) = partitions::record(
        &mut counts_link,
        reconnects,
        &config.stream,
        config.partitions,
    ) {
        log::warn!("eventlib worker: cannot record the partition count: {err}");
    }
    let stream_pauses = Link::for_key(
        shared.endpoint().clone(),
        &pause::key(&config.stream),
        read_timeout,
    );
    let inherited = inherit_pauses(
        stream_pauses,
        &config.stream,
        &mut lease_links,
        &keys,
        reconnects,
    );
    if let Err(err) = inherited {
        log::warn!("eventlib worker: cannot read the pauses of the stream: {err}");
    }
    log::info!(
        "eventlib worker `{me}` of group `{}` shares the {} partitions of `{}` at {}",
        config.group,
        keys.len(),
        config.stream,
        member_link.shown()
    );
    let mut held: BTreeMap<usize, Partition> = BTreeMap::new();
    // Partitions let go, finishing what they hold: their leases are kept
    // (and renewed) until they have, so no other worker reads them before.
    let mut stopping: BTreeMap<usize, Partition> = BTreeMap::new();
    let mut result = Ok(());
    let mut idle_since_all_stopped = false;
    while !shared.stop().is_set() {
        let done: Vec<usize> = stopping
            .iter()
            .filter(|(_, p)| p.thread.is_finished())
            .map(|(i, _)| *i)
            .collect();
        for i in done {
            finish(stopping.remove(&i).expect("a partition stopping"));
            release(&mut lease_links[i], reconnects, &leases[i], &me);
        }
        // Partition workers that stopped by themselves: idle, or failed.
        let stopped: Vec<usize> = held
            .iter()
            .filter(|(_, p)| p.thread.is_finished())
            .map(|(i, _)| *i)
            .collect();
        for i in stopped {
            let partition = held.remove(&i).expect("a held partition");
            if let Ok(Err(err)) = partition.thread.join() {
                result = Err(err);
                shared.stop().set();
            }
            release(&mut lease_links[i], reconnects, &leases[i], &me);
            if config.stop_when_idle.is_some() {
                idle_since_all_stopped = true;
            }
        }
        if shared.stop().is_set() {
            break;
        }
        if idle_since_all_stopped && held.is_empty() {
            // With `stop_when_idle`: every partition it held is drained.
            break;
        }
        let share = match heartbeat(&mut member_link, reconnects, &members, &me) {
            Ok(live) => Some(share_of(&live, &me, keys.len())),
            Err(err) => {
                log::warn!("eventlib worker: cannot renew its membership: {err}");
                None
            }
        };
        // Renew the leases held; a lease lost (this worker stalled past its
        // lifetime) stops that partition's worker.
        for &i in stopping.keys() {
            let _ = renew(&mut lease_links[i], reconnects, &leases[i]);
        }
        let lost: Vec<usize> =
            held.keys()
                .copied()
                .filter(
                    |&i| match renew(&mut lease_links[i], reconnects, &leases[i]) {
                        Ok(Some(holder)) => holder != me,
                        // Expired (a failover can bring back a lease older than
                        // its lifetime): taken again if still free.
                        Ok(None) => !acquire(&mut lease_links[i], reconnects, &leases[i], &me)
                            .unwrap_or(true),
                        // Unreachable: the partition's reads fail as well.
                        Err(_) => false,
                    },
                )
                .collect();
        for i in lost {
            log::warn!(
                "eventlib worker `{me}`: the lease of `{}` was taken over; it stops reading it",
                keys[i]
            );
            stopping.insert(i, let_go(held.remove(&i).expect("a held partition")));
        }
        if let Some(share) = share {
            let to_release: Vec<usize> = held
                .keys()
                .copied()
                .filter(|i| !share.contains(i))
                .collect();
            for i in to_release {
                stopping.insert(i, let_go(held.remove(&i).expect("a held partition")));
            }
            if !idle_since_all_stopped {
                for i in share {
                    if held.contains_key(&i) || stopping.contains_key(&i) {
                        continue;
                    }
                    match acquire(&mut lease_links[i], reconnects, &leases[i], &me) {
                        Ok(true) => match start_partition(shared, &keys[i]) {
                            Ok(partition) => {
                                held.insert(i, partition);
                            }
                            Err(err) => {
                                release(&mut lease_links[i], reconnects, &leases[i], &me);
                                result = Err(err);
                                shared.stop().set();
                            }
                        },
                        Ok(false) => {}
                        Err(err) => log::warn!(
                            "eventlib worker: cannot take the lease of `{}`: {err}",
                            keys[i]
                        ),
                    }
                }
            }
        }
        shared.held_partitions().set(
            held.values()
                .chain(stopping.values())
                .map(|p| p.worker.clone())
                .collect(),
        );
        shared.stop().sleep(TICK);
    }
    for (i, partition) in std::mem::take(&mut held) {
        stopping.insert(i, let_go(partition));
    }
    for (i, partition) in stopping {
        finish(partition);
        release(&mut lease_links[i], reconnects, &leases[i], &me);
    }
    shared.held_partitions().set(Vec::new());
    let _ = member_link.run(reconnects, |c| {
        redis::cmd("HDEL").arg(&members).arg(&me).query::<()>(c)
    });
    result
}

/// The partitions of `count` that fall to `me` among the `live` members.
///
/// Every member computes the same split from the same members. Each
/// partition goes to the member that ranks highest for it (a hash of the
/// member's name and the partition: rendezvous hashing) among those with
/// room left, room being an even share: `count / n` partitions each, one
/// more for the first `count % n` members to fill up. A member that joins
/// or leaves then moves few partitions besides its own share, where
/// dealing them out in turn would move most of them.
fn share_of(live: &BTreeSet<String>, me: &str, count: usize) -> BTreeSet<usize> {
    let members: Vec<&String> = live.iter().collect();
    if members.is_empty() {
        return BTreeSet::new();
    }
    let (floor, mut extra) = (count / members.len(), count % members.len());
    let mut held = vec![0usize; members.len()];
    let mut mine = BTreeSet::new();
    for partition in 0..count {
        let room = |held: usize, extra: usize| held < floor || (held == floor && extra > 0);
        let winner = (0..members.len())
            .filter(|&m| room(held[m], extra))
            .max_by_key(|&m| (rank(members[m], partition), std::cmp::Reverse(m)))
            .expect("an even share leaves room for every partition");
        held[winner] += 1;
        if held[winner] > floor {
            extra -= 1;
        }
        if members[winner] == me {
            mine.insert(partition);
        }
    }
    mine
}

/// How much `member` wants `partition`: 64-bit FNV-1a of both, mixed by
/// SplitMix64's finalizer (names that differ in one character rank
/// unrelated).
fn rank(member: &str, partition: usize) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let hash = member
        .bytes()
        .chain((partition as u64).to_le_bytes())
        .fold(OFFSET, |hash, b| (hash ^ u64::from(b)).wrapping_mul(PRIME));
    let mut z = hash.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Writes this member's time, forgets the members not seen lately, and
/// returns the live ones (this one included).
fn heartbeat(
    link: &mut Link,
    reconnects: &std::sync::atomic::AtomicU64,
    members: &str,
    me: &str,
) -> RedisResult<BTreeSet<String>> {
    link.run(reconnects, |c| {
        let (secs, micros): (u64, u64) = redis::cmd("TIME").query(c)?;
        let now = secs * 1000 + micros / 1000;
        let (_, all): ((), BTreeMap<String, u64>) = redis::pipe()
            .cmd("HSET")
            .arg(members)
            .arg(me)
            .arg(now)
            .cmd("HGETALL")
            .arg(members)
            .query(c)?;
        let ttl = u64::try_from(MEMBER_TTL.as_millis()).unwrap_or(u64::MAX);
        let (live, gone): (Vec<_>, Vec<_>) = all
            .into_iter()
            .partition(|(_, seen)| now.saturating_sub(*seen) <= ttl);
        if !gone.is_empty() {
            let mut hdel = redis::cmd("HDEL");
            hdel.arg(members);
            for (name, _) in &gone {
                hdel.arg(name);
            }
            hdel.query::<()>(c)?;
        }
        Ok(live.into_iter().map(|(name, _)| name).collect())
    })
}

fn ttl_ms(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX)
}

/// Takes the lease if it is free, or is this worker's already.
fn acquire(
    link: &mut Link,
    reconnects: &std::sync::atomic::AtomicU64,
    lease: &str,
    me: &str,
) -> RedisResult<bool> {
    link.run(reconnects, |c| {
        let set: Option<String> = redis::cmd("SET")
            .arg(lease)
            .arg(me)
            .arg("NX")
            .arg("PX")
            .arg(ttl_ms(LEASE_TTL))
            .query(c)?;
        if set.is_some() {
            return Ok(true);
        }
        let holder: Option<String> = redis::cmd("GET").arg(lease).query(c)?;
        Ok(holder.as_deref() == Some(me))
    })
}

/// Extends the lease; returns who holds it (`None`: nobody, it expired).
fn renew(
    link: &mut Link,
    reconnects: &std::sync::atomic::AtomicU64,
    lease: &str,
) -> RedisResult<Option<String>> {
    link.run(reconnects, |c| {
        redis::cmd("GETEX")
            .arg(lease)
            .arg("PX")
            .arg(ttl_ms(LEASE_TTL))
            .query(c)
    })
}

/// Frees the lease when it is this worker's.
fn release(link: &mut Link, reconnects: &std::sync::atomic::AtomicU64, lease: &str, me: &str) {
    let result = link.run(reconnects, |c| {
        let holder: Option<String> = redis::cmd("GET").arg(lease).query(c)?;
        if holder.as_deref() == Some(me) {
            redis::cmd("DEL").arg(lease).query::<()>(c)?;
        }
        Ok(())
    });
    if let Err(err) = result {
        log::warn!(
            "eventlib worker: cannot free the lease `{lease}` (it expires by itself): {err}"
        );
    }
}

/// Copies the pauses of the stream's own key that a partition lacks (an
/// operator's pause reaches every partition count recorded when it is
/// set, and the stream's own key; a count recorded later takes them here).
fn inherit_pauses(
    mut from: Link,
    stream: &str,
    links: &mut [Link],
    keys: &[String],
    reconnects: &std::sync::atomic::AtomicU64,
) -> RedisResult<()> {
    let pauses = from.run(reconnects, |c| pause::stored(c, stream))?;
    if pauses.is_empty() {
        return Ok(());
    }
    for (link, key) in links.iter_mut().zip(keys) {
        link.run(reconnects, |c| pause::add_missing(c, key, &pauses))?;
    }
    Ok(())
}

/// Starts the worker of one partition, on a thread of its own.
fn start_partition(shared: &Arc<Shared>, key: &str) -> Result<Partition, Error> {
    let worker = Worker {
        shared: Arc::new(shared.for_partition(key)),
    };
    let running = worker.clone();
    let thread = std::thread::Builder::new()
        .name("eventlib-partition".into())
        .spawn(move || running.run_blocking())
        .map_err(|error| Error::Spawn {
            thread: "eventlib-partition".into(),
            error,
        })?;
    Ok(Partition { worker, thread })
}

/// Asks a partition's worker to stop: it stops reading, finishes and
/// acknowledges what it holds, then its thread ends.
fn let_go(partition: Partition) -> Partition {
    partition.worker.shutdown();
    partition
}

/// Waits for a partition's worker that was asked to stop.
fn finish(partition: Partition) {
    if let Ok(Err(err)) = partition.thread.join() {
        log::warn!("eventlib worker: a partition's worker stopped with an error: {err}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_partition_falls_to_exactly_one_member_in_even_shares() {
        for count in [1, 2, 5, 6, 12, 64] {
            for n in 1..=8 {
                let live = members(n);
                let shares: Vec<BTreeSet<usize>> =
                    live.iter().map(|m| share_of(&live, m, count)).collect();
                let mut all: Vec<usize> = shares.iter().flatten().copied().collect();
                all.sort_unstable();
                assert_eq!(all, (0..count).collect::<Vec<_>>(), "{count} over {n}");
                for share in &shares {
                    assert!(
                        share.len() == count / n || share.len() == count.div_ceil(n),
                        "{count} over {n}: {shares:?}"
                    );
                }
            }
        }
        assert!(share_of(&members(3), "z", 6).is_empty());
        assert_eq!(share_of(&members(1), "w0", 3).len(), 3);
    }

    #[test]
    fn a_member_joining_or_leaving_moves_few_partitions() {
        // Dealt out in turn (`i % n`), 12 partitions going from 3 members
        // to 4 would move 9; the least that can move is the new member's 3.
        for (count, from) in [(12, 3), (6, 2), (24, 5), (64, 7)] {
            let before = split(&members(from), count);
            let after = split(&members(from + 1), count);
            let moved = (0..count).filter(|p| before[p] != after[p]).count();
            let least = count / (from + 1);
            assert!(
                moved <= least + least / 2 + 1,
                "{count} partitions, {from} -> {} members: {moved} moved (least {least})",
                from + 1
            );
            // Leaving: the same split back.
            assert_eq!(split(&members(from), count), before);
        }
    }

    fn members(n: usize) -> BTreeSet<String> {
        (0..n).map(|i| format!("w{i}")).collect()
    }

    /// Which member holds each partition.
    fn split(live: &BTreeSet<String>, count: usize) -> BTreeMap<usize, String> {
        live.iter()
            .flat_map(|m| {
                share_of(live, m, count)
                    .into_iter()
                    .map(move |p| (p, m.clone()))
            })
            .collect()
    }
}
