//! The dashboard over real sockets, against a real redis-server: every
//! route, the filters, replay and purge of a selection, CSRF refusal, the
//! read-only mode, and user data escaped in the HTML.

mod common;

use axum::Router;
use common::{request, serve};
use eventlib::event;
use eventlib_axum::Dashboard;
use eventlib_redis_tests::RedisServer;
use serde::{Deserialize, Serialize};

const STREAM: &str = "dash:events";

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Paid {
    n: u64,
}

#[event(name = "dash.Paid")]
impl Paid {
    #[handler(group = "billing")]
    fn charge(&self) {}
}

fn dead_count(conn: &mut redis::Connection) -> u64 {
    redis::cmd("XLEN")
        .arg(format!("{STREAM}:dead"))
        .query(conn)
        .unwrap()
}

/// The ids of the letters a page lists, in order.
fn ids(html: &str) -> Vec<String> {
    html.split("name=id value=\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().to_owned())
        .collect()
}

fn token(html: &str) -> String {
    html.split("name=csrf value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a csrf token in the form")
        .to_owned()
}

#[test]
fn the_dashboard_shows_filters_replays_and_refuses_forged_forms() {
    let redis = RedisServer::start();
    let url = redis.url();
    let mut conn = redis.connection();
    common::fill_dead_letters(&mut conn, STREAM);
    let app = Router::new()
        .nest(
            "/eventlib",
            Dashboard::new("/eventlib").redis(&url, STREAM).router(),
        )
        .nest(
            "/ro",
            Dashboard::new("/ro")
                .redis(&url, STREAM)
                .read_only()
                .router(),
        )
        .nest("/local", Dashboard::new("/local").router());
    let addr = serve(app);

    let overview = request(addr, "GET", "/eventlib", &[], b"");
    assert_eq!(overview.status, 200, "{overview:?}");
    for expected in [
        "dash.Paid",
        "dashboard::Paid::charge",
        "billing",
        "5 dead letter(s)",
        "location.reload",
    ] {
        assert!(
            overview.body.contains(expected),
            "{expected}: {}",
            overview.body
        );
    }
    let local = request(addr, "GET", "/local", &[], b"");
    assert!(
        local.body.contains("dash.Paid") && !local.body.contains("Stream"),
        "{}",
        local.body
    );
    assert_eq!(request(addr, "GET", "/local/dead", &[], b"").status, 404);

    // The list, its filter, one letter, escaping.
    let list = request(addr, "GET", "/eventlib/dead", &[], b"");
    let all = ids(&list.body);
    assert_eq!(all.len(), 5, "{}", list.body);
    assert!(list.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!list.body.contains("<script>alert(1)"));
    let timeouts = request(addr, "GET", "/eventlib/dead?reason=timeout", &[], b"");
    assert_eq!(ids(&timeouts.body), [all[1].clone()]);
    let shown = request(addr, "GET", &format!("/eventlib/dead/{}", all[0]), &[], b"");
    assert_eq!(shown.status, 200);
    assert!(shown.body.contains("&quot;n&quot;: 0"), "{}", shown.body);
    assert_eq!(
        request(addr, "GET", "/eventlib/dead/1-0", &[], b"").status,
        404
    );
    assert_eq!(
        request(addr, "GET", "/eventlib/dead/garbage", &[], b"").status,
        400
    );

    // Forged forms: no token, a wrong one.
    let form = ["Content-Type: application/x-www-form-urlencoded"];
    let forged = format!("id={}", all[0]);
    assert_eq!(
        request(
            addr,
            "POST",
            "/eventlib/dead/replay",
            &form,
            forged.as_bytes()
        )
        .status,
        403
    );
    let wrong = format!("csrf=nope&id={}", all[0]);
    assert_eq!(
        request(
            addr,
            "POST",
            "/eventlib/dead/purge",
            &form,
            wrong.as_bytes()
        )
        .status,
        403
    );
    assert_eq!(dead_count(&mut conn), 5);

    // Replay two, purge one, with the page's token.
    let csrf = token(&list.body);
    let replay = format!("csrf={csrf}&id={}&id={}", all[0], all[2]);
    let answer = request(
        addr,
        "POST",
        "/eventlib/dead/replay",
        &form,
        replay.as_bytes(),
    );
    assert_eq!(answer.status, 303, "{answer:?}");
    assert_eq!(answer.header("location"), Some("/eventlib/dead"));
    assert_eq!(dead_count(&mut conn), 3);
    let replayed: u64 = redis::cmd("XLEN").arg(STREAM).query(&mut conn).unwrap();
    assert_eq!(replayed, 2);
    let purge = format!("csrf={csrf}&id={}", all[4]);
    assert_eq!(
        request(
            addr,
            "POST",
            "/eventlib/dead/purge",
            &form,
            purge.as_bytes()
        )
        .status,
        303
    );
    assert_eq!(dead_count(&mut conn), 2);
    let after = request(addr, "GET", "/eventlib/dead", &[], b"");
    assert!(
        after.body.contains("2 letter(s) on this page"),
        "{}",
        after.body
    );

    // Read-only: no form, and a POST is refused even with a token.
    let ro = request(addr, "GET", "/ro/dead", &[], b"");
    assert!(
        !ro.body.contains("type=checkbox") && !ro.body.contains("method=post"),
        "{}",
        ro.body
    );
    let with_token = format!("csrf={csrf}&id={}", all[1]);
    assert_eq!(
        request(
            addr,
            "POST",
            "/ro/dead/replay",
            &form,
            with_token.as_bytes()
        )
        .status,
        403
    );
    assert_eq!(dead_count(&mut conn), 2);
}

#[test]
fn a_page_of_100000_dead_letters_is_one_read() {
    let redis = RedisServer::start();
    let url = redis.url();
    let mut conn = redis.connection();
    common::fill_many_dead_letters(&mut conn, "big:events", 100_000);
    let app = Router::new().nest(
        "/eventlib",
        Dashboard::new("/eventlib")
            .redis(&url, "big:events")
            .router(),
    );
    let addr = serve(app);
    let before = common::redis_calls(&mut conn, "xrange");
    let page = request(addr, "GET", "/eventlib/dead", &[], b"");
    assert_eq!(page.status, 200);
    assert_eq!(ids(&page.body).len(), 50);
    assert!(page.body.contains("next page"));
    assert_eq!(
        common::redis_calls(&mut conn, "xrange") - before,
        1,
        "one page read, not the stream"
    );
    let overview = request(addr, "GET", "/eventlib", &[], b"");
    assert!(
        overview.body.contains("100000 dead letter(s)"),
        "{}",
        overview.body
    );
}
