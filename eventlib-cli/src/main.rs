//! `eventlib`: the operator's command for eventlib's Redis streams. It
//! works from the wire format alone: no access to the service's code.

use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use clap::{Args, Parser, Subcommand};
use eventlib::redis::{dead_letters, stream_status, DeadLetter, StreamStatus, DEFAULT_STREAM};
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
    Status,
    /// The consumer groups of the stream and their consumers.
    Groups,
    /// The dead letters: list them, show one.
    #[command(subcommand)]
    Dead(Dead),
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
    /// The most letters to print.
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
        Command::Status => {
            let status = stream_status(&cli.url, &cli.stream).map_err(|e| e.to_string())?;
            if cli.json {
                println!("{}", status_json(&status));
            } else {
                print_status(&status);
            }
        }
        Command::Groups => {
            let status = stream_status(&cli.url, &cli.stream).map_err(|e| e.to_string())?;
            if cli.json {
                println!("{}", status_json(&status)["groups"]);
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

/// Pages through the dead letters (never the whole stream at once) until
/// `limit` letters matched or the stream ends.
fn list(cli: &Cli, filter: &Filter) -> Result<(), String> {
    const PAGE: usize = 500;
    let mut dead = dead_letters(&cli.url)
        .map_err(|e| e.to_string())?
        .stream(&cli.stream);
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
                if found.len() == filter.limit {
                    break 'pages;
                }
            }
        }
        match last {
            Some(id) => after = Some(id),
            None => break,
        }
    }
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

fn status_json(status: &StreamStatus) -> Value {
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
            "consumers": g.consumers.iter().map(|c| json!({
                "name": c.name,
                "pending": c.pending,
                "idle_ms": c.idle.as_millis() as u64,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

/// A group whose consumers were all idle this long holds the stream back.
const DEAD_CONSUMER: Duration = Duration::from_secs(300);

fn print_status(status: &StreamStatus) {
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
            "  group `{}`: pending {}, lag {}, oldest pending {}, {} consumer(s)",
            g.name,
            g.pending,
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
        if g.has_no_live_consumer(DEAD_CONSUMER) {
            println!(
                "    warning: no consumer of `{}` was seen in the last {}: it handles nothing \
                 and holds the stream back (trimming keeps what it has not acknowledged)",
                g.name,
                human(DEAD_CONSUMER)
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
