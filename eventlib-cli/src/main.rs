//! `eventlib`: the operator's command for eventlib's Redis streams. It
//! works from the wire format alone: no access to the service's code.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use clap::{Args, Parser, Subcommand};
use eventlib::redis::{
    create_group, Bucket, Count, DeadLetter, DeadLetterFilter, DeadLetters, GroupStart, Operator,
    Pause, Process, Server, Span, StreamStatus, Tls, DEFAULT_STREAM,
};
use serde_json::{json, Value};

mod top;

/// Exit codes: 0 done; 1 the command could not be carried out (Redis
/// unreachable or refusing, an unknown id); 2 bad usage.
#[derive(Parser)]
#[command(
    name = "eventlib",
    version,
    about = "Streams, consumer groups and dead letters of eventlib's Redis transport",
    after_help = "Examples:\n  eventlib status\n  eventlib --url redis://:secret@10.0.0.5:6379 status --json\n  eventlib --url rediss://redis.internal:6380 --tls-ca ca.pem --tls-cert client.pem --tls-key client.key status\n  eventlib dead list --handler save_to_db --since 2h\n  eventlib dead show 1700000000000-0\n\nExit codes: 0 done, 1 the command failed (Redis unreachable or refusing, an unknown id), 2 bad usage."
)]
struct Cli {
    /// The Redis server (`rediss://` for TLS).
    #[arg(
        long,
        env = "REDIS_URL",
        default_value = "redis://127.0.0.1:6379",
        global = true,
        value_parser = |url: &str| Ok::<_, String>(Server::new(url))
    )]
    url: Server,
    /// TLS: the PEM file of the CA that signed the server's certificate
    /// (instead of the system's trust store).
    #[arg(long, env = "REDIS_TLS_CA", global = true, value_name = "PEM")]
    tls_ca: Option<PathBuf>,
    /// TLS: this client's certificate (PEM), for a server that asks for one.
    #[arg(
        long,
        env = "REDIS_TLS_CERT",
        global = true,
        value_name = "PEM",
        requires = "tls_key"
    )]
    tls_cert: Option<PathBuf>,
    /// TLS: the PKCS#8 key (PEM) of `--tls-cert`.
    #[arg(
        long,
        env = "REDIS_TLS_KEY",
        global = true,
        value_name = "PEM",
        requires = "tls_cert"
    )]
    tls_key: Option<PathBuf>,
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
    /// create NAME` adds one, `groups destroy NAME` removes one.
    #[command(
        after_help = "Examples:\n  eventlib groups\n  eventlib groups --json\n  eventlib groups create analytics --from oldest\n  eventlib groups destroy old-analytics --yes"
    )]
    Groups {
        #[command(subcommand)]
        action: Option<GroupAction>,
    },
    /// Prints entries as they arrive (from now on), until Ctrl-C or
    /// `--count` entries, on one connection; a lost connection is said once
    /// on standard error and tried again every second.
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
    /// Pauses a handler (--handler) or a whole group during an incident:
    /// its workers stop running it within about a second, its entries wait
    /// (nothing is dead-lettered), and `resume` lets it go on where it
    /// stopped.
    #[command(
        after_help = "Examples:\n  eventlib pause default --handler shop::send_mail --by 'on call: provider down'\n  eventlib pause audit\n  eventlib resume default --handler shop::send_mail"
    )]
    Pause {
        /// The group.
        group: String,
        /// Only this handler (its path), not the whole group.
        #[arg(long)]
        handler: Option<String>,
        /// Who pauses it and why (shown by `status`, `top` and the dashboard).
        #[arg(long, default_value = "")]
        by: String,
    },
    /// Resumes what `pause` paused.
    Resume {
        /// The group.
        group: String,
        /// Only this handler (its path).
        #[arg(long)]
        handler: Option<String>,
    },
    /// A live view, redrawn in place: processes alive, pauses, each group's
    /// lag and pending entries, each handler's runs, failures, dead letters
    /// and run times over the last minute (from the figures the workers
    /// publish every 5 s). Ctrl-C ends it.
    #[command(
        after_help = "Examples:\n  eventlib top\n  eventlib top --every 5s\n  eventlib top --count 1   # one frame, for a script or a log"
    )]
    Top {
        /// How often to redraw.
        #[arg(long, value_parser = parse_duration, default_value = "2s")]
        every: Duration,
        /// Stop after this many frames.
        #[arg(long)]
        count: Option<u64>,
    },
}

