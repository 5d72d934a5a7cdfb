//! A throwaway PostgreSQL cluster for tests and benchmarks: `initdb` into a
//! temporary folder (as `nobody` when run as root, which PostgreSQL
//! refuses), started on a free loopback port with its socket in that
//! folder, and stopped when dropped. The binaries come from `PG_BIN`, or
//! the newest `/usr/lib/postgresql/*/bin`.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;

/// A running PostgreSQL cluster of its own.
pub struct Postgres {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    as_nobody: bool,
    settings: Vec<String>,
}

fn pg_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("PG_BIN") {
        return bin.into();
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is installed (/usr/lib/postgresql) or PG_BIN is set")
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists())
        .collect();
    found.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    found.pop().expect("a PostgreSQL with initdb")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

impl Postgres {
    /// Makes and starts a cluster for tests: `fsync=off`, as nothing
    /// here outlives the machine.
    pub fn start() -> Postgres {
        Postgres::start_with(&["fsync=off"])
    }

    /// Makes and starts a cluster with these server settings (`-c`
    /// options, such as `fsync=off`); none keeps PostgreSQL's defaults
    /// (`fsync` and `synchronous_commit` on), as a benchmark wants.
    pub fn start_with(settings: &[&str]) -> Postgres {
        let bin = pg_bin();
        let as_nobody = is_root();
        // nobody must reach the folder: a root's TMPDIR may be private.
        let base = if as_nobody {
            PathBuf::from("/tmp")
        } else {
            std::env::temp_dir()
        };
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let dir = base.join(format!("eventlib-pg-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a folder for the cluster");
        if as_nobody {
            let ok = Command::new("chown")
                .args(["-R", "nobody"])
                .arg(&dir)
                .status()
                .expect("chown")
                .success();
            assert!(ok, "chown the cluster folder to nobody");
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let pg = Postgres {
            bin,
            dir,
            port,
            as_nobody,
            settings: settings.iter().map(|s| (*s).to_owned()).collect(),
        };
        let data = pg.data();
        pg.run(
            "initdb",
            &[
                "-D",
                data.to_str().expect("a UTF-8 path"),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ],
        );
        pg.pg_ctl_start();
        pg
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// The command that runs `tool` as the cluster's owner.
    fn command(&self, tool: &str) -> Command {
        let exe = self.bin.join(tool);
        let mut cmd = if self.as_nobody {
            let mut c = Command::new("runuser");
            c.args(["-u", "nobody", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        cmd.current_dir(&self.dir);
        cmd
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let out = self
            .command(tool)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("run {tool}: {e}"));
        assert!(
            out.status.success(),
            "{tool} {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn pg_ctl_start(&self) {
        let mut options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.display()
        );
        for setting in &self.settings {
            options.push_str(" -c ");
            options.push_str(setting);
        }
        let data = self.data();
        let log = self.dir.join("log");
        self.run(
            "pg_ctl",
            &[
                "-D",
                data.to_str().expect("a UTF-8 path"),
                "-l",
                log.to_str().expect("a UTF-8 path"),
                "-o",
                &options,
                "-w",
                "start",
            ],
        );
    }

    /// Stops the server at once (open connections broken).
    pub fn stop(&self) {
        let data = self.data();
        self.run(
            "pg_ctl",
            &[
                "-D",
                data.to_str().expect("a UTF-8 path"),
                "-m",
                "fast",
                "-w",
                "stop",
            ],
        );
    }

    /// Starts it again after [`Postgres::stop`].
    pub fn start_again(&self) {
        self.pg_ctl_start();
    }

    /// The process id of the server (the postmaster, whose children are
    /// its backends and helpers), from its `postmaster.pid`.
    pub fn pid(&self) -> u32 {
        let file = self.data().join("postmaster.pid");
        let text = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("read {}: {e}", file.display()));
        text.lines()
            .next()
            .and_then(|line| line.trim().parse().ok())
            .unwrap_or_else(|| panic!("a process id in {}", file.display()))
    }

    /// The connection URL.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "stop"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
