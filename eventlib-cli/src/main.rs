//! `eventlib`: the operator's command for eventlib's Redis streams. It
//! works from the wire format alone: no access to the service's code.

use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use clap::{Args, Parser, Subcommand};
use eventlib::redis::{
    dead_letters, destroy_group, emit, last_entry_id, read_after, stream_status, DeadLetter,
    DeadLetters, StreamStatus, DEFAULT_STREAM,
};
use serde_json::{json, Value};

/// Exit codes: 0 done; 1 the command could not be carried out (Redis
/// unreachable or refusing, an unknown id); 2 bad usage.
#[derive(Parser)]
#[command(
    name = "eventlib",
    version,
    about = "Streams, consumer groups and dead letters of eventlib's Redis transport",
    after_help = "Examples:\n  eventlib status\n  eventlib --url redis://:secret@10.0.0.5:6379 status --json\n  eventlib dead list --handler save_to_db --since 2h\n  eventlib dead show 1700000000000-0\n\nExit codes: 0 done, 1 the command failed (Redis unreachable or refusing, an unknown id), 2 bad usage."
)]
struct Cli {
    /// The Redis server.
    #[arg(
        long,
        env = "REDIS_URL",
        default_value = "redis://127.0.0.1:6379",
        global = true
    )]
    url: String,
    /// The event stream.
    #[arg(long, default_value = DEFAULT_STREAM, global = true)]
    stream: String,
    /// Print JSON instead of a table (for scripts).
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The stream: length, oldest entry, dead letters; each group: consumers
    /// (and their idle time), pending, lag, oldest pending entry.
    #[command(after_help = "Example:\n  eventlib status --json | jq '.groups[] | {name, lag}'")]
    Status {
        /// Warn about a group none of whose consumers was seen for this
        /// long (`90s`, `5m`, `1h`).
        #[arg(long, value_parser = parse_duration, default_value = "5m")]
        idle_limit: Duration,
    },
    /// The consumer groups of the stream and their consumers; `groups
    /// destroy NAME` removes one.
    #[command(
        after_help = "Examples:\n  eventlib groups\n  eventlib groups --json\n  eventlib groups destroy old-analytics --yes"
    )]
    Groups {
        #[command(subcommand)]
        action: Option<GroupAction>,
    },
    /// Prints entries as they arrive (from now on), until Ctrl-C or
    /// `--count` entries.
    #[command(
        after_help = "Examples:\n  eventlib tail\n  eventlib tail --name shoestore.ProductViewed --count 10"
    )]
    Tail {
        /// Only entries of this event.
        #[arg(long)]
        name: Option<String>,
        /// Stop after this many entries.
        #[arg(long)]
        count: Option<usize>,
    },
    /// Writes a version-1 envelope of event NAME with data JSON to the
    /// stream, as a producer in another language does (to test a worker).
    /// The name is checked against the grammar only: this command has no
    /// registry, so a name no worker links is dead-lettered by the worker.
    #[command(
        after_help = "Example:\n  eventlib emit shoestore.ProductViewed '{\"user_id\":7,\"product_id\":42,\"source\":\"web\"}'"
    )]
    Emit {
        /// The event's registered name.
        name: String,
        /// Its data, as JSON.
        data: String,
    },
    /// The dead letters: list them, show one.
    #[command(subcommand)]
    Dead(Dead),
}

