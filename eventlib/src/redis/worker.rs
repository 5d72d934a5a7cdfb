//! [`Worker`]: consumes a stream through a consumer group and runs the
//! handlers of that group.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;

use crate::error::Error;
use crate::handler::Failure;
use crate::hook::{self, Hook, Spawner};
use crate::redis::ack::{self, Settled};
use crate::redis::conn::{Endpoint, Link};
use crate::redis::control::{Signals, Stop};
use crate::redis::inflight::InFlight;
use crate::redis::read::{self, Job};
use crate::redis::stats::{WorkerCounters, WorkerStats};
use crate::redis::{handle, keys, upkeep, DEFAULT_STREAM};
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
/// timeout.
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

/// What the threads of a worker share: its configuration, its server, its
/// counters, its stop flag and the entries it holds.
pub(crate) struct Shared {
    config: Config,
    endpoint: Endpoint,
    counters: WorkerCounters,
    stop: Stop,
    running: AtomicBool,
    inflight: InFlight,
}

impl Shared {
    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    pub(crate) fn counters(&self) -> &WorkerCounters {
        &self.counters
    }

    pub(crate) fn stop(&self) -> &Stop {
        &self.stop
    }

    /// The entries taken and not yet acknowledged or let go.
    pub(crate) fn inflight(&self) -> &InFlight {
        &self.inflight
    }

    /// A connection of its own for one thread (opened on first use).
    pub(crate) fn link(&self, read_timeout: Duration) -> Link {
        Link::new(self.endpoint.clone(), read_timeout)
    }

    /// Tells the error hook of a failed attempt.
    pub(crate) fn report(&self, failure: &Failure) {
        hook::call_hook(&self.config.hook, failure);
    }

    fn stats(&self) -> WorkerStats {
        WorkerStats::read(&self.counters, self.inflight.count())
    }
}

pub(crate) struct Config {
    pub(crate) stream: String,
    pub(crate) group: String,
    pub(crate) consumer: String,
    pub(crate) concurrency: usize,
    pub(crate) prefetch: usize,
    pub(crate) visibility: Duration,
    pub(crate) max_attempts: u32,
    pub(crate) max_deliveries: u64,
    pub(crate) backoff_base: Duration,
    pub(crate) backoff_max: Duration,
    pub(crate) block: Duration,
    pub(crate) trim_interval: Option<Duration>,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) dead_max_len: usize,
    handle_signals: bool,
    hook: Hook,
    pub(crate) spawner: Option<Spawner>,
}

impl Config {
    pub(crate) fn dead_stream(&self) -> String {
        keys::dead_letters(&self.stream)
    }

    pub(crate) fn progress_key(&self) -> String {
        keys::progress(&self.stream, &self.group)
    }
}

/// Configures a [`Worker`]; from [`Worker::builder`].
#[must_use = "call `.build()` to make the worker"]
pub struct WorkerBuilder {
    url: String,
    config: Config,
}

impl Worker {
    /// A worker of the Redis server at `url` (`redis://` or `rediss://`,
    /// with the user and password in the URL when the server asks for
    /// them), with the defaults: stream `eventlib:events`, group
    /// `"default"`, consumer `<hostname>-<pid>`, 4 handler threads, a
    /// visibility timeout of 60 s, 5 attempts per handler, backoff from
    /// 1 s to 60 s.
    pub fn builder(url: &str) -> WorkerBuilder {
        WorkerBuilder {
            url: url.to_owned(),
            config: Config {
                stream: DEFAULT_STREAM.to_owned(),
                group: "default".to_owned(),
                consumer: default_consumer(),
                concurrency: 4,
                prefetch: 0,
                visibility: Duration::from_secs(60),
                max_attempts: 5,
                max_deliveries: 0,
                backoff_base: Duration::from_secs(1),
                backoff_max: Duration::from_secs(60),
                block: Duration::from_secs(1),
                trim_interval: Some(Duration::from_secs(1)),
                shutdown_timeout: Duration::from_secs(30),
                dead_max_len: 100_000,
                handle_signals: true,
                hook: Arc::new(crate::notice::default_hook),
                spawner: None,
            },
        }
    }

