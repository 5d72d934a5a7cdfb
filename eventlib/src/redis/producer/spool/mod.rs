//! The durable outbox of the producer: events written to local segment
//! files in the caller of `log!`, read back by the sender, and deleted once
//! Redis confirmed them.
//!
//! A spool directory holds numbered segments (`00000000000000000001.seg`,
//! ...) and a `confirmed` file. A segment is a sequence of frames, each
//! `length (u32 LE) | checksum (u32 LE, FNV-1a of the envelope) | envelope`,
//! the envelope being the bytes the producer sends with `XADD`
//! (`docs/wire-format.md`), event id included. `confirmed` holds the
//! position (segment, offset) up to which Redis confirmed every frame; the
//! sender reads on from there after a restart, so that at most the batch in
//! flight at a crash is sent twice, with the same event ids. A segment is
//! deleted once every frame in it is confirmed.
//!
//! Each run appends to a segment of its own, numbered after every segment
//! already there: what an earlier run left is sent first.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::record::Record;
use crate::redis::wire;
use crate::transport::Admission;

mod reader;
mod tally;

pub(crate) use reader::Reader;
pub(crate) use tally::{start_drain, Said, Tally};

/// When the spool's writes are forced to the disk (`fsync`); see
/// [`RedisTransport::spool`](crate::redis::RedisTransport::spool).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// Never: each event is written to the operating system before `log!`
    /// returns, which survives the process being killed (`kill -9`, a
    /// panic, an OOM kill) but not a crash of the machine or a power cut.
    Never,
    /// At most this long after a write: a machine crash loses at most the
    /// events of the last interval.
    Interval(Duration),
    /// After every event, before `log!` returns: nothing `log!` accepted
    /// is lost even if the machine crashes, at the price of one disk flush
    /// per event.
    Always,
}

/// With an fsync policy, how often at most a segment Redis has caught up
/// with is sealed to be deleted.
const CATCH_UP_ROTATION: Duration = Duration::from_secs(1);

/// The size of a frame's header.
const HEADER: usize = 8;
/// The largest envelope a frame holds.
const MAX_FRAME: usize = u32::MAX as usize;

/// A position in the spool: the byte `offset` in segment `segment`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub(crate) struct Mark {
    pub(crate) segment: u64,
    pub(crate) offset: u64,
}

/// A spool directory in use by this process.
pub(crate) struct Spool {
    dir: PathBuf,
    fsync: FsyncPolicy,
    segment_bytes: u64,
    writer: Mutex<Writer>,
    /// The end of what was appended, for the reader: frames before it are
    /// whole.
    end: Mutex<Mark>,
    appended: Condvar,
    /// The first segment of this run: frames before it were left by an
    /// earlier one.
    first_of_run: u64,
    /// Where the reader starts.
    start: Mark,
    /// How many bytes of frames were found at the start.
    found_bytes: u64,
}

struct Writer {
    file: File,
    segment: u64,
    len: u64,
    last_sync: Instant,
    /// When the last segment was started.
    started: Instant,
    unsynced: bool,
    /// Set after a failed write that could not be undone: the next append
    /// starts a new segment.
    broken: bool,
}

impl Spool {
    /// Opens `dir` (creating it), finds what earlier runs left there and
    /// starts a segment for this run. An unusable directory is an
    /// [`Error::Config`].
    pub(crate) fn open(
        dir: &Path,
        fsync: FsyncPolicy,
        segment_bytes: u64,
    ) -> Result<Arc<Spool>, Error> {
        let unusable = |what: &str, err: io::Error| Error::Config {
            option: "spool",
            reason: format!(
                "the spool directory `{}` is unusable: {what}: {err}",
                dir.display()
            ),
        };
        fs::create_dir_all(dir).map_err(|err| unusable("cannot create it", err))?;
        let segments = list_segments(dir).map_err(|err| unusable("cannot list it", err))?;
        let confirmed = read_confirmed(dir);
        // Numbers only grow, also past segments already deleted: a segment
        // numbered below the confirmed position would count as confirmed.
        let highest = segments.last().copied().unwrap_or(0).max(confirmed.segment);
        // Segments wholly before the confirmed position were confirmed; a
        // crash came between the confirmation and their deletion.
        for &segment in segments.iter().filter(|&&s| s < confirmed.segment) {
            let _ = fs::remove_file(segment_path(dir, segment));
        }
        let left: Vec<u64> = segments
            .into_iter()
            .filter(|&s| s >= confirmed.segment)
            .filter(|&s| {
                // An empty segment holds nothing to send.
                let path = segment_path(dir, s);
                let empty = fs::metadata(&path).is_ok_and(|m| m.len() == 0);
                !(empty && fs::remove_file(&path).is_ok())
            })
            .collect();
        let start = match left.first() {
            Some(&first) if first == confirmed.segment => confirmed,
            Some(&first) => Mark {
                segment: first,
                offset: 0,
            },
            None => Mark::default(),
        };
        let found_bytes = left
            .iter()
            .map(|&s| {
                let len = fs::metadata(segment_path(dir, s)).map_or(0, |m| m.len());
                if s == start.segment {
                    len.saturating_sub(start.offset)
                } else {
                    len
                }
            })
            .sum();
        let first_of_run = highest + 1;
        let file = create_segment(dir, first_of_run, fsync)
            .map_err(|err| unusable("cannot write a segment in it", err))?;
        let start = if left.is_empty() {
            Mark {
                segment: first_of_run,
                offset: 0,
            }
        } else {
            start
        };
        Ok(Arc::new(Spool {
            dir: dir.to_owned(),
            fsync,
            segment_bytes,
            writer: Mutex::new(Writer {
                file,
                segment: first_of_run,
                len: 0,
                last_sync: Instant::now(),
                started: Instant::now(),
                unsynced: false,
                broken: false,
            }),
            end: Mutex::new(Mark {
                segment: first_of_run,
                offset: 0,
            }),
            appended: Condvar::new(),
            first_of_run,
            start,
            found_bytes,
        }))
    }

