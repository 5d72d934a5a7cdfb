//! The operator's dashboard: a router to mount behind the service's own
//! auth. Server-rendered HTML, usable without JavaScript (it refreshes
//! itself when JavaScript is on), nothing loaded from elsewhere.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{Path, Query, RawForm, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

/// The dashboard: the registry of the running binary, its live stats, and
/// with [`redis`](Self::redis) the stream's status and its dead letters
/// (filter, detail, replay or purge one or a selection).
///
/// ```
/// # fn app() -> axum::Router {
/// axum::Router::new().nest(
///     "/eventlib",
///     eventlib_axum::Dashboard::new("/eventlib")
///         .redis("redis://127.0.0.1:6379", eventlib::redis::DEFAULT_STREAM)
///         .router(),
/// )
/// // .layer(your auth layer): the dashboard has none of its own.
/// # }
/// ```
///
/// Every form that changes something carries a token the dashboard made
/// when it was built; a POST without it (a form on another site) is a
/// `403`. [`read_only`](Self::read_only) renders no form and refuses every
/// POST.
#[derive(Debug, Clone)]
pub struct Dashboard {
    prefix: String,
    redis: Option<(String, String)>,
    read_only: bool,
}

struct Config {
    prefix: String,
    redis: Option<(String, String)>,
    read_only: bool,
    csrf: String,
}

impl Dashboard {
    /// A dashboard to be mounted at `prefix` (`"/eventlib"` for
    /// `.nest("/eventlib", ...)`), which its links start with.
    pub fn new(prefix: &str) -> Self {
        Dashboard {
            prefix: prefix.trim_end_matches('/').to_owned(),
            redis: None,
            read_only: false,
        }
    }

    /// Shows `stream` on the Redis server at `url`: status and dead letters.
    pub fn redis(mut self, url: &str, stream: &str) -> Self {
        self.redis = Some((url.to_owned(), stream.to_owned()));
        self
    }

    /// Shows everything, changes nothing.
    pub fn read_only(mut self) -> Self {
        self.read_only = true;
        self
    }

    /// The router, to nest at the prefix.
    pub fn router<S: Clone + Send + Sync + 'static>(self) -> Router<S> {
        let config = Arc::new(Config {
            prefix: self.prefix,
            redis: self.redis,
            read_only: self.read_only,
            // Unguessable from another site, which cannot read our pages.
            csrf: format!("{}{}", eventlib::EventId::new(), eventlib::EventId::new()),
        });
        Router::new()
            .route("/", get(overview))
            .route("/dead", get(dead_list))
            .route("/dead/{id}", get(dead_show))
            .route("/dead/replay", post(dead_replay))
            .route("/dead/purge", post(dead_purge))
            .with_state(config)
    }
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn page(config: &Config, title: &str, body: &str, refresh: bool) -> Html<String> {
    let script = if refresh {
        "<script>setTimeout(function () { location.reload(); }, 5000);</script>"
    } else {
        ""
    };
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>eventlib: {title}</title>\
         <style>body{{font-family:sans-serif;margin:1.5em}}table{{border-collapse:collapse}}\
         td,th{{border:1px solid #ccc;padding:.2em .5em;text-align:left}}\
         .n{{text-align:right}}</style></head><body>\
         <p><a href=\"{home}\">overview</a> · <a href=\"{p}/dead\">dead letters</a>{ro}</p>\
         <h1>{title}</h1>{body}{script}</body></html>",
        p = config.prefix,
        home = if config.prefix.is_empty() {
            "/"
        } else {
            config.prefix.as_str()
        },
        ro = if config.read_only {
            " · read-only"
        } else {
            ""
        },
    ))
}

