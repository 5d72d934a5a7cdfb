//! What the observability features cost the caller of `log!`: one small
//! program (row 1's `Viewed`, three `u64` fields and three trivial sync
//! handlers, a typed `log!` in bursts of [`BURST`] calls from one thread,
//! the queue drained with `eventlib::flush()` between bursts outside the
//! timed region), built in release mode twice — without eventlib's
//! features, and with `tracing` and `metrics` — in a workspace of its own
//! under the system's temporary directory. The second binary runs in two
//! modes: with no subscriber or recorder installed, and with a
//! `tracing-subscriber` registry (a fmt layer writing to `io::sink`, at
//! INFO: the handler spans are enabled, the DEBUG event at `log!` is not)
//! and a Prometheus recorder (no HTTP listener). Each run of a binary
//! prints its medians over [`INNER_ROUNDS`] rounds of three figures: the
//! calling thread's CPU time per `log!` (what the call itself costs, the
//! target row), the bursts' wall time per `log!` (which also holds what the
//! pool's threads take from the caller on a machine with few cores), and
//! the process's CPU time per event (the handler runs' spans and metrics
//! included). Two more runs of the second binary split the installed
//! cost: the subscriber alone, the recorder alone. The sides are run in
//! turn, round for round, and the rows are medians of those runs.
//! `BENCH_EVENTLIB_REPO` points it at another checkout of eventlib, as for
//! the compile-cost rows.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::compile_cost::{eventlib_repo, workspace_dir, write_if_changed};
use crate::harness::{median, Report, BURST};

/// Rounds inside one run of a generated binary (after one warm-up round).
const INNER_ROUNDS: usize = 5;

/// Bursts of [`BURST`] calls per round, as in row 1.
const BURSTS: usize = 8;

/// The three builds of the generated program.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Build {
    /// eventlib without its features.
    Plain,
    /// eventlib with `tracing` and `metrics`, and the switches that install
    /// a subscriber and a recorder.
    Observed,
    /// eventlib without its features, whose handlers and caller make by
    /// hand the spans and metrics the features make (the same span, fields
    /// and outcome per handler run; per event the same five counts and six
    /// histogram samples, on handles registered once), with the same
    /// switches.
    Hand,
}

impl Build {
    fn installs(self) -> bool {
        self != Build::Plain
    }
}

/// The three handler methods of `Viewed`: bare, or (for [`Build::Hand`])
/// each observed by hand.
fn handlers(build: Build) -> String {
    let mut s = String::new();
    for (n, (name, field)) in [
        ("count", "user_id"),
        ("audit", "product_id"),
        ("notify", "price_cents"),
    ]
    .into_iter()
    .enumerate()
    {
        if build == Build::Hand {
            s.push_str(&format!(
                "    #[eventlib::handler]
    fn {name}(&self, ctx: &eventlib::Context) {{
                         by_hand::run(ctx, {n}, || {{
            black_box(self.{field});
        }});
    }}

"
            ));
        } else {
            s.push_str(&format!(
                "    #[eventlib::handler]
    fn {name}(&self) {{
        black_box(self.{field});
    }}

"
            ));
        }
    }
    s.truncate(s.trim_end().len());
    s.push('\n');
    s
}

/// What [`Build::Hand`] adds: the spans and metrics of eventlib's features,
/// made in its handlers and after its `log!`.
const BY_HAND: &str = r#"
/// The spans and metrics eventlib's features make, made by hand.
mod by_hand {
    use std::sync::OnceLock;
    use std::time::{SystemTime, UNIX_EPOCH};

    use metrics::{Counter, Histogram};

    const EVENT: &str = "bench.Viewed";
    const GROUP: &str = "default";
    const HANDLERS: [&str; 3] = ["fc_hand::Viewed::count", "fc_hand::Viewed::audit", "fc_hand::Viewed::notify"];

    struct Handles {
        emitted: Counter,
        completed: Counter,
        wait: [Histogram; 3],
        runs: [Counter; 3],
        durations: [Histogram; 3],
    }

