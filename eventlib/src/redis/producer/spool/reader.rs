//! Reading the spool back, in order, and recording what Redis confirmed.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read};
use std::sync::Arc;
use std::time::Duration;

use super::{checksum, segment_path, Mark, Spool, HEADER};

/// One frame read back from the spool.
pub(crate) struct Frame {
    pub(crate) envelope: Vec<u8>,
    /// Left by an earlier run of the producer.
    pub(crate) recovered: bool,
}

/// Reads the spool in order, from the confirmed position on, and records
/// confirmations; owned by the sender.
pub(crate) struct Reader {
    spool: Arc<Spool>,
    at: Mark,
    file: Option<BufReader<File>>,
    confirmed: Mark,
    confirmed_file: Option<File>,
}

impl Reader {
    pub(crate) fn new(spool: Arc<Spool>) -> Reader {
        let start = spool.start;
        Reader {
            spool,
            at: start,
            file: None,
            confirmed: start,
            confirmed_file: None,
        }
    }

    /// How many frames earlier runs left to send (from the start on, in
    /// the segments before this run's): read from their headers alone. A
    /// segment cut short by a crash counts the whole frames before the cut.
    pub(crate) fn recovered_frames(&self) -> u64 {
        let mut frames = 0;
        let mut at = self.spool.start;
        while at.segment < self.spool.first_of_run {
            let path = segment_path(&self.spool.dir, at.segment);
            if let Ok(file) = File::open(&path) {
                let len = file.metadata().map_or(0, |m| m.len());
                let mut file = BufReader::new(file);
                let mut offset = at.offset;
                if io::Seek::seek(&mut file, io::SeekFrom::Start(offset)).is_ok() {
                    let mut header = [0u8; HEADER];
                    while offset + HEADER as u64 <= len
                        && matches!(read_whole(&mut file, &mut header), Ok(true))
                    {
                        let size = u64::from(u32::from_le_bytes([
                            header[0], header[1], header[2], header[3],
                        ]));
                        let next = offset + HEADER as u64 + size;
                        if next > len || io::Seek::seek_relative(&mut file, size as i64).is_err() {
                            break;
                        }
                        frames += 1;
                        offset = next;
                    }
                }
            }
            at = Mark {
                segment: at.segment + 1,
                offset: 0,
            };
        }
        frames
    }

    /// Whether every frame of earlier runs has been read.
    pub(crate) fn past_recovered(&self) -> bool {
        self.at.segment >= self.spool.first_of_run
    }

    /// Up to `max` frames, waiting up to `timeout` for the first.
    pub(crate) fn next_batch(&mut self, max: usize, timeout: Duration) -> Vec<Frame> {
        let mut frames = Vec::new();
        let mut end = self.spool.wait_past(self.at, timeout);
        while frames.len() < max {
            if self.at.segment == end.segment && self.at.offset >= end.offset {
                break;
            }
            match self.read_frame(end) {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => {
                    // The end of a sealed segment: on to the next one.
                    if self.at.segment >= end.segment {
                        self.file = None;
                        break;
                    }
                    self.next_segment();
                }
                Err(_) if self.at.segment >= end.segment => {
                    // The segment being written: read it again from the
                    // frame's start next time (a buffered read may have
                    // caught a write half done, or one taken back).
                    self.file = None;
                    break;
                }
                Err(err) => {
                    log::error!(
                        "eventlib: the spool segment {} is unreadable from byte {} ({err}); \
                         the rest of it is skipped",
                        segment_path(&self.spool.dir, self.at.segment).display(),
                        self.at.offset
                    );
                    self.next_segment();
                }
            }
            end = *self.spool.end();
        }
        frames
    }

    fn next_segment(&mut self) {
        self.at = Mark {
            segment: self.at.segment + 1,
            offset: 0,
        };
        self.file = None;
    }

