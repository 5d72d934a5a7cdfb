//! What a person sees of failures and losses with no configuration and no
//! logger installed: the default error hook of the dispatcher and of Redis
//! workers, and a worker's notices about entries it does not handle itself.
//!
//! Each kind of notice (a drop of event `E`, a failure or panic of handler
//! `H`, entries of `E` left to other workers) is told in full the first
//! time it happens in a one-second window;
//! the repeats in that window are counted and told as one line when the
//! window ends ("eventlib: dropped 8,984 more events of `shop.Viewed` in the
//! last 1 s: ..."). At most [`FULL_LINES`] full lines are written per
//! window, so a storm of failures costs a few lines a second, not one line
//! per event.
//!
//! Lines go through `tracing` when the feature is on and a subscriber takes
//! them, else through the `log` facade when a logger takes them at their
//! level, and to standard error otherwise, so that they are never lost for
//! want of a logger.

use std::fmt::{self, Write as _};
use std::sync::{Condvar, Mutex, Once, OnceLock};
use std::time::{Duration, Instant};

use crate::failure::{Failure, FailureKind};

/// The length of a window.
const WINDOW: Duration = Duration::from_secs(1);

/// How many failures are told in full in one window.
const FULL_LINES: usize = 10;

#[derive(Clone, Copy, PartialEq, Eq)]
enum What {
    Dropped,
    Failed,
    Panicked,
    /// A worker left entries pending for workers of its group that have
    /// the handlers.
    #[cfg(feature = "redis")]
    LeftForOthers,
    /// A worker acknowledged entries that no worker of its group handles.
    #[cfg(feature = "redis")]
    NoHandler,
}

/// Which notices are repeats of each other. Event names from a stream are
/// not `'static`, hence the owned strings (built on failure paths only).
#[derive(Clone, PartialEq, Eq)]
struct Key {
    what: What,
    event: String,
    /// The handler, or the worker's group.
    who: Option<String>,
}

struct Repeats {
    key: Key,
    /// Occurrences after the first full line.
    more: u64,
    /// The last of them, for the summary.
    last: String,
}

#[derive(Default)]
struct Window {
    started: Option<Instant>,
    full_lines: usize,
    seen: Vec<Repeats>,
}

struct Notices {
    window: Mutex<Window>,
    tick: Condvar,
}

fn notices() -> &'static Notices {
    static NOTICES: OnceLock<Notices> = OnceLock::new();
    NOTICES.get_or_init(|| Notices {
        window: Mutex::new(Window::default()),
        tick: Condvar::new(),
    })
}

/// The default error hook of the dispatcher and of Redis workers.
pub(crate) fn default_hook(failure: &Failure) {
    let what = match failure.kind {
        FailureKind::Dropped | FailureKind::Undelivered(_) => What::Dropped,
        FailureKind::Panic(_) => What::Panicked,
        _ => What::Failed,
    };
    let key = Key {
        what,
        event: failure.event.to_owned(),
        who: failure.handler.map(str::to_owned),
    };
    notice(
        key,
        || format!("eventlib: {failure}"),
        || failure.to_string(),
    );
}

/// What a Redis worker did with an entry it does not handle itself.
#[cfg(feature = "redis")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unhandled {
    /// Left pending for a worker of the group that has the handlers.
    LeftForOthers,
    /// Acknowledged unhandled: no worker of the group has a handler.
    NoHandler,
}

/// Tells that a worker of `group` did not handle entry `entry` of `event`.
#[cfg(feature = "redis")]
pub(crate) fn unhandled(kind: Unhandled, event: &str, group: &str, entry: &str) {
    let key = Key {
        what: match kind {
            Unhandled::LeftForOthers => What::LeftForOthers,
            Unhandled::NoHandler => What::NoHandler,
        },
        event: event.to_owned(),
        who: Some(group.to_owned()),
    };
    let why = describe(&key);
    notice(
        key,
        || format!("eventlib worker: entry {entry} of event `{event}` {why}"),
        || format!("entry {entry}"),
    );
}

