//! The ingestion router: events logged over HTTP, by name.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use eventlib::metadata::Metadata;
use serde_json::Value;

use crate::client;
use crate::problem::{json, Problem};
use crate::rate::RateLimit;

/// The longest user agent kept in an ingested event's metadata; a longer
/// one is cut at this many bytes (on a character boundary).
pub const MAX_USER_AGENT_LEN: usize = 256;

/// An HTTP ingestion router: `POST /events/{name}` logs one event,
/// `POST /events` a batch, by name (through [`eventlib::try_log_json`], so
/// `#[validate]` runs and a full queue is a `503`, never a wait), for
/// browsers and services in other languages.
///
/// **Closed by default**: only the events named with [`allow`](Self::allow)
/// can be logged; any other name, declared or not, is a `404` that does not
/// say which. Each ingested event carries, besides the request metadata of
/// [`RequestMetadataLayer`](crate::RequestMetadataLayer) when it is
/// installed, `client_ip`, `user_agent` and `ingested = "true"`, so that
/// handlers can tell it from an event the server logged itself.
///
/// **The client** (its `client_ip` and its rate-limit bucket) is the one
/// the layer decided, with the layer's
/// [`trusted_proxies`](crate::RequestMetadataLayer::trusted_proxies):
/// behind a reverse proxy, declare it there, once. Without the layer it is
/// the peer address.
///
/// | answer | when |
/// |---|---|
/// | `202` `{"id": "..."}` | logged (a batch: every item logged) |
/// | `207` `{"results": [...]}` | a batch with some items refused: one `{"status", "id"}` or `{"status", "error", "field"}` per item, in order |
/// | `400` `{"error", "field"}` | malformed JSON, an empty body, data that does not fit the event (`field` is its path), `#[validate]` refused it |
/// | `404` | a name that is not allowed (or not declared, or not a valid name) |
/// | `413` | a body over [`body_limit`](Self::body_limit), a batch over [`batch_limit`](Self::batch_limit) |
/// | `415` | a content type other than `application/json` |
/// | `429` | past the client's [rate limit](Self::rate_limit), with `Retry-After` |
/// | `503` | the dispatcher is shut down, the queue is full (with `Retry-After`: the endpoint never waits for room), the transport refused it |
///
/// Errors are JSON objects; the router never answers `500`.
#[derive(Debug, Clone)]
pub struct Ingest {
    allowed: Vec<String>,
    body_limit: usize,
    batch_limit: usize,
    rate: Option<(u32, u32)>,
}

impl Default for Ingest {
    fn default() -> Self {
        Ingest {
            allowed: Vec::new(),
            body_limit: 64 * 1024,
            batch_limit: 100,
            rate: Some((20, 100)),
        }
    }
}

struct Config {
    allowed: Vec<String>,
    body_limit: usize,
    batch_limit: usize,
    rate: Option<RateLimit>,
}

impl Ingest {
    /// A router that allows nothing yet: every name is a `404`.
    pub fn new() -> Self {
        Ingest::default()
    }

    /// Allows these events to be logged from outside.
    pub fn allow<N: Into<String>>(mut self, names: impl IntoIterator<Item = N>) -> Self {
        self.allowed.extend(names.into_iter().map(Into::into));
        self
    }

    /// The largest body taken, in bytes (default 64 KiB); past it, `413`.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// The most items of one batch (default 100); past it, `413`.
    pub fn batch_limit(mut self, items: usize) -> Self {
        self.batch_limit = items.max(1);
        self
    }

    /// Events per second and burst per client IP (default 20 per second,
    /// bursts of 100; a batch costs one per item); past it, `429`.
    pub fn rate_limit(mut self, per_second: u32, burst: u32) -> Self {
        self.rate = Some((per_second, burst));
        self
    }

    /// No rate limit (behind a proxy or a layer that limits already).
    pub fn no_rate_limit(mut self) -> Self {
        self.rate = None;
        self
    }

