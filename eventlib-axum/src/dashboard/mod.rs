//! The operator's dashboard: a router to mount behind the service's own
//! auth. Server-rendered HTML and SVG, usable without JavaScript (pages
//! that show live figures refresh themselves when JavaScript is on),
//! nothing loaded from elsewhere.
//!
//! - `mod.rs`: [`Dashboard`], its router and the request handlers: what
//!   each page reads from Redis, and the forms that change something.
//! - `page.rs`: the frame of every page and the pieces pages share;
//!   `style.css` and `refresh.js` are inlined in it.
//! - `overview.rs`, `detail.rs` (an event's page, a handler's page),
//!   `dead.rs` (the dead-letter pages): the pages' bodies.
//! - `figures.rs`: the published figures as charts and sums, and who is
//!   paused; `chart.rs`: drawing a chart as SVG.
//! - `filter.rs`: the dead-letter filters and their query string;
//!   `token.rs`: the form token.

mod chart;
mod dead;
mod detail;
mod figures;
mod filter;
mod overview;
mod page;
mod token;

use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::{Path, Query, RawForm, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use eventlib::redis::{Bucket, DeadLetter, DeadLetterFilter, Operator, Server, Span};
use tokio::task::JoinError;

use detail::Detail;
use figures::{Pauses, Scope, Timeline};
use filter::Filter;
use overview::{Live, StreamView};
use page::{Nav, Page};
use token::{FormKey, Session};

/// The dashboard: the registry of the running binary and its live stats,
/// and with [`redis`](Self::redis) the stream: its status, the figures
/// every worker publishes drawn over the last hour and day (runs,
/// failures, run times, lag, pending, dead letters), a page per event and
/// per handler, the processes alive, pause and resume of a handler or a
/// group, and the dead letters (filter, detail, replay or purge one or a
/// selection).
///
/// ```
/// # fn app() -> axum::Router {
/// axum::Router::new().merge(
///     eventlib_axum::Dashboard::new("/eventlib")
///         .redis("redis://127.0.0.1:6379", eventlib::redis::DEFAULT_STREAM)
///         .router(),
/// )
/// // .layer(your auth layer): the dashboard has none of its own.
/// # }
/// ```
///
/// Every form that changes something carries a token bound to the
/// browser's session (a cookie of 128 random bits) by a key of 256 bits
/// from the OS's random source, made when the router is built; it is
/// checked in constant time. A POST without it (a form on another site),
/// or with another session's or another router's, is a `403`.
/// [`read_only`](Self::read_only) renders no form (the pauses are shown,
/// without their buttons) and refuses every POST.
#[derive(Debug, Clone)]
pub struct Dashboard {
    prefix: String,
    redis: Option<(Server, String)>,
    read_only: bool,
}

struct Config {
    prefix: String,
    redis: Option<Arc<Redis>>,
    read_only: bool,
    /// `Err` when the OS's random source failed: the pages say so and
    /// every POST is refused.
    key: Result<FormKey, getrandom::Error>,
}

/// The stream the pages show, and the one operator handle they share: one
/// connection to Redis, kept, opened again after a failure.
struct Redis {
    server: Server,
    stream: String,
    /// Made on first use (a malformed URL is said on every page).
    operator: Mutex<Option<Operator>>,
}

impl Redis {
    /// `f` on the handle, in a blocking task: the pages' Redis calls take
    /// their turns on the one connection.
    async fn run<T, F>(self: Arc<Self>, f: F) -> Result<Result<T, eventlib::Error>, JoinError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Operator) -> Result<T, eventlib::Error> + Send + 'static,
    {
        tokio::task::spawn_blocking(move || {
            let mut slot = self.operator.lock().unwrap_or_else(|poisoned| {
                // A call panicked half way: its connection is not trusted.
                let mut slot = PoisonError::into_inner(poisoned);
                *slot = None;
                slot
            });
            let op = match &mut *slot {
                Some(op) => op,
                empty => empty.insert(Operator::new(&self.server)?.stream(&self.stream)),
            };
            f(op)
        })
        .await
    }
}

