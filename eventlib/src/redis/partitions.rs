//! Stream partitions: the keys of a stream split into N partitions, and
//! which partition an event goes to.
//!
//! With one partition (the default) the stream is the key as given. With
//! N > 1, partition `i` is the key `{<stream>:<i>-of-<N>:<salt>}` (any
//! braces of the stream's own hash tag left out): the
//! whole key is its hash tag, so each partition, and every key derived
//! from it (`<partition>:dead`, `<partition>:progress:<group>`, ...), lives
//! in one Redis Cluster slot. The salt is the smallest number that puts
//! partition `i` in the `i`-th of N equal bands of the 16384 slots, so the
//! partitions spread evenly over shards that split the slots evenly (as
//! `redis-cli --cluster create` does): 6 partitions on 3 shards are 2 per
//! shard. The key names N, so a stream split differently is a different
//! set of keys, never a mix.
//!
//! An event with a partition key goes to partition `fnv1a64(key) % N`
//! (64-bit FNV-1a of the key's UTF-8 bytes): every event of one key goes
//! to one partition, in the order it was logged, and a producer in another
//! language computes the same partition with a few lines.

use std::sync::atomic::AtomicU64;

use crate::error::Error;
use crate::redis::cluster::{slot, SLOTS};
use crate::redis::conn::Link;
use crate::redis::keys;

/// The most partitions a stream may have. Each partition is a reader's
/// connection and a few keys; finding the salts takes about N² slot
/// computations, well under a second for this many.
pub(crate) const MAX_PARTITIONS: usize = 1024;

/// Checks a partition count.
///
/// # Errors
///
/// [`Error::Config`] (option `"partitions"`) when `count` is 0 or above
/// [`MAX_PARTITIONS`].
pub(crate) fn check(count: usize) -> Result<usize, Error> {
    if count == 0 || count > MAX_PARTITIONS {
        return Err(Error::Config {
            option: "partitions",
            reason: format!("{count} partitions: between 1 and {MAX_PARTITIONS}"),
        });
    }
    Ok(count)
}

/// The stream keys of `stream` split into `count` (checked) partitions, in
/// order. Braces of the stream's own hash tag are left out of the
/// partitions' keys, whose tag is the whole key.
pub(crate) fn keys(stream: &str, count: usize) -> Vec<String> {
    if count <= 1 {
        return vec![stream.to_owned()];
    }
    let bare: String = stream.chars().filter(|c| !matches!(c, '{' | '}')).collect();
    (0..count).map(|i| key(&bare, i, count)).collect()
}

/// The stream keys of `stream` split into `count` partitions, in
/// partition order: what producers and workers given
/// [`partitions(count)`](crate::redis::RedisTransport::partitions) write
/// and read, for the operator's own commands (`XINFO GROUPS`, `XLEN`, the
/// dead letters at `<key>:dead`) on each.
///
/// ```
/// let keys = eventlib::redis::partition_keys("eventlib:events", 6)?;
/// assert_eq!(keys.len(), 6);
/// assert!(keys[0].starts_with("{eventlib:events:0-of-6:"));
/// assert_eq!(eventlib::redis::partition_keys("eventlib:events", 1)?, ["eventlib:events"]);
/// # Ok::<(), eventlib::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::Config`] (option `"partitions"`) when `count` is 0 or above
/// 1024.
pub fn partition_keys(stream: &str, count: usize) -> Result<Vec<String>, Error> {
    Ok(keys(stream, check(count)?))
}

/// Whether `stream`'s keys share one cluster slot: it has a hash tag.
pub(crate) fn has_hash_tag(stream: &str) -> bool {
    stream
        .find('{')
        .and_then(|open| stream[open + 1..].find('}'))
        .is_some_and(|close| close > 0)
}

/// How partition `index` of `count` is named, in its key and to
/// operators: `2-of-6`.
pub(crate) fn label(index: usize, count: usize) -> String {
    format!("{index}-of-{count}")
}

/// The key of partition `index` of `count` (more than one) of `stream`.
fn key(stream: &str, index: usize, count: usize) -> String {
    let total = usize::from(SLOTS);
    let (low, high) = (index * total / count, (index + 1) * total / count);
    let band = low..high.max(low + 1);
    let label = label(index, count);
    (0u64..)
        .map(|salt| format!("{{{stream}:{label}:{salt}}}"))
        .find(|key| band.contains(&usize::from(slot(key.as_bytes()))))
        .expect("every band of slots is reached by some salt")
}

