//! Stream entry ids (`<ms>-<seq>`) and the milliseconds they count in.

use std::fmt;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

/// A stream entry id, `<ms>-<seq>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub(crate) struct StreamId {
    pub(crate) ms: u64,
    pub(crate) seq: u64,
}

impl StreamId {
    /// The smallest id after this one.
    pub(crate) fn next(self) -> StreamId {
        match self.seq.checked_add(1) {
            Some(seq) => StreamId { ms: self.ms, seq },
            None => StreamId {
                ms: self.ms + 1,
                seq: 0,
            },
        }
    }

    /// The id written as `<ms>-<seq>`, or `<ms>` for sequence 0; `None`
    /// for anything else. Read digit by digit: a worker reads one from
    /// every entry it takes.
    pub(crate) fn from_text(text: &[u8]) -> Option<StreamId> {
        fn number(digits: &[u8]) -> Option<u64> {
            if digits.is_empty() {
                return None;
            }
            digits.iter().try_fold(0u64, |n, &digit| {
                let digit = digit.wrapping_sub(b'0');
                if digit > 9 {
                    return None;
                }
                n.checked_mul(10)?.checked_add(u64::from(digit))
            })
        }
        let (ms, seq) = match text.iter().position(|&b| b == b'-') {
            Some(dash) => (&text[..dash], &text[dash + 1..]),
            None => (text, &b"0"[..]),
        };
        Some(StreamId {
            ms: number(ms)?,
            seq: number(seq)?,
        })
    }

    /// The id as Redis writes it, `<ms>-<seq>`, put together without the
    /// formatter: a worker writes one into every acknowledgement.
    pub(crate) fn text(self) -> Text {
        let (mut ms, mut seq) = (itoa::Buffer::new(), itoa::Buffer::new());
        let (ms, seq) = (
            ms.format(self.ms).as_bytes(),
            seq.format(self.seq).as_bytes(),
        );
        let mut bytes = [0; TEXT_MAX];
        bytes[..ms.len()].copy_from_slice(ms);
        bytes[ms.len()] = b'-';
        let len = ms.len() + 1 + seq.len();
        bytes[ms.len() + 1..len].copy_from_slice(seq);
        Text { bytes, len }
    }
}

impl FromStr for StreamId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        StreamId::from_text(s.as_bytes()).ok_or_else(|| format!("`{s}` is not a stream entry id"))
    }
}

/// The longest id text: two 20-digit numbers and the dash.
const TEXT_MAX: usize = 41;

/// An id's text, from [`StreamId::text`].
pub(crate) struct Text {
    bytes: [u8; TEXT_MAX],
    len: usize,
}

impl Text {
    pub(crate) fn as_str(&self) -> &str {
        // Digits and a dash: always UTF-8.
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or_default()
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text().as_str())
    }
}

/// An id as a command's argument: its text.
impl redis::ToRedisArgs for StreamId {
    fn write_redis_args<W: ?Sized + redis::RedisWrite>(&self, out: &mut W) {
        out.write_arg(self.text().as_str().as_bytes());
    }
}

/// Milliseconds since the Unix epoch (0 before it), as entry ids and the
/// envelope count time.
pub(crate) fn millis(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const ENTRY: StreamId = StreamId {
        ms: 1_700_000_000_000,
        seq: 3,
    };

    #[test]
    fn stream_ids() {
        let id: StreamId = "1700000000000-3".parse().unwrap();
        assert_eq!(id, ENTRY);
        assert_eq!(id.to_string(), "1700000000000-3");
        assert_eq!("5".parse::<StreamId>().unwrap(), StreamId { ms: 5, seq: 0 });
        for bad in [
            "",
            "-",
            "a-1",
            "1-b",
            "1-2-3",
            "-1",
            "1-",
            "+1-0",
            "1-+0",
            " 1-0",
            "18446744073709551616-0",
            "0-18446744073709551616",
        ] {
            assert!(bad.parse::<StreamId>().is_err(), "`{bad}` parsed");
        }
        assert_eq!(
            id.next(),
            StreamId {
                ms: ENTRY.ms,
                seq: 4
            }
        );
        let last = StreamId {
            ms: 7,
            seq: u64::MAX,
        };
        assert_eq!(last.next(), StreamId { ms: 8, seq: 0 });
        assert!(StreamId { ms: 1, seq: 9 } < StreamId { ms: 2, seq: 0 });
    }

    #[test]
    fn an_id_is_written_as_redis_writes_it_up_to_the_longest() {
        for (ms, seq) in [(0, 0), (1, u64::MAX), (u64::MAX, u64::MAX), (9, 10)] {
            let id = StreamId { ms, seq };
            let text = format!("{ms}-{seq}");
            assert_eq!(id.text().as_str(), text);
            assert_eq!(id.to_string(), text);
            assert_eq!(text.parse::<StreamId>().unwrap(), id);
            let mut cmd = redis::cmd("XACK");
            cmd.arg("s").arg("g").arg(&[id, ENTRY][..]);
            let args: Vec<&[u8]> = cmd
                .args_iter()
                .filter_map(|arg| match arg {
                    redis::Arg::Simple(bytes) => Some(bytes),
                    _ => None,
                })
                .collect();
            assert_eq!(
                args,
                [
                    &b"XACK"[..],
                    b"s",
                    b"g",
                    text.as_bytes(),
                    b"1700000000000-3"
                ]
            );
        }
    }

    #[test]
    fn millis_of_times() {
        assert_eq!(millis(UNIX_EPOCH), 0);
        assert_eq!(millis(UNIX_EPOCH - Duration::from_secs(1)), 0);
        assert_eq!(millis(UNIX_EPOCH + Duration::from_millis(1234)), 1234);
    }
}
