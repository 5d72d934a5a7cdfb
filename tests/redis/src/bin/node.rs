//! A producer or worker process for the reliability tests:
//!
//! `eventlib-redis-node producer url=... name=p count=N [start=0] [pace_us=0] [sleep_ms=0] [fail_times=0] [stream=..] [partitions=1] [keys=0] [confirm=0] [wait_ms=1000]`
//! `eventlib-redis-node worker url=... consumer=w [group=default] [concurrency=4] [visibility_ms=..] [idle_ms=0] [stream=..] [partitions=1] [confirm=0] [once_ms=0] ...`
//! `eventlib-redis-node refused_producer url=... count=N [stream=..] [shutdown_secs=30] [then_after_ms=.. then_count=M]`
//! `eventlib-redis-node bench_producer url=... outbox=memory|never|always|<ms> [dir=..] count=N [threads=1]`
//! `eventlib-redis-node spool_producer url=... dir=... count=N [start=0] [fsync=never|always|<ms>] [segment=bytes] [drain_secs=60] [shutdown_ms=0] [partitions=1] [confirm=0] [wait_ms=1000]`
//!
//! Handlers append `handler seq ok|fail attempt` lines to
//! `$EVENTLIB_TEST_OUT/<consumer>.handled`; the producer appends each seq
//! whose `log!` returned `Ok` to `$EVENTLIB_TEST_OUT/<name>.produced`.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use eventlib::redis::{RedisTransport, Server, Worker};
use eventlib::{event, handler, log, Context, Dispatcher, Overflow, ValidationError};
use serde::{Deserialize, Serialize};

/// The event every test logs; `seq` is unique per test.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Order {
    seq: u64,
    /// How long `record` takes.
    #[serde(default)]
    sleep_ms: u64,
    /// How many attempts of `flaky` fail before one succeeds.
    #[serde(default)]
    fail_times: u32,
    /// `"invalid"` is refused by `#[validate]`.
    #[serde(default)]
    tag: String,
}

static OUT: OnceLock<Mutex<File>> = OnceLock::new();

/// One whole line per write, so a process killed mid-way leaves no torn line.
fn note(handler: &str, seq: u64, ok: bool, attempt: u32) {
    let line = format!(
        "{handler} {seq} {} {attempt}\n",
        if ok { "ok" } else { "fail" }
    );
    if let Some(out) = OUT.get() {
        let mut file = out.lock().unwrap_or_else(|e| e.into_inner());
        file.write_all(line.as_bytes())
            .expect("write the handled file");
    }
}

#[event(name = "rt.Order")]
impl Order {
    #[validate]
    fn check(&self) -> Result<(), ValidationError> {
        if self.tag == "invalid" {
            return Err(ValidationError::new("tag `invalid` is refused").on_field("tag"));
        }
        Ok(())
    }

    #[handler]
    fn record(&self, ctx: &Context) {
        std::thread::sleep(Duration::from_millis(self.sleep_ms));
        note("record", self.seq, true, ctx.attempt());
    }

    #[handler]
    fn flaky(&self, ctx: &Context) -> anyhow::Result<()> {
        if ctx.attempt() <= self.fail_times {
            note("flaky", self.seq, false, ctx.attempt());
            anyhow::bail!("flaky fails on attempt {}", ctx.attempt());
        }
        note("flaky", self.seq, true, ctx.attempt());
        Ok(())
    }
}

#[handler(group = "audit")]
async fn audit(order: &Order, ctx: &Context) {
    note("audit", order.seq, true, ctx.attempt());
}

/// An event only this binary links (a worker built without it does not
/// know its name); the tests write its entries by hand.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Note {
    seq: u64,
}

#[event(name = "rt.Note")]
impl Note {
    #[handler]
    fn noted(&self, ctx: &Context) {
        note("noted", self.seq, true, ctx.attempt());
    }
}

/// The second handler of the library's `rt.Split` (naming the library
/// links its first one too).
#[handler]
fn second(split: &eventlib_redis_tests::Split, ctx: &Context) {
    note("second", split.seq, true, ctx.attempt());
}