async fn overview(State(config): State<Arc<Config>>) -> Response {
    let mut body = String::new();
    let stats = eventlib::stats();
    let registry = eventlib::registry();
    body.push_str("<h2>Events</h2><table><tr><th>event</th><th>declared</th><th>emitted</th><th>completed</th><th>dropped</th><th>in flight</th><th>refused</th></tr>");
    for event in registry.events() {
        let s = stats.event(event.name()).cloned().unwrap_or_default();
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td></tr>",
            escape(event.name()),
            escape(&event.location()),
            s.emitted,
            s.completed,
            s.dropped,
            s.in_flight,
            s.refused_invalid + s.refused_data
        );
    }
    body.push_str("</table><h2>Handlers</h2><table><tr><th>handler</th><th>group</th><th>kind</th><th>declared</th><th>handled</th><th>failed</th><th>panicked</th></tr>");
    for handler in registry.handlers() {
        let s = stats.handler(handler.name()).cloned().unwrap_or_default();
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td></tr>",
            escape(handler.name()),
            escape(handler.group()),
            handler.kind(),
            escape(&handler.location()),
            s.handled,
            s.failed,
            s.panicked
        );
    }
    body.push_str("</table>");
    if let Some(transport) = stats.transport {
        let _ = write!(
            body,
            "<p>Events logged here go to {transport} workers; their handlers run there.</p>"
        );
    }
    if let Some((url, stream)) = config.redis.clone() {
        let status =
            tokio::task::spawn_blocking(move || eventlib::redis::stream_status(&url, &stream))
                .await;
        match status {
            Ok(Ok(status)) => {
                let _ = write!(
                    body,
                    "<h2>Stream <code>{}</code></h2><p>{} entries, <a href=\"{}/dead\">{} dead letter(s)</a></p>\
                     <table><tr><th>group</th><th>pending</th><th>waiting for a retry</th><th>lag</th><th>oldest pending</th><th>consumers</th></tr>",
                    escape(&status.stream),
                    status.length,
                    config.prefix,
                    status.dead_letters
                );
                for g in &status.groups {
                    let consumers: Vec<String> = g
                        .consumers
                        .iter()
                        .map(|c| format!("{} (idle {} s)", escape(&c.name), c.idle.as_secs()))
                        .collect();
                    let _ = write!(
                        body,
                        "<tr><td>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td>{}</td></tr>",
                        escape(&g.name),
                        g.pending,
                        g.waiting_retries,
                        g.lag.map_or("?".into(), |l| l.to_string()),
                        g.oldest_pending_age.map_or("-".into(), |a| format!("{} s", a.as_secs())),
                        consumers.join(", ")
                    );
                }
                body.push_str("</table>");
            }
            Ok(Err(err)) => {
                let _ = write!(
                    body,
                    "<h2>Stream</h2><p>Redis: {}</p>",
                    escape(&err.to_string())
                );
            }
            Err(_) => body.push_str("<p>Redis: the status could not be read</p>"),
        }
    }
    page(&config, "eventlib", &body, true).into_response()
}

/// The filters of the dead-letter list, from the query string.
#[derive(Debug, Default, serde::Deserialize)]
struct Filter {
    event: Option<String>,
    handler: Option<String>,
    group: Option<String>,
    reason: Option<String>,
    after: Option<String>,
}

impl Filter {
    fn matches(&self, letter: &eventlib::redis::DeadLetter) -> bool {
        fn set(f: &Option<String>) -> Option<&str> {
            f.as_deref().filter(|v| !v.is_empty())
        }
        set(&self.event).is_none_or(|e| letter.name.as_deref() == Some(e))
            && set(&self.handler).is_none_or(|h| {
                letter
                    .handler
                    .as_deref()
                    .is_some_and(|l| l == h || l.ends_with(&format!("::{h}")))
            })
            && set(&self.group).is_none_or(|g| letter.group == g)
            && set(&self.reason).is_none_or(|r| letter.reason.contains(r))
    }
}

/// Letters shown per page.
const PAGE: usize = 50;

/// A page saying why `title` could not be shown.
fn failed(config: &Config, title: &str, status: StatusCode, err: &eventlib::Error) -> Response {
    (
        status,
        page(config, title, &escape(&err.to_string()), false),
    )
        .into_response()
}

fn no_redis() -> Response {
    (
        StatusCode::NOT_FOUND,
        "this dashboard has no Redis stream configured (Dashboard::redis)",
    )
        .into_response()
}