    /// The handles, registered once (with the recorder in place then).
    fn handles() -> &'static Handles {
        static HANDLES: OnceLock<Handles> = OnceLock::new();
        HANDLES.get_or_init(|| Handles {
            emitted: metrics::counter!("eventlib_events_emitted_total", "event" => EVENT),
            completed: metrics::counter!("eventlib_events_completed_total", "event" => EVENT),
            wait: HANDLERS.map(|handler| {
                metrics::histogram!("eventlib_queue_wait_seconds", "event" => EVENT, "handler" => handler, "group" => GROUP)
            }),
            runs: HANDLERS.map(|handler| {
                metrics::counter!("eventlib_handler_runs_total", "event" => EVENT, "handler" => handler, "group" => GROUP, "outcome" => "handled")
            }),
            durations: HANDLERS.map(|handler| {
                metrics::histogram!("eventlib_handler_duration_seconds", "event" => EVENT, "handler" => handler, "group" => GROUP, "outcome" => "handled")
            }),
        })
    }

    fn now_nanos() -> u64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
    }

    fn seconds(from: u64, to: u64) -> f64 {
        to.saturating_sub(from) as f64 / 1e9
    }

    /// After a `log!` that queued its event.
    pub fn logged() {
        handles().emitted.increment(1);
    }

    /// Handler `n`'s run of `f`: its queue wait, a span with eventlib's
    /// fields and outcome, its count and duration; the event's completion
    /// after the last handler.
    pub fn run(ctx: &eventlib::Context, n: usize, f: impl FnOnce()) {
        use tracing::field::Empty;
        let handles = handles();
        let emitted = ctx.emitted_at().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        let started = now_nanos();
        handles.wait[n].record(seconds(emitted, started));
        let span = tracing::info_span!(
            target: "eventlib",
            "eventlib.handler",
            event = ctx.name(),
            event_id = %ctx.id(),
            handler = HANDLERS[n],
            group = GROUP,
            attempt = ctx.attempt(),
            outcome = Empty,
            error = Empty,
            otel.status_code = Empty,
        );
        span.in_scope(f);
        span.record("outcome", "handled");
        handles.runs[n].increment(1);
        handles.durations[n].record(seconds(started, now_nanos()));
        if n == HANDLERS.len() - 1 {
            handles.completed.increment(1);
        }
    }
}
"#;

/// The generated program of `build`.
fn program(build: Build) -> String {
    let handlers = handlers(build);
    let logged = if build == Build::Hand {
        "\n            by_hand::logged();"
    } else {
        ""
    };
    let mut s = format!(
        r#"//! Generated by eventlib-bench: the program of the features-cost rows.
use std::hint::black_box;
use std::time::{{Duration, Instant}};

use eventlib::event;
use serde::{{Deserialize, Serialize}};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Viewed {{
    pub user_id: u64,
    pub product_id: u64,
    pub price_cents: u64,
}}

#[event(name = "bench.Viewed")]
impl Viewed {{
{handlers}}}

const BURST: u64 = {BURST};
const BURSTS: usize = {BURSTS};

/// The clock `clock` (a thread's or the process's CPU time), in ns.
fn cpu_ns(clock: libc::clockid_t) -> f64 {{
    let mut ts = libc::timespec {{ tv_sec: 0, tv_nsec: 0 }};
    // SAFETY: `ts` is a valid timespec for clock_gettime to write.
    let rc = unsafe {{ libc::clock_gettime(clock, &mut ts) }};
    assert_eq!(rc, 0, "clock_gettime");
    ts.tv_sec as f64 * 1e9 + ts.tv_nsec as f64
}}

/// One round of BURSTS bursts, the queue drained between bursts outside
/// the timed region: per typed `log!`, the wall time and the calling
/// thread's CPU time of the bursts, and per event the whole process's CPU
/// time of the round (the pool's handler runs included).
fn round() -> [f64; 3] {{
    let mut wall = Duration::ZERO;
    let mut caller = 0.0;
    let process = cpu_ns(libc::CLOCK_PROCESS_CPUTIME_ID);
    for _ in 0..BURSTS {{
        let t0 = Instant::now();
        let c0 = cpu_ns(libc::CLOCK_THREAD_CPUTIME_ID);
        for i in 0..BURST {{
            let _ = black_box(eventlib::log!(Viewed {{
                user_id: i,
                product_id: 42,
                price_cents: 1_999,
            }}));{logged}
        }}
        caller += cpu_ns(libc::CLOCK_THREAD_CPUTIME_ID) - c0;
        wall += t0.elapsed();
        eventlib::flush();
    }}
    let process = cpu_ns(libc::CLOCK_PROCESS_CPUTIME_ID) - process;
    let calls = (BURST * BURSTS as u64) as f64;
    [wall.as_nanos() as f64 / calls, caller / calls, process / calls]
}}

fn main() {{
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rounds: usize = args
        .iter()
        .find_map(|a| a.parse().ok())
        .unwrap_or({INNER_ROUNDS});
"#
    );
    if build.installs() {
        s.push_str(
            r#"    let installed = args.iter().any(|a| a == "--installed");
    let subscriber = installed || args.iter().any(|a| a == "--subscriber");
    let recorder = installed || args.iter().any(|a| a == "--recorder");
    if subscriber {
        install_subscriber();
    }
    let prometheus = recorder.then(install_recorder);
"#,
        );
    }
    s.push_str(
        r#"    round();
    let runs: Vec<[f64; 3]> = (0..rounds).map(|_| round()).collect();
    let median = |k: usize| {
        let mut ns: Vec<f64> = runs.iter().map(|r| r[k]).collect();
        ns.sort_by(f64::total_cmp);
        ns[ns.len() / 2]
    };
    let dropped = eventlib::stats().total().dropped;
    assert_eq!(dropped, 0, "the queue filled: the fast path was not measured");
"#,
    );
    if build.installs() {
        s.push_str(
            r#"    if let Some(handle) = prometheus {
        assert!(
            handle.render().contains("eventlib_events_emitted_total"),
            "the recorder saw no eventlib counter"
        );
    }
"#,
        );
    }
    s.push_str(
        r#"    println!("NS {} {} {}", median(0), median(1), median(2));
}
"#,
    );
    if build == Build::Hand {
        s.push_str(BY_HAND);
    }
    if build.installs() {
        s.push_str(
            r#"
/// A registry subscriber with a fmt layer into io::sink at INFO (the
/// eventlib.handler spans are enabled, the DEBUG event at log! is not).
fn install_subscriber() {
    use tracing_subscriber::layer::SubscriberExt as _;
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::filter::LevelFilter::INFO)
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::sink));
    tracing::subscriber::set_global_default(subscriber).expect("one subscriber");
    assert!(tracing::enabled!(target: "eventlib", tracing::Level::INFO));
    assert!(!tracing::enabled!(target: "eventlib", tracing::Level::DEBUG));
}