/// What a page shows of the forms that change something.
enum Forms {
    /// No form: the dashboard is read-only, or has no Redis stream to
    /// change anything in.
    ReadOnly,
    /// The forms, carrying this token.
    On(String),
    /// No form: the OS's random source failed.
    Off(getrandom::Error),
}

impl Config {
    /// The forms of a page for the browser that sent `headers`, and the
    /// session to give it when it had none. Without Redis nothing can be
    /// changed, and no session is needed.
    fn forms(&self, headers: &HeaderMap) -> (Forms, Option<Session>) {
        if self.read_only || self.redis.is_none() {
            return (Forms::ReadOnly, None);
        }
        let key = match &self.key {
            Ok(key) => key,
            Err(err) => return (Forms::Off(*err), None),
        };
        match Session::of(headers) {
            Some(session) => (Forms::On(key.token(&session)), None),
            None => match Session::new() {
                Ok(session) => (Forms::On(key.token(&session)), Some(session)),
                Err(err) => (Forms::Off(err), None),
            },
        }
    }
}

impl Dashboard {
    /// A dashboard served under `prefix` (`"/eventlib"`): its
    /// [`router`](Self::router) holds its pages at `/eventlib` (and
    /// `/eventlib/`), `/eventlib/dead`, ..., to `merge` into the service's
    /// router. `""` or `"/"` serves it at the root.
    pub fn new(prefix: &str) -> Self {
        Dashboard {
            prefix: match prefix.trim_matches('/') {
                "" => String::new(),
                path => format!("/{path}"),
            },
            redis: None,
            read_only: false,
        }
    }

    /// Shows `stream` on the Redis server at `server` (a URL, or a
    /// [`Server`] with TLS certificates): status and dead letters, read
    /// on one connection that the router keeps (an
    /// [`Operator`](eventlib::redis::Operator)).
    pub fn redis(mut self, server: impl Into<Server>, stream: &str) -> Self {
        self.redis = Some((server.into(), stream.to_owned()));
        self
    }

    /// Shows everything, changes nothing: no replay, purge, pause or
    /// resume.
    pub fn read_only(mut self) -> Self {
        self.read_only = true;
        self
    }

    /// The router, with every page under the prefix: `merge` it into the
    /// service's router.
    pub fn router<S: Clone + Send + Sync + 'static>(self) -> Router<S> {
        let prefix = self.prefix.clone();
        let config = Arc::new(Config {
            prefix: self.prefix,
            redis: self.redis.map(|(server, stream)| {
                Arc::new(Redis {
                    server,
                    stream,
                    operator: Mutex::new(None),
                })
            }),
            read_only: self.read_only,
            key: FormKey::new(),
        });
        let at = |path: &str| format!("{prefix}{path}");
        let mut router = Router::new()
            .route(&at("/"), get(overview))
            .route(&at("/events/{name}"), get(event_page))
            .route(&at("/handlers/{path}"), get(handler_page))
            .route(&at("/pause"), post(pause))
            .route(&at("/resume"), post(resume))
            .route(&at("/dead"), get(dead_list))
            .route(&at("/dead/"), get(dead_list))
            .route(&at("/dead/{id}"), get(dead_show))
            .route(&at("/dead/replay"), post(dead_replay))
            .route(&at("/dead/purge"), post(dead_purge));
        if !prefix.is_empty() {
            // The overview answers with and without the trailing slash.
            router = router.route(&prefix, get(overview));
        }
        router.with_state(config)
    }
}

/// The path and query of a request, where its page's forms come back to.
fn here(uri: &Uri) -> String {
    uri.path_and_query()
        .map_or_else(|| uri.path().to_owned(), |pq| pq.as_str().to_owned())
}

/// The buckets of the charts: the last hour's minutes and the last day's
/// hours.
fn read_timeline(op: &mut Operator) -> Result<Timeline, eventlib::Error> {
    Ok(Timeline {
        minutes: op.timeline(Span::Minutes(figures::MINUTES))?,
        hours: op.timeline(Span::Hours(figures::HOURS))?,
    })
}

