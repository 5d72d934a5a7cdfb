//! The ingestion router over real sockets: every status it answers, 25+
//! kinds of bad input each with its status and a JSON error, the good
//! events handled once with the ingested metadata, the server still
//! serving after all of it; and the metadata layer on a page handler.

mod common;

use std::sync::Mutex;

use axum::routing::get;
use axum::Router;
use common::{post_json, request, serve};
use eventlib::{event, log, Context, ValidationError};
use eventlib_axum::{Ingest, RequestMetadataLayer, TrustedProxies};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Zoomed {
    product_id: u64,
    zoom: f32,
}

/// What a handler saw: its event's key field and the metadata.
#[derive(Debug, Clone)]
struct Seen {
    event: &'static str,
    key: u64,
    meta: Vec<(String, String)>,
}

static SEEN: Mutex<Vec<Seen>> = Mutex::new(Vec::new());

fn note(event: &'static str, key: u64, ctx: &Context) {
    let meta = ctx
        .metadata()
        .iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    SEEN.lock().unwrap().push(Seen { event, key, meta });
}

fn seen(event: &str) -> Vec<Seen> {
    SEEN.lock()
        .unwrap()
        .iter()
        .filter(|s| s.event == event)
        .cloned()
        .collect()
}

fn meta<'a>(seen: &'a Seen, key: &str) -> Option<&'a str> {
    seen.meta
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

#[event(name = "web.Zoomed")]
impl Zoomed {
    #[validate]
    fn check(&self) -> Result<(), ValidationError> {
        if !(1.0..=10.0).contains(&self.zoom) {
            return Err(ValidationError::new("zoom must be between 1 and 10").on_field("zoom"));
        }
        Ok(())
    }