/// Records that `stream` is used split into `count` partitions (a member
/// of the set `<stream>:partitions`), for the operator's tools to find
/// every partition. Nothing is recorded for one partition.
pub(crate) fn record(
    link: &mut Link,
    reconnects: &AtomicU64,
    stream: &str,
    count: usize,
) -> redis::RedisResult<()> {
    if count <= 1 {
        return Ok(());
    }
    link.run(reconnects, |c| {
        redis::cmd("SADD")
            .arg(keys::partition_counts(stream))
            .arg(count)
            .query(c)
    })
}

/// The partition of an event whose partition key is `key`, of `count`.
pub(crate) fn of_key(key: &[u8], count: usize) -> usize {
    if count <= 1 {
        return 0;
    }
    // `count` fits in a u64 and the remainder is below it.
    (fnv1a64(key) % count as u64) as usize
}

/// 64-bit FNV-1a.
fn fnv1a64(bytes: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes
        .iter()
        .fold(OFFSET, |hash, &b| (hash ^ u64::from(b)).wrapping_mul(PRIME))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_partition_is_the_stream_itself() {
        assert_eq!(keys("eventlib:events", 1), ["eventlib:events"]);
        assert_eq!(keys("{shop}:events", 1), ["{shop}:events"]);
        assert!(has_hash_tag("{shop}:events"));
        assert!(!has_hash_tag("eventlib:events"));
        assert!(!has_hash_tag("{}:events"));
    }

    #[test]
    fn partitions_spread_evenly_over_the_slots() {
        let keys = keys("eventlib:events", 6);
        assert_eq!(keys.len(), 6);
        for (i, key) in keys.iter().enumerate() {
            assert!(
                key.starts_with(&format!("{{eventlib:events:{i}-of-6:")) && key.ends_with('}'),
                "{key}"
            );
            let s = usize::from(slot(key.as_bytes()));
            assert!(
                (i * 16384 / 6..(i + 1) * 16384 / 6).contains(&s),
                "{key}: {s}"
            );
            // Derived keys share the partition's slot.
            assert_eq!(slot(format!("{key}:dead").as_bytes()), slot(key.as_bytes()));
        }
        // Three shards of equal ranges (as `redis-cli --cluster create`
        // splits them: 0-5460, 5461-10922, 10923-16383) get two each.
        let mut per_shard = [0; 3];
        for key in &keys {
            let s = slot(key.as_bytes());
            per_shard[usize::from(s > 5460) + usize::from(s > 10922)] += 1;
        }
        assert_eq!(per_shard, [2, 2, 2]);
        // Many partitions: each in a slot of its own.
        let all = super::keys("s", 256);
        let slots: std::collections::BTreeSet<u16> =
            all.iter().map(|k| slot(k.as_bytes())).collect();
        assert_eq!(slots.len(), 256);
    }

    #[test]
    fn partition_counts_are_checked_and_tags_left_out() {
        for count in [0, MAX_PARTITIONS + 1] {
            match check(count) {
                Err(Error::Config { option, .. }) => assert_eq!(option, "partitions"),
                other => panic!("{count}: {other:?}"),
            }
        }
        assert_eq!(check(6).unwrap(), 6);
        let keys = keys("{shop}:events", 2);
        assert!(keys[0].starts_with("{shop:events:0-of-2:"), "{keys:?}");
        assert_ne!(slot(keys[0].as_bytes()), slot(keys[1].as_bytes()));
    }

    #[test]
    fn a_key_always_goes_to_one_partition() {
        // FNV-1a's published test vectors.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
        assert_eq!(of_key(b"order-17", 1), 0);
        let spread: std::collections::BTreeSet<usize> = (0..600)
            .map(|n| of_key(format!("order-{n}").as_bytes(), 6))
            .collect();
        assert_eq!(spread.len(), 6, "600 keys reach every one of 6 partitions");
        assert_eq!(
            of_key(b"order-17", 6),
            of_key(b"order-17", 6),
            "the same key, the same partition"
        );
    }
}