async fn overview(State(config): State<Arc<Config>>, headers: HeaderMap, uri: Uri) -> Response {
    let stream = match config.redis.clone() {
        None => None,
        Some(redis) => Some(
            match redis
                .run(|op| {
                    Ok(Live {
                        status: op.status()?,
                        timeline: read_timeline(op)?,
                        processes: op.live_processes()?,
                        pauses: Pauses(op.pauses()?),
                        relays: op.relays()?,
                    })
                })
                .await
            {
                Ok(Ok(live)) => StreamView::Live(Box::new(live)),
                Ok(Err(err)) => StreamView::Failed(err),
                Err(_) => StreamView::Unread,
            },
        ),
    };
    let (forms, new_session) = config.forms(&headers);
    let here = here(&uri);
    let pauses = match &stream {
        Some(StreamView::Live(live)) => Some(&live.pauses),
        _ => None,
    };
    let body = overview::body(&config, &forms, &here, stream.as_ref());
    let page = Page {
        title: "Overview",
        kind: None,
        title_is_path: false,
        nav: Nav::Overview,
        refresh: true,
        pauses,
        forms: &forms,
        here: &here,
    };
    let html = page::page(&config, &page, body);
    with_session(&config, new_session, html)
}

/// Dead letters shown as recent failures on an event's or a handler's
/// page.
const RECENT: usize = 10;

/// The newest dead letters of `scope` (newest first), read from the
/// minute where the figures say its last [`RECENT`] letters began, so that
/// the page never reads the whole dead-letter stream; none when the
/// figures show none in the last hour.
fn recent_failures(
    op: &mut Operator,
    minutes: &[Bucket],
    scope: Scope<'_>,
    filter: &DeadLetterFilter,
) -> Result<Vec<DeadLetter>, eventlib::Error> {
    let (mut expected, mut from) = (0, None);
    for minute in minutes.iter().rev() {
        let n = scope.of(minute).get(eventlib::redis::Count::DeadLettered);
        if n > 0 {
            expected += n as usize;
            from = Some(minute.start_secs);
            if expected >= RECENT {
                break;
            }
        }
    }
    let Some(from) = from else {
        return Ok(Vec::new());
    };
    // A minute early: the buckets go by the workers' clocks, the letters'
    // ids by the server's.
    let after = format!("{}-0", from.saturating_sub(60) * 1000);
    let (mut letters, _) = op
        .dead_letters()
        .find(filter, Some(&after), expected + RECENT)?;
    letters.reverse();
    letters.truncate(RECENT);
    Ok(letters)
}

/// What an event's or a handler's page is about.
#[derive(Clone)]
enum Subject {
    Event(String),
    Handler(String),
}

impl Subject {
    fn scope(&self) -> Scope<'_> {
        match self {
            Subject::Event(name) => Scope::Event(name),
            Subject::Handler(path) => Scope::Handler(path),
        }
    }

    fn filter(&self) -> DeadLetterFilter {
        match self {
            Subject::Event(name) => DeadLetterFilter {
                event: Some(name.clone()),
                ..DeadLetterFilter::default()
            },
            Subject::Handler(path) => DeadLetterFilter {
                handler: Some(path.clone()),
                ..DeadLetterFilter::default()
            },
        }
    }
}

async fn event_page(
    State(config): State<Arc<Config>>,
    headers: HeaderMap,
    uri: Uri,
    Path(name): Path<String>,
) -> Response {
    subject_page(config, &headers, &uri, Subject::Event(name)).await
}

async fn handler_page(
    State(config): State<Arc<Config>>,
    headers: HeaderMap,
    uri: Uri,
    Path(path): Path<String>,
) -> Response {
    subject_page(config, &headers, &uri, Subject::Handler(path)).await
}