    pub(crate) fn set_fsync(&mut self, policy: FsyncPolicy) {
        self.fsync = policy;
    }

    pub(crate) fn set_segment_bytes(&mut self, bytes: u64) {
        self.segment_bytes = bytes;
    }

    /// The directory.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// How many bytes of frames earlier runs left to send.
    pub(crate) fn found_bytes(&self) -> u64 {
        self.found_bytes
    }

    fn writer(&self) -> MutexGuard<'_, Writer> {
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn end(&self) -> MutexGuard<'_, Mark> {
        self.end.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends one envelope; when this returns `Ok`, the frame is with the
    /// operating system (and on the disk, as the fsync policy says).
    pub(crate) fn append(&self, envelope: &[u8]) -> io::Result<()> {
        if envelope.len() > MAX_FRAME {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the event is larger than 4 GiB",
            ));
        }
        let mut frame = Vec::with_capacity(HEADER + envelope.len());
        frame.extend_from_slice(&(envelope.len() as u32).to_le_bytes());
        frame.extend_from_slice(&checksum(envelope).to_le_bytes());
        frame.extend_from_slice(envelope);
        let mut writer = self.writer();
        if writer.broken || (writer.len > 0 && writer.len + frame.len() as u64 > self.segment_bytes)
        {
            self.rotate(&mut writer)?;
        }
        if let Err(err) = writer.file.write_all(&frame) {
            // Undo a partial frame, so that the next one is readable.
            let len = writer.len;
            if writer.file.set_len(len).is_err() {
                writer.broken = true;
            }
            return Err(err);
        }
        let before = writer.len;
        writer.len += frame.len() as u64;
        writer.unsynced = true;
        let due = match self.fsync {
            FsyncPolicy::Never => false,
            FsyncPolicy::Always => true,
            FsyncPolicy::Interval(every) => writer.last_sync.elapsed() >= every,
        };
        if due {
            if let Err(err) = sync(&mut writer) {
                // Refused, so not sent either.
                if writer.file.set_len(before).is_err() {
                    writer.broken = true;
                }
                writer.len = before;
                return Err(err);
            }
        }
        let end = Mark {
            segment: writer.segment,
            offset: writer.len,
        };
        drop(writer);
        *self.end() = end;
        self.appended.notify_one();
        Ok(())
    }

    /// Seals the current segment and starts the next one.
    fn rotate(&self, writer: &mut Writer) -> io::Result<()> {
        if self.fsync != FsyncPolicy::Never && writer.unsynced && !writer.broken {
            sync(writer)?;
        }
        let next = writer.segment + 1;
        let file = create_segment(&self.dir, next, self.fsync)?;
        writer.file = file;
        writer.segment = next;
        writer.len = 0;
        writer.started = Instant::now();
        writer.broken = false;
        *self.end() = Mark {
            segment: next,
            offset: 0,
        };
        Ok(())
    }

    /// With [`FsyncPolicy::Interval`], forces what was written to the disk
    /// once the interval has passed since the last time (the sender calls
    /// this, so that the last events of a burst are synced too).
    pub(crate) fn sync_if_due(&self) {
        if let FsyncPolicy::Interval(every) = self.fsync {
            let mut writer = self.writer();
            if writer.unsynced && writer.last_sync.elapsed() >= every {
                if let Err(err) = sync(&mut writer) {
                    log::warn!(
                        "eventlib: cannot fsync the spool in `{}`: {err}",
                        self.dir.display()
                    );
                }
            }
        }
    }

    /// Starts a fresh segment when everything written so far is
    /// confirmed, so that the confirmed one can be deleted. With an fsync
    /// policy a new segment costs a directory fsync, so then at most one a
    /// second: a segment Redis has caught up with may stay until then (or
    /// until the next start, which deletes it).
    fn rotate_if_at(&self, confirmed: Mark) -> bool {
        let mut writer = self.writer();
        let at_end = confirmed
            == Mark {
                segment: writer.segment,
                offset: writer.len,
            };
        let cheap =
            self.fsync == FsyncPolicy::Never || writer.started.elapsed() >= CATCH_UP_ROTATION;
        if writer.len == 0 || !at_end || !cheap {
            return false;
        }
        self.rotate(&mut writer).is_ok()
    }

    /// Waits up to `timeout` for frames after `from`; returns the end of
    /// what was appended.
    fn wait_past(&self, from: Mark, timeout: Duration) -> Mark {
        let end = self.end();
        if *end != from {
            return *end;
        }
        let (end, _) = self
            .appended
            .wait_timeout(end, timeout)
            .unwrap_or_else(|e| e.into_inner());
        *end
    }
}

