//! A worker's upkeep thread: one loop that runs each periodic job on its own
//! schedule; each job is a child module.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use std::time::SystemTime;

use crate::redis::backoff;
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
    let mut pause_check_failed = false;
    let mut publish_failed = false;
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
            if let Err(err) = heartbeat(shared, &mut link) {
                log::warn!("eventlib worker: heartbeat failed: {err}");
            }
            if let Err(err) = handler_sets::publish(shared, &mut link, heartbeat_every) {
                log::warn!("eventlib worker: publishing its handlers failed: {err}");
            }
        }
        if now >= next_pause_check {
            next_pause_check = now + PAUSE_CHECK_EVERY;
            match pauses::check(shared, &mut link) {
                Ok(()) => pause_check_failed = false,
                Err(err) if !pause_check_failed => {
                    pause_check_failed = true;
                    log::warn!("eventlib worker: reading the pauses failed: {err}");
                }
                Err(_) => {}
            }
        }
        if now >= next_publish {
            next_publish = now + PUBLISH_EVERY;
            match publish::publish(shared, &mut link, &me) {
                Ok(()) => publish_failed = false,
                // Told once per outage: the counts wait for the next try.
                Err(err) if !publish_failed => {
                    publish_failed = true;
                    log::warn!("eventlib worker: publishing its figures failed: {err}");
                }
                Err(_) => {}
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
                if let Err(err) = remove_idle_consumers(shared, &mut link, idle) {
                    log::warn!("eventlib worker: removing idle consumers failed: {err}");
                }
            }
        }
        if let (Some(due), Some(every)) = (next_trim, config.trim_interval) {
            if now >= due {
                next_trim = Some(now + backoff::jitter(every));
                if let Err(err) = trim(shared, &mut link) {
                    log::warn!("eventlib worker: trim failed: {err}");
                }
            }
        }
    }
    // The last counts, before the worker says it stopped.
    if let Err(err) = publish::publish(shared, &mut link, &me) {
        log::warn!("eventlib worker: publishing its last figures failed: {err}");
    }
}
