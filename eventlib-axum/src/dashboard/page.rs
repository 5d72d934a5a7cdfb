//! The frame of every page (its bar, style, pauses banner and refresh)
//! and the pieces several pages share: tiles, badges, the pause and
//! resume forms, links, times. maud escapes every interpolated value;
//! every value in a link is percent-encoded.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::response::Html;
use eventlib::redis::Pause;
use maud::{html, Markup, PreEscaped, DOCTYPE};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::figures::{Pauses, State};
use super::{Config, Forms};

const STYLE: &str = include_str!("style.css");
const REFRESH: &str = include_str!("refresh.js");

/// What a path segment may hold unencoded: RFC 3986's unreserved set.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Which item of the bar a page belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Nav {
    Overview,
    Dead,
}

/// A page of the dashboard.
pub(super) struct Page<'a> {
    /// Its title, and the heading of its body.
    pub(super) title: &'a str,
    /// What it shows (`Event`, `Handler`...), above the heading.
    pub(super) kind: Option<&'a str>,
    /// The title is a handler's path (which may break after each `::`).
    pub(super) title_is_path: bool,
    pub(super) nav: Nav,
    /// Refreshed every 5 s when JavaScript is on.
    pub(super) refresh: bool,
    /// The pauses, said at the top (`None` when unknown).
    pub(super) pauses: Option<&'a Pauses>,
    pub(super) forms: &'a Forms,
    /// Its path and query, where the pause forms come back to.
    pub(super) here: &'a str,
}

/// Milliseconds since 1970, now.
pub(super) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The time of day of `ms` (since 1970), UTC.
pub(super) fn clock(ms: u64) -> String {
    let s = ms / 1000 % 86_400;
    format!("{:02}:{:02}:{:02}", s / 3600, s % 3600 / 60, s % 60)
}

/// How long ago `ms` (since 1970) was: `12 s`, `3 min`, `2 h`, `4 d`.
pub(super) fn ago(ms: u64, now: u64) -> String {
    let s = now.saturating_sub(ms) / 1000;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        3600..86_400 => format!("{} h", s / 3600),
        _ => format!("{} d", s / 86_400),
    }
}

/// A whole number with thin groups of three: `12 345`.
pub(super) fn number(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{202f}');
        }
        out.push(c);
    }
    out
}

impl Config {
    /// The overview's path.
    pub(super) fn home(&self) -> &str {
        if self.prefix.is_empty() {
            "/"
        } else {
            &self.prefix
        }
    }

    /// The path of `path` under the prefix.
    pub(super) fn at(&self, path: &str) -> String {
        format!("{}{path}", self.prefix)
    }

    /// The page of one dead letter.
    pub(super) fn letter_href(&self, id: &str) -> String {
        self.at(&format!("/dead/{}", utf8_percent_encode(id, SEGMENT)))
    }

    /// The page of one event.
    pub(super) fn event_href(&self, name: &str) -> String {
        self.at(&format!("/events/{}", utf8_percent_encode(name, SEGMENT)))
    }

    /// The page of one handler (its path).
    pub(super) fn handler_href(&self, path: &str) -> String {
        self.at(&format!("/handlers/{}", utf8_percent_encode(path, SEGMENT)))
    }

    /// The dead-letter list with one filter set.
    pub(super) fn dead_href(&self, key: &str, value: &str) -> String {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair(key, value)
            .finish();
        self.at(&format!("/dead?{query}"))
    }
}

/// The page around `body`.
pub(super) fn page(config: &Config, page: &Page<'_>, body: Markup) -> Html<String> {
    let here = |nav: Nav| if page.nav == nav { "here" } else { "" };
    let stream = config.redis.as_ref().map(|r| r.stream.as_str());
    Html(
        html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (page.title) " · eventlib" }
                    style { (PreEscaped(STYLE)) }
                }
                body {
                    header.top {
                        a.brand href=(config.home()) { "eventlib" }
                        nav {
                            a class=(here(Nav::Overview)) href=(config.home()) { "Overview" }
                            @if stream.is_some() {
                                a class=(here(Nav::Dead)) href=(config.at("/dead")) { "Dead letters" }
                            }
                        }
                        span.where {
                            @if let Some(stream) = stream { "stream " code { (stream) } }
                            @if config.read_only { span.ro { "read-only" } }
                        }
                    }
                    main #live {
                        @if let Some(pauses) = page.pauses {
                            (banner(config, page.forms, page.here, pauses))
                        }
                        div.pagehead {
                            div {
                                @if let Some(kind) = page.kind { p.kind { (kind) } }
                                h1 { @if page.title_is_path { (path(page.title)) } @else { (page.title) } }
                            }
                            span.updated { "updated " (clock(now_ms())) " UTC" }
                        }
                        (body)
                    }
                    @if page.refresh { script { (PreEscaped(REFRESH)) } }
                }
            }
        }
        .into_string(),
    )
}