async fn subject_page(
    config: Arc<Config>,
    headers: &HeaderMap,
    uri: &Uri,
    subject: Subject,
) -> Response {
    let Some(redis) = config.redis.clone() else {
        return no_redis();
    };
    let reading = subject.clone();
    let read = redis
        .run(move |op| {
            let timeline = read_timeline(op)?;
            let pauses = Pauses(op.pauses()?);
            let recent =
                recent_failures(op, &timeline.minutes, reading.scope(), &reading.filter())?;
            Ok(Detail {
                timeline,
                pauses,
                recent,
            })
        })
        .await;
    let (kind, title) = match &subject {
        Subject::Event(name) => ("Event", name.as_str()),
        Subject::Handler(path) => ("Handler", path.as_str()),
    };
    let detail = match read {
        Ok(Ok(detail)) => detail,
        Ok(Err(err)) => return failed(&config, title, StatusCode::BAD_GATEWAY, &err),
        Err(_) => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
    };
    let known = !detail.recent.is_empty()
        || match &subject {
            Subject::Event(name) => !detail::event_handlers(&detail, name).is_empty(),
            Subject::Handler(path) => !detail::handler_groups(&detail, path).is_empty(),
        };
    if !known {
        let what = match &subject {
            Subject::Event(_) => "event",
            Subject::Handler(_) => "handler",
        };
        let body = page::message(&format!(
            "no {what} `{title}`: this binary does not declare it and no worker published figures for it in the last day"
        ));
        return (
            StatusCode::NOT_FOUND,
            page::page(&config, &simple_page(title, Nav::Overview), body),
        )
            .into_response();
    }
    let (forms, new_session) = config.forms(headers);
    let here = here(uri);
    let body = match &subject {
        Subject::Event(name) => detail::event(&config, &forms, &here, name, &detail),
        Subject::Handler(path) => detail::handler(&config, &forms, &here, path, &detail),
    };
    let page = Page {
        title,
        kind: Some(kind),
        title_is_path: matches!(subject, Subject::Handler(_)),
        nav: Nav::Overview,
        refresh: true,
        pauses: Some(&detail.pauses),
        forms: &forms,
        here: &here,
    };
    with_session(&config, new_session, page::page(&config, &page, body))
}

/// A page with no forms, no pauses and no refresh: one that says why
/// something could not be shown.
fn simple_page(title: &str, nav: Nav) -> Page<'_> {
    Page {
        title,
        kind: None,
        title_is_path: false,
        nav,
        refresh: false,
        pauses: None,
        forms: &Forms::ReadOnly,
        here: "",
    }
}

/// Letters shown per page.
const PAGE: usize = 50;