/// One notice: told in full (`full`) the first time its key comes up in a
/// window, counted (keeping `last`) for the summary otherwise.
fn notice(key: Key, full: impl FnOnce() -> String, last: impl FnOnce() -> String) {
    let what = key.what;
    let notices = notices();
    let mut window = notices.window.lock().unwrap_or_else(|e| e.into_inner());
    let now = Instant::now();
    if window
        .started
        .is_some_and(|t| now.duration_since(t) >= WINDOW)
    {
        summarize(&mut window);
    }
    if window.started.is_none() {
        window.started = Some(now);
        start_ticker();
        notices.tick.notify_one();
    }
    if let Some(repeats) = window.seen.iter_mut().find(|r| r.key == key) {
        repeats.more += 1;
        repeats.last = last();
    } else if window.full_lines < FULL_LINES {
        window.full_lines += 1;
        window.seen.push(Repeats {
            key,
            more: 0,
            last: String::new(),
        });
        tell(what, &full());
    } else {
        window.seen.push(Repeats {
            key,
            more: 1,
            last: last(),
        });
    }
}

/// Writes the summary of the current window now (before `shutdown` or
/// `flush` return, so that a process that exits right after still shows
/// it).
pub(crate) fn flush() {
    let mut window = notices().window.lock().unwrap_or_else(|e| e.into_inner());
    summarize(&mut window);
}

/// A warning a person must see once, whatever the hook and with no logger
/// installed (a group created past entries, a permission missing).
#[cfg(feature = "redis")]
pub(crate) fn warn(line: &str) {
    tell(What::Failed, line);
}

/// A failure retried until it stops (Redis refuses a worker's read or
/// acknowledgement, say): its first line of each stretch of failures is
/// told as [`warn`] does, seen even with no logger installed; the rest go
/// to `log`.
#[cfg(feature = "redis")]
#[derive(Debug, Default)]
pub(crate) struct Stretch {
    told: bool,
}

#[cfg(feature = "redis")]
impl Stretch {
    /// One more failure, `line` saying what it was and what happens now.
    pub(crate) fn failed(&mut self, line: &str) {
        if self.told {
            log::warn!("{line}");
        } else {
            warn(line);
            self.told = true;
        }
    }

    /// It worked: the next failure starts a stretch of its own.
    pub(crate) fn ended(&mut self) {
        self.told = false;
    }
}

/// A shutdown that was not clean (`line` says how), told once whatever the
/// hook: the last chance a person has to learn that events were lost.
pub(crate) fn tell_unclean(line: &str, lost: bool) {
    let what = if lost { What::Dropped } else { What::Failed };
    tell(what, &format!("eventlib: {line}"));
}

/// Tells the repeats of the window that ends, and starts a new one.
fn summarize(window: &mut Window) {
    let span = window
        .started
        .map_or(WINDOW, |t| t.elapsed())
        .max(Duration::from_millis(1));
    for repeats in window.seen.drain(..).filter(|r| r.more > 0) {
        tell(repeats.key.what, &summary(&repeats, span));
    }
    window.started = None;
    window.full_lines = 0;
}

fn summary(repeats: &Repeats, span: Duration) -> String {
    let Key { what, event, who } = &repeats.key;
    let who = who.as_deref().unwrap_or("-");
    let (n, span) = (Thousands(repeats.more), Seconds(span));
    let plural = if repeats.more == 1 { "" } else { "s" };
    let last = &repeats.last;
    match what {
        What::Dropped => format!(
            "eventlib: dropped {n} more event{plural} of `{event}` in the last {span} (last: {last})"
        ),
        What::Failed => format!(
            "eventlib: handler `{who}` of event `{event}` failed {n} more time{plural} in the \
             last {span} (last: {last})"
        ),
        What::Panicked => format!(
            "eventlib: handler `{who}` of event `{event}` panicked {n} more time{plural} in the \
             last {span} (last: {last})"
        ),
        #[cfg(feature = "redis")]
        What::LeftForOthers => format!(
            "eventlib worker: {n} more {} of event `{event}` handed to other workers of group \
             `{who}` in the last {span} (last: {last})",
            entries(repeats.more)
        ),
        #[cfg(feature = "redis")]
        What::NoHandler => format!(
            "eventlib worker: {n} more {} of event `{event}` acknowledged unhandled (no worker of \
             group `{who}` has a handler) in the last {span} (last: {last})",
            entries(repeats.more)
        ),
    }
}