    /// Consumes until [`shutdown`](Self::shutdown) (or SIGTERM / SIGINT,
    /// unless [`WorkerBuilder::handle_signals`] turned that off), then stops
    /// reading, finishes the entries in flight, acknowledges them, and
    /// returns. While Redis is unreachable it reconnects with backoff.
    ///
    /// # Errors
    ///
    /// [`Error::AlreadyRunning`] when this worker runs already, and
    /// [`Error::Spawn`] when one of its threads cannot be started.
    pub fn run_blocking(&self) -> Result<(), Error> {
        let shared = &self.shared;
        if shared.running.swap(true, Ordering::SeqCst) {
            return Err(Error::AlreadyRunning);
        }
        let _signals = Signals::register(shared.config.handle_signals, &shared.stop);
        let result = run(shared);
        shared.running.store(false, Ordering::SeqCst);
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
        self.shared.stop.set();
    }

    /// The worker's counters now.
    pub fn stats(&self) -> WorkerStats {
        self.shared.stats()
    }

    /// The consumer name this worker reads as.
    pub fn consumer(&self) -> &str {
        &self.shared.config.consumer
    }
}

fn default_consumer() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "worker".to_owned());
    format!("{host}-{}", std::process::id())
}

impl WorkerBuilder {
    /// The stream key (default `eventlib:events`).
    pub fn stream(mut self, key: impl Into<String>) -> Self {
        self.config.stream = key.into();
        self
    }

    /// The handler group this worker runs (default `"default"`): handlers
    /// declared with `#[handler(group = "...")]` of that name. It is also the
    /// consumer group's name.
    pub fn group(mut self, group: impl Into<String>) -> Self {
        self.config.group = group.into();
        self
    }

    /// The consumer name, unique among the workers of a group (default
    /// `<hostname>-<pid>`). A worker restarted with the same name takes up
    /// its own unacknowledged entries at once instead of after the
    /// visibility timeout.
    pub fn consumer(mut self, name: impl Into<String>) -> Self {
        self.config.consumer = name.into();
        self
    }

    /// How many entries are handled at once, each on a thread of its own
    /// (default 4).
    pub fn concurrency(mut self, threads: usize) -> Self {
        self.config.concurrency = threads.max(1);
        self
    }

    /// How many entries the worker holds at most, handled or waiting for
    /// a thread or an acknowledgement (default, or 0: twice the
    /// concurrency, at least 32). It bounds what a killed worker can leave
    /// to be handled twice.
    pub fn prefetch(mut self, entries: usize) -> Self {
        self.config.prefetch = entries;
        self
    }

    /// How long an entry may stay unacknowledged by a worker that stopped
    /// answering before another worker takes it over (default 60 s). A live
    /// worker keeps its entries however long its handlers take.
    pub fn visibility_timeout(mut self, timeout: Duration) -> Self {
        self.config.visibility = timeout.max(Duration::from_millis(100));
        self
    }

