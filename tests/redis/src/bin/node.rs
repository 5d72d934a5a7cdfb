//! A producer or worker process for the reliability tests:
//!
//! `eventlib-redis-node producer url=... name=p count=N [start=0] [pace_us=0] [sleep_ms=0] [fail_times=0]`
//! `eventlib-redis-node worker url=... consumer=w [group=default] [concurrency=4] [visibility_ms=..] ...`
//!
//! Handlers append `handler seq ok|fail attempt` lines to
//! `$EVENTLIB_TEST_OUT/<consumer>.handled`; the producer appends each seq
//! whose `log!` returned `Ok` to `$EVENTLIB_TEST_OUT/<name>.produced`.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use eventlib::redis::{RedisTransport, Worker};
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
    let mut argv = std::env::args().skip(1);
    let role = argv.next().expect("a role: producer or worker");
    let args: HashMap<String, String> = argv
        .filter_map(|a| a.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
        .collect();
    let get =
        |key: &str, default: &str| args.get(key).cloned().unwrap_or_else(|| default.to_owned());
    let num = |key: &str, default: u64| -> u64 {
        get(key, &default.to_string()).parse().expect("a number")
    };
    let out_dir = PathBuf::from(std::env::var_os("EVENTLIB_TEST_OUT").expect("EVENTLIB_TEST_OUT"));
    let url = get("url", "redis://127.0.0.1/");
    match role.as_str() {
        "producer" => {
            let name = get("name", "producer");
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(out_dir.join(format!("{name}.produced")))
                .expect("open the produced file");
            let mut produced = std::io::LineWriter::new(file);
            declare_linked_groups(&url, &get("declare", "linked"));
            Dispatcher::builder()
                .capacity(num("capacity", 100_000) as usize)
                .overflow(Overflow::Error)
                .transport(RedisTransport::new(&url).expect("a valid URL"))
                .install()
                .expect("install");
            let (start, count) = (num("start", 0), num("count", 100));
            let pace = Duration::from_micros(num("pace_us", 0));
            let mut failed = 0u64;
            for seq in start..start + count {
                let order = Order {
                    seq,
                    sleep_ms: num("sleep_ms", 0),
                    fail_times: num("fail_times", 0) as u32,
                    tag: String::new(),
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
                )
                .build()
                .expect("build the worker");
            println!("STARTED={}", std::process::id());
            worker.run_blocking().expect("run the worker");
            println!("STATS={}", worker.stats());
            println!("RECLAIMED={}", worker.stats().reclaimed);
        }
        other => panic!("unknown role `{other}`: producer or worker"),
    }
}

/// Declares the handler groups before producing, as a deployment does, so
/// that no group misses what is written before its first worker starts:
/// `declare=linked` (the default) declares every group of the handlers
/// linked into this binary, `declare=a,b` those named, `declare=none`
/// nothing.
fn declare_linked_groups(url: &str, which: &str) {
    let groups: Vec<String> = match which {
        "none" => return,
        "linked" => {
            let mut groups: Vec<String> = eventlib::registry()
                .handlers()
                .map(|h| h.group().to_owned())
                .collect();
            groups.sort();
            groups.dedup();
            groups
        }
        named => named.split(',').map(str::to_owned).collect(),
    };
    let groups: Vec<&str> = groups.iter().map(String::as_str).collect();
    eventlib::redis::declare_groups(url, eventlib::redis::DEFAULT_STREAM, &groups)
        .expect("declare the groups");
}