    /// The frame at the reader's position, `None` at the end of a sealed
    /// segment (or of a torn one).
    fn read_frame(&mut self, end: Mark) -> io::Result<Option<Frame>> {
        if self.file.is_none() {
            let path = segment_path(&self.spool.dir, self.at.segment);
            let mut file = match File::open(&path) {
                Ok(file) => file,
                // A number no run used (a crash between two numbers).
                Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(err) => return Err(err),
            };
            io::Seek::seek(&mut file, io::SeekFrom::Start(self.at.offset))?;
            self.file = Some(BufReader::with_capacity(256 * 1024, file));
        }
        let limit = (self.at.segment == end.segment).then_some(end.offset);
        let Some(file) = self.file.as_mut() else {
            return Ok(None);
        };
        let mut header = [0u8; HEADER];
        if !read_whole(file, &mut header)? {
            return Ok(None);
        }
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let sum = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        let next = self.at.offset + (HEADER + len) as u64;
        if limit.is_some_and(|limit| next > limit) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "a frame runs past the end of what was written",
            ));
        }
        let mut envelope = vec![0u8; len];
        if !read_whole(file, &mut envelope)? || checksum(&envelope) != sum {
            // A frame torn by a machine crash: nothing after it is trusted.
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "a torn frame (the machine crashed while it was written)",
            ));
        }
        self.at.offset = next;
        Ok(Some(Frame {
            envelope,
            recovered: self.at.segment < self.spool.first_of_run,
        }))
    }

    /// Every frame up to `mark` is confirmed: remember it and delete the
    /// segments wholly before it. When that is everything written so far,
    /// the current segment is sealed and deleted too (the next event starts
    /// a fresh one), so that a spool Redis has caught up with holds no
    /// frame.
    fn confirm(&mut self, mark: Mark) {
        if mark < self.confirmed {
            return;
        }
        let done_with = |segment: u64| Mark {
            segment: segment + 1,
            offset: 0,
        };
        let mut mark = mark;
        let sealed = mark.segment < self.spool.end().segment;
        if self.spool.rotate_if_at(mark)
            || (sealed && mark.offset >= self.segment_len(mark.segment))
        {
            mark = done_with(mark.segment);
        }
        if mark == self.confirmed {
            return;
        }
        let previous = self.confirmed;
        self.confirmed = mark;
        self.write_confirmed();
        for segment in previous.segment..mark.segment {
            let _ = fs::remove_file(segment_path(&self.spool.dir, segment));
        }
        if self.at < mark {
            self.at = mark;
            self.file = None;
        }
    }

    /// Every frame read so far is settled (confirmed, or given up): the
    /// sender calls this whenever its batch is done.
    pub(crate) fn settled(&mut self) {
        self.confirm(self.at);
    }

    fn segment_len(&self, segment: u64) -> u64 {
        fs::metadata(segment_path(&self.spool.dir, segment)).map_or(0, |m| m.len())
    }

    /// Bytes appended and not confirmed yet.
    pub(crate) fn backlog(&self) -> u64 {
        let end = *self.spool.end();
        if end.segment == self.confirmed.segment {
            return end.offset.saturating_sub(self.confirmed.offset);
        }
        let dir = &self.spool.dir;
        let mut bytes = end.offset;
        for segment in self.confirmed.segment..end.segment {
            let len = fs::metadata(segment_path(dir, segment)).map_or(0, |m| m.len());
            bytes += if segment == self.confirmed.segment {
                len.saturating_sub(self.confirmed.offset)
            } else {
                len
            };
        }
        bytes
    }

    fn write_confirmed(&mut self) {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&self.confirmed.segment.to_le_bytes());
        bytes[8..].copy_from_slice(&self.confirmed.offset.to_le_bytes());
        if self.confirmed_file.is_none() {
            self.confirmed_file = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(self.spool.dir.join("confirmed"))
                .ok();
        }
        let written = self.confirmed_file.as_mut().map(|file| {
            use std::os::unix::fs::FileExt;
            file.write_all_at(&bytes, 0)
        });
        if let Some(Err(err)) = written {
            // Only costs duplicates after a restart: frames are sent again.
            log::warn!(
                "eventlib: cannot record confirmations in `{}`: {err}",
                self.spool.dir.display()
            );
        }
    }
}

/// Reads exactly `buf.len()` bytes; `false` at the end of the file (a
/// partial read at the end counts as the end).
fn read_whole(file: &mut impl Read, buf: &mut [u8]) -> io::Result<bool> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => return Ok(false),
            Ok(n) => filled += n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    Ok(true)
}