/// A Prometheus recorder without an HTTP listener.
fn install_recorder() -> metrics_exporter_prometheus::PrometheusHandle {
    metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .expect("one recorder")
}
"#,
        );
    }
    s
}

fn manifest(name: &str, build: Build) -> String {
    let mut s = format!(
        "[package]\nname = \"{name}\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
         [dependencies]\nserde.workspace = true\nlibc.workspace = true\n"
    );
    s.push_str(match build {
        Build::Observed => {
            "eventlib = { workspace = true, features = [\"tracing\", \"metrics\"] }\n"
        }
        Build::Plain | Build::Hand => "eventlib.workspace = true\n",
    });
    if build.installs() {
        s.push_str(
            "tracing.workspace = true\ntracing-subscriber.workspace = true\n\
             metrics-exporter-prometheus.workspace = true\n",
        );
    }
    if build == Build::Hand {
        s.push_str("metrics.workspace = true\n");
    }
    s
}

/// Writes the workspace (with the repository's lock file, so that the
/// dependencies are the ones already fetched) and returns its root.
fn write_workspace() -> PathBuf {
    let repo = eventlib_repo();
    let root = workspace_dir("eventlib-features-cost", &repo);
    let workspace = format!(
        "[workspace]\nresolver = \"2\"\nmembers = [\"plain\", \"observed\", \"hand\"]\n\n\
         [workspace.dependencies]\neventlib = {{ path = {:?} }}\n\
         serde = {{ version = \"1\", features = [\"derive\"] }}\n\
         libc = \"0.2\"\n\
         tracing = {{ version = \"0.1\", default-features = false, features = [\"std\"] }}\n\
         tracing-subscriber = {{ version = \"0.3\", default-features = false, features = [\"registry\", \"fmt\", \"std\"] }}\n\
         metrics-exporter-prometheus = {{ version = \"0.18\", default-features = false }}\n\
         metrics = {{ version = \"0.24\", default-features = false }}\n",
        repo.join("eventlib").display().to_string()
    );
    write_if_changed(&root.join("Cargo.toml"), &workspace);
    if let Ok(lock) = std::fs::read_to_string(repo.join("Cargo.lock")) {
        if !root.join("Cargo.lock").exists() {
            write_if_changed(&root.join("Cargo.lock"), &lock);
        }
    }
    for (dir, build) in [
        ("plain", Build::Plain),
        ("observed", Build::Observed),
        ("hand", Build::Hand),
    ] {
        write_if_changed(
            &root.join(dir).join("Cargo.toml"),
            &manifest(&format!("fc-{dir}"), build),
        );
        write_if_changed(&root.join(dir).join("src/main.rs"), &program(build));
    }
    root
}

