//! A worker's upkeep thread: one loop that runs each periodic job on its own
//! schedule; each job is a child module.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use std::time::SystemTime;

use crate::notice::Stretch;
use crate::redis::backoff;
use crate::redis::conn::Link;
use crate::redis::fault::{describe, tell_beside};
use crate::redis::stream_id::millis;
use crate::redis::timeline::PUBLISH_EVERY;
use crate::redis::worker::handler_sets;
use crate::redis::worker::shared::Shared;

mod consumers;
mod heartbeat;
mod idle;
pub(crate) mod pauses;
pub(crate) mod publish;
#[cfg(feature = "metrics")]
mod sample;
mod trim;

use consumers::remove_idle_consumers;
use heartbeat::heartbeat;
use idle::drained;
#[cfg(feature = "metrics")]
use sample::{sample, SAMPLE_EVERY};
use trim::trim;

/// How often a worker reads the operator's pauses.
const PAUSE_CHECK_EVERY: Duration = Duration::from_secs(1);

/// Heartbeat and trim, each on its own period, until `finished`.
pub(crate) fn upkeep(shared: &Shared, finished: &AtomicBool) {
    let config = shared.config();
    let mut link = shared.link(Duration::from_secs(10));
    let heartbeat_every = config.heartbeat_every();
    let now = Instant::now();
    let mut next_heartbeat = now + heartbeat_every;
    let mut next_trim = config
        .trim_interval
        .map(|every| now + backoff::jitter(every));
    let cleanup_every = config
        .consumer_cleanup
        .map(|idle| (idle / 10).clamp(Duration::from_millis(500), Duration::from_secs(60)));
    let mut next_cleanup = cleanup_every.map(|every| now + backoff::jitter(every));
    let (mut received, mut received_at) = (shared.stats().received, now);
    let mut next_idle_check = now;
    #[cfg(feature = "metrics")]
    let mut next_sample = now;
    let me = publish::process(shared, millis(SystemTime::now()));
    let mut next_publish = now;
    let mut next_pause_check = now;
    // Each task tells its failures once per stretch, even with no logger:
    // a heartbeat refused lets other workers take over entries still
    // being handled, pauses unread are not honoured, a trim refused lets
    // the stream grow.
    let (mut heartbeats, mut handler_sets, mut pause_checks, mut figures, mut cleanups, mut trims) = (
        Stretch::default(),
        Stretch::default(),
        Stretch::default(),
        Stretch::default(),
        Stretch::default(),
        Stretch::default(),
    );
    let told = |what: &str, link: &Link, err: &redis::RedisError| {
        format!(
            "eventlib worker `{}`: {what} at {} ({}); trying again",
            config.consumer,
            link.shown(),
            describe(err)
        )
    };
    while !finished.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(20));
        let now = Instant::now();
        if let Some(idle) = config.stop_when_idle {
            let seen = shared.stats().received;
            if seen != received {
                (received, received_at) = (seen, now);
            } else if now.duration_since(received_at) >= idle
                && now >= next_idle_check
                && !shared.stop().is_set()
            {
                next_idle_check = now + Duration::from_millis(100);
                match drained(shared, &mut link) {
                    Ok(true) => {
                        log::info!(
                            "eventlib worker `{}`: group `{}` drained and nothing received for \
                             {idle:?}: stopping",
                            config.consumer,
                            config.group
                        );
                        shared.stop().set();
                    }
                    Ok(false) => {}
                    Err(err) => log::warn!("eventlib worker: checking for idleness failed: {err}"),
                }
            }
        }
        if now >= next_heartbeat {
            next_heartbeat = now + heartbeat_every;
            match heartbeat(shared, &mut link) {
                Ok(()) => heartbeats.ended(),
                Err(err) => tell_beside(
                    &mut heartbeats,
                    &told(
                        "cannot keep the entries it handles (its heartbeat), so other workers may \
                     take them over and run them again",
                        &link,
                        &err,
                    ),
                    &err,
                ),
            }
            match handler_sets::publish(shared, &mut link, heartbeat_every) {
                Ok(()) => handler_sets.ended(),
                Err(err) => tell_beside(
                    &mut handler_sets,
                    &told("cannot publish the handlers it runs", &link, &err),
                    &err,
                ),
            }
        }
        if now >= next_pause_check {
            next_pause_check = now + PAUSE_CHECK_EVERY;
            match pauses::check(shared, &mut link) {
                Ok(()) => pause_checks.ended(),
                Err(err) => tell_beside(
                    &mut pause_checks,
                    &told(
                        "cannot read the pauses an operator set, so it does not honour a new one",
                        &link,
                        &err,
                    ),
                    &err,
                ),
            }
        }
        if now >= next_publish {
            next_publish = now + PUBLISH_EVERY;
            match publish::publish(shared, &mut link, &me) {
                Ok(()) => figures.ended(),
                // The counts wait for the next try.
                Err(err) => tell_beside(
                    &mut figures,
                    &told("cannot publish its figures", &link, &err),
                    &err,
                ),
            }
        }
        #[cfg(feature = "metrics")]
        if now >= next_sample {
            next_sample = now + SAMPLE_EVERY;
            if let Err(err) = sample(shared, &mut link) {
                log::debug!("eventlib worker: sampling its gauges failed: {err}");
            }
        }
        if shared.stop().is_set() {
            continue;
        }
        if let (Some(due), Some(every), Some(idle)) =
            (next_cleanup, cleanup_every, config.consumer_cleanup)
        {
            if now >= due {
                next_cleanup = Some(now + backoff::jitter(every));
                match remove_idle_consumers(shared, &mut link, idle) {
                    Ok(()) => cleanups.ended(),
                    Err(err) => tell_beside(
                        &mut cleanups,
                        &told("cannot remove idle consumers", &link, &err),
                        &err,
                    ),
                }
            }
        }
        if let (Some(due), Some(every)) = (next_trim, config.trim_interval) {
            if now >= due {
                next_trim = Some(now + backoff::jitter(every));
                match trim(shared, &mut link) {
                    Ok(()) => trims.ended(),
                    Err(err) => tell_beside(
                        &mut trims,
                        &told("cannot trim the stream, which grows meanwhile", &link, &err),
                        &err,
                    ),
                }
            }
        }
    }
    // The last counts, before the worker says it stopped.
    if let Err(err) = publish::publish(shared, &mut link, &me) {
        log::warn!("eventlib worker: publishing its last figures failed: {err}");
    }
}
