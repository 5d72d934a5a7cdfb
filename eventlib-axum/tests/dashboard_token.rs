//! The dashboard's form token over real sockets, against a real
//! redis-server: tokens an attacker computes from the request ids that
//! responses echo are refused, and so are another session's token, another
//! dashboard's, and the same dashboard's from before a restart. Alone in
//! its binary, so that the ids this process makes are few and an
//! id-derived token would be among the candidates.

mod common;

use std::net::SocketAddr;

use axum::Router;
use common::{request, serve};
use eventlib_axum::{Dashboard, RequestMetadataLayer};
use eventlib_redis_tests::RedisServer;

const STREAM: &str = "token:events";
const FORM: [&str; 1] = ["Content-Type: application/x-www-form-urlencoded"];

fn dead_count(conn: &mut redis::Connection) -> u64 {
    redis::cmd("XLEN")
        .arg(format!("{STREAM}:dead"))
        .query(conn)
        .unwrap()
}

/// The value of the form field `name` in a page, however it is quoted.
fn field(html: &str, name: &str) -> String {
    let rest = html
        .split(&format!("name=\"{name}\" value=\""))
        .nth(1)
        .or_else(|| html.split(&format!("name={name} value=\"")).nth(1))
        .unwrap_or_else(|| panic!("no field {name} in {html}"));
    rest.split('"').next().unwrap().to_owned()
}

/// A replay of `id` as a browser's form posts it: with the session
/// `cookie` it holds for the dashboard, if any, and the form's `token`.
fn replay(addr: SocketAddr, prefix: &str, cookie: Option<&str>, token: &str, id: &str) -> u16 {
    let form = format!("csrf={token}&id={id}");
    let mut headers = FORM.to_vec();
    headers.extend(cookie);
    request(
        addr,
        "POST",
        &format!("{prefix}/dead/replay"),
        &headers,
        form.as_bytes(),
    )
    .status
}

/// Tokens made of two event ids in a row of the process that `seen` (an
/// id a response echoed) came from: its per-process half, and every
/// counter up to a block past `seen`'s (ids are handed out in blocks of
/// 1024 per thread). The first ids of each block come first.
fn candidates(seen: &str) -> Vec<String> {
    let seen = u128::from_str_radix(seen, 16).expect("a 32-hex-digit id");
    let (tag, counter) = (seen >> 64, seen as u64);
    let blocks = counter / 1024 + 2;
    let mut tokens = Vec::new();
    for offset in 0..1023 {
        for block in 0..blocks {
            let first = (tag << 64) | u128::from(block * 1024 + offset);
            tokens.push(format!("{first:032x}{:032x}", first + 1));
        }
    }
    tokens
}

#[test]
fn tokens_computed_from_echoed_ids_or_from_another_dashboard_are_refused() {
    let redis = RedisServer::start();
    let url = redis.url();
    let mut conn = redis.connection();
    common::fill_dead_letters(&mut conn, STREAM);
    let app = Router::new()
        .merge(Dashboard::new("/eventlib").redis(&url, STREAM).router())
        .merge(Dashboard::new("/other").redis(&url, STREAM).router())
        .layer(RequestMetadataLayer::new());
    let addr = serve(app);

    // The operator's browser: a session cookie, a form token.
    let page = request(addr, "GET", "/eventlib/dead", &[], b"");
    assert_eq!(page.status, 200, "{page:?}");
    let session = page.cookie();
    let victim = session.as_deref();
    let token = field(&page.body, "csrf");
    let letter = field(&page.body, "id");

    // What the attacker sees: a response's x-request-id. Its forged form
    // is posted by the operator's browser, with the operator's cookie.
    let seen = page.header("x-request-id").expect("an echoed request id");
    let candidates = candidates(seen);
    // The likeliest candidates, tried as a forged form would.
    for candidate in candidates.iter().take(256) {
        assert_eq!(
            replay(addr, "/eventlib", victim, candidate, &letter),
            403,
            "a token computed from {seen} was taken: {candidate}"
        );
    }
    // And all of them, against the real one.
    assert!(
        !candidates.contains(&token),
        "the form token is two ids in a row of this process: {token}"
    );
    assert_eq!(dead_count(&mut conn), 5, "nothing replayed");
    let cookie = session.clone().expect("a session cookie");

    // Another session's token (the attacker's own visit), both ways, and
    // the right token without its cookie.
    let other = request(addr, "GET", "/eventlib/dead", &[], b"");
    let other_cookie = other.cookie().expect("a session cookie");
    assert_ne!(other_cookie, cookie);
    let other_token = field(&other.body, "csrf");
    assert_ne!(other_token, token);
    assert_eq!(
        replay(addr, "/eventlib", victim, &other_token, &letter),
        403
    );
    assert_eq!(
        replay(addr, "/eventlib", Some(&other_cookie), &token, &letter),
        403
    );
    assert_eq!(replay(addr, "/eventlib", None, &token, &letter), 403);
    // Another dashboard's session and token.
    let elsewhere = request(addr, "GET", "/other/dead", &[], b"");
    let elsewhere_cookie = elsewhere.cookie().expect("a session cookie");
    let elsewhere_token = field(&elsewhere.body, "csrf");
    assert_eq!(
        replay(addr, "/other", Some(&elsewhere_cookie), &token, &letter),
        403
    );
    assert_eq!(
        replay(
            addr,
            "/eventlib",
            Some(&elsewhere_cookie),
            &elsewhere_token,
            &letter
        ),
        403
    );
    // The same dashboard after a restart: the old page's token is stale.
    let restarted =
        serve(Router::new().merge(Dashboard::new("/eventlib").redis(&url, STREAM).router()));
    assert_eq!(replay(restarted, "/eventlib", victim, &token, &letter), 403);
    assert_eq!(dead_count(&mut conn), 5, "nothing replayed");

    // Each page's own token works, as a plain form post with no script.
    assert_eq!(replay(addr, "/eventlib", victim, &token, &letter), 303);
    assert_eq!(dead_count(&mut conn), 4);
    // The browser keeps its cookie across the restart; the reloaded
    // page's token goes with it.
    let reloaded = request(restarted, "GET", "/eventlib/dead", &[&cookie], b"");
    assert_eq!(reloaded.header("set-cookie"), None);
    let second = field(&reloaded.body, "id");
    let fresh = field(&reloaded.body, "csrf");
    assert_eq!(replay(restarted, "/eventlib", victim, &fresh, &second), 303);
    assert_eq!(dead_count(&mut conn), 3);
}