/// `cargo build --release -p <package>`, one package at a time so that
/// the plain build's eventlib does not get the other's features.
fn build(root: &Path, package: &str) -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .current_dir(root)
        .env("CARGO_TARGET_DIR", root.join("target"))
        .args(["build", "--release", "--quiet", "-p", package])
        .output()
        .expect("cannot run cargo");
    assert!(
        output.status.success(),
        "cargo build --release -p {package} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    root.join("target/release").join(package)
}

/// One run of a generated binary: its medians of wall ns per call,
/// caller CPU ns per call and process CPU ns per event.
fn run_once(binary: &Path, args: &[&str]) -> [f64; 3] {
    let output = Command::new(binary)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", binary.display()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{} {args:?} failed ({}):\n{stdout}{}",
        binary.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let figures: Vec<f64> = stdout
        .lines()
        .find_map(|l| l.strip_prefix("NS "))
        .map(|l| {
            l.split_whitespace()
                .filter_map(|n| n.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    figures.try_into().unwrap_or_else(|_| {
        panic!(
            "no NS line of three figures from {}: {stdout}",
            binary.display()
        )
    })
}

/// The rows `off` (features on, nothing installed, against no features)
/// and `on` (subscriber and recorder installed, against no features, and
/// against the build without the features that makes the same spans and
/// metrics by hand), each
/// as the caller's CPU time per `log!` (the cost of the call itself), its
/// wall time (what the pool's threads, sharing the cores, add to it), and
/// the process's CPU time per event (the handler runs' spans and metrics
/// included): medians of `rounds` runs of each binary, taking turns at
/// going first.
pub(crate) fn run(rounds: usize, report: &mut Report) {
    let root = write_workspace();
    let plain = build(&root, "fc-plain");
    let observed = build(&root, "fc-observed");
    let hand = build(&root, "fc-hand");
    let inner = INNER_ROUNDS.to_string();
    let sides: [(&Path, Vec<&str>); 6] = [
        (&plain, vec![&inner]),
        (&observed, vec![&inner]),
        (&observed, vec![&inner, "--installed"]),
        (&observed, vec![&inner, "--subscriber"]),
        (&observed, vec![&inner, "--recorder"]),
        (&hand, vec![&inner, "--installed"]),
    ];
    // One untimed run each: page cache, CPU frequency.
    for (binary, args) in &sides {
        run_once(binary, args);
    }
    let mut runs: [Vec<[f64; 3]>; 6] = Default::default();
    for round in 0..rounds {
        for k in 0..sides.len() {
            let side = (round + k) % sides.len();
            let (binary, args) = &sides[side];
            runs[side].push(run_once(binary, args));
        }
    }
    let [plain, off, on, traced, metered, by_hand] =
        runs.map(|runs| [0, 1, 2].map(|k| median(runs.iter().map(|r| r[k]).collect())));
    report.row("off", off[1], plain[1]);
    report.row("off-wall", off[0], plain[0]);
    report.row("off-cpu", off[2], plain[2]);
    report.row("on", on[1], plain[1]);
    report.row("on-wall", on[0], plain[0]);
    report.row("on-cpu", on[2], plain[2]);
    report.row("subscriber-cpu", traced[2], plain[2]);
    report.row("recorder-cpu", metered[2], plain[2]);
    report.row("hand-cpu", by_hand[2], plain[2]);
    report.row("on-cpu-hand", on[2], by_hand[2]);
    report.row("on-hand", on[1], by_hand[1]);
    report.note(format!(
        "one release binary per build, 1 producer, {BURSTS} bursts of {BURST} calls per round, \
         queue drained between bursts; caller = the calling thread's CPU time in the bursts \
         (CLOCK_THREAD_CPUTIME_ID), wall = the bursts' wall time, process = the whole \
         process's CPU time per event over the round, the pool's handler runs included; \
         each run prints its medians of {INNER_ROUNDS} rounds, the rows are medians of {rounds} \
         runs of each, in turn; subscriber = registry + fmt layer into io::sink at INFO, \
         recorder = Prometheus, no listener; by hand = the build without the features, its \
         handlers and caller making the same spans and metrics; workspace in {}",
        root.display()
    ));
}