fn main() {
    let (role, args) = eventlib_redis_tests::node_args();
    let get =
        |key: &str, default: &str| args.get(key).cloned().unwrap_or_else(|| default.to_owned());
    let num = |key: &str, default: u64| -> u64 {
        get(key, &default.to_string()).parse().expect("a number")
    };
    let out_dir = PathBuf::from(std::env::var_os("EVENTLIB_TEST_OUT").expect("EVENTLIB_TEST_OUT"));
    let url = eventlib_redis_tests::pki::node_server(&get);
    match role.as_str() {
        "producer" => {
            let name = get("name", "producer");
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(out_dir.join(format!("{name}.produced")))
                .expect("open the produced file");
            let mut produced = std::io::LineWriter::new(file);
            Dispatcher::builder()
                .capacity(num("capacity", 100_000) as usize)
                .overflow(Overflow::Error)
                .transport(placed(
                    declaring_transport(&url, &get("declare", "linked")),
                    &get,
                    &num,
                ))
                .install()
                .expect("install");
            let (start, count) = (num("start", 0), num("count", 100));
            let pace = Duration::from_micros(num("pace_us", 0));
            let keys = num("keys", 0);
            let mut failed = 0u64;
            for seq in start..start + count {
                let order = Order {
                    seq,
                    sleep_ms: num("sleep_ms", 0),
                    fail_times: num("fail_times", 0) as u32,
                    // With `keys=K`, the partition key (`partition_by("tag")`).
                    tag: if keys > 0 {
                        format!("k{}", seq % keys)
                    } else {
                        String::new()
                    },
                };
                match log!(order) {
                    Ok(_) => writeln!(produced, "{seq}").expect("write the produced file"),
                    Err(err) => {
                        failed += 1;
                        eprintln!("log! failed for {seq}: {err}");
                    }
                }
                if !pace.is_zero() {
                    std::thread::sleep(pace);
                }
            }
            println!("LOGGED=1");
            let flushed =
                eventlib::flush_timeout(Duration::from_secs(num("flush_secs", 60))).abandoned == 0;
            println!("FLUSHED={flushed}");
            if get("end", "flush") == "shutdown" {
                let report = eventlib::shutdown(Duration::from_secs(10));
                println!("SHUTDOWN_CLEAN={}", report.is_clean());
            }
            println!("FAILED={failed}");
            if let Some(stats) = eventlib::redis::producer_stats() {
                println!("RECONNECTS={}", stats.reconnects);
                println!("STATS={stats}");
            }
            std::process::exit(if flushed && failed == 0 { 0 } else { 1 });
        }
        "worker" => {
            let consumer = get("consumer", "worker");
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(out_dir.join(format!("{consumer}.handled")))
                .expect("open the handled file");
            let _ = OUT.set(Mutex::new(file));
            let worker = Worker::builder(&url)
                .stream(get("stream", eventlib::redis::DEFAULT_STREAM))
                .partitions(num("partitions", 1) as usize)
                .group(get("group", "default"))
                .consumer(&consumer)
                .concurrency(num("concurrency", 4) as usize)
                .visibility_timeout(Duration::from_millis(num("visibility_ms", 60_000)))
                .max_attempts(num("max_attempts", 5) as u32)
                .backoff(
                    Duration::from_millis(num("backoff_ms", 50)),
                    Duration::from_millis(num("backoff_max_ms", 1000)),
                )
                .block(Duration::from_millis(num("block_ms", 500)))
                .prefetch(num("prefetch", 0) as usize)
                .consumer_cleanup(
                    Some(num("cleanup_ms", 3_600_000))
                        .filter(|&ms| ms > 0)
                        .map(Duration::from_millis),
                );
            let worker = match num("confirm", 0) {
                0 => worker,
                replicas => worker.confirm(eventlib::redis::Confirm::replicas(replicas as u32)),
            };
            let worker = match num("once_ms", 0) {
                0 => worker,
                ms => worker.once_per_event_id(Duration::from_millis(ms)),
            };
            let worker = match num("idle_ms", 0) {
                0 => worker,
                ms => worker.stop_when_idle(Duration::from_millis(ms)),
            }
            .build()
            .expect("build the worker");
            println!("STARTED={}", std::process::id());
            worker.run_blocking().expect("run the worker");
            println!("STATS={}", worker.stats());
            println!("RECLAIMED={}", worker.stats().reclaimed);
        }
        "refused_producer" => refused_producer(&url, &get, &num),
        "spool_producer" => spool_producer(&url, &get, &num),
        "bench_producer" => bench_producer(&url, &get, &num),
        other => panic!("unknown role `{other}`: producer or worker"),
    }
}

/// The transport of the producer role. It declares the handler groups
/// before producing, as a deployment does, so that no group misses what is
/// written before its first worker starts: `declare=linked` (the default)
/// every group of the handlers linked into this binary, `declare=a,b`
/// those named, `declare=none` nothing.
fn declaring_transport(url: &Server, which: &str) -> RedisTransport {
    let transport = RedisTransport::new(url).expect("a valid URL");
    match which {
        "linked" => Ok(transport),
        "none" => transport.groups(Vec::<String>::new()),
        named => transport.groups(named.split(',')),
    }
    .expect("valid groups")
}

