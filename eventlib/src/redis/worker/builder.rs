//! [`WorkerBuilder`]: a worker's configuration, its defaults and their
//! checks.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;

use super::Worker;
use crate::error::Error;
use crate::failure::Failure;
use crate::redis::conn::Endpoint;
use crate::redis::groups::GroupStart;
use crate::redis::server::Server;
use crate::redis::timeline;
use crate::redis::worker::config::Config;
use crate::redis::DEFAULT_STREAM;

/// The default of [`WorkerBuilder::max_entry_bytes`]: 1 MiB.
pub const DEFAULT_MAX_ENTRY_BYTES: usize = 1 << 20;

/// Configures a [`Worker`]; from [`Worker::builder`].
#[must_use = "call `.build()` to make the worker"]
pub struct WorkerBuilder {
    server: Server,
    config: Config,
}

impl Worker {
    /// A worker of the Redis server at `server` (a `redis://` or
    /// `rediss://` URL, with the user and password in it when the server
    /// asks for them, or a [`Server`] with TLS certificates), with the
    /// defaults: stream `eventlib:events`, group
    /// `"default"`, consumer `<hostname>-<pid>`, 4 handler threads, a
    /// visibility timeout of 60 s, 5 attempts per handler, backoff from
    /// 1 s to 60 s.
    pub fn builder(server: impl Into<Server>) -> WorkerBuilder {
        WorkerBuilder {
            server: server.into(),
            config: Config {
                stream: DEFAULT_STREAM.to_owned(),
                partitions: 1,
                group: "default".to_owned(),
                start: GroupStart::Oldest,
                consumer: default_consumer(),
                once_window: None,
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
                max_entry_bytes: DEFAULT_MAX_ENTRY_BYTES,
                consumer_cleanup: Some(Duration::from_secs(3600)),
                stop_when_idle: None,
                allow_empty_group: false,
                handle_signals: true,
                hook: Arc::new(crate::notice::default_hook),
                spawner: None,
                confirm: None,
            },
        }
    }
}

fn default_consumer() -> String {
    let host = timeline::host_name().unwrap_or_else(|| "worker".to_owned());
    format!("{host}-{}", std::process::id())
}

impl WorkerBuilder {
    /// The stream key (default `eventlib:events`).
    pub fn stream(mut self, key: impl Into<String>) -> Self {
        self.config.stream = key.into();
        self
    }

    /// After each acknowledging transaction, waits until `WAIT` says the
    /// given number of replicas have it (off by default). An
    /// acknowledgement fewer replicas confirmed is counted in
    /// [`WorkerStats::acks_unreplicated`](crate::redis::WorkerStats::acks_unreplicated)
    /// and not retried: what a failover can then lose is the
    /// acknowledgement, whose entry is handled again, never an event.
    pub fn confirm(mut self, confirm: crate::redis::Confirm) -> Self {
        self.config.confirm = Some(confirm).filter(|c| c.replicas > 0);
        self
    }

    /// The stream is split into `count` partitions (default 1), as its
    /// producers were told ([`RedisTransport::partitions`](crate::redis::RedisTransport::partitions)).
    /// The workers of a group share the partitions: each partition is read
    /// by one of them at a time, and the split follows workers as they
    /// start and stop (`docs/scaling.md`). [`concurrency`](Self::concurrency)
    /// and [`prefetch`](Self::prefetch) apply to each partition this worker
    /// holds. 0 or more than 1024 is [`Error::Config`] (option
    /// `"partitions"`) when the worker is built.
    pub fn partitions(mut self, count: usize) -> Self {
        self.config.partitions = count;
        self
    }

    /// The handler group this worker runs (default `"default"`): handlers
    /// declared with `#[handler(group = "...")]` of that name. It is also the
    /// consumer group's name; a group that does not exist yet is created
    /// where [`start`](Self::start) says, by default at the stream's
    /// oldest entry (see [`declare_groups`](crate::redis::declare_groups)
    /// to create it before any of its workers runs).
    pub fn group(mut self, group: impl Into<String>) -> Self {
        self.config.group = group.into();
        self
    }

