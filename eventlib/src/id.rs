//! [`EventId`]: the unique id of one logged event.

use std::cell::Cell;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::SystemTime;

/// The unique id of one logged event: 128 bits, printed as 32 hex digits.
///
/// The high half is random per process, the low half counts up, so ids are
/// unique across processes and machines without coordination.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId {
    // Two halves rather than a `u128`, whose 16-byte alignment would pad
    // every record.
    high: u64,
    low: u64,
}

impl EventId {
    /// A fresh id.
    pub fn new() -> Self {
        // Each thread takes blocks of 1024 ids so that producers on many
        // threads do not contend on one counter.
        const BLOCK: u64 = 1024;
        static NEXT_BLOCK: AtomicU64 = AtomicU64::new(0);
        thread_local! {
            static RANGE: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
        }
        let low = RANGE.with(|range| {
            let (mut next, mut end) = range.get();
            if next == end {
                next = NEXT_BLOCK.fetch_add(1, Ordering::Relaxed) * BLOCK;
                end = next + BLOCK;
            }
            range.set((next + 1, end));
            next
        });
        EventId {
            high: process_tag(),
            low,
        }
    }

    /// The id as a number.
    pub fn as_u128(self) -> u128 {
        (u128::from(self.high) << 64) | u128::from(self.low)
    }

    /// Rebuilds an id from [`as_u128`](Self::as_u128) (for ids read back
    /// from a transport).
    pub fn from_u128(id: u128) -> Self {
        EventId {
            high: (id >> 64) as u64,
            low: id as u64,
        }
    }
}

impl Default for EventId {
    fn default() -> Self {
        EventId::new()
    }
}

fn process_tag() -> u64 {
    static TAG: OnceLock<u64> = OnceLock::new();
    *TAG.get_or_init(|| {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u32(std::process::id());
        if let Ok(now) = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH) {
            hasher.write_u128(now.as_nanos());
        }
        hasher.finish()
    })
}

impl EventId {
    /// The id as 32 lowercase hex digits (ASCII), as `{:032x}` of
    /// [`as_u128`](Self::as_u128) writes them, without the formatter's
    /// padding machinery: an id is written into every handler span and
    /// every envelope.
    pub(crate) fn hex(self) -> [u8; 32] {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut hex = [0u8; 32];
        let id = self.as_u128();
        for (n, digit) in hex.iter_mut().enumerate() {
            *digit = DIGITS[((id >> (124 - 4 * n)) & 0xf) as usize];
        }
        hex
    }

    /// The id written as 32 hex digits (either case), as [`hex`](Self::hex)
    /// writes it; `None` for any other bytes. An envelope's id is read so
    /// for every event a worker or relay reads, where `FromStr` (any
    /// length, a sign) takes several times as long.
    #[cfg(feature = "redis")]
    pub(crate) fn from_hex(hex: &[u8]) -> Option<EventId> {
        if hex.len() != 32 {
            return None;
        }
        let mut id = 0u128;
        for &digit in hex {
            let nibble = match digit {
                b'0'..=b'9' => digit - b'0',
                b'a'..=b'f' => digit - b'a' + 10,
                b'A'..=b'F' => digit - b'A' + 10,
                _ => return None,
            };
            id = id << 4 | u128::from(nibble);
        }
        Some(EventId::from_u128(id))
    }
}

impl fmt::Display for EventId {
    /// 32 lowercase hex digits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Hex digits are ASCII.
        f.write_str(std::str::from_utf8(&self.hex()).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EventId({self})")
    }
}

impl std::str::FromStr for EventId {
    type Err = std::num::ParseIntError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        u128::from_str_radix(s, 16).map(EventId::from_u128)
    }
}

#[cfg(test)]
mod tests {
    use super::EventId;

    #[test]
    fn displays_as_32_hex_digits() {
        for id in [
            0,
            1,
            0xabc,
            u128::MAX,
            0x0123_4567_89ab_cdef_fedc_ba98_7654_3210,
        ] {
            let shown = EventId::from_u128(id).to_string();
            assert_eq!(shown, format!("{id:032x}"));
            assert_eq!(shown.parse::<EventId>().map(EventId::as_u128), Ok(id));
            #[cfg(feature = "redis")]
            for hex in [shown.clone(), shown.to_uppercase()] {
                assert_eq!(
                    EventId::from_hex(hex.as_bytes()).map(EventId::as_u128),
                    Some(id)
                );
            }
            assert_eq!(
                shown
                    .to_uppercase()
                    .parse::<EventId>()
                    .map(EventId::as_u128),
                Ok(id)
            );
        }
    }

    #[test]
    fn reads_what_the_radix_parser_reads_and_refuses_the_rest() {
        // Shorter ids, as another producer may write them, read as numbers.
        assert_eq!("abc".parse::<EventId>().map(EventId::as_u128), Ok(0xabc));
        for bad in [
            "",
            "0123456789abcdef0123456789abcdeg",
            "1123456789abcdef0123456789abcdef0",
            "0123456789abcdef 123456789abcdef",
        ] {
            assert!(bad.parse::<EventId>().is_err(), "{bad:?}");
        }
    }

    #[test]
    #[cfg(feature = "redis")]
    fn from_hex_reads_exactly_32_hex_digits() {
        for bad in [
            "",
            "abc",
            "0123456789abcdef0123456789abcdeg",
            "0123456789abcdef0123456789abcde",
            "1123456789abcdef0123456789abcdef0",
            "0123456789abcdef 123456789abcdef",
            "+123456789abcdef0123456789abcdef",
            "0123456789abcdef0123456789abcde\u{e9}",
        ] {
            assert_eq!(EventId::from_hex(bad.as_bytes()), None, "{bad:?}");
        }
    }
}
