//! The page of one event and the page of one handler: their figures over
//! the last hour and day (runs, failures, run times, failure rate, dead
//! letters), who is paused, and their recent failures.

use std::collections::BTreeSet;

use eventlib::redis::{Count, DeadLetter};
use maud::{html, Markup};

use super::dead;
use super::figures::{self, failures, Pauses, Scope, State, Timeline};
use super::page::{self, number, state_badge, tile};
use super::{Config, Forms};

/// What an event's or a handler's page shows from Redis.
pub(super) struct Detail {
    pub(super) timeline: Timeline,
    pub(super) pauses: Pauses,
    /// Its newest dead letters, newest first.
    pub(super) recent: Vec<DeadLetter>,
}

/// The tiles of a scope's last hour.
fn tiles(timeline: &Timeline, scope: Scope<'_>) -> Markup {
    let hour = figures::sum(&timeline.minutes, scope);
    let dead = hour.get(Count::DeadLettered);
    html! {
        section.tiles {
            (tile("runs, last hour", &number(hour.runs()), "ok", false, None))
            (tile("failed, last hour", &number(failures(&hour)), "fail", failures(&hour) > 0, None))
            (tile("retried, last hour", &number(hour.get(Count::Retried)), "retry", false, None))
            (tile("dead-lettered, last hour", &number(dead), "dead", dead > 0, None))
            (tile("p50 run time", &figures::run_time(hour.run_time_quantile(0.5)), "p50", false, None))
            (tile("p99 run time", &figures::run_time(hour.run_time_quantile(0.99)), "p99", false, None))
        }
    }
}

/// The charts of a scope.
fn charts(timeline: &Timeline, scope: Scope<'_>) -> Markup {
    let (m, h) = (&timeline.minutes, &timeline.hours);
    html! {
        section.grid {
            (figures::runs_chart("runs-minutes", "Runs per minute, last hour", m, scope))
            (figures::runs_chart("runs-hours", "Runs per hour, last day", h, scope))
            (figures::run_time_chart("run-time-minutes", "Run time per minute (p50, p99)", m, scope))
            (figures::failure_rate_chart("failure-rate-minutes", "Failure rate per minute", m, scope))
            (figures::retries_chart("retries-minutes", "Retries and dead letters per minute", m, scope))
        }
    }
}