/// Where the producer role writes: `stream=`, `partitions=N` (events
/// partitioned by their `tag`, the key `keys=K` gives them), and
/// `confirm=R` (`WAIT` for R replicas, `wait_ms=` each).
fn placed(
    transport: RedisTransport,
    get: &dyn Fn(&str, &str) -> String,
    num: &dyn Fn(&str, u64) -> u64,
) -> RedisTransport {
    let transport = transport
        .stream(get("stream", eventlib::redis::DEFAULT_STREAM))
        .partitions(num("partitions", 1) as usize)
        .expect("a valid partition count");
    let transport = if num("keys", 0) > 0 {
        transport.partition_by("tag")
    } else {
        transport
    };
    match num("confirm", 0) {
        0 => transport,
        replicas => transport.confirm(
            eventlib::redis::Confirm::replicas(replicas as u32)
                .timeout(Duration::from_millis(num("wait_ms", 1000))),
        ),
    }
}

/// A producer with every default (no logger, the default error hook) that
/// logs `count` events and shuts down: prints what the report says and how
/// long `shutdown` took.
fn refused_producer(
    url: &Server,
    get: &dyn Fn(&str, &str) -> String,
    num: &dyn Fn(&str, u64) -> u64,
) {
    let transport = RedisTransport::new(url)
        .expect("a valid URL")
        .stream(get("stream", eventlib::redis::DEFAULT_STREAM));
    Dispatcher::builder()
        .transport(transport)
        .install()
        .expect("install");
    let mut refused = 0u64;
    for seq in 0..num("count", 100) {
        if log!(Order {
            seq,
            sleep_ms: 0,
            fail_times: 0,
            tag: String::new()
        })
        .is_err()
        {
            refused += 1;
        }
    }
    // Optionally a second round, later (after the test fixed the ACL).
    let then_count = num("then_count", 0);
    if then_count > 0 {
        let first = eventlib::flush_timeout(Duration::from_secs(30));
        println!("FIRST_DROPPED={}", first.dropped);
        println!("WAITING=1");
        std::thread::sleep(Duration::from_millis(num("then_after_ms", 0)));
        let count = num("count", 100);
        for seq in count..count + then_count {
            let order = Order {
                seq,
                sleep_ms: 0,
                fail_times: 0,
                tag: String::new(),
            };
            if log!(order).is_err() {
                refused += 1;
            }
        }
    }
    let started = std::time::Instant::now();
    let report = eventlib::shutdown(Duration::from_secs(num("shutdown_secs", 30)));
    println!("SHUTDOWN_MS={}", started.elapsed().as_millis());
    println!("REFUSED={refused}");
    println!("EMITTED={}", report.emitted);
    println!("DROPPED={}", report.dropped);
    println!("ABANDONED={}", report.abandoned);
    println!("CLEAN={}", report.is_clean());
    if let Some(stats) = eventlib::redis::producer_stats() {
        println!("STATS={stats}");
    }
}

