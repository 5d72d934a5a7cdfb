//! [`Worker`]: consumes a stream through a consumer group and runs the
//! handlers of that group.

mod ack;
pub(crate) mod builder;
mod config;
mod handed;
mod handle;
mod handler_sets;
mod held;
mod inflight;
mod jobs;
mod markers;
pub(crate) mod once;
mod partitioned;
mod partitions_held;
mod peers;
pub(crate) mod progress;
mod read;
pub(crate) mod shared;
pub(crate) mod stats;
mod stop;
mod tally;
mod upkeep;
mod waiting;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::hook;
use crate::redis::conn::Endpoint;
use crate::redis::worker::ack::Settled;
use crate::redis::worker::config::Config;
use crate::redis::worker::jobs::Job;
use crate::redis::worker::shared::Shared;
use crate::redis::worker::stats::WorkerStats;
use crate::redis::worker::stop::Signals;
use crate::registry::registry;

/// Consumes events from a Redis stream and runs the handlers of one handler
/// group on them.
///
/// Every handler group is a consumer group of the stream: each group sees
/// every event, and the workers of one group share its load. A worker
/// acknowledges an entry only after every handler of its group has
/// succeeded or run out of attempts; a failed handler is retried alone,
/// with exponential backoff and jitter, then dead-lettered with the reason.
/// Entries held by a worker that died are taken over after the visibility
/// timeout. A retry waiting for its backoff holds no thread, and an entry
/// this build has no handler for, while another worker of the group has,
/// is left to that worker instead of being acknowledged.
///
/// ```no_run
/// use std::time::Duration;
/// use eventlib::redis::Worker;
///
/// let worker = Worker::builder("redis://127.0.0.1:6379/")
///     .group("default")
///     .concurrency(8)
///     .visibility_timeout(Duration::from_secs(60))
///     .max_attempts(5)
///     .build()?;
/// // Runs until SIGTERM / SIGINT or `worker.shutdown()` from another thread,
/// // then finishes what is in flight and returns.
/// worker.run_blocking()?;
/// println!("{}", worker.stats());
/// # Ok::<(), eventlib::Error>(())
/// ```
#[derive(Clone)]
pub struct Worker {
    shared: Arc<Shared>,
}

impl Worker {
    /// A worker of a checked configuration (see
    /// [`WorkerBuilder::build`](crate::redis::WorkerBuilder::build)).
    pub(crate) fn new(config: Config, endpoint: Endpoint) -> Worker {
        Worker {
            shared: Arc::new(Shared::new(config, endpoint)),
        }
    }

    /// Consumes until [`shutdown`](Self::shutdown) (or SIGTERM / SIGINT,
    /// unless
    /// [`handle_signals`](crate::redis::WorkerBuilder::handle_signals)
    /// turned that off), then stops reading, finishes the entries in
    /// flight, acknowledges them, and
    /// returns. While Redis is unreachable it reconnects with backoff.
    ///
    /// # Errors
    ///
    /// [`Error::AlreadyRunning`] when this worker runs already,
    /// [`Error::Config`] (option `"group"`) when no handler of its group is
    /// linked into the binary (unless
    /// [`allow_empty_group`](crate::redis::WorkerBuilder::allow_empty_group)), and
    /// [`Error::Spawn`] when one of its threads cannot be started, and
    /// [`Error::Tls`] when the server's certificate is not trusted or it
    /// refuses this worker's (or its lack of one).
    pub fn run_blocking(&self) -> Result<(), Error> {
        let shared = &self.shared;
        if shared.start_running() {
            return Err(Error::AlreadyRunning);
        }
        let _signals = Signals::register(shared.config().handle_signals, shared.stop());
        let result = if shared.config().partitions > 1 {
            partitioned::run(shared)
        } else {
            run(shared)
        };
        shared.stop_running();
        result
    }

    /// [`run_blocking`](Self::run_blocking) for async code: the worker runs
    /// on threads of its own, and this future waits for it without
    /// blocking the executor, whichever executor it is.
    ///
    /// # Errors
    ///
    /// Those of `run_blocking`, and [`Error::Spawn`] when the thread it
    /// runs on cannot be started.
    pub async fn run(&self) -> Result<(), Error> {
        let worker = self.clone();
        hook::off_thread("eventlib-worker", move || worker.run_blocking()).await?
    }

    /// Asks the worker to stop: it stops reading new entries, finishes
    /// those in flight and returns from `run`. Returns at once.
    pub fn shutdown(&self) {
        self.shared.stop().set();
    }