/// The admission of a spool: `log!` writes each event down before it is
/// queued.
pub(crate) struct SpoolAdmission(pub(crate) Arc<Spool>);

impl Admission for SpoolAdmission {
    fn admit(&self, record: &Record) -> Result<(), Error> {
        self.0.append(&wire::envelope(record)).map_err(|err| {
            Error::Transport(format!(
                "spool write failed in `{}`: {err}; the event was not accepted",
                self.0.dir.display()
            ))
        })
    }
}

fn sync(writer: &mut Writer) -> io::Result<()> {
    writer.file.sync_data()?;
    writer.last_sync = Instant::now();
    writer.unsynced = false;
    Ok(())
}

fn segment_path(dir: &Path, segment: u64) -> PathBuf {
    dir.join(format!("{segment:020}.seg"))
}

fn create_segment(dir: &Path, segment: u64, fsync: FsyncPolicy) -> io::Result<File> {
    let file = OpenOptions::new()
        .create_new(true)
        .append(true)
        .open(segment_path(dir, segment))?;
    if fsync != FsyncPolicy::Never {
        // The new name must survive a machine crash too.
        File::open(dir)?.sync_all()?;
    }
    Ok(file)
}

fn list_segments(dir: &Path) -> io::Result<Vec<u64>> {
    let mut segments = Vec::new();
    for entry in fs::read_dir(dir)? {
        let name = entry?.file_name();
        let name = name.to_string_lossy();
        if let Some(number) = name.strip_suffix(".seg") {
            if let Ok(number) = number.parse() {
                segments.push(number);
            }
        }
    }
    segments.sort_unstable();
    Ok(segments)
}

fn read_confirmed(dir: &Path) -> Mark {
    let mut bytes = [0u8; 16];
    match File::open(dir.join("confirmed")).and_then(|mut f| f.read_exact(&mut bytes)) {
        Ok(()) => Mark {
            segment: u64::from_le_bytes(bytes[..8].try_into().unwrap_or_default()),
            offset: u64::from_le_bytes(bytes[8..].try_into().unwrap_or_default()),
        },
        Err(_) => Mark::default(),
    }
}