    /// Runs an event's handlers once per event id in this group: when an
    /// entry's handlers are done, a marker of its event id is written in
    /// the same transaction as the acknowledgement, kept for `window`; an
    /// entry whose event id the group already finished within the window is
    /// acknowledged without running a handler and counted in
    /// [`WorkerStats::duplicates`](crate::redis::WorkerStats::duplicates).
    /// For events that can reach the stream twice with one id (a
    /// transactional outbox's relay killed between sending and deleting, a
    /// producer retrying after a lost reply). Off by default: it costs one
    /// `EXISTS` of all the markers of a read (one round trip per read; one
    /// more, with an `EXISTS` per entry, for a read that holds an event
    /// finished before), a `SET` per entry with the acknowledgement, and
    /// one key per event for `window`.
    ///
    /// What can still run twice: two copies handled at the same moment (the
    /// second checks before the first is acknowledged), and a copy that
    /// arrives after `window`. Replays (`dead replay`) always run.
    ///
    /// A `window` of zero leaves it off; one under a millisecond counts as
    /// a millisecond (a marker's expiry is in whole milliseconds).
    pub fn once_per_event_id(mut self, window: Duration) -> Self {
        self.config.once_window = Some(window)
            .filter(|w| !w.is_zero())
            .map(|w| w.max(Duration::from_millis(1)));
        self
    }

    /// Where the group starts when this worker is the one that creates it
    /// (default [`GroupStart::Oldest`]: every entry the stream holds is
    /// handled). An existing group is never moved. Creating a group on a
    /// stream that holds entries is told (how many are handled or skipped)
    /// even with no logger installed.
    pub fn start(mut self, start: GroupStart) -> Self {
        self.config.start = start;
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

    /// The largest entry handled (its field names and values together;
    /// default [`DEFAULT_MAX_ENTRY_BYTES`], 1 MiB). A larger one is
    /// dead-lettered without a copy of it: the dead letter gives its size
    /// and the id of the original entry.
    pub fn max_entry_bytes(mut self, bytes: usize) -> Self {
        self.config.max_entry_bytes = bytes.max(1);
        self
    }

    /// Stops the worker, as [`Worker::shutdown`] does, once its group is
    /// drained: nothing received for `idle`, nothing in flight or waiting
    /// for a retry here, no entry of the stream left to read for the group
    /// and none pending for any of its consumers. For batch jobs, tests and
    /// draining a stream before a deploy (default: never; the worker runs
    /// until told to stop).
    ///
    /// ```no_run
    /// let worker = eventlib::redis::Worker::builder("redis://127.0.0.1/")
    ///     .stop_when_idle(std::time::Duration::from_secs(2))
    ///     .build()?;
    /// worker.run_blocking()?; // returns once the stream is drained
    /// # Ok::<(), eventlib::Error>(())
    /// ```
    pub fn stop_when_idle(mut self, idle: Duration) -> Self {
        self.config.stop_when_idle = Some(idle);
        self
    }

    /// Removes from the group the consumers (other workers, dead or
    /// stopped) that have nothing pending and have not read for this long
    /// (default 1 hour; `None`: never). Keep it well above
    /// [`block`](Self::block): a live worker reads at least once per block.
    pub fn consumer_cleanup(mut self, idle: Option<Duration>) -> Self {
        self.config.consumer_cleanup = idle.map(|d| d.max(Duration::from_secs(1)));
        self
    }

    /// Lets the worker run although no handler of its group is linked into
    /// the binary (default false: [`Worker::run_blocking`] refuses to
    /// start). Such a worker handles nothing: it leaves the entries of
    /// events other workers of the group handle to them, and acknowledges
    /// the others as having no handler.
    pub fn allow_empty_group(mut self, allow: bool) -> Self {
        self.config.allow_empty_group = allow;
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
    /// handlers need its reactor) instead of driving them on the worker's
    /// own threads, which park while a handler waits; the worker's
    /// thread waits for the task. With the `tokio` feature (on by default),
    /// a worker built inside a tokio runtime runs them on that runtime
    /// unless a spawner is given.
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
    /// URL without the `redis-tls` feature, unusable certificates
    /// (`"tls"`), an invalid group name
    /// (`"group"`), or an empty consumer name or stream key (`"consumer"`,
    /// `"stream"`).
    pub fn build(mut self) -> Result<Worker, Error> {
        let endpoint = Endpoint::new(&self.server)?;
        let config = &mut self.config;
        if config.spawner.is_none() {
            config.spawner = crate::ambient::spawner();
        }
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
        crate::redis::partitions::check(config.partitions)?;
        if endpoint.is_cluster()
            && config.partitions == 1
            && !crate::redis::partitions::has_hash_tag(&config.stream)
        {
            return Err(Error::Config {
                option: "stream",
                reason: format!(
                    "on a Redis Cluster the keys of the stream `{0}` (its dead letters, its \
                     progress) must share its slot: give it a hash tag (`{{{0}}}`) or split it \
                     into partitions",
                    config.stream
                ),
            });
        }
        if config.prefetch == 0 {
            config.prefetch = (config.concurrency * 2).max(32);
        }
        config.prefetch = config.prefetch.max(config.concurrency);
        if config.max_deliveries == 0 {
            config.max_deliveries = u64::from(config.max_attempts) + 2;
        }
        Ok(Worker::new(self.config, endpoint))
    }
}
