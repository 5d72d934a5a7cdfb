//! The dashboard in a real browser (headless Chromium through
//! chromedriver): filter the dead letters, select two, replay them, and
//! see the count change; against a real redis-server.

mod common;

use axum::Router;
use eventlib_axum::Dashboard;
use eventlib_redis_tests::RedisServer;
use fantoccini::Locator;

const STREAM: &str = "dashb:events";

#[test]
fn filter_select_and_replay_in_a_browser() {
    let Some(browser) = common::browser::Browser::start() else {
        return;
    };
    let redis = RedisServer::start();
    let url = redis.url();
    let mut conn = redis.connection();
    common::fill_dead_letters(&mut conn, STREAM);
    let app = Router::new().nest(
        "/eventlib",
        Dashboard::new("/eventlib").redis(&url, STREAM).router(),
    );
    let addr = common::serve(app);

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let client = browser.session().await;
        client
            .goto(&format!("http://{addr}/eventlib/dead"))
            .await
            .unwrap();
        // The text of #count once the page shows `want` (or the page's
        // source, after 10 s, when it never does).
        let count = |want: &'static str| {
            let client = client.clone();
            async move {
                let started = std::time::Instant::now();
                loop {
                    let text = match client.find(Locator::Id("count")).await {
                        Ok(element) => element.text().await.unwrap_or_default(),
                        Err(_) => String::new(),
                    };
                    if text == want {
                        return text;
                    }
                    if started.elapsed() > std::time::Duration::from_secs(10) {
                        return format!("{text}\n{}", client.source().await.unwrap_or_default());
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        };
        assert_eq!(
            count("5 letter(s) on this page").await,
            "5 letter(s) on this page"
        );

        // Filter: the reason contains "card".
        client
            .find(Locator::Css("input[name=reason]"))
            .await
            .unwrap()
            .send_keys("card")
            .await
            .unwrap();
        common::browser::click_button(&client, "filter").await;
        assert_eq!(
            count("3 letter(s) on this page").await,
            "3 letter(s) on this page"
        );

        // Select two, replay them.
        let boxes = client
            .find_all(Locator::Css("input[type=checkbox]"))
            .await
            .unwrap();
        assert_eq!(boxes.len(), 3);
        boxes[0].click().await.unwrap();
        boxes[1].click().await.unwrap();
        for b in &boxes[..2] {
            assert_eq!(b.prop("checked").await.unwrap().as_deref(), Some("true"));
        }
        common::browser::click_button(&client, "replay the selected").await;
        // Back on the list, unfiltered: two letters fewer.
        assert_eq!(
            count("3 letter(s) on this page").await,
            "3 letter(s) on this page"
        );
        assert!(client
            .current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/eventlib/dead"));
        common::browser::save_screenshot(
            "dashboard-dead-letters.png",
            &client.screenshot().await.unwrap(),
        );
        client.close().await.unwrap();
    });
    let left: u64 = redis::cmd("XLEN")
        .arg(format!("{STREAM}:dead"))
        .query(&mut conn)
        .unwrap();
    assert_eq!(left, 3);
    let replayed: u64 = redis::cmd("XLEN").arg(STREAM).query(&mut conn).unwrap();
    assert_eq!(replayed, 2);
}