    /// The router, to merge or nest into the application's.
    ///
    /// # Errors
    ///
    /// An allowed name that is not a valid event name
    /// ([`Error::InvalidName`](eventlib::Error::InvalidName)) or that no
    /// linked `#[event]` declares
    /// ([`Error::UnknownEvent`](eventlib::Error::UnknownEvent)): a deploy
    /// mistake, told at startup rather than as `404`s later.
    pub fn router<S: Clone + Send + Sync + 'static>(self) -> Result<Router<S>, eventlib::Error> {
        for name in &self.allowed {
            eventlib::name::validate_name(name).map_err(|reason| eventlib::Error::InvalidName {
                name: name.clone(),
                reason,
            })?;
            if eventlib::registry().event(name).is_none() {
                return Err(eventlib::Error::UnknownEvent { name: name.clone() });
            }
        }
        let config = Arc::new(Config {
            allowed: self.allowed,
            body_limit: self.body_limit,
            batch_limit: self.batch_limit,
            rate: self
                .rate
                .map(|(per_second, burst)| RateLimit::new(per_second, burst)),
        });
        Ok(Router::new()
            .route("/events/{name}", post(one))
            .route("/events", post(batch))
            .with_state(config))
    }
}

async fn one(
    State(config): State<Arc<Config>>,
    Path(name): Path<String>,
    request: Request,
) -> Response {
    let client = client::client_ip(&request);
    let result = async {
        config.admit(client, 1)?;
        if !config.allowed.contains(&name) {
            return Err(not_allowed(&name));
        }
        let (metadata, body) = config.read(client, request).await?;
        let id = metadata
            .in_scope(|| eventlib::try_log_json(&name, body))
            .map_err(Problem::of)?;
        Ok(json(
            StatusCode::ACCEPTED,
            &serde_json::json!({ "id": id.to_string() }),
        ))
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

async fn batch(State(config): State<Arc<Config>>, request: Request) -> Response {
    let client = client::client_ip(&request);
    let result = async {
        let (metadata, body) = config.read(client, request).await?;
        let Value::Array(items) = body else {
            return Err(Problem::new(
                StatusCode::BAD_REQUEST,
                "a batch is a JSON array of {\"name\": ..., \"data\": ...} objects",
            ));
        };
        if items.len() > config.batch_limit {
            return Err(Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "a batch of {} items, more than the {} allowed",
                    items.len(),
                    config.batch_limit
                ),
            ));
        }
        config.admit(
            client,
            u32::try_from(items.len()).unwrap_or(u32::MAX).max(1),
        )?;
        let results: Vec<Result<String, Problem>> = items
            .into_iter()
            .enumerate()
            .map(|(n, item)| config.log_item(&metadata, n, item))
            .collect();
        let all_logged = results.iter().all(Result::is_ok);
        let results: Vec<Value> = results
            .into_iter()
            .map(|result| match result {
                Ok(id) => serde_json::json!({ "status": 202, "id": id }),
                Err(problem) => {
                    let mut body = problem.body();
                    body["status"] = problem.status.as_u16().into();
                    body
                }
            })
            .collect();
        let status = if all_logged {
            StatusCode::ACCEPTED
        } else {
            StatusCode::MULTI_STATUS
        };
        Ok(json(status, &serde_json::json!({ "results": results })))
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

fn not_allowed(name: &str) -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        format!("no event named `{name}` can be logged here"),
    )
}

