//! Peers: the bench's `Viewed` event through apalis 1.0 with its Redis
//! storage (apalis-redis), next to eventlib, in the same sub-process and
//! against the same `redis-server`, round for round.
//!
//! apalis keeps its keys in a database of their own (number [`DB`]),
//! emptied with `FLUSHDB` before each of its rounds (untimed); eventlib's
//! streams stay in database 0. apalis runs on a multi-threaded tokio
//! runtime with a thread per core, as `#[tokio::main]` gives it, and on
//! the `ConnectionManager` its `connect` opens, kept across rounds as
//! eventlib keeps its transport's and worker's connections.
//!
//! - [`producer`]: events per second enqueued and confirmed: eventlib's
//!   `log!` until `flush()` returns, against `push` awaited one at a time
//!   (apalis's defaults) and against `push_bulk` of [`BULK`] tasks (one
//!   `EVALSHA` of its batch-push script per call).
//! - [`consumer`]: preloaded events handled and acknowledged: eventlib's
//!   `Worker` (1 worker, concurrency 1, the three handlers of `Viewed`)
//!   against an apalis worker running the same three handler functions,
//!   with its defaults and tuned, timed until `run()` returns after the
//!   last handler stopped it, which is after its results are written.
//!   apalis's tasks are moved to its active list before the clock starts
//!   (see [`make_due`]): its fetch script cannot take a backlog of about
//!   8,000 tasks or more.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use apalis::prelude::{BoxDynError, TaskSink, WorkerBuilder, WorkerContext};
use apalis_redis::{Config, RedisStorage};
use tokio::runtime::Runtime;

use super::consumer::{self, Calls, Layout};
use super::server::{Persistence, Server};
use super::{command_calls, reset_stats, rotated, BATCH};
use crate::events::{Viewed, VIEWED_HANDLERS};
use crate::harness::Report;

/// Events per round of the producers, on every side.
const PRODUCED: u64 = 20_000;
/// Events preloaded for each round of the consumers, on every side: fewer
/// than the producers', as apalis's default worker slows with its backlog
/// (see [`consumer`]) and a round is to stay within seconds.
const CONSUMED: u64 = 10_000;
/// The database apalis's keys live in.
const DB: u8 = 1;
/// Tasks per `push_bulk`: the transport's batch size.
const BULK: usize = BATCH;
/// The fetch batch of the tuned apalis worker (`Config::batch_size`).
const TUNED_BATCH: usize = 256;
/// The version of apalis and apalis-redis these rows measure.
const APALIS: &str = "apalis 1.0 + apalis-redis 1.0";

pub(crate) fn producer(rounds: usize, report: &mut Report) {
    let server = Server::start(Persistence::None);
    super::producer::install(&server);
    let mut control = server.connect();
    let mut log_round = || super::producer::log_until_flush(&mut control, PRODUCED);

    let runtime = runtime();
    let mut apalis_control = connect_db(&server);
    let mut defaults = storage(&runtime, &server, None);
    let data = defaults.get_config().job_data_hash();
    let mut defaults_round = || {
        flush_db(&mut apalis_control);
        let t0 = Instant::now();
        runtime.block_on(async {
            for i in 0..PRODUCED {
                defaults.push(Viewed::new(i)).await.expect("pushed");
            }
        });
        let rate = PRODUCED as f64 / t0.elapsed().as_secs_f64();
        assert_eq!(hash_len(&mut apalis_control, &data), PRODUCED);
        rate
    };
    let mut bulk_control = connect_db(&server);
    let mut bulk = storage(&runtime, &server, None);
    let mut bulk_round = || {
        flush_db(&mut bulk_control);
        let t0 = Instant::now();
        runtime.block_on(push_bulk(&mut bulk, PRODUCED));
        let rate = PRODUCED as f64 / t0.elapsed().as_secs_f64();
        assert_eq!(hash_len(&mut bulk_control, &data), PRODUCED);
        rate
    };

    let [eventlib_rate, defaults_rate, bulk_rate] = rotated(
        rounds,
        [&mut log_round, &mut defaults_round, &mut bulk_round],
    );
    assert_eq!(eventlib::stats().total().dropped, 0);
    report.row("peer-apalis", eventlib_rate, defaults_rate);
    report.row("peer-apalis-tuned", eventlib_rate, bulk_rate);
    report.note(format!(
        "{PRODUCED} Viewed events per round, one producer, each round on an empty stream or \
         database; eventlib: log! with RedisTransport (batches of up to {BATCH} XADDs) until \
         flush() returns; {APALIS}, serde JSON of the same struct: its defaults, push() one \
         task at a time, awaited (one EVALSHA of its push script each), and push_bulk() of \
         {BULK} tasks at a time, awaited (one EVALSHA each); its push script also writes a \
         metadata hash per task and publishes each task (emit_events, its default)"
    ));
}