async fn dead_list(State(config): State<Arc<Config>>, Query(filter): Query<Filter>) -> Response {
    let Some((url, stream)) = config.redis.clone() else {
        return no_redis();
    };
    let filter = Arc::new(filter);
    let matching = {
        let filter = Arc::clone(&filter);
        tokio::task::spawn_blocking(
            move || -> Result<(Vec<eventlib::redis::DeadLetter>, bool), eventlib::Error> {
                let mut dead = eventlib::redis::dead_letters(&url)?.stream(&stream);
                let mut after = filter.after.clone().filter(|a| !a.is_empty());
                let mut found = Vec::new();
                // A page of the stream at a time, until a page of matches.
                loop {
                    let page = dead.page(after.as_deref(), 500)?;
                    let Some(last) = page.last().map(|l| l.id.clone()) else {
                        return Ok((found, false));
                    };
                    for letter in page {
                        if filter.matches(&letter) {
                            found.push(letter);
                            if found.len() == PAGE {
                                return Ok((found, true));
                            }
                        }
                    }
                    after = Some(last);
                }
            },
        )
        .await
    };
    let (letters, more) = match matching {
        Ok(Ok(found)) => found,
        Ok(Err(err)) => return failed(&config, "dead letters", StatusCode::BAD_GATEWAY, &err),
        Err(_) => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
    };
    let value = |f: &Option<String>| escape(f.as_deref().unwrap_or(""));
    let mut body = format!(
        "<form method=get action=\"{p}/dead\">event <input name=event value=\"{}\"> handler <input name=handler value=\"{}\"> \
         group <input name=group value=\"{}\"> reason contains <input name=reason value=\"{}\"> <button>filter</button></form>",
        value(&filter.event),
        value(&filter.handler),
        value(&filter.group),
        value(&filter.reason),
        p = config.prefix
    );
    if !config.read_only {
        let _ = write!(
            body,
            "<form method=post action=\"{p}/dead/replay\" id=act><input type=hidden name=csrf value=\"{}\">",
            config.csrf,
            p = config.prefix
        );
    }
    let _ = write!(
        body,
        "<p id=count>{} letter(s) on this page</p><table><tr><th></th><th>id</th><th>event</th><th>handler</th><th>attempts</th><th>reason</th></tr>",
        letters.len()
    );
    for letter in &letters {
        let check = if config.read_only {
            String::new()
        } else {
            format!(
                "<input type=checkbox name=id value=\"{}\">",
                escape(&letter.id)
            )
        };
        let _ = write!(
            body,
            "<tr><td>{check}</td><td><a href=\"{p}/dead/{id}\">{id}</a></td><td>{}</td><td>{}</td><td class=n>{}</td><td>{}</td></tr>",
            escape(letter.name.as_deref().unwrap_or("-")),
            escape(letter.handler.as_deref().unwrap_or("(poison)")),
            letter.attempts,
            escape(letter.reason.lines().next().unwrap_or("")),
            p = config.prefix,
            id = escape(&letter.id),
        );
    }
    body.push_str("</table>");
    if !config.read_only {
        let _ = write!(
            body,
            "<p><button type=submit>replay the selected</button> \
             <button type=submit formaction=\"{p}/dead/purge\">purge the selected</button></p></form>",
            p = config.prefix
        );
    }
    if more {
        if let Some(last) = letters.last() {
            let _ = write!(
                body,
                "<p><a href=\"{p}/dead?after={}&event={}&handler={}&group={}&reason={}\">next page</a></p>",
                escape(&last.id),
                value(&filter.event),
                value(&filter.handler),
                value(&filter.group),
                value(&filter.reason),
                p = config.prefix
            );
        }
    }
    page(&config, "dead letters", &body, false).into_response()
}