impl Config {
    fn admit(&self, client: Option<IpAddr>, cost: u32) -> Result<(), Problem> {
        let Some(rate) = &self.rate else {
            return Ok(());
        };
        rate.take(client, cost).map_err(|wait| {
            let mut problem = Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "too many events from this client: retry in {} ms",
                    wait.as_millis()
                ),
            );
            problem.retry_after = Some(wait.as_secs() + 1);
            problem
        })
    }

    /// The content type, the body as JSON, and the metadata of an event
    /// ingested with this request.
    async fn read(
        &self,
        client: Option<IpAddr>,
        request: Request,
    ) -> Result<(Metadata, Value), Problem> {
        let metadata = ingested(request.headers(), client)?;
        check_content_type(request.headers())?;
        let body = axum::body::to_bytes(request.into_body(), self.body_limit)
            .await
            .map_err(|err| {
                if over_limit(err.into_inner().as_ref()) {
                    Problem::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        format!("the body is over the {} bytes allowed", self.body_limit),
                    )
                } else {
                    Problem::new(StatusCode::BAD_REQUEST, "the body could not be read")
                }
            })?;
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(Problem::new(
                StatusCode::BAD_REQUEST,
                "the body is empty: send the event's data as JSON",
            ));
        }
        let value = serde_json::from_slice(&body).map_err(|err| {
            Problem::new(StatusCode::BAD_REQUEST, format!("malformed JSON: {err}"))
        })?;
        Ok((metadata, value))
    }

    fn log_item(&self, metadata: &Metadata, n: usize, item: Value) -> Result<String, Problem> {
        let bad = |what: &str| Problem::new(StatusCode::BAD_REQUEST, format!("item {n}: {what}"));
        let Value::Object(mut item) = item else {
            return Err(bad("not an object of `name` and `data`"));
        };
        let name = match item.remove("name") {
            Some(Value::String(name)) => name,
            _ => return Err(bad("no `name` string")),
        };
        let data = item.remove("data").ok_or_else(|| bad("no `data`"))?;
        if !self.allowed.contains(&name) {
            return Err(not_allowed(&name));
        }
        metadata
            .in_scope(|| eventlib::try_log_json(&name, data))
            .map(|id| id.to_string())
            .map_err(Problem::of)
    }
}

/// Whether reading a body failed for its length (anywhere in the chain of
/// causes: hyper's and axum's errors wrap it).
fn over_limit(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(err);
    while let Some(err) = cause {
        if err.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        cause = err.source();
    }
    false
}

fn check_content_type(headers: &HeaderMap) -> Result<(), Problem> {
    let essence = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
    match essence.as_deref() {
        Some("application/json") => Ok(()),
        Some(other) => Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("content type `{other}`: send `application/json`"),
        )),
        None => Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "no content type: send `application/json`",
        )),
    }
}

/// The metadata in scope (the layer's, if installed) with what marks an
/// ingested event: the client IP, the user agent, `ingested = "true"`.
/// When the scope is too full for all of them, `ingested` alone (a handler
/// must always be able to tell); when not even that fits, the request is
/// refused rather than logged as if the server had logged it.
fn ingested(headers: &HeaderMap, client: Option<IpAddr>) -> Result<Metadata, Problem> {
    let mut entries: Vec<(&str, String)> = vec![("ingested", "true".to_owned())];
    if let Some(ip) = client {
        entries.push(("client_ip", ip.to_string()));
    }
    if let Some(agent) = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
    {
        let mut end = agent.len().min(MAX_USER_AGENT_LEN);
        while !agent.is_char_boundary(end) {
            end -= 1;
        }
        entries.push(("user_agent", agent[..end].to_owned()));
    }
    let current = eventlib::metadata::current();
    current
        .extend(entries.iter().map(|(k, v)| (*k, v.as_str())))
        .or_else(|_| current.with("ingested", "true"))
        .map_err(|err| {
            Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("the request's metadata cannot be recorded: {err}"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ingested_event_is_always_marked_or_refused() {
        let mut headers = HeaderMap::new();
        headers.insert(header::USER_AGENT, "agent/1".parse().unwrap());
        let client = Some("192.0.2.1".parse().unwrap());
        let md = ingested(&headers, client).unwrap();
        assert_eq!(md.get("ingested"), Some("true"));
        assert_eq!(md.get("user_agent"), Some("agent/1"));
        // A scope one entry short of the limit: `ingested` alone fits.
        let nearly_full = (1..eventlib::metadata::MAX_ENTRIES).map(|i| (format!("k{i}"), "v"));
        let md = eventlib::metadata::scope(nearly_full, || ingested(&headers, client))
            .unwrap()
            .unwrap();
        assert_eq!(md.get("ingested"), Some("true"));
        assert_eq!(md.get("user_agent"), None);
        // A full scope: refused, not logged unmarked.
        let full = (0..eventlib::metadata::MAX_ENTRIES).map(|i| (format!("k{i}"), "v"));
        let refused = eventlib::metadata::scope(full, || ingested(&headers, client)).unwrap();
        assert_eq!(refused.unwrap_err().status, StatusCode::SERVICE_UNAVAILABLE);
    }
}
