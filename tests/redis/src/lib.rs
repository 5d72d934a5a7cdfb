//! The harness of the reliability tests: a real `redis-server` on a free
//! loopback port in a temporary directory, worker and producer processes
//! (the `eventlib-redis-node` binary) that can be killed for real, and the
//! files their handlers write, from which loss and duplicates are counted.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub mod acl;
pub mod cluster;
pub mod pki;

/// Waits until `ready` is true, polling; panics with `what` after `limit`.
pub fn wait_for(what: &str, limit: Duration, ready: impl FnMut() -> bool) -> Duration {
    wait_for_telling(what, limit, ready, String::new)
}

/// [`wait_for`], whose panic also shows what `tell` gives then (the
/// output of the process waited for, say), so that a timeout says why.
pub fn wait_for_telling(
    what: &str,
    limit: Duration,
    mut ready: impl FnMut() -> bool,
    tell: impl FnOnce() -> String,
) -> Duration {
    let start = Instant::now();
    match poll_until(limit, || ready().then_some(())) {
        Some(()) => start.elapsed(),
        None => panic!("timed out after {limit:?} waiting for {what}\n{}", tell()),
    }
}

/// Asks `check` every 20 ms until it gives a value, for `limit` at most.
fn poll_until<T>(limit: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    loop {
        if let Some(value) = check() {
            return Some(value);
        }
        if start.elapsed() >= limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A temporary directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A fresh directory under the system's temporary directory.
    pub fn new(label: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let path = std::env::temp_dir().join(format!(
            "eventlib-redis-{label}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&path).expect("create a temporary directory");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The `redis-server` to run: `$REDIS_SERVER`, or `redis-server` on the
/// `PATH`. The tests fail (never skip) without one.
pub(crate) fn redis_server_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("REDIS_SERVER") {
        return PathBuf::from(path);
    }
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("redis-server"))
            .find(|path| path.is_file())
    });
    found.unwrap_or_else(|| {
        panic!(
            "redis-server not found on the PATH (nor in $REDIS_SERVER): these tests need a real \
             Redis 7; install it (Debian: `apt-get install redis-server`)"
        )
    })
}

/// Why a `redis-server` did not start.
enum Launch {
    /// It exited before answering (its port taken, most likely).
    Exited(std::process::ExitStatus),
    /// It did not answer within 20 s.
    Silent,
}

/// A `redis-server` of the test's own, killed on drop (also on panic).
pub struct RedisServer {
    pub port: u16,
    dir: TempDir,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a server on a free loopback port, with AOF and
    /// `appendfsync always`, and waits until it answers.
    pub fn start() -> RedisServer {
        let mut server = RedisServer {
            port: 0,
            dir: TempDir::new("server"),
            child: None,
        };
        // The port is free when it is picked, but another socket (a
        // client's, given it as its own local port) may take it before
        // redis-server binds it: the server then exits, and another port
        // is tried.
        for _ in 0..5 {
            server.port = {
                let listener = TcpListener::bind("127.0.0.1:0").expect("find a free port");
                listener.local_addr().expect("local address").port()
            };
            match server.try_launch() {
                Ok(()) => return server,
                Err(Launch::Exited(_)) => continue,
                Err(Launch::Silent) => break,
            }
        }
        panic!(
            "redis-server did not answer PING within 20 s, nor started on any of 5 free ports \
             (last {})",
            server.port
        );
    }

    fn launch(&mut self) {
        match self.try_launch() {
            Ok(()) => {}
            Err(Launch::Exited(status)) => panic!(
                "redis-server exited ({status}) before answering on port {} (taken meanwhile?)",
                self.port
            ),
            Err(Launch::Silent) => panic!(
                "timed out after 20s waiting for redis-server to answer PING on port {}",
                self.port
            ),
        }
    }

    /// Starts the server on its port and waits until it answers PING.
    fn try_launch(&mut self) -> Result<(), Launch> {
        let child = Command::new(redis_server_binary())
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(&self.dir.0)
            .args(["--save", ""])
            .args(["--appendonly", "yes"])
            .args(["--appendfsync", "always"])
            .args(["--daemonize", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        self.child = Some(child);
        let url = self.url();
        let child = &mut self.child;
        let outcome = poll_until(Duration::from_secs(20), || {
            if let Some(status) = child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                *child = None;
                return Some(Err(Launch::Exited(status)));
            }
            redis::Client::open(url.as_str())
                .and_then(|c| c.get_connection_with_timeout(Duration::from_millis(200)))
                .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
                .is_ok()
                .then_some(Ok(()))
        });
        outcome.unwrap_or(Err(Launch::Silent))
    }

    /// `redis://127.0.0.1:<port>/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// A connection for the test's own commands.
    pub fn connection(&self) -> redis::Connection {
        let conn = redis::Client::open(self.url())
            .expect("url")
            .get_connection_with_timeout(Duration::from_secs(2))
            .expect("connect to the test's redis-server");
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("read timeout");
        conn
    }

    /// `kill -9` the server.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and directory (its AOF is loaded).
    pub fn restart(&mut self) {
        self.kill9();
        self.launch();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A child process, `kill -9`ed on drop unless it has exited.
pub struct Process {
    pub name: String,
    child: Option<Child>,
    log: PathBuf,
}

impl Process {
    /// Runs the node binary `bin` (from the test's
    /// `env!("CARGO_BIN_EXE_eventlib-redis-node")`) with `args`; its output
    /// goes to `<dir>/<name>.out`.
    pub fn node(bin: &str, name: &str, dir: &Path, args: &[String]) -> Process {
        let log = dir.join(format!("{name}.out"));
        let out = std::fs::File::create(&log).expect("create the process log");
        let err = out.try_clone().expect("clone the process log");
        let child = Command::new(bin)
            .args(args)
            .env("EVENTLIB_TEST_OUT", dir)
            .env("RUST_BACKTRACE", "1")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("start the node binary");
        Process {
            name: name.to_owned(),
            child: Some(child),
            log,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// `kill -9`.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM {} failed", self.pid());
    }

    /// Waits for the process to exit (panics after `limit`); returns
    /// whether it exited successfully.
    pub fn wait(&mut self, limit: Duration) -> bool {
        let child = self.child.as_mut().expect("process already reaped");
        let start = Instant::now();
        loop {
            if let Some(status) = child.try_wait().expect("wait for the process") {
                self.child = None;
                return status.success();
            }
            assert!(
                start.elapsed() < limit,
                "{} did not exit within {limit:?}; its output:\n{}",
                self.name,
                self.output()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// What the process printed so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The `KEY=value` line the node prints last for `key`, if any.
    pub fn reported(&self, key: &str) -> Option<String> {
        let prefix = format!("{key}=");
        self.output()
            .lines()
            .rev()
            .find_map(|line| line.strip_prefix(&prefix).map(str::to_owned))
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// What the handlers of every node wrote in `dir`: runs by (handler, seq),
/// counting successful runs only.
#[derive(Debug, Default)]
pub struct Handled {
    pub runs: BTreeMap<(String, u64), u32>,
    /// Failed runs by (handler, seq).
    pub failures: BTreeMap<(String, u64), u32>,
    /// Successful runs by node (consumer name).
    pub by_node: BTreeMap<String, u64>,
}

impl Handled {
    /// Reads every `*.handled` file in `dir`.
    pub fn read(dir: &Path) -> Handled {
        let mut handled = Handled::default();
        let Ok(files) = std::fs::read_dir(dir) else {
            return handled;
        };
        for file in files.flatten() {
            let path = file.path();
            if path.extension().is_none_or(|e| e != "handled") {
                continue;
            }
            let node = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            // Only whole lines: a process killed mid-write leaves no partial
            // line behind a newline.
            for line in text.lines() {
                let mut parts = line.split(' ');
                let (Some(handler), Some(seq), Some(outcome)) =
                    (parts.next(), parts.next(), parts.next())
                else {
                    continue;
                };
                let Ok(seq) = seq.parse() else { continue };
                let key = (handler.to_owned(), seq);
                if outcome == "ok" {
                    *handled.runs.entry(key).or_default() += 1;
                    *handled.by_node.entry(node.clone()).or_default() += 1;
                } else {
                    *handled.failures.entry(key).or_default() += 1;
                }
            }
        }
        handled
    }

    /// Successful runs of `handler` for `seq`.
    pub fn count(&self, handler: &str, seq: u64) -> u32 {
        self.runs
            .get(&(handler.to_owned(), seq))
            .copied()
            .unwrap_or(0)
    }

    /// Failed runs of `handler` for `seq`.
    pub fn failed(&self, handler: &str, seq: u64) -> u32 {
        self.failures
            .get(&(handler.to_owned(), seq))
            .copied()
            .unwrap_or(0)
    }

    /// Of `seqs`, how many `handler` never ran for, and how many extra
    /// runs it made.
    pub fn loss_and_duplicates(
        &self,
        handler: &str,
        seqs: impl IntoIterator<Item = u64>,
    ) -> (u64, u64) {
        let (mut lost, mut duplicates) = (0, 0);
        for seq in seqs {
            match self.count(handler, seq) {
                0 => lost += 1,
                n => duplicates += u64::from(n - 1),
            }
        }
        (lost, duplicates)
    }

    /// Whether `handler` ran for every one of `seqs`.
    pub fn all(&self, handler: &str, seqs: impl IntoIterator<Item = u64>) -> bool {
        seqs.into_iter().all(|seq| self.count(handler, seq) > 0)
    }
}

/// The seqs a producer node logged successfully (its `produced` file).
pub fn produced(dir: &Path, name: &str) -> Vec<u64> {
    std::fs::read_to_string(dir.join(format!("{name}.produced")))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.parse().ok())
        .collect()
}

/// Arguments `key=value` for the node binary.
pub fn args(role: &str, url: &str, pairs: &[(&str, String)]) -> Vec<String> {
    let mut args = vec![role.to_owned(), format!("url={url}")];
    args.extend(pairs.iter().map(|(k, v)| format!("{k}={v}")));
    args
}

/// The entries of a consumer group not yet acknowledged.
pub fn pending(conn: &mut redis::Connection, stream: &str, group: &str) -> i64 {
    let summary: redis::Value = redis::cmd("XPENDING")
        .arg(stream)
        .arg(group)
        .query(conn)
        .expect("XPENDING");
    match summary {
        redis::Value::Array(items) => match items.first() {
            Some(redis::Value::Int(n)) => *n,
            _ => 0,
        },
        _ => 0,
    }
}

/// `XLEN`.
pub fn xlen(conn: &mut redis::Connection, stream: &str) -> i64 {
    redis::cmd("XLEN").arg(stream).query(conn).expect("XLEN")
}

/// How many connections the server accepted since it started
/// (`total_connections_received` of `INFO stats`).
pub fn connections_received(conn: &mut redis::Connection) -> u64 {
    let info: String = redis::cmd("INFO").arg("stats").query(conn).expect("INFO");
    info.lines()
        .find_map(|line| line.strip_prefix("total_connections_received:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("total_connections_received in INFO stats")
}

impl Handled {
    /// Successful runs of `handler`, all seqs together.
    pub fn count_handler(&self, handler: &str) -> u64 {
        self.runs
            .iter()
            .filter(|((h, _), _)| h == handler)
            .map(|(_, n)| u64::from(*n))
            .sum()
    }
}

impl Process {
    /// A counter of the `STATS=` line a worker prints when it stops
    /// (`received=10 acked=10 ...`).
    pub fn stat(&self, name: &str) -> Option<u64> {
        let stats = self.reported("STATS")?;
        let prefix = format!("{name}=");
        stats
            .split_whitespace()
            .map(|pair| pair.trim_matches(['(', ')']))
            .map(|pair| pair.trim_matches(['(', ')']))
            .find_map(|pair| pair.strip_prefix(&prefix)?.parse().ok())
    }
}

/// How many consumers group `group` of `stream` has.
pub fn consumers(conn: &mut redis::Connection, stream: &str, group: &str) -> usize {
    redis::cmd("XINFO")
        .arg("CONSUMERS")
        .arg(stream)
        .arg(group)
        .query::<Vec<redis::Value>>(conn)
        .map_or(0, |c| c.len())
}

/// `XADD <stream> * event <envelope>`: an entry as a producer in another
/// language writes it.
pub fn xadd_envelope(conn: &mut redis::Connection, stream: &str, envelope: &[u8]) -> String {
    redis::cmd("XADD")
        .arg(stream)
        .arg("*")
        .arg("event")
        .arg(envelope)
        .query(conn)
        .expect("XADD")
}

/// `XADD`s every envelope to `stream` in one pipeline, in order.
pub fn xadd_envelopes(
    conn: &mut redis::Connection,
    stream: &str,
    envelopes: impl IntoIterator<Item = impl AsRef<[u8]>>,
) {
    let mut pipe = redis::pipe();
    for envelope in envelopes {
        pipe.cmd("XADD")
            .arg(stream)
            .arg("*")
            .arg("event")
            .arg(envelope.as_ref())
            .ignore();
    }
    pipe.exec(conn).expect("XADD the envelopes");
}

/// An event whose handler `first` is declared here, in a library, and whose
/// handler `second` is declared in the node binary only: a binary that
/// links this library but not the node's handlers (the bare worker) has
/// one of the two, as a build deployed before `second` was added would.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Split {
    /// Unique per test.
    pub seq: u64,
}

#[eventlib::event(name = "rt.Split")]
impl Split {
    #[eventlib::handler]
    fn first(&self, ctx: &eventlib::Context) {
        note_run("first", self.seq, ctx.attempt());
    }
}

/// Appends `handler seq ok attempt` to `$EVENTLIB_TEST_OUT/lib-<pid>.handled`,
/// one whole line per write.
pub fn note_run(handler: &str, seq: u64, attempt: u32) {
    use std::io::Write;
    let Some(dir) = std::env::var_os("EVENTLIB_TEST_OUT") else {
        return;
    };
    let path = Path::new(&dir).join(format!("lib-{}.handled", std::process::id()));
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open the handled file");
    file.write_all(format!("{handler} {seq} ok {attempt}\n").as_bytes())
        .expect("write the handled file");
}

/// A node binary's command line: its role, then `key=value` pairs.
pub fn node_args() -> (String, std::collections::HashMap<String, String>) {
    let mut argv = std::env::args().skip(1);
    let role = argv.next().expect("a role: producer or worker");
    let args = argv
        .filter_map(|a| a.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
        .collect();
    (role, args)
}

/// The event of the observability tests, linked by the traced node and by
/// the test binaries that log it themselves.
pub mod traced {
    use std::sync::Mutex;

    use eventlib::Context;
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Clone, Serialize, Deserialize)]
    pub struct Traced {
        pub seq: u64,
        /// Whether `flaky` fails its first attempt.
        #[serde(default)]
        pub flaky: bool,
    }

    impl Traced {
        pub fn new(seq: u64, flaky: bool) -> Self {
            Traced { seq, flaky }
        }
    }

    static SEEN: Mutex<Vec<String>> = Mutex::new(Vec::new());

    /// One `SEEN seq=.. request_id=.. client_ip=..` line per run of `record`.
    pub fn seen() -> Vec<String> {
        SEEN.lock().unwrap().clone()
    }

    #[eventlib::event(name = "ot.Traced")]
    impl Traced {
        #[handler]
        fn record(&self, ctx: &Context) {
            let md = ctx.metadata();
            SEEN.lock().unwrap().push(format!(
                "SEEN seq={} request_id={} client_ip={}",
                self.seq,
                md.get("request_id").unwrap_or("-"),
                md.get("client_ip").unwrap_or("-"),
            ));
        }

        #[handler]
        fn flaky(&self, ctx: &Context) -> anyhow::Result<()> {
            anyhow::ensure!(
                !(self.flaky && ctx.attempt() == 1),
                "fails its first attempt"
            );
            Ok(())
        }
    }
}

/// A dead letter as a worker writes it, for tests of the tools that read
/// them: letter `n` of event `name` (data `{"n": n}`), failed by
/// `handler` of `group` with `reason` after 3 attempts.
pub struct DeadLetterFields<'a> {
    pub n: usize,
    pub name: &'a str,
    pub group: &'a str,
    pub handler: &'a str,
    pub reason: &'a str,
}

/// Adds the `XADD` of `letter` to the dead letters of `stream` to `pipe`.
pub fn xadd_dead_letter(pipe: &mut redis::Pipeline, stream: &str, letter: &DeadLetterFields<'_>) {
    let DeadLetterFields {
        n,
        name,
        group,
        handler,
        reason,
    } = letter;
    pipe.cmd("XADD")
        .arg(format!("{stream}:dead"))
        .arg("*")
        .arg("source_id")
        .arg(format!("1700000000000-{n}"))
        .arg("group")
        .arg(*group)
        .arg("handler")
        .arg(*handler)
        .arg("reason")
        .arg(*reason)
        .arg("attempts")
        .arg(3)
        .arg("failed_at")
        .arg(1_700_000_000_000u64)
        .arg("worker")
        .arg("w-1")
        .arg("name")
        .arg(*name)
        .arg("event")
        .arg(format!(r#"{{"v":1,"name":"{name}","data":{{"n":{n}}}}}"#))
        .ignore();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wait_that_times_out_shows_what_it_is_told() {
        let panic = std::panic::catch_unwind(|| {
            wait_for_telling(
                "nothing",
                Duration::from_millis(50),
                || false,
                || "the producer's output".to_owned(),
            )
        })
        .expect_err("a wait for what never comes times out");
        let message = panic
            .downcast_ref::<String>()
            .expect("a formatted panic message");
        assert!(message.contains("waiting for nothing"), "{message}");
        assert!(message.contains("the producer's output"), "{message}");
    }

    /// A server whose port another socket holds exits at once, and is
    /// told apart from one that does not answer (so `start` tries another
    /// port instead of waiting 20 s).
    #[test]
    fn a_server_on_a_taken_port_is_seen_to_exit() {
        let holder = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut server = RedisServer {
            port: holder.local_addr().unwrap().port(),
            dir: TempDir::new("taken"),
            child: None,
        };
        let asked = Instant::now();
        assert!(matches!(server.try_launch(), Err(Launch::Exited(_))));
        assert!(asked.elapsed() < Duration::from_secs(10));
        drop(holder);
        let started = RedisServer::start();
        assert_ne!(started.port, 0);
    }
}