/// A page saying why `title` could not be shown.
fn failed(config: &Config, title: &str, status: StatusCode, err: &eventlib::Error) -> Response {
    let body = page::message(&err.to_string());
    (
        status,
        page::page(config, &simple_page(title, Nav::Overview), body),
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

async fn dead_list(
    State(config): State<Arc<Config>>,
    headers: HeaderMap,
    uri: Uri,
    Query(filter): Query<Filter>,
) -> Response {
    let Some(redis) = config.redis.clone() else {
        return no_redis();
    };
    let filter = Arc::new(filter);
    let matching = {
        let filter = Arc::clone(&filter);
        redis
            .run(move |op| {
                let found = op
                    .dead_letters()
                    .find(&filter.selection(), filter.after(), PAGE)?;
                Ok((found, Pauses(op.pauses()?)))
            })
            .await
    };
    let ((letters, more), pauses) = match matching {
        Ok(Ok(found)) => found,
        Ok(Err(err)) => return failed(&config, "Dead letters", StatusCode::BAD_GATEWAY, &err),
        Err(_) => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
    };
    let (forms, new_session) = config.forms(&headers);
    let here = here(&uri);
    let body = dead::list(&config, &forms, &filter, &letters, more);
    let page = Page {
        title: "Dead letters",
        kind: None,
        title_is_path: false,
        nav: Nav::Dead,
        refresh: false,
        pauses: Some(&pauses),
        forms: &forms,
        here: &here,
    };
    with_session(&config, new_session, page::page(&config, &page, body))
}

/// `page`, giving the browser its session cookie when it had none.
fn with_session(
    config: &Config,
    new_session: Option<Session>,
    page: impl IntoResponse,
) -> Response {
    match new_session {
        Some(session) => {
            ([(header::SET_COOKIE, session.cookie(&config.prefix))], page).into_response()
        }
        None => page.into_response(),
    }
}

async fn dead_show(
    State(config): State<Arc<Config>>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
) -> Response {
    let Some(redis) = config.redis.clone() else {
        return no_redis();
    };
    let wanted = id.clone();
    let read = redis
        .run(move |op| {
            let letter = op.dead_letters().get(&wanted)?;
            Ok((letter, Pauses(op.pauses()?)))
        })
        .await;
    let (letter, pauses) = match read {
        Ok(Ok((Some(letter), pauses))) => (letter, pauses),
        Ok(Ok((None, _))) => {
            let body = page::message(&format!("no dead letter {id}"));
            return (
                StatusCode::NOT_FOUND,
                page::page(&config, &simple_page("Dead letter", Nav::Dead), body),
            )
                .into_response();
        }
        Ok(Err(err @ eventlib::Error::Config { .. })) => {
            return failed(&config, "Dead letter", StatusCode::BAD_REQUEST, &err)
        }
        Ok(Err(err)) => return failed(&config, "Dead letter", StatusCode::BAD_GATEWAY, &err),
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
    let (forms, new_session) = config.forms(&headers);
    let here = here(&uri);
    let body = dead::letter(&config, &forms, &letter, &envelope);
    let title = letter.reference();
    let page = Page {
        title: &title,
        kind: Some("Dead letter"),
        title_is_path: false,
        nav: Nav::Dead,
        refresh: false,
        pauses: Some(&pauses),
        forms: &forms,
        here: &here,
    };
    with_session(&config, new_session, page::page(&config, &page, body))
}

/// Why a posted form is refused.
enum Refused {
    /// The dashboard is read-only.
    ReadOnly,
    /// The OS's random source failed: there are no tokens.
    NoTokens(getrandom::Error),
    /// The token or the session cookie is missing or wrong.
    Forged,
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self {
            Refused::ReadOnly => (StatusCode::FORBIDDEN, "this dashboard is read-only").into_response(),
            Refused::NoTokens(err) => (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("the forms are off: the OS's random source failed ({err})"),
            )
                .into_response(),
            Refused::Forged => (
                StatusCode::FORBIDDEN,
                "the form's token or the session cookie is missing or wrong (a form from another page?): reload the dashboard",
            )
                .into_response(),
        }
    }
}

/// The fields of a posted form whose token is good for the browser's
/// session.
fn checked_form(
    config: &Config,
    headers: &HeaderMap,
    raw: &[u8],
) -> Result<Vec<(String, String)>, Refused> {
    if config.read_only {
        return Err(Refused::ReadOnly);
    }
    let key = config.key.as_ref().map_err(|err| Refused::NoTokens(*err))?;
    let fields: Vec<(String, String)> = form_urlencoded::parse(raw).into_owned().collect();
    let csrf = fields.iter().find(|(k, _)| k == "csrf").map(|(_, v)| v);
    let session = Session::of(headers);
    if !matches!((&session, csrf), (Some(session), Some(posted)) if key.accepts(session, posted)) {
        return Err(Refused::Forged);
    }
    Ok(fields)
}

/// The last value of field `name`, when it is set and not empty.
fn field<'f>(fields: &'f [(String, String)], name: &str) -> Option<&'f str> {
    fields
        .iter()
        .rev()
        .find(|(k, v)| k == name && !v.is_empty())
        .map(|(_, v)| v.as_str())
}

#[derive(Clone, Copy)]
enum Act {
    Replay,
    Purge,
}

async fn dead_replay(
    State(config): State<Arc<Config>>,
    headers: HeaderMap,
    RawForm(raw): RawForm,
) -> Response {
    act(config, &headers, &raw, Act::Replay).await
}

async fn dead_purge(
    State(config): State<Arc<Config>>,
    headers: HeaderMap,
    RawForm(raw): RawForm,
) -> Response {
    act(config, &headers, &raw, Act::Purge).await
}