#[cfg(feature = "redis")]
fn entries(n: u64) -> &'static str {
    if n == 1 {
        "entry"
    } else {
        "entries"
    }
}

/// Why a worker did not handle entries of an event.
#[cfg(feature = "redis")]
fn describe(key: &Key) -> String {
    let group = key.who.as_deref().unwrap_or("default");
    match key.what {
        What::LeftForOthers => format!(
            "handed to other workers of group `{group}`: they run handlers this build does \
             not have (two builds side by side, as during a rolling deploy; it stops once \
             every worker of the group runs the newer build)"
        ),
        What::NoHandler => format!(
            "acknowledged unhandled: no live worker of group `{group}` has a handler for them"
        ),
        _ => String::new(),
    }
}

/// One line: to a `tracing` subscriber if one is installed and takes it
/// (feature `tracing`), else to the logger if it takes it, else to
/// standard error.
fn tell(what: What, line: &str) {
    let level = match what {
        What::Dropped => log::Level::Error,
        _ => log::Level::Warn,
    };
    #[cfg(feature = "tracing")]
    if tracing::dispatcher::has_been_set() {
        // The target says `eventlib` already.
        let line = line.strip_prefix("eventlib: ").unwrap_or(line);
        let taken = match level {
            log::Level::Error if tracing::event_enabled!(target: "eventlib", tracing::Level::ERROR) =>
            {
                tracing::error!(target: "eventlib", "{line}");
                true
            }
            log::Level::Warn if tracing::event_enabled!(target: "eventlib", tracing::Level::WARN) =>
            {
                tracing::warn!(target: "eventlib", "{line}");
                true
            }
            _ => false,
        };
        if taken {
            return;
        }
    }
    if log::log_enabled!(target: "eventlib", level) {
        log::log!(target: "eventlib", level, "{line}");
    } else {
        eprintln!("{line}");
    }
}

/// A thread that ends each window a second after it began, so that the
/// repeats are told even when no failure follows.
fn start_ticker() {
    static STARTED: Once = Once::new();
    let mut first = false;
    STARTED.call_once(|| first = true);
    if !first {
        return;
    }
    let notices = notices();
    let spawned = std::thread::Builder::new()
        .name("eventlib-notices".into())
        .spawn(move || {
            let mut window = notices.window.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                let Some(started) = window.started else {
                    window = notices.tick.wait(window).unwrap_or_else(|e| e.into_inner());
                    continue;
                };
                let left = WINDOW.saturating_sub(started.elapsed());
                if left.is_zero() {
                    summarize(&mut window);
                    continue;
                }
                window = match notices.tick.wait_timeout(window, left) {
                    Ok((window, _)) => window,
                    Err(poisoned) => poisoned.into_inner().0,
                };
            }
        });
    if spawned.is_err() {
        // Without the ticker, repeats are told with the next failure, or at
        // `flush` / `shutdown`.
        log::debug!("eventlib: cannot start the notices thread");
    }
}

/// `8984` as `8,984`.
struct Thousands(u64);

impl fmt::Display for Thousands {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.0.to_string();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                f.write_char(',')?;
            }
            f.write_char(c)?;
        }
        Ok(())
    }
}

/// A window's length, as `1 s` or `0.4 s`.
struct Seconds(Duration);

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.as_secs_f64();
        if secs >= 0.95 {
            write!(f, "{secs:.0} s")
        } else {
            write!(f, "{secs:.1} s")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands() {
        let cases = [(0, "0"), (999, "999"), (1000, "1,000"), (8984, "8,984")];
        for (n, shown) in cases {
            assert_eq!(Thousands(n).to_string(), shown);
        }
        assert_eq!(Thousands(1_234_567).to_string(), "1,234,567");
    }

    #[test]
    fn summary_lines() {
        let repeats = Repeats {
            key: Key {
                what: What::Dropped,
                event: "shop.Viewed".into(),
                who: None,
            },
            more: 8984,
            last: "event `shop.Viewed` (…) dropped".into(),
        };
        assert_eq!(
            summary(&repeats, Duration::from_millis(1000)),
            "eventlib: dropped 8,984 more events of `shop.Viewed` in the last 1 s (last: event \
             `shop.Viewed` (…) dropped)"
        );
    }
}
