//! The dead-letter pages: the list with its filters and the forms that
//! replay or purge a selection, one letter with its envelope, and the
//! table of recent failures the event and handler pages show.

use std::time::UNIX_EPOCH;

use eventlib::redis::DeadLetter;
use maud::{html, Markup};

use super::filter::Filter;
use super::page::{self, ago, now_ms};
use super::{Config, Forms};

/// When a letter failed, as milliseconds since 1970.
fn failed_ms(letter: &DeadLetter) -> u64 {
    letter
        .failed_at
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The first line of a letter's reason.
fn reason_line(letter: &DeadLetter) -> &str {
    letter.reason.lines().next().unwrap_or("")
}

/// The dead-letter list: its filters, a page of letters, the forms that
/// replay or purge a selection (unless read-only), the next page's link.
pub(super) fn list(
    config: &Config,
    forms: &Forms,
    filter: &Filter,
    letters: &[DeadLetter],
    more: bool,
) -> Markup {
    let value = |field: &Option<String>| field.clone().unwrap_or_default();
    let token = match forms {
        Forms::On(token) => Some(token),
        Forms::ReadOnly | Forms::Off(_) => None,
    };
    let now = now_ms();
    let letters_table = html! {
        p #count.note { (letters.len()) " letter(s) on this page" }
        div.scroll {
            table {
                thead {
                    tr {
                        @if token.is_some() { th { span.note { "select" } } }
                        th { "id" } th { "reason" } th { "event" } th { "handler" } th { "group" } th.n { "attempts" } th { "failed" }
                    }
                }
                tbody {
                    @for letter in letters {
                        tr {
                            @if token.is_some() { td { input type="checkbox" name="id" value=(letter.reference()) aria-label={ "select " (letter.reference()) }; } }
                            td { a.mono href=(config.letter_href(&letter.reference())) { (letter.reference()) } }
                            td.wrap { span.reason { (reason_line(letter)) } }
                            td { @match &letter.name { Some(name) => a href=(config.event_href(name)) { (name) }, None => "-" } }
                            td.name { @match &letter.handler { Some(h) => a href=(config.handler_href(h)) { (page::path(h)) }, None => "(poison)" } }
                            td { (letter.group) }
                            td.n { (letter.attempts) }
                            td { (ago(failed_ms(letter), now)) " ago" }
                        }
                    }
                }
            }
        }
    };
    html! {
        p.sub { "What handlers could not handle, oldest first, 50 to a page." }
        form.filters method="get" action=(config.at("/dead")) {
            label { "event" input name="event" value=(value(&filter.event)); }
            label { "handler" input name="handler" value=(value(&filter.handler)); }
            label { "group" input name="group" value=(value(&filter.group)); }
            label { "reason contains" input name="reason" value=(value(&filter.reason)); }
            button.primary { "filter" }
        }
        @if let Forms::Off(err) = forms {
            p.error { "Replay and purge are off: the OS's random source failed (" (err) ")." }
        }
        @if let Some(token) = token {
            form method="post" action=(config.at("/dead/replay")) #act {
                input type="hidden" name="csrf" value=(token);
                (letters_table)
                div.actions {
                    button.primary type="submit" { "replay the selected" }
                    button.danger type="submit" formaction=(config.at("/dead/purge")) { "purge the selected" }
                }
            }
        } @else {
            (letters_table)
        }
        @if more {
            @if let Some(last) = letters.last() {
                p { a href={ (config.at("/dead")) "?" (filter.next_page(&last.reference())) } { "next page" } }
            }
        }
    }
}

/// One dead letter, with its envelope and the forms that replay or purge
/// it (unless read-only).
pub(super) fn letter(
    config: &Config,
    forms: &Forms,
    letter: &DeadLetter,
    envelope: &str,
) -> Markup {
    html! {
        @match forms {
            Forms::On(token) => {
                form method="post" action=(config.at("/dead/replay")) #act {
                    input type="hidden" name="csrf" value=(token);
                    input type="hidden" name="id" value=(letter.reference());
                    div.actions {
                        button.primary type="submit" { "replay this letter" }
                        button.danger type="submit" formaction=(config.at("/dead/purge")) { "purge this letter" }
                    }
                }
            }
            Forms::Off(err) => {
                p.error { "Replay and purge are off: the OS's random source failed (" (err) ")." }
            }
            Forms::ReadOnly => {}
        }
        div.scroll {
            table.pairs {
                tr { th { "event" } td { @match &letter.name { Some(name) => a href=(config.event_href(name)) { (name) }, None => "-" } } }
                tr { th { "handler" } td.name { @match &letter.handler { Some(h) => a href=(config.handler_href(h)) { (page::path(h)) }, None => "(poison)" } } }
                tr { th { "group" } td { (letter.group) } }
                tr { th { "attempts" } td { (letter.attempts) } }
                tr { th { "failed" } td { (ago(failed_ms(letter), now_ms())) " ago" } }
                tr { th { "worker" } td { (letter.worker) } }
                tr { th { "source entry" } td.mono { (letter.source_id) } }
                tr { th { "reason" } td { pre { (letter.reason) } } }
            }
        }
        h2 { "Envelope" }
        pre { (envelope) }
    }
}

/// Which of the recent failures' columns a page leaves out, as it says
/// it already.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Known {
    /// The event's page: every letter is of the event.
    Event,
    /// The handler's page: every letter is of the handler.
    Handler,
}

/// The newest letters of an event or a handler, newest first, with the
/// link to all of them.
pub(super) fn recent(
    config: &Config,
    letters: &[DeadLetter],
    known: Known,
    all_href: &str,
) -> Markup {
    let now = now_ms();
    html! {
        @if letters.is_empty() {
            p.note #recent-failures data-count="0" {
                "No dead letters in the last hour. "
                a href=(all_href) { "All dead letters" }
            }
        } @else {
            div.scroll #recent-failures data-count=(letters.len()) {
                table {
                    thead {
                        tr {
                            th { "failed" } th { "reason" }
                            @if known != Known::Event { th { "event" } }
                            @if known != Known::Handler { th { "handler" } }
                            th.n { "attempts" } th { "id" }
                        }
                    }
                    tbody {
                        @for letter in letters {
                            tr data-letter=(letter.reference()) {
                                td { (ago(failed_ms(letter), now)) " ago" }
                                td.wrap { span.reason { (reason_line(letter)) } }
                                @if known != Known::Event {
                                    td { @match &letter.name { Some(name) => a href=(config.event_href(name)) { (name) }, None => "-" } }
                                }
                                @if known != Known::Handler {
                                    td.name { @match &letter.handler { Some(h) => a href=(config.handler_href(h)) { (page::path(h)) }, None => "(poison)" } }
                                }
                                td.n { (letter.attempts) }
                                td { a.mono href=(config.letter_href(&letter.reference())) { (letter.reference()) } }
                            }
                        }
                    }
                }
            }
            p.note { a href=(all_href) { "All dead letters, to replay or purge" } }
        }
    }
}
