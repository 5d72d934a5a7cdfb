//! A `redis-server` of the scenario's own: a free loopback port, a
//! temporary directory, and no persistence unless asked; killed on drop
//! (also when the scenario panics).

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How the server keeps its data.
#[derive(Clone, Copy)]
pub(crate) enum Persistence {
    /// `--save '' --appendonly no`: memory only.
    None,
    /// `--save '' --appendonly yes --appendfsync everysec`.
    AofEverySec,
}

impl Persistence {
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Persistence::None => "no persistence (--save '' --appendonly no)",
            Persistence::AofEverySec => "AOF, appendfsync everysec (--save '')",
        }
    }
}

pub(crate) struct Server {
    port: u16,
    dir: PathBuf,
    child: Child,
}

impl Server {
    /// Starts `redis-server` (`$REDIS_SERVER`, or the one on the `PATH`)
    /// and waits until it answers `PING`. Panics, saying what to install,
    /// when there is none.
    pub(crate) fn start(persistence: Persistence) -> Server {
        let binary = binary();
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let dir = std::env::temp_dir().join(format!(
            "eventlib-bench-redis-{}-{port}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).expect("a temporary directory for redis-server");
        let mut command = Command::new(&binary);
        command
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(&dir)
            .args(["--save", "", "--daemonize", "no", "--logfile", "redis.log"]);
        match persistence {
            Persistence::None => command.args(["--appendonly", "no"]),
            Persistence::AofEverySec => {
                command.args(["--appendonly", "yes", "--appendfsync", "everysec"])
            }
        };
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {}: {err}", binary.display()));
        let mut server = Server { port, dir, child };
        server.wait_ready();
        server
    }

    fn wait_ready(&mut self) {
        let started = Instant::now();
        loop {
            if let Ok(mut conn) = self.try_connect(Duration::from_millis(200)) {
                if redis::cmd("PING").query::<String>(&mut conn).is_ok() {
                    return;
                }
            }
            let log = || std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default();
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "redis-server exited ({status}) before answering; its log:\n{}",
                    log()
                );
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "redis-server did not answer PING within 10 s; its log:\n{}",
                log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The process id of the `redis-server`.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `redis://127.0.0.1:<port>/`.
    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn try_connect(&self, timeout: Duration) -> redis::RedisResult<redis::Connection> {
        redis::Client::open(self.url())?.get_connection_with_timeout(timeout)
    }

    /// A connection of the baseline's or the scenario's own, opened as
    /// eventlib opens its own (`Client::open` + `get_connection_with_timeout`).
    pub(crate) fn connect(&self) -> redis::Connection {
        let conn = self
            .try_connect(Duration::from_secs(2))
            .expect("a connection to the scenario's redis-server");
        conn.set_read_timeout(Some(Duration::from_secs(30)))
            .expect("a read timeout");
        conn
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn binary() -> PathBuf {
    if let Some(path) = std::env::var_os("REDIS_SERVER") {
        return PathBuf::from(path);
    }
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join("redis-server"))
                .find(|path| path.is_file())
        })
        .unwrap_or_else(|| {
            panic!(
                "redis-server not found on the PATH (nor in $REDIS_SERVER): the Redis scenarios \
                 start one of their own; install Redis 7 (Debian: `apt-get install redis-server`)"
            )
        })
}