pub(crate) fn consumer(rounds: usize, report: &mut Report) {
    let server = Server::start(Persistence::None);
    let url = server.url();
    let mut control = server.connect();
    let envelope_bytes = consumer::preload(&mut control, CONSUMED);
    let layout = Layout::Workers {
        workers: 1,
        concurrency: 1,
        prefetch: None,
    };
    let (mut shares, mut eventlib_calls) = (Vec::new(), Calls::default());
    let mut eventlib_round = || {
        consumer::worker_round(
            &url,
            &mut control,
            layout,
            CONSUMED,
            None,
            &mut shares,
            &mut eventlib_calls,
        )
    };

    let runtime = runtime();
    // A worker name per round: apalis registers each worker by name.
    let rounds_run = Cell::new(0_u64);
    let mut defaults_control = connect_db(&server);
    let defaults = storage(&runtime, &server, None);
    let mut defaults_scripts = 0;
    let mut defaults_round = || {
        rounds_run.set(rounds_run.get() + 1);
        let (rate, scripts) = apalis_round(
            &runtime,
            &mut defaults_control,
            &defaults,
            &format!("bench-apalis-defaults-{}", rounds_run.get()),
        );
        defaults_scripts = scripts;
        rate
    };
    let tuned_config = Config::default()
        .queue("bench:apalis-tuned")
        .batch_size(TUNED_BATCH)
        .lock_tasks(false)
        .emit_events(false);
    let mut tuned_control = connect_db(&server);
    let tuned = storage(&runtime, &server, Some(tuned_config));
    let mut tuned_scripts = 0;
    let mut tuned_round = || {
        rounds_run.set(rounds_run.get() + 1);
        let (rate, scripts) = apalis_round(
            &runtime,
            &mut tuned_control,
            &tuned,
            &format!("bench-apalis-tuned-{}", rounds_run.get()),
        );
        tuned_scripts = scripts;
        rate
    };

    let [eventlib_rate, defaults_rate, tuned_rate] = rotated(
        rounds,
        [&mut eventlib_round, &mut defaults_round, &mut tuned_round],
    );
    report.row("peer-apalis", eventlib_rate, defaults_rate);
    report.row("peer-apalis-tuned", eventlib_rate, tuned_rate);
    let per = |n: u64| CONSUMED as f64 / n.max(1) as f64;
    report.note(format!(
        "{CONSUMED} Viewed events preloaded (untimed) before each round, each handled by the \
         same three handler functions and acknowledged; eventlib: 1 Worker, concurrency 1, \
         prefetch 32 (its defaults), {envelope_bytes} B envelopes by raw XADD, a fresh group \
         each round, done when its acked count reaches {CONSUMED}; Redis commands in the last \
         round: {}. {APALIS}: 1 worker with no middleware (no concurrency limit: the tasks of a \
         fetch run in the worker's own future), tasks pushed with push_bulk() of {BULK} into an \
         empty database and moved from its scheduled set to its active list untimed (its fetch \
         script, which does that move itself, fails on a backlog of about 8,000 or more), the \
         last handler \
         calls stop() and the round ends when run() returns, after the worker has written the \
         results it holds; every task is then checked in its done set. Defaults: fetch batch \
         10, task locks and pubsub events on ({defaults_scripts} EVALSHA in the last round, \
         {:.1} tasks each; each lock LREMs the task from the active list, a scan of the \
         backlog, so this rate falls as the backlog grows); tuned: fetch batch {TUNED_BATCH}, \
         lock_tasks(false) (documented for tasks shorter than a heartbeat), emit_events(false), \
         results still persisted ({tuned_scripts} EVALSHA, {:.1} tasks each); the poll \
         interval plays no part, as the queue never runs empty before the last task",
        eventlib_calls.describe(),
        per(defaults_scripts),
        per(tuned_scripts),
    ));
}

/// How many tasks the apalis handler has run since the timed repetition began.
static HANDLED: AtomicU64 = AtomicU64::new(0);