async fn act(config: Arc<Config>, headers: &HeaderMap, raw: &[u8], what: Act) -> Response {
    let fields = match checked_form(&config, headers, raw) {
        Ok(fields) => fields,
        Err(refused) => return refused.into_response(),
    };
    let ids: Vec<String> = fields
        .into_iter()
        .filter(|(k, _)| k == "id")
        .map(|(_, v)| v)
        .collect();
    let Some(redis) = config.redis.clone() else {
        return no_redis();
    };
    let done = redis
        .run(move |op| {
            let mut dead = op.dead_letters();
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
        Ok(Ok(_)) => see_other(&config.at("/dead")),
        Ok(Err(err)) => (StatusCode::BAD_GATEWAY, err.to_string()).into_response(),
        Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

fn see_other(location: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
}

/// Where a form goes back to: `back` when it is a page of this dashboard
/// (a path under its prefix, never another site), else the overview.
fn back_to(config: &Config, back: Option<&str>) -> String {
    let ours = |back: &str| {
        let rest = match back.strip_prefix(config.prefix.as_str()) {
            Some(rest) => rest,
            None => return false,
        };
        (rest.is_empty() || (rest.starts_with('/') && !rest.starts_with("//")))
            && back.starts_with('/')
            && !back.starts_with("//")
            && !back
                .chars()
                .any(|c| c == '\\' || c.is_control() || c.is_whitespace())
    };
    match back {
        Some(back) if ours(back) => back.to_owned(),
        _ => config.home().to_owned(),
    }
}

async fn pause(
    State(config): State<Arc<Config>>,
    headers: HeaderMap,
    RawForm(raw): RawForm,
) -> Response {
    pause_or_resume(config, &headers, &raw, true).await
}

async fn resume(
    State(config): State<Arc<Config>>,
    headers: HeaderMap,
    RawForm(raw): RawForm,
) -> Response {
    pause_or_resume(config, &headers, &raw, false).await
}

/// Who a pause from the dashboard is said to be by.
const PAUSED_BY: &str = "dashboard";

async fn pause_or_resume(
    config: Arc<Config>,
    headers: &HeaderMap,
    raw: &[u8],
    pause: bool,
) -> Response {
    let fields = match checked_form(&config, headers, raw) {
        Ok(fields) => fields,
        Err(refused) => return refused.into_response(),
    };
    let Some(redis) = config.redis.clone() else {
        return no_redis();
    };
    let Some(group) = field(&fields, "group").map(str::to_owned) else {
        return (StatusCode::BAD_REQUEST, "the form names no group").into_response();
    };
    let handler = field(&fields, "handler").map(str::to_owned);
    let back = back_to(&config, field(&fields, "back"));
    let done = redis
        .run(move |op| {
            if pause {
                op.pause(&group, handler.as_deref(), PAUSED_BY)
            } else {
                op.resume(&group, handler.as_deref())
            }
        })
        .await;
    match done {
        Ok(Ok(_)) => see_other(&back),
        Ok(Err(err @ eventlib::Error::InvalidName { .. })) => {
            (StatusCode::BAD_REQUEST, err.to_string()).into_response()
        }
        Ok(Err(err)) => (StatusCode::BAD_GATEWAY, err.to_string()).into_response(),
        Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(prefix: &str) -> Config {
        Config {
            prefix: prefix.to_owned(),
            redis: None,
            read_only: false,
            key: FormKey::new(),
        }
    }

    #[test]
    fn a_form_goes_back_to_a_page_of_the_dashboard_only() {
        let c = config("/eventlib");
        assert_eq!(back_to(&c, Some("/eventlib")), "/eventlib");
        assert_eq!(
            back_to(&c, Some("/eventlib/handlers/a%3A%3Ab?x=1")),
            "/eventlib/handlers/a%3A%3Ab?x=1"
        );
        for elsewhere in [
            "https://evil.example/",
            "//evil.example/eventlib",
            "/eventlib//evil.example",
            "/eventlibx",
            "/other",
            "/eventlib/\\evil",
            "/eventlib/\nx",
            "",
        ] {
            assert_eq!(back_to(&c, Some(elsewhere)), "/eventlib", "{elsewhere:?}");
        }
        assert_eq!(back_to(&c, None), "/eventlib");
        let root = config("");
        assert_eq!(back_to(&root, Some("/dead?x=1")), "/dead?x=1");
        assert_eq!(back_to(&root, Some("//evil.example")), "/");
        assert_eq!(back_to(&root, Some("evil.example")), "/");
    }
}