async fn dead_show(State(config): State<Arc<Config>>, Path(id): Path<String>) -> Response {
    let Some((url, stream)) = config.redis.clone() else {
        return no_redis();
    };
    let wanted = id.clone();
    let letter = tokio::task::spawn_blocking(move || {
        eventlib::redis::dead_letters(&url)?
            .stream(&stream)
            .get(&wanted)
    })
    .await;
    let letter = match letter {
        Ok(Ok(Some(letter))) => letter,
        Ok(Ok(None)) => {
            return (
                StatusCode::NOT_FOUND,
                page(
                    &config,
                    "dead letter",
                    &format!("no dead letter {}", escape(&id)),
                    false,
                ),
            )
                .into_response()
        }
        Ok(Err(err @ eventlib::Error::Config { .. })) => {
            return failed(&config, "dead letter", StatusCode::BAD_REQUEST, &err)
        }
        Ok(Err(err)) => return failed(&config, "dead letter", StatusCode::BAD_GATEWAY, &err),
        Err(_) => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
    };
    let envelope = letter
        .envelope
        .as_deref()
        .map(|e| {
            serde_json::from_str::<serde_json::Value>(e)
                .ok()
                .and_then(|v| serde_json::to_string_pretty(&v).ok())
                .unwrap_or_else(|| e.to_owned())
        })
        .unwrap_or_default();
    let body = format!(
        "<table><tr><th>event</th><td>{}</td></tr><tr><th>handler</th><td>{}</td></tr>\
         <tr><th>group</th><td>{}</td></tr><tr><th>attempts</th><td>{}</td></tr>\
         <tr><th>worker</th><td>{}</td></tr><tr><th>source entry</th><td>{}</td></tr>\
         <tr><th>reason</th><td><pre>{}</pre></td></tr></table><h2>Envelope</h2><pre>{}</pre>",
        escape(letter.name.as_deref().unwrap_or("-")),
        escape(letter.handler.as_deref().unwrap_or("(poison)")),
        escape(&letter.group),
        letter.attempts,
        escape(&letter.worker),
        escape(&letter.source_id),
        escape(&letter.reason),
        escape(&envelope),
    );
    page(
        &config,
        &format!("dead letter {}", escape(&letter.id)),
        &body,
        false,
    )
    .into_response()
}

/// The ids and the token of a posted form (`id=..&id=..&csrf=..`).
fn form_fields(raw: &[u8]) -> (Vec<String>, Option<String>) {
    let decode = |s: &str| {
        let s = s.replace('+', " ");
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' && i + 2 < bytes.len() {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    out.push(b);
                    i += 3;
                    continue;
                }
            }
            out.push(bytes[i]);
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    };
    let (mut ids, mut csrf) = (Vec::new(), None);
    for pair in String::from_utf8_lossy(raw).split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "id" => ids.push(decode(value)),
            "csrf" => csrf = Some(decode(value)),
            _ => {}
        }
    }
    (ids, csrf)
}

#[derive(Clone, Copy)]
enum Act {
    Replay,
    Purge,
}

async fn dead_replay(State(config): State<Arc<Config>>, RawForm(raw): RawForm) -> Response {
    act(config, &raw, Act::Replay).await
}

async fn dead_purge(State(config): State<Arc<Config>>, RawForm(raw): RawForm) -> Response {
    act(config, &raw, Act::Purge).await
}

async fn act(config: Arc<Config>, raw: &[u8], what: Act) -> Response {
    if config.read_only {
        return (StatusCode::FORBIDDEN, "this dashboard is read-only").into_response();
    }
    let (ids, csrf) = form_fields(raw);
    if csrf.as_deref() != Some(config.csrf.as_str()) {
        return (
            StatusCode::FORBIDDEN,
            "the form's token is missing or wrong (a form from another page?): reload the dashboard",
        )
            .into_response();
    }
    let Some((url, stream)) = config.redis.clone() else {
        return no_redis();
    };
    let done = tokio::task::spawn_blocking(move || -> Result<usize, eventlib::Error> {
        let mut dead = eventlib::redis::dead_letters(&url)?.stream(&stream);
        let mut done = 0;
        for id in &ids {
            if let Some(letter) = dead.get(id)? {
                match what {
                    Act::Replay => drop(dead.replay(&letter)?),
                    Act::Purge => dead.remove(&letter)?,
                }
                done += 1;
            }
        }
        Ok(done)
    })
    .await;
    match done {
        Ok(Ok(_)) => (
            StatusCode::SEE_OTHER,
            [(header::LOCATION, format!("{}/dead", config.prefix))],
        )
            .into_response(),
        Ok(Err(err)) => (StatusCode::BAD_GATEWAY, err.to_string()).into_response(),
        Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}