/// What is paused, on top of every page, each with its resume button.
fn banner(config: &Config, forms: &Forms, here: &str, pauses: &Pauses) -> Markup {
    let now = now_ms();
    html! {
        @for pause in &pauses.0 {
            div.banner.paused data-paused-group=(pause.group) data-paused-handler=[pause.handler.as_deref()] {
                span.badge.paused { "paused" }
                span { (paused_what(config, pause)) }
                span.who { (paused_by(pause, now)) }
                (pause_form(config, forms, here, &pause.group, pause.handler.as_deref(), true))
            }
        }
    }
}

/// What a pause holds: a handler of a group, or a whole group.
fn paused_what(config: &Config, pause: &Pause) -> Markup {
    html! {
        @match &pause.handler {
            Some(handler) => {
                "handler " a href=(config.handler_href(handler)) { (path(handler)) }
                " of group " code { (pause.group) }
            }
            None => { "group " code { (pause.group) } ": its workers take nothing" }
        }
    }
}

/// Who paused, and when.
pub(super) fn paused_by(pause: &Pause, now: u64) -> String {
    let by = if pause.by.is_empty() {
        String::new()
    } else {
        format!("by {}, ", pause.by)
    };
    format!("{by}{} ago", ago(pause.at_ms, now))
}

/// A tile: a figure and what it is, coloured by `class` (the value too
/// when `hot`), a link when `href` is given.
pub(super) fn tile(label: &str, value: &str, class: &str, hot: bool, href: Option<&str>) -> Markup {
    let inner = html! {
        span.v.hot[hot] { (value) }
        span.l { (label) }
    };
    html! {
        @match href {
            Some(href) => a class={ "tile " (class) } href=(href) data-tile=(label) { (inner) },
            None => div class={ "tile " (class) } data-tile=(label) { (inner) },
        }
    }
}

/// A handler's state as a badge.
pub(super) fn state_badge(state: State<'_>) -> Markup {
    html! {
        @match state {
            State::Running => span.badge.ok data-state="running" { "running" },
            State::Paused(_) => span.badge.paused data-state="paused" { "paused" },
            State::GroupPaused(_) => span.badge.paused data-state="group-paused" { "group paused" },
        }
    }
}

/// The form that pauses (or, when `paused`, resumes) `handler` of `group`,
/// or the whole group; nothing on a read-only dashboard.
pub(super) fn pause_form(
    config: &Config,
    forms: &Forms,
    here: &str,
    group: &str,
    handler: Option<&str>,
    paused: bool,
) -> Markup {
    let Forms::On(token) = forms else {
        return html! {};
    };
    let (action, class) = if paused {
        ("resume", "resume")
    } else {
        ("pause", "pause")
    };
    let label = match (paused, handler) {
        (false, Some(_)) => "Pause",
        (true, Some(_)) => "Resume",
        (false, None) => "Pause group",
        (true, None) => "Resume group",
    };
    let what = match handler {
        Some(handler) => format!("handler {handler} of group {group}"),
        None => format!("every handler of group {group}"),
    };
    html! {
        form.inline method="post" action=(config.at(&format!("/{action}"))) {
            input type="hidden" name="csrf" value=(token);
            input type="hidden" name="group" value=(group);
            @if let Some(handler) = handler { input type="hidden" name="handler" value=(handler); }
            input type="hidden" name="back" value=(here);
            button type="submit" class=(class) data-action=(action) data-group=(group)
                data-handler=[handler] title={ (label) " " (what) } { (label) }
        }
    }
}

/// A handler's path, allowed to break after each `::`, its last segment
/// (the handler's own name) set off from its module.
pub(super) fn path(path: &str) -> Markup {
    let (module, name) = match path.rfind("::") {
        Some(at) => path.split_at(at + 2),
        None => ("", path),
    };
    html! {
        span.path {
            @if !module.is_empty() {
                span.module {
                    @for (i, part) in module.trim_end_matches("::").split("::").enumerate() {
                        @if i > 0 { "::" wbr; }
                        (part)
                    }
                    "::" wbr;
                }
            }
            span.name { (name) }
        }
    }
}

/// A message alone on a page: why something could not be shown.
pub(super) fn message(text: &str) -> Markup {
    html! { p.error { (text) } }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_numbers_read_at_a_glance() {
        assert_eq!(clock(3_723_000), "01:02:03");
        assert_eq!(ago(1_000, 13_000), "12 s");
        assert_eq!(ago(0, 180_000), "3 min");
        assert_eq!(ago(0, 7_200_000), "2 h");
        assert_eq!(ago(0, 4 * 86_400_000), "4 d");
        assert_eq!(ago(5_000, 1_000), "0 s");
        assert_eq!(number(0), "0");
        assert_eq!(number(999), "999");
        assert_eq!(number(1234), "1\u{202f}234");
        assert_eq!(number(1_234_567), "1\u{202f}234\u{202f}567");
    }
}
