//! The dashboard over real sockets, against a real redis-server: every
//! route, the filters, replay and purge of a selection, CSRF refusal, the
//! read-only mode, and user data escaped in the HTML.

mod common;

use axum::Router;
use common::{request, serve};
use eventlib::event;
use eventlib_axum::Dashboard;
use std::time::Duration;

use eventlib_redis_tests::{connections_received, RedisServer};
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
    html.split("name=\"id\" value=\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().to_owned())
        .collect()
}

/// The figure of the overview's tile `label`, without its thin spaces.
fn tile(html: &str, label: &str) -> String {
    let rest = html
        .split(&format!("data-tile=\"{label}\""))
        .nth(1)
        .unwrap_or_else(|| panic!("no tile {label}: {html}"));
    let value = rest.split("\">").nth(1).unwrap();
    value.split('<').next().unwrap().replace('\u{202f}', "")
}

fn token(html: &str) -> String {
    html.split("name=\"csrf\" value=\"")
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
        .merge(Dashboard::new("/eventlib").redis(&url, STREAM).router())
        .merge(
            Dashboard::new("/ro")
                .redis(&url, STREAM)
                .read_only()
                .router(),
        )
        .merge(Dashboard::new("/local").router());
    let addr = serve(app);

    let overview = request(addr, "GET", "/eventlib", &[], b"");
    assert_eq!(overview.status, 200, "{overview:?}");
    for expected in [
        "dash.Paid",
        "dashboard::Paid::charge",
        "billing",
        // Drawn on the server, refreshed by the page's script.
        r#"<figure class="chart" data-chart="runs-minutes">"#,
        "DOMParser",
    ] {
        assert!(
            overview.body.contains(expected),
            "{expected}: {}",
            overview.body
        );
    }
    assert_eq!(tile(&overview.body, "dead letters"), "5");
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

    // Forged forms, sent with the browser's session cookie: no token, a
    // wrong one.
    let cookie = list.cookie().expect("a session cookie");
    let form = [
        "Content-Type: application/x-www-form-urlencoded",
        cookie.as_str(),
    ];
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
        !ro.body.contains("type=\"checkbox\"") && !ro.body.contains("method=\"post\""),
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
    let app = Router::new().merge(
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
    assert_eq!(tile(&overview.body, "dead letters"), "100000");
}

#[test]
fn the_dashboard_reads_redis_on_one_connection_that_outlives_a_restart() {
    let mut redis = RedisServer::start();
    let url = redis.url();
    let mut conn = redis.connection();
    common::fill_dead_letters(&mut conn, STREAM);
    let app = Router::new().merge(Dashboard::new("/eventlib").redis(&url, STREAM).router());
    let addr = serve(app);
    let before = connections_received(&mut conn);
    let list = request(addr, "GET", "/eventlib/dead", &[], b"");
    let all = ids(&list.body);
    assert_eq!(all.len(), 5, "{}", list.body);
    for path in [
        "/eventlib".to_owned(),
        "/eventlib/dead?reason=timeout".to_owned(),
        format!("/eventlib/dead/{}", all[0]),
        "/eventlib".to_owned(),
    ] {
        assert_eq!(request(addr, "GET", &path, &[], b"").status, 200, "{path}");
    }
    let cookie = list.cookie().expect("a session cookie");
    let form = [
        "Content-Type: application/x-www-form-urlencoded",
        cookie.as_str(),
    ];
    let replay = format!("csrf={}&id={}", token(&list.body), all[1]);
    let answer = request(
        addr,
        "POST",
        "/eventlib/dead/replay",
        &form,
        replay.as_bytes(),
    );
    assert_eq!(answer.status, 303, "{answer:?}");
    assert_eq!(dead_count(&mut conn), 4);
    assert_eq!(
        connections_received(&mut conn) - before,
        1,
        "every page on one connection"
    );

    // Killed and started again on its port (its AOF loaded): the next page
    // reads through a new connection, and the one after through it too.
    redis.restart();
    let mut conn = redis.connection();
    let before = connections_received(&mut conn);
    for _ in 0..2 {
        let overview = request(addr, "GET", "/eventlib", &[], b"");
        assert_eq!(tile(&overview.body, "dead letters"), "4");
    }
    assert_eq!(connections_received(&mut conn) - before, 1);
}

/// `href` as a browser requests it: the HTML entities of the attribute
/// decoded, the fragment dropped, what cannot go in a request line
/// percent-encoded.
fn as_a_browser_requests(href: &str) -> String {
    let href = href
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    let href = href.split('#').next().unwrap();
    href.replace(' ', "%20")
        .replace('"', "%22")
        .replace('<', "%3C")
        .replace('>', "%3E")
}

#[test]
fn a_filter_of_markup_and_url_syntax_survives_the_next_page_link() {
    const STREAM: &str = "next:events";
    const REASON: &str = "a&b #1 \"<script>alert(2)</script>";
    let redis = RedisServer::start();
    let url = redis.url();
    let mut conn = redis.connection();
    // 60 letters for the filter, then 5 that a cut filter would let in.
    common::fill_dead_letters_with(&mut conn, STREAM, 60, REASON);
    common::fill_dead_letters_with(&mut conn, STREAM, 5, "card refused");
    let app = Router::new().merge(Dashboard::new("/eventlib").redis(&url, STREAM).router());
    let addr = serve(app);
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("reason", REASON)
        .finish();

    let first = request(addr, "GET", &format!("/eventlib/dead?{query}"), &[], b"");
    assert_eq!(first.status, 200, "{first:?}");
    let escaped = "a&amp;b #1 &quot;&lt;script&gt;alert(2)&lt;/script&gt;";
    assert!(!first.body.contains("<script>"), "{}", first.body);
    assert!(
        first.body.contains(&format!("value=\"{escaped}\"")),
        "{}",
        first.body
    );
    let first_ids = ids(&first.body);
    assert_eq!(first_ids.len(), 50, "{}", first.body);
    let href = first
        .body
        .split(">next page</a>")
        .next()
        .and_then(|before| before.rsplit("href=\"").next())
        .and_then(|rest| rest.split('"').next())
        .expect("a next page link")
        .to_owned();

    let next = request(addr, "GET", &as_a_browser_requests(&href), &[], b"");
    assert_eq!(next.status, 200, "{href}: {next:?}");
    assert!(
        next.body.contains("10 letter(s) on this page"),
        "{href}: {}",
        next.body
    );
    assert!(!next.body.contains("<script>"), "{}", next.body);
    assert!(
        next.body.contains(&format!("value=\"{escaped}\"")),
        "{}",
        next.body
    );
    let next_ids = ids(&next.body);
    assert!(next_ids.iter().all(|id| !first_ids.contains(id)));
    assert!(!next.body.contains("card refused"), "{}", next.body);
}

#[test]
fn the_overview_answers_with_a_trailing_slash_and_one_letter_can_be_replayed_from_its_page() {
    const STREAM: &str = "one:events";
    let redis = RedisServer::start();
    let url = redis.url();
    let mut conn = redis.connection();
    common::fill_dead_letters_with(&mut conn, STREAM, 3, "card refused");
    let app = Router::new()
        .merge(
            Dashboard::new("/admin/eventlib/")
                .redis(&url, STREAM)
                .router(),
        )
        .merge(
            Dashboard::new("/ro")
                .redis(&url, STREAM)
                .read_only()
                .router(),
        );
    let addr = serve(app);
    for path in [
        "/admin/eventlib",
        "/admin/eventlib/",
        "/admin/eventlib/dead/",
    ] {
        let page = request(addr, "GET", path, &[], b"");
        assert_eq!(page.status, 200, "{path}: {page:?}");
    }

    let list = request(addr, "GET", "/admin/eventlib/dead", &[], b"");
    let all = ids(&list.body);
    assert_eq!(all.len(), 3, "{}", list.body);
    let shown = request(
        addr,
        "GET",
        &format!("/admin/eventlib/dead/{}", all[1]),
        &[],
        b"",
    );
    assert_eq!(shown.status, 200, "{shown:?}");
    assert!(shown.body.contains("replay this letter"), "{}", shown.body);
    assert_eq!(
        ids(&shown.body),
        [all[1].clone()],
        "the form names this letter alone"
    );
    let cookie = shown
        .cookie()
        .expect("a session cookie with the letter's page");
    let form = [
        "Content-Type: application/x-www-form-urlencoded",
        cookie.as_str(),
    ];
    let body = format!("csrf={}&id={}", token(&shown.body), all[1]);
    let replayed = request(
        addr,
        "POST",
        "/admin/eventlib/dead/replay",
        &form,
        body.as_bytes(),
    );
    assert_eq!(replayed.status, 303, "{replayed:?}");
    let dead: u64 = redis::cmd("XLEN")
        .arg(format!("{STREAM}:dead"))
        .query(&mut conn)
        .unwrap();
    assert_eq!(dead, 2, "the one letter replayed, the others kept");
    let left = ids(&request(addr, "GET", "/admin/eventlib/dead", &[], b"").body);
    assert_eq!(left, [all[0].clone(), all[2].clone()]);

    let read_only = request(addr, "GET", &format!("/ro/dead/{}", all[0]), &[], b"");
    assert_eq!(read_only.status, 200);
    assert!(
        !read_only.body.contains("replay this letter"),
        "{}",
        read_only.body
    );
}

/// A form posted with the browser's session `cookie`: `pairs` encoded as
/// a browser encodes them.
fn post_form(
    addr: std::net::SocketAddr,
    path: &str,
    cookie: Option<&str>,
    pairs: &[(&str, &str)],
) -> common::Answer {
    let mut body = form_urlencoded::Serializer::new(String::new());
    for (key, value) in pairs {
        body.append_pair(key, value);
    }
    let mut headers = vec!["Content-Type: application/x-www-form-urlencoded"];
    headers.extend(cookie);
    request(addr, "POST", path, &headers, body.finish().as_bytes())
}

/// The state a page shows for `handler` of `group`: the first state after
/// the table row, card or button that names them.
fn state(html: &str, group: &str, handler: &str) -> Option<String> {
    let marker = format!("data-handler=\"{handler}\" data-group=\"{group}\"");
    let marker_card = format!("data-group=\"{group}\" data-handler=\"{handler}\"");
    let at = html.find(&marker).or_else(|| html.find(&marker_card))?;
    let rest = html[at..].split("data-state=\"").nth(1)?;
    Some(rest.split('"').next()?.to_owned())
}

#[test]
fn pause_and_resume_through_the_forms_with_the_token_and_the_read_only_rules() {
    const STREAM: &str = "pauseform:events";
    const HANDLER: &str = "dashboard::Paid::charge";
    let redis = RedisServer::start();
    let url = redis.url();
    let app = Router::new()
        .merge(Dashboard::new("/eventlib").redis(&url, STREAM).router())
        .merge(
            Dashboard::new("/ro")
                .redis(&url, STREAM)
                .read_only()
                .router(),
        );
    let addr = serve(app);
    let handler_page = "/eventlib/handlers/dashboard%3A%3APaid%3A%3Acharge";
    let overview = request(addr, "GET", "/eventlib", &[], b"");
    assert_eq!(overview.status, 200);
    assert_eq!(
        state(&overview.body, "billing", HANDLER).as_deref(),
        Some("running")
    );
    let cookie = overview.cookie().expect("a session cookie");
    let csrf = token(&overview.body);
    let pause = [
        ("group", "billing"),
        ("handler", HANDLER),
        ("back", handler_page),
    ];

    // Forged forms: no token, a wrong one, no session cookie.
    assert_eq!(
        post_form(addr, "/eventlib/pause", Some(&cookie), &pause).status,
        403
    );
    let mut wrong = pause.to_vec();
    wrong.push(("csrf", "00"));
    assert_eq!(
        post_form(addr, "/eventlib/pause", Some(&cookie), &wrong).status,
        403
    );
    let mut signed = pause.to_vec();
    signed.push(("csrf", &csrf));
    assert_eq!(
        post_form(addr, "/eventlib/pause", None, &signed).status,
        403
    );
    assert!(eventlib::redis::pauses(&url, STREAM).unwrap().is_empty());

    // The page's own form: paused, and back to the handler's page.
    let answer = post_form(addr, "/eventlib/pause", Some(&cookie), &signed);
    assert_eq!(answer.status, 303, "{answer:?}");
    assert_eq!(answer.header("location"), Some(handler_page));
    let pauses = eventlib::redis::pauses(&url, STREAM).unwrap();
    assert_eq!(pauses.len(), 1);
    assert_eq!(pauses[0].group, "billing");
    assert_eq!(pauses[0].handler.as_deref(), Some(HANDLER));
    assert_eq!(pauses[0].by, "dashboard");

    // Shown on every page that names it: the handler's, the overview, the
    // banner of the others.
    let page = request(addr, "GET", handler_page, &[&cookie], b"");
    assert_eq!(page.status, 200, "{page:?}");
    assert_eq!(
        state(&page.body, "billing", HANDLER).as_deref(),
        Some("paused"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("data-action=\"resume\""),
        "{}",
        page.body
    );
    let overview = request(addr, "GET", "/eventlib", &[], b"");
    assert_eq!(
        state(&overview.body, "billing", HANDLER).as_deref(),
        Some("paused")
    );
    for path in ["/eventlib/dead", "/eventlib/events/dash.Paid"] {
        let page = request(addr, "GET", path, &[], b"");
        assert!(
            page.body.contains(&format!(
                "data-paused-group=\"billing\" data-paused-handler=\"{HANDLER}\""
            )),
            "{path}: {}",
            page.body
        );
    }
    // Read-only: the state, no button, and a POST refused even with the
    // token.
    let ro = request(
        addr,
        "GET",
        "/ro/handlers/dashboard%3A%3APaid%3A%3Acharge",
        &[],
        b"",
    );
    assert_eq!(ro.status, 200);
    assert_eq!(
        state(&ro.body, "billing", HANDLER).as_deref(),
        Some("paused")
    );
    assert!(!ro.body.contains("data-action="), "{}", ro.body);
    assert!(!ro.body.contains("method=\"post\""), "{}", ro.body);
    let mut resume = signed.clone();
    resume.retain(|(k, _)| *k != "back");
    assert_eq!(
        post_form(addr, "/ro/resume", Some(&cookie), &resume).status,
        403
    );
    assert_eq!(eventlib::redis::pauses(&url, STREAM).unwrap().len(), 1);

    // Resumed; a `back` to another site goes to the overview instead.
    resume.push(("back", "https://elsewhere.example/"));
    let answer = post_form(addr, "/eventlib/resume", Some(&cookie), &resume);
    assert_eq!(answer.status, 303, "{answer:?}");
    assert_eq!(answer.header("location"), Some("/eventlib"));
    assert!(eventlib::redis::pauses(&url, STREAM).unwrap().is_empty());

    // The whole group: every handler of it says so.
    let group = [
        ("csrf", csrf.as_str()),
        ("group", "billing"),
        ("back", "/eventlib"),
    ];
    assert_eq!(
        post_form(addr, "/eventlib/pause", Some(&cookie), &group).status,
        303
    );
    let overview = request(addr, "GET", "/eventlib", &[], b"");
    assert_eq!(
        state(&overview.body, "billing", HANDLER).as_deref(),
        Some("group-paused")
    );
    assert!(
        overview.body.contains("data-paused-group=\"billing\">"),
        "{}",
        overview.body
    );
    assert_eq!(
        post_form(addr, "/eventlib/resume", Some(&cookie), &group).status,
        303
    );
    assert!(eventlib::redis::pauses(&url, STREAM).unwrap().is_empty());

    // A group name that breaks the grammar, and no group at all.
    let bad = [("csrf", csrf.as_str()), ("group", "no spaces")];
    let refused = post_form(addr, "/eventlib/pause", Some(&cookie), &bad);
    assert_eq!(refused.status, 400, "{refused:?}");
    assert_eq!(
        post_form(
            addr,
            "/eventlib/pause",
            Some(&cookie),
            &[("csrf", csrf.as_str())]
        )
        .status,
        400
    );
    assert!(eventlib::redis::pauses(&url, STREAM).unwrap().is_empty());
}

/// The sum of `series` in chart `chart` of a page, from its SVG's
/// `data-value` attributes.
fn chart_total(html: &str, chart: &str, series: &str) -> u64 {
    let figure = html
        .split(&format!("data-chart=\"{chart}\""))
        .nth(1)
        .unwrap_or_else(|| panic!("no chart {chart}"))
        .split("</figure>")
        .next()
        .unwrap();
    figure
        .split(&format!("data-series=\"{series}\""))
        .skip(1)
        .map(|rest| {
            let value = rest.split("data-value=\"").nth(1).unwrap();
            value.split('"').next().unwrap().parse::<u64>().unwrap()
        })
        .sum()
}

#[test]
fn the_event_and_handler_pages_draw_what_a_worker_published() {
    const STREAM: &str = "pages:events";
    const N: u64 = 7;
    let redis = RedisServer::start();
    let url = redis.url();
    let mut conn = redis.connection();
    eventlib::redis::declare_groups(&url, STREAM, &["billing"]).unwrap();
    let worker = eventlib::redis::Worker::builder(&url)
        .stream(STREAM)
        .group("billing")
        .consumer("billing-1")
        .handle_signals(false)
        .build()
        .unwrap();
    let running = {
        let worker = worker.clone();
        std::thread::spawn(move || worker.run_blocking())
    };
    eventlib_redis_tests::xadd_envelopes(
        &mut conn,
        STREAM,
        (0..N).map(|n| format!(r#"{{"v":1,"name":"dash.Paid","data":{{"n":{n}}}}}"#)),
    );
    let app = Router::new()
        .merge(Dashboard::new("/eventlib").redis(&url, STREAM).router())
        .merge(Dashboard::new("/local").router());
    let addr = serve(app);

    // The worker publishes every 5 s: the page shows the runs once it did.
    let mut page = String::new();
    eventlib_redis_tests::wait_for(
        "the event's page shows every run",
        Duration::from_secs(60),
        || {
            page = request(addr, "GET", "/eventlib/events/dash.Paid", &[], b"").body;
            chart_total(&page, "runs-minutes", "handled") == N
        },
    );
    assert_eq!(chart_total(&page, "runs-hours", "handled"), N);
    assert_eq!(chart_total(&page, "runs-minutes", "failed"), 0);
    assert!(page.contains("data-chart=\"run-time-minutes\""), "{page}");
    assert!(
        page.contains("id=\"recent-failures\" data-count=\"0\""),
        "{page}"
    );
    let handler = request(
        addr,
        "GET",
        "/eventlib/handlers/dashboard%3A%3APaid%3A%3Acharge",
        &[],
        b"",
    );
    assert_eq!(handler.status, 200, "{handler:?}");
    assert_eq!(chart_total(&handler.body, "runs-minutes", "handled"), N);
    assert_eq!(
        state(&handler.body, "billing", "dashboard::Paid::charge").as_deref(),
        Some("running")
    );
    assert!(
        handler.body.contains("href=\"/eventlib/events/dash.Paid\""),
        "{}",
        handler.body
    );
    let overview = request(addr, "GET", "/eventlib", &[], b"");
    assert_eq!(tile(&overview.body, "handled, last hour"), N.to_string());
    assert_eq!(tile(&overview.body, "processes alive"), "1");
    assert!(
        overview.body.contains("data-process=\"billing-1\""),
        "{}",
        overview.body
    );

    // What nobody declared or published is not found; without Redis
    // there are no such pages.
    for path in [
        "/eventlib/events/nope.Nope",
        "/eventlib/handlers/nope%3A%3Anope",
    ] {
        let answer = request(addr, "GET", path, &[], b"");
        assert_eq!(answer.status, 404, "{path}: {answer:?}");
        assert!(
            answer.body.contains("no worker published figures"),
            "{}",
            answer.body
        );
    }
    assert_eq!(
        request(addr, "GET", "/local/events/dash.Paid", &[], b"").status,
        404
    );
    worker.shutdown();
    running.join().unwrap().unwrap();
}

#[test]
fn the_overview_shows_what_producers_sent_and_the_outbox_relays() {
    let redis = RedisServer::start();
    let mut conn = redis.connection();
    let minute = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 60;
    // As producers and a relay write them (see docs/redis-operations.md).
    let key = format!("{STREAM}:stats:m:{minute}");
    let _: () = redis::pipe()
        .cmd("HINCRBY")
        .arg(&key)
        .arg("|dash.Paid||sent")
        .arg(1234)
        .cmd("HINCRBY")
        .arg(&key)
        .arg("|dash.Paid||dropped")
        .arg(3)
        .cmd("HSET")
        .arg(format!("{STREAM}:relays"))
        .arg("orders-db<b>")
        .arg(r#"{"backlog":17,"moved":900,"failed":2,"unsendable":1,"relinked":4,"handled_nowhere":6,"at_ms":0}"#)
        .arg("spare")
        .arg(r#"{"backlog":17,"moved":0,"standing_by_for":"orders-db<b> (h:1#0)","at_ms":0}"#)
        .query(&mut conn)
        .unwrap();
    let addr = serve(
        Router::new().merge(
            Dashboard::new("/eventlib")
                .redis(redis.url(), STREAM)
                .router(),
        ),
    );
    let overview = request(addr, "GET", "/eventlib", &[], b"");
    assert_eq!(overview.status, 200, "{overview:?}");
    let html = &overview.body;
    assert_eq!(tile(html, "sent by producers, last hour"), "1234");
    assert!(
        html.contains(&format!(
            r#"data-series="sent" data-at="{}" data-value="1234""#,
            minute * 60
        )),
        "{html}"
    );
    assert!(
        html.contains(&format!(
            r#"data-series="given up" data-at="{}" data-value="3""#,
            minute * 60
        )),
        "{html}"
    );
    assert!(html.contains(r#"id="relays" data-count="2""#), "{html}");
    assert!(
        html.contains(r#"data-standby="orders-db&lt;b&gt; (h:1#0)""#),
        "{html}"
    );
    assert!(html.contains("orders-db&lt;b&gt;"), "{html}");
    assert!(!html.contains("orders-db<b>"), "{html}");
    assert!(html.contains(r#"data-backlog="17""#), "{html}");
    assert!(html.contains(r#"data-moved="900""#), "{html}");
    assert!(html.contains(r#"data-relinked="4""#), "{html}");
    assert!(html.contains(r#"<td class="n hot dead">6</td>"#), "{html}");
    // The event's own page charts what producers sent of it.
    let page = request(addr, "GET", "/eventlib/events/dash.Paid", &[], b"");
    assert_eq!(page.status, 200, "{page:?}");
    assert!(
        page.body.contains(&format!(
            r#"data-series="sent" data-at="{}" data-value="1234""#,
            minute * 60
        )),
        "{}",
        page.body
    );
}

#[test]
fn a_partitioned_stream_shows_each_partition_and_replays_a_letter_to_its_own() {
    const STREAM: &str = "split:events";
    let redis = RedisServer::start();
    let url = redis.url();
    let mut conn = redis.connection();
    let keys = eventlib::redis::partition_keys(STREAM, 6).unwrap();
    // The count as producers and workers record it, an entry in each
    // partition and letters in two of them.
    redis::cmd("SADD")
        .arg(format!("{STREAM}:partitions"))
        .arg(6)
        .exec(&mut conn)
        .unwrap();
    for key in &keys {
        eventlib_redis_tests::xadd_envelope(
            &mut conn,
            key,
            br#"{"v":1,"name":"dash.Paid","data":{"n":1}}"#,
        );
    }
    common::fill_dead_letters_with(&mut conn, &keys[1], 2, "card refused");
    common::fill_dead_letters_with(&mut conn, &keys[4], 2, "card refused");
    let app = Dashboard::new("/").redis(&url, STREAM).router();
    let addr = serve(app);

    let overview = request(addr, "GET", "/", &[], b"");
    assert_eq!(overview.status, 200);
    assert!(
        overview.body.contains("id=\"partitions\" data-count=\"6\""),
        "{}",
        overview.body
    );
    assert_eq!(tile(&overview.body, "dead letters"), "4");
    for key in &keys {
        assert!(overview.body.contains(&format!("data-partition=\"{key}\"")));
    }

    let list = request(addr, "GET", "/dead", &[], b"");
    let all = ids(&list.body);
    assert_eq!(all.len(), 4, "{}", list.body);
    assert_eq!(
        all.iter().filter(|id| id.starts_with("1-of-6/")).count(),
        2,
        "{all:?}"
    );
    assert_eq!(all.iter().filter(|id| id.starts_with("4-of-6/")).count(), 2);
    let href = format!("/dead/{}", all[3].replace('/', "%2F"));
    let shown = request(addr, "GET", &href, &[], b"");
    assert_eq!(shown.status, 200, "{shown:?}");
    assert_eq!(ids(&shown.body), [all[3].clone()]);
    let cookie = shown.cookie().expect("a session cookie");
    let form = [
        "Content-Type: application/x-www-form-urlencoded",
        cookie.as_str(),
    ];
    let body = format!(
        "csrf={}&id={}",
        token(&shown.body),
        all[3].replace('/', "%2F")
    );
    let replayed = request(addr, "POST", "/dead/replay", &form, body.as_bytes());
    assert_eq!(replayed.status, 303, "{replayed:?}");
    let (label, _) = all[3].split_once('/').unwrap();
    let home = &keys[label[..1].parse::<usize>().unwrap()];
    let (dead, length): (u64, u64) = redis::pipe()
        .cmd("XLEN")
        .arg(format!("{home}:dead"))
        .cmd("XLEN")
        .arg(home)
        .query(&mut conn)
        .unwrap();
    assert_eq!((dead, length), (1, 2), "replayed into its own partition");
    assert_eq!(ids(&request(addr, "GET", "/dead", &[], b"").body).len(), 3);
}
