//! The overview: the stream at a glance (tiles), the runs, failures and
//! dead letters of every worker over the last hour and day, each group
//! with its lag and pending entries over time, every handler and event
//! with its last hour, what producers sent, the outbox relays, the
//! processes alive, and the registry and stats of the process that serves
//! the page.

use std::collections::{BTreeMap, BTreeSet};

use eventlib::redis::{Count, HandlerFigures, Process, RelayFigures, StreamStatus};
use maud::{html, Markup};

use super::figures::{self, failures, Pauses, Scope, State, Timeline};
use super::page::{self, ago, now_ms, number, state_badge, tile};
use super::{Config, Forms};

/// What the workers published and Redis says of the stream, read for one
/// page.
pub(super) struct Live {
    pub(super) status: StreamStatus,
    pub(super) timeline: Timeline,
    pub(super) processes: BTreeMap<String, Process>,
    pub(super) pauses: Pauses,
    /// The transactional outbox's relays that publish to the stream.
    pub(super) relays: Vec<RelayFigures>,
}

/// What the overview shows of Redis.
pub(super) enum StreamView {
    /// The stream and the figures.
    Live(Box<Live>),
    /// Redis answered with an error.
    Failed(eventlib::Error),
    /// The task reading it did not finish.
    Unread,
}

/// One handler as the tables show it: from the figures, the pauses and
/// the registry of this binary.
struct HandlerRow {
    group: String,
    path: String,
    hour: HandlerFigures,
}

/// Every handler the figures of the last day, the pauses or this binary's
/// registry name, by group then path.
fn handler_rows(live: &Live) -> Vec<HandlerRow> {
    let mut keys: BTreeSet<(String, String)> = figures::handlers_seen(&live.timeline.hours)
        .into_keys()
        .collect();
    keys.extend(
        eventlib::registry()
            .handlers()
            .map(|h| (h.group().to_owned(), h.name().to_owned())),
    );
    keys.extend(
        live.pauses
            .0
            .iter()
            .filter_map(|p| Some((p.group.clone(), p.handler.clone()?))),
    );
    keys.into_iter()
        .map(|(group, path)| HandlerRow {
            hour: figures::sum_of(&live.timeline.minutes, &group, &path),
            group,
            path,
        })
        .collect()
}

/// Every event the figures of the last day or this binary's registry name.
fn event_names(live: &Live) -> BTreeSet<String> {
    let mut names: BTreeSet<String> = live
        .timeline
        .hours
        .iter()
        .flat_map(|b| b.handlers.keys().map(|k| k.event.clone()))
        .collect();
    names.extend(eventlib::registry().events().map(|e| e.name().to_owned()));
    names
}

/// A count in a table cell: grey when zero, coloured by `class` otherwise.
fn cell(n: u64, class: &str) -> Markup {
    html! {
        @if n == 0 { td.n.zero { "0" } } @else { td class={ "n hot " (class) } { (number(n)) } }
    }
}

/// The overview's body.
pub(super) fn body(
    config: &Config,
    forms: &Forms,
    here: &str,
    stream: Option<&StreamView>,
) -> Markup {
    html! {
        @match stream {
            None => { p.sub { "This process's events and handlers. With " code { "Dashboard::redis" } ", the stream, its dead letters and the figures of every worker are here too." } }
            Some(StreamView::Live(live)) => (stream_part(config, forms, here, live)),
            Some(StreamView::Failed(err)) => { p.error { "Redis: " (err) } }
            Some(StreamView::Unread) => { p.error { "Redis: the status could not be read" } }
        }
        (this_process())
    }
}

/// The consumers of a partition that read it lately, by group.
fn readers(part: &StreamStatus) -> String {
    let named: Vec<String> = part
        .groups
        .iter()
        .flat_map(|g| {
            g.consumers
                .iter()
                .filter(|c| c.idle <= READER_IDLE)
                .map(move |c| format!("{} ({})", c.name, g.name))
        })
        .collect();
    if named.is_empty() {
        "-".to_owned()
    } else {
        named.join(", ")
    }
}