/// The apalis handler: the three handler functions of `Viewed`, then, at
/// the round's last task, a stop of the worker (which lets it write the
/// results it holds and return).
async fn handle(task: Viewed, worker: WorkerContext) -> Result<(), BoxDynError> {
    for handler in VIEWED_HANDLERS {
        handler(&task);
    }
    if HANDLED.fetch_add(1, Ordering::Relaxed) + 1 == CONSUMED {
        worker.stop()?;
    }
    Ok(())
}

/// One round of an apalis worker named `name` over [`CONSUMED`] tasks
/// preloaded into an empty database: the tasks handled and acknowledged
/// per second, and the scripts (`EVALSHA`) the worker ran.
fn apalis_round(
    runtime: &Runtime,
    control: &mut redis::Connection,
    storage: &RedisStorage<Viewed>,
    name: &str,
) -> (f64, u64) {
    flush_db(control);
    runtime.block_on(push_bulk(&mut storage.clone(), CONSUMED));
    let config = storage.get_config();
    assert_eq!(hash_len(control, &config.job_data_hash()), CONSUMED);
    make_due(control, config);
    HANDLED.store(0, Ordering::Relaxed);
    reset_stats(control);
    let worker = WorkerBuilder::new(name)
        .backend(storage.clone())
        .build(handle);
    let t0 = Instant::now();
    runtime
        .block_on(worker.run())
        .expect("the apalis worker ran");
    let rate = CONSUMED as f64 / t0.elapsed().as_secs_f64();
    assert_eq!(HANDLED.load(Ordering::Relaxed), CONSUMED);
    let done: u64 = redis::cmd("SCARD")
        .arg(config.done_jobs_set())
        .query(control)
        .expect("SCARD");
    assert_eq!(done, CONSUMED, "every result written");
    (rate, command_calls(control, "evalsha"))
}

/// Moves the preloaded tasks from apalis's scheduled set to its active
/// list, oldest first, as the first step of its fetch script would.
///
/// apalis-redis 1.0 files every pushed task in the scheduled set (due at
/// the second of its push), and its fetch script moves all due tasks at
/// once with a Lua `unpack`, which Redis's Lua refuses for more than about
/// 8,000 values ("too many results to unpack"): a worker started on a
/// backlog of that size fails on its first fetch. Done here, untimed, in
/// chunks, for every backlog size alike.
fn make_due(conn: &mut redis::Connection, config: &Config) {
    let scheduled = config.scheduled_jobs_set();
    let ids: Vec<String> = redis::cmd("ZRANGE")
        .arg(&scheduled)
        .arg(0)
        .arg(-1)
        .query(conn)
        .expect("ZRANGE");
    assert_eq!(ids.len() as u64, CONSUMED, "every task is scheduled");
    for chunk in ids.chunks(1_000) {
        redis::cmd("RPUSH")
            .arg(config.active_jobs_list())
            .arg(chunk)
            .exec(conn)
            .expect("RPUSH");
    }
    redis::cmd("DEL").arg(&scheduled).exec(conn).expect("DEL");
}

/// `events` tasks pushed with `push_bulk` of [`BULK`] at a time.
async fn push_bulk(storage: &mut RedisStorage<Viewed>, events: u64) {
    let ids: Vec<u64> = (0..events).collect();
    for chunk in ids.chunks(BULK) {
        storage
            .push_bulk(chunk.iter().map(|&i| Viewed::new(i)).collect())
            .await
            .expect("pushed");
    }
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// `redis://127.0.0.1:<port>/<DB>`.
fn db_url(server: &Server) -> String {
    format!("{}{DB}", server.url())
}

/// apalis's storage on database [`DB`], with `config` or its defaults.
fn storage(runtime: &Runtime, server: &Server, config: Option<Config>) -> RedisStorage<Viewed> {
    let connection = runtime
        .block_on(apalis_redis::connect(db_url(server)))
        .expect("a connection to the scenario's redis-server");
    let storage = RedisStorage::new(connection);
    match config {
        Some(config) => storage.with_config(config),
        None => storage,
    }
}

/// A connection of the scenario's own to database [`DB`].
fn connect_db(server: &Server) -> redis::Connection {
    redis::Client::open(db_url(server))
        .and_then(|client| client.get_connection())
        .expect("a connection to the scenario's redis-server")
}

fn flush_db(conn: &mut redis::Connection) {
    redis::cmd("FLUSHDB").exec(conn).expect("FLUSHDB");
}

/// The fields of a hash: the tasks in apalis's task data hash.
fn hash_len(conn: &mut redis::Connection, key: &str) -> u64 {
    redis::cmd("HLEN").arg(key).query(conn).expect("HLEN")
}