#[derive(Subcommand)]
enum GroupAction {
    /// Destroys a consumer group: its pending entries are released, and it
    /// no longer holds trimming back. Asks first unless --yes.
    #[command(after_help = "Example:\n  eventlib groups destroy old-analytics")]
    Destroy {
        /// The group.
        name: String,
        /// Do not ask.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Subcommand)]
enum Dead {
    /// The dead letters that match the filters, oldest first, a page at a
    /// time (`--after` the last id of the previous page).
    #[command(
        after_help = "Examples:\n  eventlib dead list --event shoestore.ProductViewed --limit 20\n  eventlib dead list --reason timeout --since 30m --json\n  eventlib dead list --after 1700000000000-5"
    )]
    List(Filter),
    /// One dead letter, with its envelope.
    #[command(after_help = "Example:\n  eventlib dead show 1700000000000-0")]
    Show {
        /// The dead letter's id (as `dead list` prints it).
        id: String,
    },
    /// Puts dead letters back in the stream, each for its group and (for a
    /// handler's failure) that handler alone, and removes them: the ids
    /// given, or every letter the filters match (`--all` for every letter).
    #[command(
        after_help = "Examples:\n  eventlib dead replay 1700000000000-0 1700000000000-1\n  eventlib dead replay --handler save_to_db --since 2h --rate 100 --dry-run\n  eventlib dead replay --all --rate 500"
    )]
    Replay(Selection),
    /// Removes dead letters for good: the ids given, or what the filters
    /// match. Asks first unless --yes.
    #[command(after_help = "Example:\n  eventlib dead purge --reason 'unknown event' --yes")]
    Purge(Selection),
}

#[derive(Args)]
struct Selection {
    /// Dead letter ids; without them, the filters select.
    ids: Vec<String>,
    #[command(flatten)]
    filter: Filter,
    /// Every dead letter (when no filter and no id is given).
    #[arg(long)]
    all: bool,
    /// At most this many letters a second.
    #[arg(long)]
    rate: Option<u32>,
    /// Say what would be done, do nothing.
    #[arg(long)]
    dry_run: bool,
    /// Do not ask (purge).
    #[arg(long)]
    yes: bool,
}