/// How long since its last read a consumer still counts as reading a
/// partition.
const READER_IDLE: std::time::Duration = std::time::Duration::from_secs(60);

fn stream_part(config: &Config, forms: &Forms, here: &str, live: &Live) -> Markup {
    let status = &live.status;
    let t = &live.timeline;
    let hour = figures::sum(&t.minutes, Scope::All);
    let sent_hour: u64 = t.minutes.iter().map(|m| m.produced(None).sent).sum();
    let lag: u64 = status.groups.iter().filter_map(|g| g.lag).sum();
    let pending: u64 = status.groups.iter().map(|g| g.pending).sum();
    let now = now_ms();
    html! {
        p.sub {
            "Stream " code { (status.stream) } ": "
            @if status.exists { (number(status.length)) " entries" } @else { "nothing written to it yet" }
            ", " a href=(config.at("/dead")) { (number(status.dead_letters)) " dead letter(s)" }
            ", " (status.groups.len()) " group(s). The figures are every worker's, published every 5 s; times are UTC."
        }
        section.tiles {
            (tile("sent by producers, last hour", &number(sent_hour), "none", false, None))
            (tile("handled, last hour", &number(hour.get(Count::Handled)), "ok", false, None))
            (tile("failed, last hour", &number(failures(&hour)), "fail", failures(&hour) > 0, None))
            (tile("dead letters", &number(status.dead_letters), "dead", status.dead_letters > 0, Some(&config.at("/dead"))))
            (tile("entries in the stream", &number(status.length), "none", false, None))
            (tile("lag", &number(lag), "lag", false, None))
            (tile("pending", &number(pending), "pending", false, None))
            (tile("processes alive", &number(live.processes.len() as u64), "none", false, None))
            (tile("paused", &number(live.pauses.0.len() as u64), "paused", !live.pauses.0.is_empty(), None))
        }
        section.grid {
            (figures::runs_chart("runs-minutes", "Handler runs per minute, last hour", &t.minutes, Scope::All))
            (figures::runs_chart("runs-hours", "Handler runs per hour, last day", &t.hours, Scope::All))
            (figures::produced_chart("produced-minutes", "Events sent by producers per minute, last hour", &t.minutes, None))
            (figures::dead_chart("dead-minutes", "Dead letters per minute, last hour", &t.minutes, Scope::All))
            (figures::failure_rate_chart("failure-rate-minutes", "Failure rate per minute, last hour", &t.minutes, Scope::All))
        }

        h2 { "Groups" }
        @if status.groups.is_empty() {
            p.note { "No consumer group yet: workers and producers create them." }
        }
        section.grid {
            @for g in &status.groups {
                @let paused = live.pauses.group(&g.name);
                div.card.paused[paused.is_some()] data-group=(g.name) {
                    div.card-head {
                        h3 { code { (g.name) } }
                        @match paused {
                            Some(_) => span.badge.paused data-state="paused" { "paused" },
                            None => span.badge.ok data-state="running" { "running" },
                        }
                        (page::pause_form(config, forms, here, &g.name, None, paused.is_some()))
                    }
                    div.facts {
                        span { "pending " b { (number(g.pending)) } }
                        span { "lag " b { @match g.lag { Some(lag) => (number(lag)), None => "?" } } }
                        span { "waiting for a retry " b { (number(g.waiting_retries)) } }
                        span { "oldest pending " b { @match g.oldest_pending_age { Some(age) => { (age.as_secs()) " s" }, None => "-" } } }
                    }
                    (figures::group_chart(&format!("group-{}", g.name), &g.name, &t.minutes))
                    p.note {
                        (g.consumers.len()) " consumer(s)"
                        @if !g.consumers.is_empty() { ": " }
                        @for (n, c) in g.consumers.iter().enumerate() {
                            @if n > 0 { ", " }
                            (c.name) " (idle " (c.idle.as_secs()) " s, " (c.pending) " pending)"
                        }
                    }
                }
            }
        }

        @if !status.partitions.is_empty() {
            h2 { "Partitions" }
            p.note { "The stream is split into " (status.partitions.len()) " partitions; the figures above are their totals." }
            div.scroll #partitions data-count=(status.partitions.len()) {
                table {
                    thead { tr { th { "key" } th.n { "entries" } th.n { "dead letters" } th.n { "lag" } th.n { "pending" } th { "oldest entry" } th { "read by" } } }
                    tbody {
                        @for p in &status.partitions {
                            tr data-partition=(p.stream) {
                                td { code { (p.stream) } }
                                td.n { (number(p.length)) }
                                (cell(p.dead_letters, "dead"))
                                td.n { (number(p.groups.iter().filter_map(|g| g.lag).sum::<u64>())) }
                                td.n { (number(p.groups.iter().map(|g| g.pending).sum::<u64>())) }
                                td { @match p.oldest_entry_age { Some(age) => { (age.as_secs()) " s" }, None => "-" } }
                                td { (readers(p)) }
                            }
                        }
                    }
                }
            }
        }

        h2 { "Handlers" }
        (handlers_table(config, forms, here, live))

        h2 { "Events" }
        (events_table(config, live))

        @if !live.relays.is_empty() {
            h2 { "Outbox relays" }
            div.scroll #relays data-count=(live.relays.len()) {
                table {
                    thead { tr { th { "relay" } th.n { "backlog" } th.n { "moved" } th.n { "failed" } th.n { "unsendable" } th.n title="marks of rows an older program could not send, cleared and sent" { "relinked" } th.n title="sent to a program with no transport and no handler: nothing was done with them" { "handled nowhere" } th { "last seen" } } }
                    tbody {
                        @for r in &live.relays {
                            tr data-relay=(r.name) {
                                td {
                                    code { (r.name) }
                                    @if let Some(holder) = &r.standing_by_for {
                                        " " span.note data-standby=(holder) { "standing by for " (holder) }
                                    }
                                }
                                td.n data-backlog=[r.backlog] {
                                    @match r.backlog { Some(b) => (number(b)), None => "not counted yet" }
                                }
                                td.n data-moved=(r.moved) { (number(r.moved)) }
                                (cell(r.failed, "fail"))
                                (cell(r.unsendable, "dead"))
                                td.n data-relinked=(r.relinked) { (number(r.relinked)) }
                                (cell(r.handled_nowhere, "dead"))
                                td { (ago(r.at_ms, now)) " ago" }
                            }
                        }
                    }
                }
            }
        }

        h2 { "Processes alive" }
        @if live.processes.is_empty() {
            p.note #processes data-count="0" { "No worker or producer has said it is alive in the last 30 s." }
        } @else {
            div.scroll #processes data-count=(live.processes.len()) {
                table {
                    thead { tr { th { "name" } th { "kind" } th { "group" } th { "host" } th.n { "pid" } th { "up for" } th { "last seen" } } }
                    tbody {
                        @for (name, p) in &live.processes {
                            tr data-process=(name) {
                                td { code { (name) } }
                                td { (p.kind) }
                                td { (p.group) }
                                td { (p.host) }
                                td.n { (p.pid) }
                                td { (ago(p.started_ms, now)) }
                                td { (ago(p.seen_ms, now)) " ago" }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn handlers_table(config: &Config, forms: &Forms, here: &str, live: &Live) -> Markup {
    let rows = handler_rows(live);
    html! {
        @if rows.is_empty() {
            p.note { "No handler has published figures in the last day." }
        } @else {
            div.scroll {
                table #handlers {
                    thead {
                        tr {
                            th { "handler" } th { "group" } th { "state" }
                            th.n { "runs, 1 h" } th.n { "failed" } th.n { "dead-lettered" } th.n { "p50" } th.n { "p99" }
                            @if matches!(forms, Forms::On(_)) { th {} }
                        }
                    }
                    tbody {
                        @for row in &rows {
                            @let state = live.pauses.state(&row.group, &row.path);
                            tr data-handler=(row.path) data-group=(row.group) {
                                td.name { a href=(config.handler_href(&row.path)) { (page::path(&row.path)) } }
                                td { (row.group) }
                                td { (state_badge(state)) }
                                td.n { (number(row.hour.runs())) }
                                (cell(failures(&row.hour), "fail"))
                                (cell(row.hour.get(Count::DeadLettered), "dead"))
                                td.n { (figures::run_time(row.hour.run_time_quantile(0.5))) }
                                td.n { (figures::run_time(row.hour.run_time_quantile(0.99))) }
                                @if matches!(forms, Forms::On(_)) {
                                    td { (page::pause_form(config, forms, here, &row.group, Some(&row.path), matches!(state, State::Paused(_)))) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn events_table(config: &Config, live: &Live) -> Markup {
    let names = event_names(live);
    let registry = eventlib::registry();
    html! {
        div.scroll {
            table #events {
                thead { tr { th { "event" } th.n { "runs, 1 h" } th.n { "failed" } th.n { "dead-lettered" } th.n { "p99" } th { "declared in this binary" } } }
                tbody {
                    @for name in &names {
                        @let hour = figures::sum(&live.timeline.minutes, Scope::Event(name));
                        tr data-event=(name) {
                            td { a href=(config.event_href(name)) { (name) } }
                            td.n { (number(hour.runs())) }
                            (cell(failures(&hour), "fail"))
                            (cell(hour.get(Count::DeadLettered), "dead"))
                            td.n { (figures::run_time(hour.run_time_quantile(0.99))) }
                            td { @match registry.event(name) { Some(e) => code { (e.location()) }, None => span.note { "no" } } }
                        }
                    }
                }
            }
        }
    }
}

/// The registry of the binary serving the page, with its own stats.
fn this_process() -> Markup {
    let stats = eventlib::stats();
    let registry = eventlib::registry();
    html! {
        h2 { "This process (pid " (std::process::id()) ")" }
        @if let Some(transport) = stats.transport {
            p.note { "Events logged here go to " (transport) " workers; their handlers run there." }
        }
        div.stack {
            div.scroll {
                table #local-events {
                    thead { tr { th { "event" } th { "declared" } th.n { "emitted" } th.n { "completed" } th.n { "dropped" } th.n { "in flight" } th.n { "refused" } } }
                    tbody {
                        @for event in registry.events() {
                            @let s = stats.event(event.name()).cloned().unwrap_or_default();
                            tr {
                                td { (event.name()) }
                                td { code { (event.location()) } }
                                td.n { (s.emitted) }
                                td.n { (s.completed) }
                                (cell(s.dropped, "fail"))
                                td.n { (s.in_flight) }
                                (cell(s.refused_invalid + s.refused_data, "fail"))
                            }
                        }
                    }
                }
            }
            div.scroll {
                table #local-handlers {
                    thead { tr { th { "handler" } th { "group" } th { "kind" } th { "declared" } th.n { "handled" } th.n { "failed" } th.n { "panicked" } } }
                    tbody {
                        @for handler in registry.handlers() {
                            @let s = stats.handler(handler.name()).cloned().unwrap_or_default();
                            tr {
                                td { (handler.name()) }
                                td { (handler.group()) }
                                td { (handler.kind()) }
                                td { code { (handler.location()) } }
                                td.n { (s.handled) }
                                (cell(s.failed, "fail"))
                                (cell(s.panicked, "panic"))
                            }
                        }
                    }
                }
            }
        }
    }
}