    /// How many times a handler runs before its failure is final and the
    /// event goes to the dead-letter stream for it (default 5; 1 means no
    /// retry).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.config.max_attempts = attempts.max(1);
        self
    }

    /// How many deliveries an entry may take (each one a worker that took
    /// it and died before acknowledging) before it is dead-lettered as
    /// crashing its workers (default `max_attempts + 2`).
    pub fn max_deliveries(mut self, deliveries: u64) -> Self {
        self.config.max_deliveries = deliveries.max(1);
        self
    }

    /// The wait before the second attempt of a failed handler, doubled
    /// for each further attempt up to `max`, with jitter (default 1 s to
    /// 60 s).
    pub fn backoff(mut self, base: Duration, max: Duration) -> Self {
        self.config.backoff_base = base;
        self.config.backoff_max = max.max(base);
        self
    }

    /// How long one `XREADGROUP ... BLOCK` waits for new entries (default
    /// 1 s): also how soon a shutdown is noticed.
    pub fn block(mut self, block: Duration) -> Self {
        self.config.block = block.max(Duration::from_millis(10));
        self
    }

    /// How often the worker removes entries every group has acknowledged
    /// (default every second; `None`: never, leave it to a `MAXLEN` or to
    /// you).
    pub fn trim_interval(mut self, interval: Option<Duration>) -> Self {
        self.config.trim_interval = interval;
        self
    }

    /// How long a shutdown waits for the entries in flight (default 30 s);
    /// those still running then are left to be taken over by another
    /// worker.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.config.shutdown_timeout = timeout;
        self
    }

    /// Caps the dead-letter stream at about `entries` (default 100,000).
    pub fn dead_letter_max_len(mut self, entries: usize) -> Self {
        self.config.dead_max_len = entries.max(1);
        self
    }

    /// Whether SIGTERM and SIGINT stop the worker gracefully while it runs
    /// (default true, on Unix).
    pub fn handle_signals(mut self, handle: bool) -> Self {
        self.config.handle_signals = handle;
        self
    }

    /// Called for every handler failure (each failed attempt). Default: the
    /// dispatcher's default hook (each kind of failure told once, repeats
    /// summed up once a second; to standard error when no logger takes it).
    pub fn error_hook(mut self, hook: impl Fn(&Failure) + Send + Sync + 'static) -> Self {
        self.config.hook = Arc::new(hook);
        self
    }

    /// Runs async handlers on your executor (a tokio runtime, say, when
    /// handlers need its reactor) instead of driving them with
    /// `futures::executor::block_on` on the worker's threads; the worker's
    /// thread waits for the task.
    ///
    /// ```no_run
    /// # let handle: tokio::runtime::Handle = unimplemented!();
    /// eventlib::redis::Worker::builder("redis://127.0.0.1/")
    ///     .spawner(move |task| drop(handle.spawn(task)));
    /// ```
    pub fn spawner(
        mut self,
        spawn: impl Fn(BoxFuture<'static, ()>) + Send + Sync + 'static,
    ) -> Self {
        self.config.spawner = Some(Arc::new(spawn));
        self
    }

    /// Checks the configuration and makes the worker (nothing is connected
    /// yet).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a malformed URL (option `"url"`), a `rediss://`
    /// URL without the `redis-tls` feature, an invalid group name
    /// (`"group"`), or an empty consumer name or stream key (`"consumer"`,
    /// `"stream"`).
    pub fn build(mut self) -> Result<Worker, Error> {
        let endpoint = Endpoint::new(&self.url)?;
        let config = &mut self.config;
        if let Err(reason) = crate::name::validate_group(&config.group) {
            return Err(Error::Config {
                option: "group",
                reason: format!("invalid group `{}`: {reason}", config.group),
            });
        }
        if config.consumer.is_empty() {
            return Err(Error::Config {
                option: "consumer",
                reason: "the consumer name must not be empty".into(),
            });
        }
        if config.stream.is_empty() {
            return Err(Error::Config {
                option: "stream",
                reason: "the stream key must not be empty".into(),
            });
        }
        if config.prefetch == 0 {
            config.prefetch = (config.concurrency * 2).max(32);
        }
        config.prefetch = config.prefetch.max(config.concurrency);
        if config.max_deliveries == 0 {
            config.max_deliveries = u64::from(config.max_attempts) + 2;
        }
        let prefetch = config.prefetch;
        Ok(Worker {
            shared: Arc::new(Shared {
                config: self.config,
                endpoint,
                counters: WorkerCounters::default(),
                stop: Stop::default(),
                running: AtomicBool::new(false),
                inflight: InFlight::new(prefetch),
            }),
        })
    }
}

fn run(shared: &Arc<Shared>) -> Result<(), Error> {
    let config = &shared.config;
    let group_handlers = registry()
        .handlers()
        .filter(|h| h.group() == config.group)
        .count();
    if group_handlers == 0 {
        log::warn!(
            "eventlib worker: no handler of group `{}` is linked into this binary: every entry \
             will be acknowledged unhandled",
            config.group
        );
    }
    let mut link = shared.link(config.block + Duration::from_secs(5));
    if !read::create_group(shared, &mut link) {
        return Ok(());
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
    let clean = shared.inflight.wait_all_free(deadline);
    finished.store(true, Ordering::SeqCst);
    drop(jobs_tx);
    if clean {
        for thread in threads {
            let _ = thread.join();
        }
        let _ = acker.join();
        let _ = upkeep.join();
    } else {
        log::warn!(
            "eventlib worker `{}`: {} entr(y/ies) still in flight after {:?}; another worker \
             takes them over after the visibility timeout",
            config.consumer,
            shared.inflight.count(),
            config.shutdown_timeout
        );
    }
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