#[derive(Subcommand)]
enum GroupAction {
    /// Creates a consumer group before any of its workers runs, so that it
    /// holds trimming back from now on. --from says where it starts: the
    /// stream's oldest entry (default: it handles every entry the stream
    /// holds), now (only entries written from now on), or after an entry
    /// id. An existing group is left as it is.
    #[command(
        after_help = "Examples:\n  eventlib groups create analytics\n  eventlib groups create audit --from now\n  eventlib groups create replay --from 1700000000000-0"
    )]
    Create {
        /// The group (the handler group its workers run).
        name: String,
        /// oldest, now, or a stream entry id.
        #[arg(long, default_value = "oldest", value_parser = parse_start)]
        from: GroupStart,
    },
    /// Destroys a consumer group: its pending entries are released, and it
    /// no longer holds trimming back. Asks first unless --yes. Refuses while
    /// a worker of the group is alive (a running worker makes its group
    /// again and handles every entry still in the stream again) unless
    /// --force.
    #[command(after_help = "Example:\n  eventlib groups destroy old-analytics")]
    Destroy {
        /// The group.
        name: String,
        /// Do not ask.
        #[arg(long)]
        yes: bool,
        /// Destroy it even while workers of the group are alive.
        #[arg(long)]
        force: bool,
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
        /// The dead letter's id, as `dead list` prints it (on a partitioned
        /// stream, `<partition>/<id>`: `2-of-6/1700000000000-0`).
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
    /// Dead letter ids, as `dead list` prints them; without them, the
    /// filters select (ids and filters together are refused).
    ids: Vec<String>,
    #[command(flatten)]
    filter: Filter,
    /// Every dead letter (alone: not with ids or filters).
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
    /// The most letters to print (default 50) or to act on (default: every
    /// letter that matches).
    #[arg(long)]
    limit: Option<usize>,
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
        self.selection().is_empty() && self.after.is_none()
    }

    /// The letters these options select, as the library filters them.
    fn selection(&self) -> DeadLetterFilter {
        DeadLetterFilter {
            event: self.event.clone(),
            handler: self.handler.clone(),
            group: self.group.clone(),
            reason: self.reason.clone(),
            since: self.since,
        }
    }
}

fn main() -> ExitCode {
    let mut cli = Cli::parse();
    if let Err(err) = with_certificates(&mut cli) {
        eprintln!("eventlib: {err}");
        return ExitCode::from(2);
    }
    if let Some(message) = misuse(&cli) {
        eprintln!("eventlib: {message}");
        return ExitCode::from(2);
    }
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("eventlib: {message}");
            ExitCode::from(1)
        }
    }
}

/// Gives the server the certificates of `--tls-ca`, `--tls-cert` and
/// `--tls-key`, when any is given.
fn with_certificates(cli: &mut Cli) -> Result<(), eventlib::Error> {
    if cli.tls_ca.is_none() && cli.tls_cert.is_none() {
        return Ok(());
    }
    let mut tls = Tls::new();
    if let Some(ca) = &cli.tls_ca {
        tls = tls.ca_file(ca)?;
    }
    if let (Some(cert), Some(key)) = (&cli.tls_cert, &cli.tls_key) {
        tls = tls.client_files(cert, key)?;
    }
    cli.url = cli.url.clone().tls(tls);
    Ok(())
}

/// What clap cannot tell is bad usage: an action with nothing selected,
/// or with letters selected two ways at once.
fn misuse(cli: &Cli) -> Option<String> {
    match &cli.command {
        Command::Dead(Dead::Replay(selection) | Dead::Purge(selection)) => {
            selection.misuse().map(str::to_owned)
        }
        _ => None,
    }
}