/// FNV-1a: enough to tell a torn frame from a whole one.
fn checksum(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5u32, |hash, &b| {
        (hash ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

#[cfg(test)]
mod tests {
    use super::reader::Frame;
    use super::*;

    struct Dir(PathBuf);
    impl Dir {
        fn new(label: &str) -> Dir {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            Dir(std::env::temp_dir().join(format!(
                "eventlib-spool-{label}-{}-{nanos}",
                std::process::id()
            )))
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn read_all(reader: &mut Reader) -> Vec<Frame> {
        let mut all = Vec::new();
        loop {
            let batch = reader.next_batch(7, Duration::from_millis(1));
            if batch.is_empty() {
                return all;
            }
            all.extend(batch);
        }
    }

    fn text(frames: &[Frame]) -> Vec<String> {
        frames
            .iter()
            .map(|f| String::from_utf8_lossy(&f.envelope).into_owned())
            .collect()
    }

    #[test]
    fn frames_come_back_in_order_across_segments() {
        let dir = Dir::new("order");
        let spool = Spool::open(&dir.0, FsyncPolicy::Never, 64).unwrap();
        let sent: Vec<String> = (0..50).map(|n| format!("envelope {n}")).collect();
        for envelope in &sent {
            spool.append(envelope.as_bytes()).unwrap();
        }
        assert!(list_segments(&dir.0).unwrap().len() > 5, "segments rotate");
        let mut reader = Reader::new(Arc::clone(&spool));
        let frames = read_all(&mut reader);
        assert_eq!(text(&frames), sent);
        assert!(frames.iter().all(|f| !f.recovered));
        assert!(reader.backlog() > 0);
        reader.settled();
        assert_eq!(reader.backlog(), 0);
        let left = list_segments(&dir.0).unwrap();
        assert_eq!(left.len(), 1, "confirmed segments are deleted: {left:?}");
        assert_eq!(
            fs::metadata(segment_path(&dir.0, left[0])).unwrap().len(),
            0
        );
    }

    #[test]
    fn a_new_run_sends_what_the_last_one_left_first_from_the_confirmed_position() {
        let dir = Dir::new("restart");
        {
            let spool = Spool::open(&dir.0, FsyncPolicy::Always, 40).unwrap();
            for n in 0..10 {
                spool.append(format!("old {n}").as_bytes()).unwrap();
            }
            let mut reader = Reader::new(Arc::clone(&spool));
            assert_eq!(reader.next_batch(3, Duration::from_millis(1)).len(), 3);
            reader.settled();
        }
        let spool = Spool::open(&dir.0, FsyncPolicy::Never, 40).unwrap();
        assert!(spool.found_bytes() > 0);
        spool.append(b"new 0").unwrap();
        let frames = read_all(&mut Reader::new(Arc::clone(&spool)));
        let expected: Vec<String> = (3..10)
            .map(|n| format!("old {n}"))
            .chain(["new 0".to_owned()])
            .collect();
        assert_eq!(text(&frames), expected);
        assert!(frames[..7].iter().all(|f| f.recovered));
        assert!(!frames[7].recovered);
    }

    #[test]
    fn segment_numbers_never_go_below_the_confirmed_position() {
        let dir = Dir::new("numbers");
        {
            let spool = Spool::open(&dir.0, FsyncPolicy::Never, 1 << 20).unwrap();
            spool.append(b"sent").unwrap();
            let mut reader = Reader::new(Arc::clone(&spool));
            assert_eq!(reader.next_batch(10, Duration::from_millis(1)).len(), 1);
            reader.settled();
        }
        // Every segment is gone (the last one was empty); a new run logs
        // and dies before anything is confirmed.
        {
            let spool = Spool::open(&dir.0, FsyncPolicy::Never, 1 << 20).unwrap();
            spool.append(b"not sent yet").unwrap();
        }
        let spool = Spool::open(&dir.0, FsyncPolicy::Never, 1 << 20).unwrap();
        let frames = read_all(&mut Reader::new(spool));
        assert_eq!(text(&frames), ["not sent yet"]);
    }

    #[test]
    fn a_torn_tail_is_skipped_and_the_rest_is_read() {
        let dir = Dir::new("torn");
        {
            let spool = Spool::open(&dir.0, FsyncPolicy::Never, 1 << 20).unwrap();
            spool.append(b"whole one").unwrap();
            spool.append(b"whole two").unwrap();
        }
        let segment = segment_path(&dir.0, 1);
        let len = fs::metadata(&segment).unwrap().len();
        OpenOptions::new()
            .write(true)
            .open(&segment)
            .unwrap()
            .set_len(len - 3)
            .unwrap();
        let spool = Spool::open(&dir.0, FsyncPolicy::Never, 1 << 20).unwrap();
        spool.append(b"after").unwrap();
        let frames = read_all(&mut Reader::new(spool));
        assert_eq!(text(&frames), ["whole one", "after"]);
    }

    #[test]
    fn an_unusable_directory_is_a_configuration_error() {
        let dir = Dir::new("unusable");
        fs::create_dir_all(&dir.0).unwrap();
        let file = dir.0.join("a-file");
        fs::write(&file, b"x").unwrap();
        match Spool::open(&file.join("spool"), FsyncPolicy::Never, 1024) {
            Err(Error::Config { option, reason }) => {
                assert_eq!(option, "spool");
                assert!(reason.contains("unusable"), "{reason}");
            }
            Err(other) => panic!("not a configuration error: {other:?}"),
            Ok(_) => panic!("a path below a file was accepted"),
        }
    }

    #[test]
    fn a_directory_that_vanishes_fails_the_append_that_needs_a_new_segment() {
        let dir = Dir::new("vanish");
        let spool = Spool::open(&dir.0, FsyncPolicy::Never, 32).unwrap();
        spool.append(b"fits in the first segment").unwrap();
        fs::remove_dir_all(&dir.0).unwrap();
        let err = spool.append(b"needs a second segment").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound, "{err}");
    }
}
