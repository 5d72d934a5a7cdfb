//! The default error hook: what a person sees of failures and losses with
//! no configuration and no logger installed.
//!
//! Each kind of failure (a drop of event `E`, a failure or panic of handler
//! `H`) is told in full the first time it happens in a one-second window;
//! the repeats in that window are counted and told as one line when the
//! window ends ("eventlib: dropped 8,984 more events of `shop.Viewed` in the
//! last 1 s: ..."). At most [`FULL_LINES`] full lines are written per
//! window, so a storm of failures costs a few lines a second, not one line
//! per event.
//!
//! Lines go through the `log` facade when a logger takes them at their
//! level, and to standard error otherwise, so that they are never lost for
//! want of a logger.

use std::fmt::{self, Write as _};
use std::sync::{Condvar, Mutex, Once, OnceLock};
use std::time::{Duration, Instant};

use crate::handler::{Failure, FailureKind};

/// The length of a window.
const WINDOW: Duration = Duration::from_secs(1);

/// How many failures are told in full in one window.
const FULL_LINES: usize = 10;

#[derive(Clone, Copy, PartialEq, Eq)]
enum What {
    Dropped,
    Failed,
    Panicked,
}

#[derive(Clone, Copy, PartialEq, Eq)]
struct Key {
    what: What,
    event: &'static str,
    handler: Option<&'static str>,
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
    let key = Key {
        what: match failure.kind {
            FailureKind::Dropped | FailureKind::Undelivered(_) => What::Dropped,
            FailureKind::Panic(_) => What::Panicked,
            _ => What::Failed,
        },
        event: failure.event,
        handler: failure.handler,
    };
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
        repeats.last.clear();
        let _ = write!(repeats.last, "{failure}");
    } else if window.full_lines < FULL_LINES {
        window.full_lines += 1;
        window.seen.push(Repeats {
            key,
            more: 0,
            last: String::new(),
        });
        tell(key.what, &format!("eventlib: {failure}"));
    } else {
        window.seen.push(Repeats {
            key,
            more: 1,
            last: failure.to_string(),
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

/// A shutdown that was not clean, told once whatever the hook: the last
/// chance a person has to learn that events were lost.
pub(crate) fn tell_unclean(report: &crate::Report, timeout: Duration) {
    let what = if report.abandoned > 0 {
        What::Dropped
    } else {
        What::Failed
    };
    tell(
        what,
        &format!("eventlib: shutdown after at most {timeout:?} was not clean: {report}"),
    );
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
    let Key {
        what,
        event,
        handler,
    } = repeats.key;
    let handler = handler.unwrap_or("-");
    let (n, span) = (Thousands(repeats.more), Seconds(span));
    let plural = if repeats.more == 1 { "" } else { "s" };
    match what {
        What::Dropped => format!(
            "eventlib: dropped {n} more event{plural} of `{event}` in the last {span} (last: {})",
            repeats.last
        ),
        What::Failed => format!(
            "eventlib: handler `{handler}` of event `{event}` failed {n} more time{plural} in the \
             last {span} (last: {})",
            repeats.last
        ),
        What::Panicked => format!(
            "eventlib: handler `{handler}` of event `{event}` panicked {n} more time{plural} in \
             the last {span} (last: {})",
            repeats.last
        ),
    }
}

/// One line, to the logger if it takes it, else to standard error.
fn tell(what: What, line: &str) {
    let level = match what {
        What::Dropped => log::Level::Error,
        What::Failed | What::Panicked => log::Level::Warn,
    };
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
                event: "shop.Viewed",
                handler: None,
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