impl Selection {
    /// Why these letters are not selected one way: none at all, or two
    /// ways at once (a filter beside ids or `--all` would be ignored by
    /// one or narrow the other).
    fn misuse(&self) -> Option<&'static str> {
        let (ids, filters) = (!self.ids.is_empty(), !self.filter.is_empty());
        if !ids && !filters && !self.all {
            Some(
                "name the letters: ids, filters (--event, --handler, --group, --reason, --since), \
                 or --all",
            )
        } else if ids && self.filter.limit.is_some() {
            Some("--limit selects among filtered letters: give ids or a limit, not both")
        } else if ids && filters {
            Some(
                "ids name the letters themselves: give ids or filters (--event, --handler, \
                 --group, --reason, --since, --after), not both",
            )
        } else if self.all && (ids || filters) {
            Some("--all is every letter: give it alone, not with ids or filters")
        } else {
            None
        }
    }
}

fn parse_start(text: &str) -> Result<GroupStart, String> {
    GroupStart::parse(text).map_err(|err| err.to_string())
}

/// Carries out the command on one [`Operator`]: one connection for the
/// whole run.
fn run(cli: &Cli) -> Result<(), String> {
    let mut op = Operator::new(&cli.url)
        .map_err(|e| e.to_string())?
        .stream(&cli.stream);
    match &cli.command {
        Command::Status { idle_limit } => {
            let status = op.status().map_err(|e| e.to_string())?;
            let live = Live::read(&mut op)?;
            if cli.json {
                let mut value = status_json(&status, *idle_limit);
                live.add_json(&mut value);
                println!("{value}");
            } else {
                print_status(&status, *idle_limit);
                live.print();
            }
        }
        Command::Pause { group, handler, by } => {
            let paused = op
                .pause(group, handler.as_deref(), by)
                .map_err(|e| e.to_string())?;
            let what = what_paused(group, handler.as_deref());
            if cli.json {
                println!(
                    "{}",
                    json!({ "group": group, "handler": handler, "paused": true, "already": !paused })
                );
            } else if paused {
                println!("{what} paused: its workers stop running it within a second; `eventlib resume` lets it go on");
            } else {
                println!("{what} was paused already");
            }
        }
        Command::Resume { group, handler } => {
            let resumed = op
                .resume(group, handler.as_deref())
                .map_err(|e| e.to_string())?;
            let what = what_paused(group, handler.as_deref());
            if cli.json {
                println!(
                    "{}",
                    json!({ "group": group, "handler": handler, "resumed": resumed })
                );
            } else if resumed {
                println!("{what} resumed");
            } else {
                return Err(format!("{what} was not paused"));
            }
        }
        Command::Top { every, count } => top(cli, &mut op, *every, *count)?,
        Command::Groups {
            action: Some(GroupAction::Destroy { name, yes, force }),
        } => {
            let status = op.status().map_err(|e| e.to_string())?;
            let group = status
                .groups
                .iter()
                .find(|g| &g.name == name)
                .ok_or_else(|| format!("no group `{name}` on `{}`", cli.stream))?;
            let (pending, consumers) = (group.pending, group.consumers.len());
            let live: Vec<String> = op
                .live_processes()
                .map_err(|e| e.to_string())?
                .values()
                .filter(|p| p.kind == "worker" && &p.group == name)
                .map(|p| format!("{} (pid {})", p.host, p.pid))
                .collect();
            if !live.is_empty() && !*force {
                return Err(format!(
                    "group `{name}` has {} live worker(s): {}; a running worker makes its group \
                     again at its next read and handles every entry still in the stream again. \
                     Stop them first (or pass --force): nothing done",
                    live.len(),
                    live.join(", ")
                ));
            }
            if !cli.json {
                println!(
                    "group `{name}`: {pending} pending entr(y/ies) will be released, {consumers} consumer(s) forgotten"
                );
            }
            if !*yes && !confirm(&format!("destroy group `{name}`?"))? {
                return Err("not confirmed: nothing done (pass --yes in scripts)".into());
            }
            op.destroy_group(name).map_err(|e| e.to_string())?;
            if cli.json {
                println!(
                    "{}",
                    json!({ "group": name, "destroyed": true, "released": pending, "consumers": consumers })
                );
            } else {
                println!("group `{name}` destroyed");
            }
        }
        Command::Groups {
            action: Some(GroupAction::Create { name, from }),
        } => {
            let created =
                create_group(&cli.url, &cli.stream, name, from).map_err(|e| e.to_string())?;
            if cli.json {
                println!("{}", json!({ "group": name, "created": created }));
            } else if created {
                println!("group `{name}` created on `{}`", cli.stream);
            } else {
                println!("group `{name}` exists already: left as it is");
            }
        }
        Command::Tail { name, count } => tail(cli, &mut op, name.as_deref(), *count)?,
        Command::Emit { name, data } => {
            let data: Value =
                serde_json::from_str(data).map_err(|err| format!("the data is not JSON: {err}"))?;
            let id = op.write_envelope(name, &data).map_err(|e| e.to_string())?;
            if cli.json {
                println!("{}", json!({ "id": id }));
            } else {
                println!("{id}");
            }
        }
        Command::Groups { action: None } => {
            let status = op.status().map_err(|e| e.to_string())?;
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
        Command::Dead(Dead::List(filter)) => list(cli, &mut op.dead_letters(), filter)?,
        Command::Dead(Dead::Replay(selection)) => {
            act(cli, &mut op.dead_letters(), selection, Act::Replay)?
        }
        Command::Dead(Dead::Purge(selection)) => {
            act(cli, &mut op.dead_letters(), selection, Act::Purge)?
        }
        Command::Dead(Dead::Show { id }) => {
            let letter = op
                .dead_letters()
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

/// The dead letters, on the command's [`Operator`].
type Letters<'a> = DeadLetters<&'a mut Operator>;

/// The letters `filter` selects, at most `limit`, oldest first, and
/// whether more may match after the last.
fn matching(
    dead: &mut Letters<'_>,
    filter: &Filter,
    limit: usize,
) -> Result<(Vec<DeadLetter>, bool), String> {
    dead.find(&filter.selection(), filter.after.as_deref(), limit)
        .map_err(|e| e.to_string())
}

/// Letters `dead list` prints without `--limit`.
const LIST_LIMIT: usize = 50;

fn list(cli: &Cli, dead: &mut Letters<'_>, filter: &Filter) -> Result<(), String> {
    let now = SystemTime::now();
    let limit = filter.limit.unwrap_or(LIST_LIMIT);
    let (found, more) = matching(dead, filter, limit)?;
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
            letter.reference(),
            letter.name.as_deref().unwrap_or("-"),
            letter.handler.as_deref().unwrap_or("(poison)"),
            letter.attempts,
            human(age),
            letter.reason.lines().next().unwrap_or("")
        );
    }
    if more {
        if let Some(last) = found.last() {
            println!("more may match: --after {}", last.reference());
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
fn act(cli: &Cli, dead: &mut Letters<'_>, selection: &Selection, what: Act) -> Result<(), String> {
    let letters = if !selection.ids.is_empty() {
        let mut letters = Vec::new();
        for id in &selection.ids {
            match dead.get(id).map_err(|e| e.to_string())? {
                Some(letter) => letters.push(letter),
                None => return Err(format!("no dead letter `{id}` in `{}:dead`", cli.stream)),
            }
        }
        letters
    } else {
        // --limit bounds the action as it bounds a listing.
        matching(
            dead,
            &selection.filter,
            selection.filter.limit.unwrap_or(usize::MAX),
        )?
        .0
    };
    let (verb, done_verb) = match what {
        Act::Replay => ("replay", "replayed"),
        Act::Purge => ("purge", "purged"),
    };
    if selection.dry_run {
        if cli.json {
            let letters: Vec<Value> = letters.iter().map(letter_json).collect();
            println!(
                "{}",
                json!({ "dry_run": true, "action": verb, "count": letters.len(), "letters": letters })
            );
            return Ok(());
        }
        for letter in &letters {
            println!(
                "would {verb} {} ({}, {})",
                letter.reference(),
                letter.name.as_deref().unwrap_or("-"),
                letter.handler.as_deref().unwrap_or("poison")
            );
        }
        println!("dry run: {} letter(s) would be {done_verb}", letters.len());
        return Ok(());
    }
    if !cli.json {
        println!("{} letter(s) selected to {verb}", letters.len());
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
    progress.set_message(done_verb);
    for letter in &letters {
        let result = match what {
            Act::Replay => dead.replay(letter).map(drop),
            Act::Purge => dead.remove(letter),
        };
        match result {
            Ok(()) => done += 1,
            Err(err) => failed.push(format!("{}: {err}", letter.reference())),
        }
        progress.inc(1);
        if let Some(pause) = pause {
            std::thread::sleep(pause);
        }
    }
    progress.finish_and_clear();
    let summary = json!({
        "action": verb,
        "selected": letters.len(),
        "done": done,
        "failed": failed,
        "seconds": started.elapsed().as_secs_f64(),
    });
    if cli.json {
        println!("{summary}");
    } else {
        println!(
            "{done_verb} {done} of {} letter(s) in {:.1} s",
            letters.len(),
            started.elapsed().as_secs_f64()
        );
        for failure in &failed {
            println!("  not {done_verb}: {failure}");
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} letter(s) could not be {done_verb}",
            failed.len()
        ))
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

/// How long `tail` waits before it tries a lost connection again.
const TAIL_RETRY: Duration = Duration::from_secs(1);

/// Prints entries as they arrive, from now on, on one connection. A lost
/// connection is said once on standard error and tried again until the
/// server is back; the tail goes on after the last entry it printed.
fn tail(
    cli: &Cli,
    op: &mut Operator,
    name: Option<&str>,
    count: Option<usize>,
) -> Result<(), String> {
    // From the newest entry now, so that nothing that arrives between two
    // reads is missed.
    let mut at = op.tail_from_now().map_err(|e| e.to_string())?;
    let mut printed = 0;
    let mut lost = false;
    loop {
        let entries = match op.tail(&mut at, Duration::from_secs(5), 100) {
            Ok(entries) => entries,
            Err(err @ eventlib::Error::Connection { .. }) => {
                if !lost {
                    eprintln!("eventlib: {err}: trying again every {TAIL_RETRY:?}");
                    lost = true;
                }
                std::thread::sleep(TAIL_RETRY);
                continue;
            }
            Err(err) => return Err(err.to_string()),
        };
        if lost {
            eprintln!("eventlib: connected again; the tail goes on after the last entry it read");
            lost = false;
        }
        for entry in entries {
            let id = match &entry.partition {
                Some(partition) => format!("{partition}/{}", entry.id),
                None => entry.id.clone(),
            };
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
                    json!({ "id": entry.id, "partition": entry.partition, "name": entry.name, "envelope": envelope })
                );
            } else {
                println!(
                    "{}  {}  {}",
                    id,
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
        "id": letter.reference(),
        "stream": letter.stream,
        "partition": letter.partition,
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
        "partitions": status.partitions.iter().map(|p| status_json(p, idle_limit)).collect::<Vec<_>>(),
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
    if !status.partitions.is_empty() {
        println!(
            "  {} partitions (the figures here are their totals):",
            status.partitions.len()
        );
        for p in &status.partitions {
            let groups: Vec<String> = p
                .groups
                .iter()
                .map(|g| {
                    format!(
                        "`{}` pending {} lag {}",
                        g.name,
                        g.pending,
                        g.lag.map_or("unknown".into(), |l| l.to_string())
                    )
                })
                .collect();
            println!(
                "    `{}`: {} entries, {} dead letter(s); {}",
                p.stream,
                p.length,
                p.dead_letters,
                if groups.is_empty() {
                    "no group".to_owned()
                } else {
                    groups.join(", ")
                }
            );
        }
    }
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

/// What a pause names, as the messages say it.
fn what_paused(group: &str, handler: Option<&str>) -> String {
    match handler {
        Some(handler) => format!("handler `{handler}` of group `{group}`"),
        None => format!("group `{group}`"),
    }
}

/// What the workers and producers published: the processes alive, the
/// pauses and the last two minutes of figures.
struct Live {
    processes: std::collections::BTreeMap<String, Process>,
    pauses: Vec<Pause>,
    minutes: Vec<Bucket>,
    relays: Vec<eventlib::redis::RelayFigures>,
}

impl Live {
    fn read(op: &mut Operator) -> Result<Live, String> {
        Ok(Live {
            processes: op.live_processes().map_err(|e| e.to_string())?,
            pauses: op.pauses().map_err(|e| e.to_string())?,
            minutes: op.timeline(Span::Minutes(2)).map_err(|e| e.to_string())?,
            relays: op.relays().map_err(|e| e.to_string())?,
        })
    }

    /// The last complete minute's figures of `group`.
    fn last_minute(&self, group: &str) -> eventlib::redis::HandlerFigures {
        let n = self.minutes.len();
        self.minutes
            .get(n.saturating_sub(2))
            .filter(|_| n >= 2)
            .map(|m| m.total(Some(group)))
            .unwrap_or_default()
    }

    /// What producers sent and gave up in the last complete minute.
    fn produced_last_minute(&self) -> eventlib::redis::ProducedFigures {
        let n = self.minutes.len();
        self.minutes
            .get(n.saturating_sub(2))
            .filter(|_| n >= 2)
            .map(|m| m.produced(None))
            .unwrap_or_default()
    }

    fn groups(&self) -> std::collections::BTreeSet<String> {
        self.processes
            .values()
            .map(|p| p.group.clone())
            .chain(
                self.minutes
                    .iter()
                    .flat_map(|m| m.handlers.keys().map(|k| k.group.clone())),
            )
            .filter(|g| !g.is_empty())
            .collect()
    }

    fn print(&self) {
        let mut workers: std::collections::BTreeMap<&str, usize> = Default::default();
        for p in self.processes.values().filter(|p| p.kind != "producer") {
            *workers.entry(p.group.as_str()).or_default() += 1;
        }
        let producers = self
            .processes
            .values()
            .filter(|p| p.kind == "producer")
            .count();
        let alive: Vec<String> = workers
            .iter()
            .map(|(g, n)| format!("{n} of group `{g}`"))
            .collect();
        println!(
            "workers publishing: {}",
            if alive.is_empty() {
                "none".to_owned()
            } else {
                alive.join(", ")
            }
        );
        let produced = self.produced_last_minute();
        println!(
            "producers publishing: {producers}; last minute: {} event(s) sent, {} given up",
            produced.sent, produced.dropped
        );
        for pause in &self.pauses {
            println!(
                "  PAUSED: {}{}",
                what_paused(&pause.group, pause.handler.as_deref()),
                if pause.by.is_empty() {
                    String::new()
                } else {
                    format!(" (by {})", pause.by)
                }
            );
        }
        for relay in &self.relays {
            println!(
                "  outbox relay `{}`: backlog {}, moved {}, failed {}, unsendable {}{}{}{}",
                relay.name,
                relay
                    .backlog
                    .map_or("not counted yet".to_owned(), |b| b.to_string()),
                relay.moved,
                relay.failed,
                relay.unsendable,
                if relay.relinked > 0 {
                    format!(", relinked {}", relay.relinked)
                } else {
                    String::new()
                },
                if relay.handled_nowhere > 0 {
                    format!(
                        ", HANDLED NOWHERE {} (no transport installed in the relay's program)",
                        relay.handled_nowhere
                    )
                } else {
                    String::new()
                },
                relay
                    .standing_by_for
                    .as_ref()
                    .map_or(String::new(), |holder| format!(
                        ", standing by for {holder}"
                    ))
            );
        }
        for group in self.groups() {
            let last = self.last_minute(&group);
            println!(
                "  group `{group}`, last minute: {} run(s), {} failed, {} dead-lettered",
                last.runs(),
                last.get(Count::Failed) + last.get(Count::Panicked),
                last.get(Count::DeadLettered)
            );
        }
    }

    fn add_json(&self, value: &mut Value) {
        value["processes"] = json!(self
            .processes
            .iter()
            .map(|(name, p)| (
                name.clone(),
                json!({
                    "kind": p.kind, "group": p.group, "host": p.host, "pid": p.pid,
                    "started_ms": p.started_ms, "seen_ms": p.seen_ms,
                })
            ))
            .collect::<serde_json::Map<String, Value>>());
        value["paused"] = json!(self
            .pauses
            .iter()
            .map(
                |p| json!({ "group": p.group, "handler": p.handler, "at_ms": p.at_ms, "by": p.by })
            )
            .collect::<Vec<_>>());
        value["relays"] = json!(self
            .relays
            .iter()
            .map(|r| (
                r.name.clone(),
                json!({
                    "backlog": r.backlog, "moved": r.moved, "failed": r.failed,
                    "unsendable": r.unsendable, "relinked": r.relinked,
                    "handled_nowhere": r.handled_nowhere,
                    "standing_by_for": r.standing_by_for, "at_ms": r.at_ms,
                })
            ))
            .collect::<serde_json::Map<String, Value>>());
        let produced = self.produced_last_minute();
        value["produced_last_minute"] =
            json!({ "sent": produced.sent, "dropped": produced.dropped });
        value["last_minute"] = json!(self
            .groups()
            .into_iter()
            .map(|g| {
                let last = self.last_minute(&g);
                (
                    g,
                    json!({
                        "runs": last.runs(),
                        "failed": last.get(Count::Failed) + last.get(Count::Panicked),
                        "dead_lettered": last.get(Count::DeadLettered),
                    }),
                )
            })
            .collect::<serde_json::Map<String, Value>>());
    }
}

/// `eventlib top`: a frame every `every`, redrawn in place on a terminal
/// (one after the other otherwise), until Ctrl-C or `count` frames.
fn top(cli: &Cli, op: &mut Operator, every: Duration, count: Option<u64>) -> Result<(), String> {
    use std::io::IsTerminal;
    let terminal = std::io::stdout().is_terminal();
    let server = cli.url.to_string();
    let mut frames = 0;
    loop {
        let status = op.status().map_err(|e| e.to_string())?;
        let live = Live::read(op)?;
        let now_secs = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let text = top::frame(&top::View {
            stream: &cli.stream,
            server: &server,
            now_secs,
            length: status.length,
            dead_letters: status.dead_letters,
            groups: status
                .groups
                .iter()
                .map(|g| top::GroupRow {
                    name: g.name.clone(),
                    lag: g.lag,
                    pending: g.pending,
                    waiting_retries: g.waiting_retries,
                    consumers: g.consumers.len(),
                })
                .collect(),
            processes: &live.processes,
            pauses: &live.pauses,
            minutes: &live.minutes,
        });
        if terminal {
            // Home and clear, then the frame: redrawn in place.
            print!("\x1b[H\x1b[2J{text}");
        } else {
            println!("{text}");
        }
        frames += 1;
        if count.is_some_and(|n| frames >= n) {
            return Ok(());
        }
        std::thread::sleep(every);
    }
}

/// A duration as a person reads it: `850 µs`, `12 ms`, `3 s`, `4 min`.
fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0 if d.as_millis() == 0 => format!("{} µs", d.as_micros()),
        0 => format!("{} ms", d.as_millis()),
        1..=119 => format!("{s} s"),
        120..=7199 => format!("{} min", s / 60),
        7200..=172_799 => format!("{} h", s / 3600),
        _ => format!("{} d", s / 86_400),
    }
}