    /// The worker's counters now.
    pub fn stats(&self) -> WorkerStats {
        self.shared.stats()
    }

    /// The consumer name this worker reads as.
    pub fn consumer(&self) -> &str {
        &self.shared.config().consumer
    }
}

fn run(shared: &Arc<Shared>) -> Result<(), Error> {
    let config = shared.config();
    let group_handlers = registry()
        .handlers()
        .filter(|h| h.group() == config.group)
        .count();
    if group_handlers == 0 && !config.allow_empty_group {
        return Err(Error::Config {
            option: "group",
            reason: format!(
                "no handler of group `{}` is linked into this binary: a crate that only declares \
                 handlers is linked only when the binary names it; add `use that_crate as _;` \
                 (or call `allow_empty_group(true)` to run a worker that handles nothing)",
                config.group
            ),
        });
    }
    let mut link = shared.link(config.block + Duration::from_secs(5));
    // Certificates refused now are refused for ever: the start fails.
    if let Err(err) = link.run(shared.counters().reconnects(), |c| {
        redis::cmd("PING").query::<()>(c)
    }) {
        if let error @ Error::Tls { .. } = link.endpoint().error(&err) {
            return Err(error);
        }
    }
    if !read::create_group(shared, &mut link) {
        return Ok(());
    }
    // Known before the first entry is looked at.
    if let Err(err) = handler_sets::publish(shared, &mut link, config.heartbeat_every()) {
        log::warn!("eventlib worker: cannot publish its handlers: {err}");
    }
    // A worker started while its group or a handler is paused takes
    // nothing the pause holds back (the upkeep reads them again each
    // second).
    if let Err(err) = upkeep::pauses::check(shared, &mut link) {
        log::warn!("eventlib worker: cannot read the pauses: {err}");
    }
    log::info!(
        "eventlib worker `{}` of group `{}` reads `{}` at {}",
        config.consumer,
        config.group,
        config.stream,
        link.shown()
    );

    let (jobs_tx, jobs_rx) = crossbeam_channel::unbounded::<Job>();
    let (settled_tx, settled_rx) = crossbeam_channel::unbounded::<Settled>();
    let finished = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    for n in 0..config.concurrency {
        let (shared, jobs_rx, settled_tx) =
            (Arc::clone(shared), jobs_rx.clone(), settled_tx.clone());
        threads.push(spawn(format!("eventlib-worker-{n}"), move || {
            handle::work(&shared, &jobs_rx, &settled_tx)
        })?);
    }
    drop(settled_tx);
    let acker = {
        let (shared, finished) = (Arc::clone(shared), Arc::clone(&finished));
        spawn("eventlib-ack".into(), move || {
            ack::acknowledge(&shared, &settled_rx, &finished)
        })?
    };
    let upkeep = {
        let (shared, finished) = (Arc::clone(shared), Arc::clone(&finished));
        spawn("eventlib-upkeep".into(), move || {
            upkeep::upkeep(&shared, &finished)
        })?
    };

    read::read(shared, &mut link, &jobs_tx);

    // Stopped: finish what is held, then let every thread go.
    let deadline = Instant::now() + config.shutdown_timeout;
    let clean = shared.inflight().wait_all_free(deadline);
    finished.store(true, Ordering::SeqCst);
    drop(jobs_tx);
    if clean {
        for thread in threads {
            let _ = thread.join();
        }
        let _ = acker.join();
        let _ = upkeep.join();
        if let Err(err) = handler_sets::withdraw(shared, &mut link) {
            log::warn!("eventlib worker: cannot withdraw its handlers: {err}");
        }
        if let Err(err) = upkeep::publish::withdraw(shared, &mut link) {
            log::warn!("eventlib worker: cannot withdraw its line of live processes: {err}");
        }
    } else {
        log::warn!(
            "eventlib worker `{}`: {} entr(y/ies) still in flight after {:?}; another worker \
             takes them over after the visibility timeout",
            config.consumer,
            shared.inflight().count(),
            config.shutdown_timeout
        );
    }
    crate::notice::flush();
    log::info!(
        "eventlib worker `{}` stopped: {}",
        config.consumer,
        shared.stats()
    );
    Ok(())
}

fn spawn(
    name: String,
    f: impl FnOnce() + Send + 'static,
) -> Result<std::thread::JoinHandle<()>, Error> {
    std::thread::Builder::new()
        .name(name.clone())
        .spawn(f)
        .map_err(|error| Error::Spawn {
            thread: name,
            error,
        })
}