    #[handler]
    fn record(&self, ctx: &Context) {
        note("web.Zoomed", self.product_id, ctx);
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Secret {
    n: u64,
}

#[event(name = "web.Secret")]
impl Secret {
    #[handler]
    fn record(&self, ctx: &Context) {
        note("web.Secret", self.n, ctx);
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Viewed {
    product_id: u64,
}

#[event(name = "web.Viewed")]
impl Viewed {
    #[handler]
    fn record(&self, ctx: &Context) {
        note("web.Viewed", self.product_id, ctx);
    }
}

async fn product_page(axum::extract::Path(id): axum::extract::Path<u64>) -> String {
    // The one line: no request argument, the metadata is in scope.
    log!(Viewed { product_id: id }).unwrap();
    format!("product {id}")
}

fn app(ingest: Ingest) -> Router {
    Router::new()
        .route("/products/{id}", get(product_page))
        .merge(ingest.router().unwrap())
        .layer(RequestMetadataLayer::new())
}

fn zoom(product_id: u64) -> String {
    format!(r#"{{"product_id":{product_id},"zoom":2.5}}"#)
}

/// Each bad input: what it is, the request, the status and a piece of the
/// error it must get.
struct Bad {
    what: &'static str,
    path: String,
    headers: Vec<&'static str>,
    body: Vec<u8>,
    status: u16,
    says: &'static str,
}

fn bad(what: &'static str, body: impl Into<Vec<u8>>, status: u16, says: &'static str) -> Bad {
    Bad {
        what,
        path: "/events/web.Zoomed".into(),
        headers: vec!["Content-Type: application/json"],
        body: body.into(),
        status,
        says,
    }
}

fn bad_inputs() -> Vec<Bad> {
    let deep = format!("{}{}", "[".repeat(300), "]".repeat(300));
    let mut list = vec![
        bad(
            "malformed JSON",
            r#"{"product_id": 1,"#,
            400,
            "malformed JSON",
        ),
        bad(
            "trailing garbage",
            r#"{"product_id":1,"zoom":2} x"#,
            400,
            "malformed JSON",
        ),
        bad("deep nesting", deep, 400, "recursion limit"),
        bad(
            "a number too large for f64",
            r#"{"product_id":1,"zoom":1e400}"#,
            400,
            "malformed JSON",
        ),
        bad(
            "a number too large for u64",
            r#"{"product_id":18446744073709551616,"zoom":2}"#,
            400,
            "product_id",
        ),
        bad(
            "a negative id",
            r#"{"product_id":-1,"zoom":2}"#,
            400,
            "product_id",
        ),
        bad(
            "a wrong type",
            r#"{"product_id":"seven","zoom":2}"#,
            400,
            "product_id",
        ),
        bad(
            "an unknown field",
            r#"{"product_id":1,"zoom":2,"color":"red"}"#,
            400,
            "unknown field",
        ),
        bad("a missing field", r#"{"product_id":1}"#, 400, "zoom"),
        bad("an empty body", "", 400, "the body is empty"),
        bad("a blank body", "  \n ", 400, "the body is empty"),
        bad("null data", "null", 400, "invalid data"),
        bad(
            "an array too short for the fields",
            "[1]",
            400,
            "invalid length 1",
        ),
        bad("a string for an object", r#""zoom""#, 400, "invalid data"),
        bad(
            "invalid UTF-8",
            b"{\"product_id\":1,\"zoom\":2,\"x\":\"\xff\"}".to_vec(),
            400,
            "malformed JSON",
        ),
        bad(
            "refused by #[validate]",
            r#"{"product_id":1,"zoom":50}"#,
            400,
            "zoom must be between 1 and 10",
        ),
        bad(
            "a 10 MB body",
            vec![b' '; 10 * 1024 * 1024],
            413,
            "over the",
        ),
    ];
    for (what, name, says) in [
        ("a name that is invalid", "no%20dots", "no event named"),
        (
            "a name that is not declared",
            "web.Nope",
            "no event named `web.Nope`",
        ),
        (
            "a declared name not allowed",
            "web.Secret",
            "no event named `web.Secret`",
        ),
    ] {
        let mut b = bad(what, zoom(1), 404, says);
        b.path = format!("/events/{name}");
        list.push(b);
    }
    let mut b = bad(
        "a text content type",
        zoom(1),
        415,
        "content type `text/plain`",
    );
    b.headers = vec!["Content-Type: text/plain"];
    list.push(b);
    let mut b = bad("no content type", zoom(1), 415, "no content type");
    b.headers = vec![];
    list.push(b);
    for (what, body, status, says) in [
        (
            "a batch that is not an array",
            r#"{"name":"web.Zoomed"}"#,
            400,
            "a batch is a JSON array",
        ),
        (
            "a batch over its limit",
            "[1,1,1,1,1,1,1,1,1,1,1]",
            413,
            "11 items, more than the 10",
        ),
        ("a malformed batch", "[{", 400, "malformed JSON"),
    ] {
        let mut b = bad(what, body, status, says);
        b.path = "/events".into();
        list.push(b);
    }
    list
}

#[test]
fn ingestion_answers_every_kind_of_input() {
    let ingest = Ingest::new()
        .allow(["web.Zoomed"])
        .batch_limit(10)
        .rate_limit(10_000, 10_000);
    let addr = serve(app(ingest));

    let inputs = bad_inputs();
    assert!(inputs.len() >= 25, "{} kinds", inputs.len());
    for input in &inputs {
        let answer = request(addr, "POST", &input.path, &input.headers, &input.body);
        assert_eq!(answer.status, input.status, "{}: {answer:?}", input.what);
        let body = answer.json();
        let error = body["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{}: {body}", input.what));
        assert!(error.contains(input.says), "{}: {error}", input.what);
        assert_eq!(
            answer.header("content-type"),
            Some("application/json"),
            "{}",
            input.what
        );
    }

    // The data error names the field.
    let answer = post_json(
        addr,
        "/events/web.Zoomed",
        r#"{"product_id":"seven","zoom":2}"#,
    );
    assert_eq!(answer.json()["field"], "product_id");

    // Good ones, one by one and in a mixed batch.
    let one = post_json(addr, "/events/web.Zoomed", &zoom(101));
    assert_eq!(one.status, 202, "{one:?}");
    let id = one.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 32);
    let batch = format!(
        r#"[{{"name":"web.Zoomed","data":{}}},
            {{"name":"web.Zoomed","data":{{"product_id":103,"zoom":99}}}},
            {{"name":"web.Secret","data":{{"n":1}}}},
            {{"data":{{}}}},
            7,
            {{"name":"web.Zoomed","data":{}}}]"#,
        zoom(102),
        zoom(104)
    );
    let answer = post_json(addr, "/events", &batch);
    assert_eq!(answer.status, 207, "{answer:?}");
    let results = answer.json()["results"].as_array().unwrap().clone();
    let statuses: Vec<u64> = results
        .iter()
        .map(|r| r["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, [202, 400, 404, 400, 400, 202], "{results:?}");
    assert_eq!(results[1]["field"], "zoom");
    let all_good = format!(r#"[{{"name":"web.Zoomed","data":{}}}]"#, zoom(105));
    assert_eq!(post_json(addr, "/events", &all_good).status, 202);

    // Wrong method: axum's own answer, not a 500.
    assert_eq!(
        request(addr, "GET", "/events/web.Zoomed", &[], b"").status,
        405
    );

    // The server keeps serving, and every good event was handled once.
    assert_eq!(
        post_json(addr, "/events/web.Zoomed", &zoom(106)).status,
        202
    );
    eventlib::flush();
    // (Keys 100 to 199 are this test's; the others run beside it.)
    let mut keys: Vec<u64> = seen("web.Zoomed")
        .iter()
        .map(|s| s.key)
        .filter(|k| (100..200).contains(k))
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, [101, 102, 104, 105, 106]);
    assert!(seen("web.Secret").is_empty(), "a not-allowed event ran");

    // Ingested events say so, with the client and the request.
    let zoomed = seen("web.Zoomed");
    let first = zoomed.iter().find(|s| s.key == 101).unwrap();
    assert_eq!(meta(first, "ingested"), Some("true"));
    assert_eq!(meta(first, "client_ip"), Some("127.0.0.1"));
    assert_eq!(meta(first, "route"), Some("/events/{name}"));
    assert_eq!(meta(first, "method"), Some("POST"));
    assert!(meta(first, "request_id").is_some());
}

#[test]
fn past_the_rate_limit_a_client_gets_429() {
    let addr = serve(app(Ingest::new().allow(["web.Zoomed"]).rate_limit(1, 5)));
    let statuses: Vec<u16> = (0..8)
        .map(|n| post_json(addr, "/events/web.Zoomed", &zoom(200 + n)).status)
        .collect();
    assert_eq!(&statuses[..5], [202; 5], "{statuses:?}");
    assert!(statuses[5..].iter().all(|&s| s == 429), "{statuses:?}");
    let answer = post_json(addr, "/events/web.Zoomed", &zoom(299));
    assert_eq!(answer.status, 429);
    assert!(answer.json()["error"]
        .as_str()
        .unwrap()
        .contains("too many events"));
    assert_eq!(answer.header("retry-after"), Some("1"));
    // A batch costs one per item.
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let batch = format!(
        r#"[{{"name":"web.Zoomed","data":{}}},{{"name":"web.Zoomed","data":{}}},{{"name":"web.Zoomed","data":{}}}]"#,
        zoom(300),
        zoom(301),
        zoom(302)
    );
    assert_eq!(post_json(addr, "/events", &batch).status, 429);
}

#[test]
fn allowing_an_undeclared_event_is_an_error_at_startup() {
    let err = Ingest::new()
        .allow(["web.Typo"])
        .router::<()>()
        .unwrap_err();
    assert!(
        matches!(err, eventlib::Error::UnknownEvent { .. }),
        "{err:?}"
    );
    let err = Ingest::new()
        .allow(["not a name"])
        .router::<()>()
        .unwrap_err();
    assert!(
        matches!(err, eventlib::Error::InvalidName { .. }),
        "{err:?}"
    );
}

#[test]
fn the_layer_puts_the_request_in_scope_for_log() {
    let addr = serve(app(Ingest::new()));
    let answer = request(
        addr,
        "GET",
        "/products/7",
        &["x-request-id: req-abc.123"],
        b"",
    );
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.header("x-request-id"), Some("req-abc.123"));
    // None, or malformed: a generated one, echoed.
    let generated = request(addr, "GET", "/products/8", &[], b"");
    let id8 = generated.header("x-request-id").unwrap().to_owned();
    assert_eq!(id8.len(), 32, "{id8}");
    let replaced = request(
        addr,
        "GET",
        "/products/9",
        &["x-request-id: has spaces in it"],
        b"",
    );
    let id9 = replaced.header("x-request-id").unwrap().to_owned();
    assert_ne!(id9, "has spaces in it");
    // A forwarded header from an untrusted peer is not believed.
    request(
        addr,
        "GET",
        "/products/10",
        &["x-forwarded-for: 198.51.100.7"],
        b"",
    );

    eventlib::flush();
    let viewed = seen("web.Viewed");
    let of = |key: u64| viewed.iter().find(|s| s.key == key).unwrap().clone();
    let seven = of(7);
    assert_eq!(meta(&seven, "request_id"), Some("req-abc.123"));
    assert_eq!(meta(&seven, "client_ip"), Some("127.0.0.1"));
    assert_eq!(meta(&seven, "method"), Some("GET"));
    assert_eq!(meta(&seven, "route"), Some("/products/{id}"));
    assert_eq!(meta(&seven, "ingested"), None);
    assert_eq!(meta(&of(8), "request_id"), Some(id8.as_str()));
    assert_eq!(meta(&of(9), "request_id"), Some(id9.as_str()));
    assert_eq!(meta(&of(10), "client_ip"), Some("127.0.0.1"));
}

#[test]
fn a_trusted_proxy_forwards_the_client_ip() {
    let app = Router::new()
        .route("/products/{id}", get(product_page))
        .layer(
            RequestMetadataLayer::new()
                .trusted_proxies(TrustedProxies::new(["127.0.0.1".parse().unwrap()])),
        );
    let addr = serve(app);
    request(
        addr,
        "GET",
        "/products/20",
        &["x-forwarded-for: 198.51.100.7, 127.0.0.1"],
        b"",
    );
    request(
        addr,
        "GET",
        "/products/21",
        &["x-forwarded-for: bogus, 198.51.100.8"],
        b"",
    );
    eventlib::flush();
    let viewed = seen("web.Viewed");
    let of = |key: u64| viewed.iter().find(|s| s.key == key).unwrap().clone();
    assert_eq!(meta(&of(20), "client_ip"), Some("198.51.100.7"));
    // A malformed hop: only the trusted peer is believed.
    assert_eq!(meta(&of(21), "client_ip"), Some("127.0.0.1"));
}

#[test]
fn behind_a_trusted_proxy_each_browser_is_its_own_client() {
    // One setting, on the layer: the ingestion router takes its client.
    let app = Router::new()
        .merge(
            Ingest::new()
                .allow(["web.Zoomed"])
                .rate_limit(1, 1)
                .router()
                .unwrap(),
        )
        .layer(
            RequestMetadataLayer::new()
                .trusted_proxies(TrustedProxies::new(["127.0.0.1".parse().unwrap()])),
        );
    let addr = serve(app);
    let json = "Content-Type: application/json";
    let proxy: std::net::IpAddr = "127.0.0.1".parse().unwrap();
    let stranger: std::net::IpAddr = "127.0.0.2".parse().unwrap();
    let post = |from, forwarded: &str, n: u64| {
        let header = format!("x-forwarded-for: {forwarded}");
        common::request_from(
            from,
            addr,
            "POST",
            "/events/web.Zoomed",
            &[json, &header],
            zoom(n).as_bytes(),
        )
        .status
    };
    // Through the trusted proxy: two browsers, a bucket each.
    assert_eq!(post(proxy, "198.51.100.1", 500), 202);
    assert_eq!(post(proxy, "198.51.100.2", 501), 202);
    assert_eq!(post(proxy, "198.51.100.1", 502), 429);
    // An untrusted peer's header is ignored: its own address, one bucket.
    assert_eq!(post(stranger, "198.51.100.3", 503), 202);
    assert_eq!(post(stranger, "198.51.100.4", 504), 429);

    eventlib::flush();
    let zoomed = seen("web.Zoomed");
    let client = |key: u64| {
        let seen = zoomed.iter().find(|s| s.key == key).unwrap();
        meta(seen, "client_ip").map(str::to_owned)
    };
    assert_eq!(client(500).as_deref(), Some("198.51.100.1"));
    assert_eq!(client(501).as_deref(), Some("198.51.100.2"));
    assert_eq!(client(503).as_deref(), Some("127.0.0.2"));
    assert!(zoomed.iter().all(|s| ![502, 504].contains(&s.key)));
}