#[derive(Args, Default)]
struct Filter {
    /// Only letters of this event (its name).
    #[arg(long)]
    event: Option<String>,
    /// Only letters of this handler (its path, or the path's last segment).
    #[arg(long)]
    handler: Option<String>,
    /// Only letters of this group.
    #[arg(long)]
    group: Option<String>,
    /// Only letters whose reason contains this.
    #[arg(long)]
    reason: Option<String>,
    /// Only letters from the last DURATION (`90s`, `30m`, `2h`, `1d`).
    #[arg(long, value_parser = parse_duration)]
    since: Option<Duration>,
    /// The most letters to print (or to act on).
    #[arg(long, default_value_t = 50)]
    limit: usize,
    /// Start after this dead letter id (the last of the previous page).
    #[arg(long)]
    after: Option<String>,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{text}`: a number then s, m, h or d, such as 30m"))?;
    let seconds = match unit {
        "s" | "" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("`{text}`: the unit is s, m, h or d")),
    };
    Ok(Duration::from_secs(n * seconds))
}

impl Filter {
    fn is_empty(&self) -> bool {
        self.event.is_none()
            && self.handler.is_none()
            && self.group.is_none()
            && self.reason.is_none()
            && self.since.is_none()
            && self.after.is_none()
    }

    fn matches(&self, letter: &DeadLetter, now: SystemTime) -> bool {
        let handler_ok = self.handler.as_deref().is_none_or(|wanted| {
            letter
                .handler
                .as_deref()
                .is_some_and(|h| h == wanted || h.ends_with(&format!("::{wanted}")))
        });
        self.event
            .as_deref()
            .is_none_or(|e| letter.name.as_deref() == Some(e))
            && handler_ok
            && self.group.as_deref().is_none_or(|g| letter.group == g)
            && self
                .reason
                .as_deref()
                .is_none_or(|r| letter.reason.contains(r))
            && self.since.is_none_or(|since| {
                now.duration_since(letter.failed_at)
                    .is_ok_and(|age| age <= since)
            })
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("eventlib: {message}");
            ExitCode::from(1)
        }
    }
}

fn run(cli: &Cli) -> Result<(), String> {
    match &cli.command {
        Command::Status { idle_limit } => {
            let status = stream_status(&cli.url, &cli.stream).map_err(|e| e.to_string())?;
            if cli.json {
                println!("{}", status_json(&status, *idle_limit));
            } else {
                print_status(&status, *idle_limit);
            }
        }
        Command::Groups {
            action: Some(GroupAction::Destroy { name, yes }),
        } => {
            let status = stream_status(&cli.url, &cli.stream).map_err(|e| e.to_string())?;
            let group = status
                .groups
                .iter()
                .find(|g| &g.name == name)
                .ok_or_else(|| format!("no group `{name}` on `{}`", cli.stream))?;
            println!(
                "group `{name}`: {} pending entr(y/ies) will be released, {} consumer(s) forgotten",
                group.pending,
                group.consumers.len()
            );
            if !*yes && !confirm(&format!("destroy group `{name}`?"))? {
                return Err("not confirmed: nothing done (pass --yes in scripts)".into());
            }
            destroy_group(&cli.url, &cli.stream, name).map_err(|e| e.to_string())?;
            println!("group `{name}` destroyed");
        }
        Command::Tail { name, count } => tail(cli, name.as_deref(), *count)?,
        Command::Emit { name, data } => {
            let data: Value =
                serde_json::from_str(data).map_err(|err| format!("the data is not JSON: {err}"))?;
            let id = emit(&cli.url, &cli.stream, name, &data).map_err(|e| e.to_string())?;
            if cli.json {
                println!("{}", json!({ "id": id }));
            } else {
                println!("{id}");
            }
        }
        Command::Groups { action: None } => {
            let status = stream_status(&cli.url, &cli.stream).map_err(|e| e.to_string())?;
            if cli.json {
                println!(
                    "{}",
                    status_json(&status, Duration::from_secs(300))["groups"]
                );
            } else {
                for group in &status.groups {
                    println!("{} ({} consumer(s))", group.name, group.consumers.len());
                    for c in &group.consumers {
                        println!(
                            "  {}  pending {}  idle {}",
                            c.name,
                            c.pending,
                            human(c.idle)
                        );
                    }
                }
            }
        }
        Command::Dead(Dead::List(filter)) => list(cli, filter)?,
        Command::Dead(Dead::Replay(selection)) => act(cli, selection, Act::Replay)?,
        Command::Dead(Dead::Purge(selection)) => act(cli, selection, Act::Purge)?,
        Command::Dead(Dead::Show { id }) => {
            let mut dead = dead_letters(&cli.url)
                .map_err(|e| e.to_string())?
                .stream(&cli.stream);
            let letter = dead
                .get(id)
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no dead letter `{id}` in `{}:dead`", cli.stream))?;
            let value = letter_json(&letter);
            if cli.json {
                println!("{value}");
            } else {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&value).unwrap_or_default()
                );
            }
        }
    }
    Ok(())
}

fn open(cli: &Cli) -> Result<DeadLetters, String> {
    Ok(dead_letters(&cli.url)
        .map_err(|e| e.to_string())?
        .stream(&cli.stream))
}

/// Pages through the dead letters (never the whole stream at once) until
/// `limit` letters matched or the stream ends.
fn matching(
    dead: &mut DeadLetters,
    filter: &Filter,
    limit: usize,
) -> Result<Vec<DeadLetter>, String> {
    const PAGE: usize = 500;
    let now = SystemTime::now();
    let mut after = filter.after.clone();
    let mut found = Vec::new();
    'pages: loop {
        let page = dead
            .page(after.as_deref(), PAGE)
            .map_err(|e| e.to_string())?;
        let last = page.last().map(|l| l.id.clone());
        for letter in page {
            if filter.matches(&letter, now) {
                found.push(letter);
                if found.len() == limit {
                    break 'pages;
                }
            }
        }
        match last {
            Some(id) => after = Some(id),
            None => break,
        }
    }
    Ok(found)
}

fn list(cli: &Cli, filter: &Filter) -> Result<(), String> {
    let mut dead = open(cli)?;
    let now = SystemTime::now();
    let found = matching(&mut dead, filter, filter.limit)?;
    if cli.json {
        let letters: Vec<Value> = found.iter().map(letter_json).collect();
        println!("{}", Value::Array(letters));
        return Ok(());
    }
    if found.is_empty() {
        println!("no dead letter matches");
        return Ok(());
    }
    println!(
        "{:<20} {:<28} {:<40} {:>8} {:>9}  reason",
        "id", "event", "handler", "attempts", "age"
    );
    for letter in &found {
        let age = now.duration_since(letter.failed_at).unwrap_or_default();
        println!(
            "{:<20} {:<28} {:<40} {:>8} {:>9}  {}",
            letter.id,
            letter.name.as_deref().unwrap_or("-"),
            letter.handler.as_deref().unwrap_or("(poison)"),
            letter.attempts,
            human(age),
            letter.reason.lines().next().unwrap_or("")
        );
    }
    if found.len() == filter.limit {
        if let Some(last) = found.last() {
            println!("more may match: --after {}", last.id);
        }
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq)]
enum Act {
    Replay,
    Purge,
}

/// Replays or purges the selected letters, at most `--rate` a second,
/// with a progress line on long runs and a summary; exit 1 when any
/// could not be acted on.
fn act(cli: &Cli, selection: &Selection, what: Act) -> Result<(), String> {
    let mut dead = open(cli)?;
    let letters = if !selection.ids.is_empty() {
        let mut letters = Vec::new();
        for id in &selection.ids {
            match dead.get(id).map_err(|e| e.to_string())? {
                Some(letter) => letters.push(letter),
                None => return Err(format!("no dead letter `{id}` in `{}:dead`", cli.stream)),
            }
        }
        letters
    } else if selection.filter.is_empty() && !selection.all {
        return Err(
            "name the letters: ids, filters (--event, --handler, --group, --reason, --since), or --all"
                .into(),
        );
    } else {
        // --limit bounds a listing, not an action: act on every match.
        matching(&mut dead, &selection.filter, usize::MAX)?
    };
    let verb = if what == Act::Replay {
        "replay"
    } else {
        "purge"
    };
    if selection.dry_run {
        for letter in &letters {
            println!(
                "would {verb} {} ({}, {})",
                letter.id,
                letter.name.as_deref().unwrap_or("-"),
                letter.handler.as_deref().unwrap_or("poison")
            );
        }
        println!("dry run: {} letter(s) would be {verb}ed", letters.len());
        return Ok(());
    }
    if what == Act::Purge
        && !selection.yes
        && !confirm(&format!("purge {} dead letter(s) for good?", letters.len()))?
    {
        return Err("not confirmed: nothing done (pass --yes in scripts)".into());
    }
    let pause = selection
        .rate
        .filter(|&r| r > 0)
        .map(|r| Duration::from_secs(1) / r);
    let started = std::time::Instant::now();
    let (mut done, mut failed) = (0u64, Vec::new());
    // Drawn on a terminal only (hidden when standard error is not one), and
    // only for runs long enough to want it.
    let progress = if letters.len() >= 100 {
        indicatif::ProgressBar::new(letters.len() as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    progress.set_message(verb);
    for letter in &letters {
        let result = match what {
            Act::Replay => dead.replay(letter).map(drop),
            Act::Purge => dead.remove(letter),
        };
        match result {
            Ok(()) => done += 1,
            Err(err) => failed.push(format!("{}: {err}", letter.id)),
        }
        progress.inc(1);
        if let Some(pause) = pause {
            std::thread::sleep(pause);
        }
    }
    progress.finish_and_clear();
    let summary =
        json!({ "done": done, "failed": failed, "seconds": started.elapsed().as_secs_f64() });
    if cli.json {
        println!("{summary}");
    } else {
        println!(
            "{verb}ed {done} of {} letter(s) in {:.1} s",
            letters.len(),
            started.elapsed().as_secs_f64()
        );
        for failure in &failed {
            println!("  not {verb}ed: {failure}");
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("{} letter(s) could not be {verb}ed", failed.len()))
    }
}

/// Asks on the terminal; refuses (false) when standard input is not one.
fn confirm(question: &str) -> Result<bool, String> {
    use std::io::{BufRead as _, IsTerminal as _, Write as _};
    if !std::io::stdin().is_terminal() {
        return Ok(false);
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| e.to_string())?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

/// Prints entries as they arrive, from now on.
fn tail(cli: &Cli, name: Option<&str>, count: Option<usize>) -> Result<(), String> {
    // From the newest entry now, so that nothing that arrives between two
    // reads is missed.
    let mut after = last_entry_id(&cli.url, &cli.stream).map_err(|e| e.to_string())?;
    let mut printed = 0;
    loop {
        let entries = read_after(&cli.url, &cli.stream, &after, Duration::from_secs(5), 100)
            .map_err(|e| e.to_string())?;
        for entry in entries {
            after = entry.id.clone();
            if name.is_some_and(|n| entry.name.as_deref() != Some(n)) {
                continue;
            }
            if cli.json {
                let envelope = entry
                    .envelope
                    .as_deref()
                    .and_then(|e| serde_json::from_str::<Value>(e).ok());
                println!(
                    "{}",
                    json!({ "id": entry.id, "name": entry.name, "envelope": envelope })
                );
            } else {
                println!(
                    "{}  {}  {}",
                    entry.id,
                    entry.name.as_deref().unwrap_or("(no name)"),
                    entry.envelope.as_deref().unwrap_or("(no envelope)")
                );
            }
            printed += 1;
            if count.is_some_and(|c| printed >= c) {
                return Ok(());
            }
        }
    }
}

fn letter_json(letter: &DeadLetter) -> Value {
    let millis = |t: SystemTime| {
        t.duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    };
    let envelope = letter
        .envelope
        .as_deref()
        .map(|e| serde_json::from_str::<Value>(e).unwrap_or_else(|_| Value::String(e.to_owned())));
    json!({
        "id": letter.id,
        "source_id": letter.source_id,
        "event": letter.name,
        "event_id": letter.event_id,
        "group": letter.group,
        "handler": letter.handler,
        "reason": letter.reason,
        "attempts": letter.attempts,
        "failed_at_ms": millis(letter.failed_at),
        "worker": letter.worker,
        "envelope": envelope,
        "fields": letter.fields,
    })
}

fn status_json(status: &StreamStatus, idle_limit: Duration) -> Value {
    let ms = |d: Option<Duration>| d.map(|d| d.as_millis() as u64);
    json!({
        "stream": status.stream,
        "exists": status.exists,
        "length": status.length,
        "oldest_entry_age_ms": ms(status.oldest_entry_age),
        "dead_letters": status.dead_letters,
        "groups": status.groups.iter().map(|g| json!({
            "name": g.name,
            "pending": g.pending,
            "lag": g.lag,
            "oldest_pending_age_ms": ms(g.oldest_pending_age),
            "waiting_retries": g.waiting_retries,
            "no_live_consumer": g.has_no_live_consumer(idle_limit),
            "consumers": g.consumers.iter().map(|c| json!({
                "name": c.name,
                "pending": c.pending,
                "idle_ms": c.idle.as_millis() as u64,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

fn print_status(status: &StreamStatus, idle_limit: Duration) {
    if !status.exists {
        println!(
            "stream `{}`: does not exist (nothing was written to it yet?); {} dead letter(s)",
            status.stream, status.dead_letters
        );
        return;
    }
    println!(
        "stream `{}`: {} entries, oldest {}, {} dead letter(s)",
        status.stream,
        status.length,
        status.oldest_entry_age.map_or("-".into(), human),
        status.dead_letters
    );
    for g in &status.groups {
        println!(
            "  group `{}`: pending {} ({} waiting for a retry), lag {}, oldest pending {}, {} consumer(s)",
            g.name,
            g.pending,
            g.waiting_retries,
            g.lag.map_or("unknown".into(), |l| l.to_string()),
            g.oldest_pending_age.map_or("-".into(), human),
            g.consumers.len()
        );
        for c in &g.consumers {
            println!(
                "    {}: pending {}, idle {}",
                c.name,
                c.pending,
                human(c.idle)
            );
        }
        if g.has_no_live_consumer(idle_limit) {
            println!(
                "    warning: no consumer of `{}` was seen in the last {}: it handles nothing \
                 and holds the stream back (trimming keeps what it has not acknowledged)",
                g.name,
                human(idle_limit)
            );
        }
    }
}

fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0 => format!("{} ms", d.as_millis()),
        1..=119 => format!("{s} s"),
        120..=7199 => format!("{} min", s / 60),
        7200..=172_799 => format!("{} h", s / 3600),
        _ => format!("{} d", s / 86_400),
    }
}