/// A producer with a spool in `dir`: logs `count` events (printing
/// `LOGGED=1` once `log!` accepted them all), then waits until Redis
/// confirmed everything in the spool, also what an earlier run left.
fn spool_producer(
    url: &Server,
    get: &dyn Fn(&str, &str) -> String,
    num: &dyn Fn(&str, u64) -> u64,
) {
    use eventlib::redis::FsyncPolicy;
    let fsync = match get("fsync", "never").as_str() {
        "never" => FsyncPolicy::Never,
        "always" => FsyncPolicy::Always,
        ms => FsyncPolicy::Interval(Duration::from_millis(
            ms.parse().expect("fsync=never|always|<ms>"),
        )),
    };
    let transport = placed(RedisTransport::new(url).expect("a valid URL"), get, num)
        .fsync(fsync)
        .segment_size(num("segment", 1 << 20))
        .spool(get("dir", "spool"));
    let transport = match transport {
        Ok(transport) => transport,
        Err(err) => {
            println!("SPOOL_ERROR={err}");
            println!(
                "CONFIG_ERROR={}",
                matches!(err, eventlib::Error::Config { .. })
            );
            std::process::exit(2);
        }
    };
    Dispatcher::builder()
        .transport(transport)
        .install()
        .expect("install");
    let out_dir = PathBuf::from(std::env::var_os("EVENTLIB_TEST_OUT").expect("EVENTLIB_TEST_OUT"));
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(out_dir.join(format!("{}.produced", get("name", "spool_producer"))))
        .expect("open the produced file");
    let mut produced = std::io::LineWriter::new(file);
    let (start, count) = (num("start", 0), num("count", 100));
    let mut refused = 0u64;
    for seq in start..start + count {
        let logged = log!(Order {
            seq,
            sleep_ms: 0,
            fail_times: 0,
            tag: String::new()
        });
        if logged.is_ok() {
            writeln!(produced, "{seq}").expect("write the produced file");
        }
        if let Err(err) = logged {
            if refused == 0 {
                println!("LOG_ERROR={err}");
                println!(
                    "TRANSPORT_ERROR={}",
                    matches!(err, eventlib::Error::Transport(_))
                );
            }
            refused += 1;
        }
    }
    println!("REFUSED={refused}");
    println!("LOGGED=1");
    let shutdown_ms = num("shutdown_ms", 0);
    if shutdown_ms > 0 {
        // Shut down at once, relying on the report alone.
        let report = eventlib::shutdown(Duration::from_millis(shutdown_ms));
        println!("EARLIER_BACKLOG={}", report.earlier_backlog);
        println!("CLEAN={}", report.is_clean());
        println!("REPORT={report}");
        if let Some(stats) = eventlib::redis::producer_stats() {
            println!("RESENT={}", stats.resent);
        }
        println!("DONE=1");
        return;
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(num("drain_secs", 60));
    let report = eventlib::flush_timeout(Duration::from_secs(num("drain_secs", 60)));
    // `flush` waits for this run's events and an earlier run's; the
    // spool's backlog in bytes is read as well, to print it at zero.
    while eventlib::redis::producer_stats().is_none_or(|s| s.spool_backlog > 0)
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    println!("DROPPED={}", report.dropped);
    println!("ABANDONED={}", report.abandoned);
    println!("CLEAN={}", report.is_clean());
    if let Some(stats) = eventlib::redis::producer_stats() {
        println!("BACKLOG={}", stats.spool_backlog);
        println!("RESENT={}", stats.resent);
        println!("STATS={stats}");
    }
    println!("DONE=1");
}

/// Measures `log!` with the in-memory outbox or a spool under each fsync
/// policy: `threads` threads log `count` events in all, to a live Redis;
/// prints the callers' throughput and latency, and how long until Redis
/// confirmed everything.
fn bench_producer(
    url: &Server,
    get: &dyn Fn(&str, &str) -> String,
    num: &dyn Fn(&str, u64) -> u64,
) {
    use eventlib::redis::FsyncPolicy;
    use std::time::Instant;
    let outbox = get("outbox", "memory");
    let mut transport = RedisTransport::new(url).expect("a valid URL");
    if outbox != "memory" {
        let fsync = match outbox.as_str() {
            "never" => FsyncPolicy::Never,
            "always" => FsyncPolicy::Always,
            ms => FsyncPolicy::Interval(Duration::from_millis(ms.parse().expect("an interval"))),
        };
        transport = transport
            .fsync(fsync)
            .spool(get("dir", "spool"))
            .expect("a usable spool directory");
    }
    let batch = num("batch", 256) as usize;
    Dispatcher::builder()
        .capacity(1 << 20)
        .transport(placed(transport.batch_size(batch), get, num))
        .install()
        .expect("install");
    let threads = num("threads", 1).max(1);
    let per_thread = num("count", 100_000) / threads;
    let started = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            std::thread::spawn(move || {
                let mut latencies = Vec::with_capacity(per_thread as usize);
                for n in 0..per_thread {
                    let order = Order {
                        seq: t * per_thread + n,
                        sleep_ms: 0,
                        fail_times: 0,
                        tag: String::new(),
                    };
                    let start = Instant::now();
                    log!(order).expect("log!");
                    latencies.push(start.elapsed().as_nanos() as u64);
                }
                latencies
            })
        })
        .collect();
    let mut latencies: Vec<u64> = workers
        .into_iter()
        .flat_map(|w| w.join().expect("a logging thread"))
        .collect();
    let logging = started.elapsed();
    let report = eventlib::flush_timeout(Duration::from_secs(300));
    let confirmed = started.elapsed();
    latencies.sort_unstable();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize] as f64 / 1000.0;
    println!(
        "BENCH outbox={outbox} threads={threads} events={} log_per_s={:.0} p50_us={:.2} \
         p99_us={:.2} p999_us={:.1} max_us={:.0} all_confirmed_ms={} abandoned={} \
         confirmed_per_s={:.0} cpu_ms={}",
        latencies.len(),
        latencies.len() as f64 / logging.as_secs_f64(),
        at(0.5),
        at(0.99),
        at(0.999),
        at(1.0),
        confirmed.as_millis(),
        report.abandoned,
        latencies.len() as f64 / confirmed.as_secs_f64(),
        cpu_ms()
    );
}

/// The CPU time this process used, user and system, in milliseconds
/// (Linux: `/proc/self/stat`, in clock ticks of 10 ms).
fn cpu_ms() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name (which may hold spaces).
    let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<u64> = rest
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 here.
    (fields.get(11).copied().unwrap_or(0) + fields.get(12).copied().unwrap_or(0)) * 10
}