/// The handlers of an event, or the groups of a handler: each with its
/// state, its last hour and its pause button.
fn handlers_table(
    config: &Config,
    forms: &Forms,
    here: &str,
    detail: &Detail,
    rows: &BTreeSet<(String, String)>,
) -> Markup {
    let with_forms = matches!(forms, Forms::On(_));
    html! {
        div.scroll {
            table #handlers {
                thead {
                    tr {
                        th { "handler" } th { "group" } th { "state" }
                        th.n { "runs, 1 h" } th.n { "failed" } th.n { "dead-lettered" } th.n { "p99" }
                        @if with_forms { th {} }
                    }
                }
                tbody {
                    @for (group, path) in rows {
                        @let state = detail.pauses.state(group, path);
                        @let hour = figures::sum_of(&detail.timeline.minutes, group, path);
                        tr data-handler=(path) data-group=(group) {
                            td.name { a href=(config.handler_href(path)) { (page::path(path)) } }
                            td { (group) }
                            td { (state_badge(state)) }
                            td.n { (number(hour.runs())) }
                            td.n { (number(failures(&hour))) }
                            td.n { (number(hour.get(Count::DeadLettered))) }
                            td.n { (figures::run_time(hour.run_time_quantile(0.99))) }
                            @if with_forms {
                                td { (page::pause_form(config, forms, here, group, Some(path), matches!(state, State::Paused(_)))) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The (group, handler) pairs that ran for `event` in the last day, and
/// those this binary declares for it.
pub(super) fn event_handlers(detail: &Detail, event: &str) -> BTreeSet<(String, String)> {
    let mut rows: BTreeSet<(String, String)> = figures::handlers_seen(&detail.timeline.hours)
        .into_iter()
        .filter(|(_, events)| events.contains(event))
        .map(|(key, _)| key)
        .collect();
    if let Some(info) = eventlib::registry().event(event) {
        rows.extend(
            info.handlers()
                .map(|h| (h.group().to_owned(), h.name().to_owned())),
        );
    }
    rows
}

/// The groups `handler` ran in over the last day, is declared in, or is
/// paused in, each with the handler path.
pub(super) fn handler_groups(detail: &Detail, handler: &str) -> BTreeSet<(String, String)> {
    let mut rows: BTreeSet<(String, String)> = figures::handlers_seen(&detail.timeline.hours)
        .into_keys()
        .filter(|(_, path)| path == handler)
        .collect();
    rows.extend(
        eventlib::registry()
            .handlers()
            .filter(|h| h.name() == handler)
            .map(|h| (h.group().to_owned(), h.name().to_owned())),
    );
    rows.extend(
        detail
            .pauses
            .0
            .iter()
            .filter(|p| p.handler.as_deref() == Some(handler))
            .map(|p| (p.group.clone(), handler.to_owned())),
    );
    rows
}

/// One event's page.
pub(super) fn event(
    config: &Config,
    forms: &Forms,
    here: &str,
    name: &str,
    detail: &Detail,
) -> Markup {
    let scope = Scope::Event(name);
    let handlers = event_handlers(detail, name);
    html! {
        p.sub {
            @match eventlib::registry().event(name) {
                Some(info) => { "Declared in this binary at " code { (info.location()) } " as " code { (info.type_name()) } ". " }
                None => { "Not declared in this binary: the figures are the workers'. " }
            }
            "Runs count each handler's runs for the event, retries included."
        }
        (tiles(&detail.timeline, scope))
        (charts(&detail.timeline, scope))
        section.grid {
            (figures::produced_chart("produced-minutes", "Sent by producers per minute, last hour", &detail.timeline.minutes, Some(name)))
        }
        h2 { "Handlers" }
        @if handlers.is_empty() {
            p.note { "No handler ran for it in the last day." }
        } @else {
            (handlers_table(config, forms, here, detail, &handlers))
        }
        h2 { "Recent failures" }
        (dead::recent(config, &detail.recent, dead::Known::Event, &config.dead_href("event", name)))
    }
}

/// One handler's page.
pub(super) fn handler(
    config: &Config,
    forms: &Forms,
    here: &str,
    path: &str,
    detail: &Detail,
) -> Markup {
    let scope = Scope::Handler(path);
    let groups = handler_groups(detail, path);
    let declared = eventlib::registry().handlers().find(|h| h.name() == path);
    let events: BTreeSet<String> = figures::handlers_seen(&detail.timeline.hours)
        .into_iter()
        .filter(|((_, p), _)| p == path)
        .flat_map(|(_, events)| events)
        .collect();
    html! {
        p.sub {
            @match declared {
                Some(info) => { "Declared in this binary at " code { (info.location()) } " (" (info.kind()) @if let Some(pattern) = info.pattern() { ", for " code { (pattern) } } "). " }
                None => { "Not declared in this binary: the figures are the workers'. " }
            }
        }
        @for (group, _) in &groups {
            @let state = detail.pauses.state(group, path);
            div.card.card-head.paused[!matches!(state, State::Running)] data-group=(group) data-handler=(path) {
                span { "group " code { (group) } }
                (state_badge(state))
                @match state {
                    State::Paused(p) | State::GroupPaused(p) => span.note { (page::paused_by(p, page::now_ms())) },
                    State::Running => {},
                }
                (page::pause_form(config, forms, here, group, Some(path), matches!(state, State::Paused(_))))
            }
        }
        (tiles(&detail.timeline, scope))
        (charts(&detail.timeline, scope))
        @if !events.is_empty() {
            h2 { "Events it ran for" }
            p {
                @for (n, event) in events.iter().enumerate() {
                    @if n > 0 { ", " }
                    a href=(config.event_href(event)) { (event) }
                }
            }
        }
        @if groups.len() > 1 {
            h2 { "By group" }
            (handlers_table(config, forms, here, detail, &groups))
        }
        h2 { "Recent failures" }
        (dead::recent(config, &detail.recent, dead::Known::Handler, &config.dead_href("handler", path)))
    }
}
