//! The command line: the local story by default, or one role of the
//! distributed story with `--redis URL` (feature `redis`).

use std::process::exit;

const USAGE: &str = "\
usage: shoestore                                  the whole story in one process
       shoestore --serve ADDR                     the shop on ADDR (127.0.0.1:8080) for a browser
       shoestore --redis URL producer [--views N]
       shoestore --redis URL worker [--group G] [--consumer NAME] [--db PATH]
                                    [--until-idle | --events N]";

/// What to run.
pub enum Command {
    /// The story in one process: no Redis needed, no feature.
    Local,
    /// The shop served on an address until Ctrl-C.
    Serve(std::net::SocketAddr),
    /// The web side: page views logged to a Redis stream.
    #[cfg(feature = "redis")]
    Producer(ProducerArgs),
    /// A worker process running the handlers on the stream's events.
    #[cfg(feature = "redis")]
    Worker(WorkerArgs),
}

#[cfg(feature = "redis")]
pub struct ProducerArgs {
    pub url: String,
    pub views: u64,
}

#[cfg(feature = "redis")]
pub struct WorkerArgs {
    pub url: String,
    pub group: String,
    pub consumer: Option<String>,
    /// A SQLite file to use and keep, instead of a temporary one.
    pub db: Option<std::path::PathBuf>,
    /// Stop once the stream is drained for this worker's group.
    pub until_idle: bool,
    /// Stop once this worker has acknowledged this many entries.
    pub events: Option<u64>,
}

/// Reads the arguments; prints the usage and exits 2 when they make no sense.
pub fn parse(args: impl Iterator<Item = String>) -> Command {
    let args: Vec<String> = args.collect();
    if args.is_empty() {
        return Command::Local;
    }
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        exit(0);
    }
    if args[0] == "--serve" {
        return match (args.get(1).map(|a| a.parse()), args.len()) {
            (Some(Ok(addr)), 2) => Command::Serve(addr),
            (Some(Err(_)), _) => fail(&format!(
                "--serve takes an address such as 127.0.0.1:8080, not `{}`",
                args[1]
            )),
            _ => fail("--serve takes one address, such as 127.0.0.1:8080"),
        };
    }
    distributed(&args)
}

#[cfg(not(feature = "redis"))]
fn distributed(args: &[String]) -> Command {
    if args
        .iter()
        .any(|a| a == "--redis" || a.starts_with("--redis="))
    {
        eprintln!(
            "shoestore: --redis needs the Redis transport, which this build leaves out: \
             rebuild with `cargo run --example shoestore --features redis -- {}`",
            args.join(" ")
        );
        exit(2);
    }
    fail(&format!("unexpected argument `{}`", args[0]))
}

#[cfg(feature = "redis")]
fn distributed(args: &[String]) -> Command {
    let mut role = None;
    let mut options: Vec<(&str, String)> = Vec::new();
    let mut until_idle = false;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--redis" | "--views" | "--group" | "--consumer" | "--db" | "--events" => {
                let Some(value) = it.next() else {
                    fail(&format!("{arg} needs a value"))
                };
                options.push((arg.as_str(), value.clone()));
            }
            "--until-idle" => until_idle = true,
            "producer" | "worker" if role.is_none() => role = Some(arg.as_str()),
            other => fail(&format!("unexpected argument `{other}`")),
        }
    }
    let take = |flag: &str| {
        options
            .iter()
            .rev()
            .find(|(name, _)| *name == flag)
            .map(|(_, value)| value.clone())
    };
    let only_for = |role: &str, flags: &[&str]| {
        if let Some((flag, _)) = options.iter().find(|(name, _)| flags.contains(name)) {
            fail(&format!("{flag} is an option of the {role} role"));
        }
    };
    let Some(url) = take("--redis") else {
        fail("the producer and worker roles need --redis URL")
    };
    match role {
        Some("producer") => {
            only_for("worker", &["--group", "--consumer", "--db", "--events"]);
            if until_idle {
                fail("--until-idle is an option of the worker role");
            }
            let views = take("--views").map_or(crate::traffic::VIEWS, |n| number("--views", &n));
            Command::Producer(ProducerArgs { url, views })
        }
        Some("worker") => {
            only_for("producer", &["--views"]);
            Command::Worker(WorkerArgs {
                url,
                group: take("--group").unwrap_or_else(|| "default".into()),
                consumer: take("--consumer"),
                db: take("--db").map(Into::into),
                until_idle,
                events: take("--events").map(|n| number("--events", &n)),
            })
        }
        _ => fail("name a role after --redis URL: producer or worker"),
    }
}

#[cfg(feature = "redis")]
fn number(flag: &str, value: &str) -> u64 {
    match value.parse() {
        Ok(n) if n > 0 => n,
        _ => fail(&format!("{flag} takes a positive number, not `{value}`")),
    }
}

fn fail(message: &str) -> ! {
    eprintln!("shoestore: {message}\n{USAGE}");
    exit(2)
}
