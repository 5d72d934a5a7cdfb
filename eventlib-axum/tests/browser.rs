//! A real browser: headless Chromium, driven through WebDriver
//! (chromedriver + fantoccini), opens a product page, clicks the image
//! zoom, and the page's script logs `web.ImageZoomed` through the
//! ingestion endpoint; its handler runs with that browser's user agent
//! and the request's metadata. A screenshot of the page is saved in
//! `target/browser-artifacts/`.
//!
//! Needs `chromium` and `chromedriver` (Debian: `chromium`,
//! `chromium-driver`), which `.ci/test` installs when missing; set
//! `EVENTLIB_SKIP_BROWSER=1` to skip on a machine without them.

mod common;

use std::sync::Mutex;

use axum::extract::Path;
use axum::response::Html;
use axum::routing::get;
use axum::Router;
use eventlib::{event, log, Context};
use eventlib_axum::{Ingest, RequestMetadataLayer};
use fantoccini::Locator;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ImageZoomed {
    product_id: u64,
    zoom: f32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct PageViewed {
    product_id: u64,
}

/// What a handler ran for, and the metadata it saw.
type Sighting = (String, Vec<(String, String)>);

static SEEN: Mutex<Vec<Sighting>> = Mutex::new(Vec::new());

fn note(what: &str, ctx: &Context) {
    let meta = ctx
        .metadata()
        .iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    SEEN.lock().unwrap().push((what.to_owned(), meta));
}

#[event(name = "web.ImageZoomed")]
impl ImageZoomed {
    #[handler]
    fn record(&self, ctx: &Context) {
        note(&format!("zoomed {} x{}", self.product_id, self.zoom), ctx);
    }
}

#[event(name = "web.PageViewed")]
impl PageViewed {
    #[handler]
    fn record(&self, ctx: &Context) {
        note(&format!("viewed {}", self.product_id), ctx);
    }
}

async fn product_page(Path(id): Path<u64>) -> Html<String> {
    log!(PageViewed { product_id: id }).unwrap();
    Html(format!(
        r#"<!doctype html>
<html><head><meta charset="utf-8"><title>Product {id}</title></head>
<body>
  <h1>Product {id}</h1>
  <button id="zoom">Zoom the picture</button>
  <p id="status">not zoomed</p>
  <script>
    document.getElementById("zoom").addEventListener("click", async () => {{
      const answer = await fetch("/events/web.ImageZoomed", {{
        method: "POST",
        headers: {{ "Content-Type": "application/json" }},
        body: JSON.stringify({{ product_id: {id}, zoom: 2.5 }}),
      }});
      const body = await answer.json();
      document.getElementById("status").textContent =
        answer.status + " " + body.id + " " + answer.headers.get("x-request-id");
    }});
  </script>
</body></html>"#
    ))
}

#[test]
fn a_browser_logs_a_client_side_event_with_its_metadata() {
    let Some(browser) = common::browser::Browser::start() else {
        return;
    };

    let app = Router::new()
        .route("/products/{id}", get(product_page))
        .merge(Ingest::new().allow(["web.ImageZoomed"]).router().unwrap())
        .layer(RequestMetadataLayer::new());
    let addr = common::serve(app);

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (user_agent, status) = runtime.block_on(async {
        let client = browser.session().await;
        client
            .goto(&format!("http://{addr}/products/42"))
            .await
            .unwrap();
        let heading = client
            .find(Locator::Css("h1"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(heading, "Product 42");
        client
            .find(Locator::Id("zoom"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let text = common::browser::text_once_changed(&client, "status", "not zoomed").await;
        let user_agent = common::browser::user_agent(&client).await;
        common::browser::save_screenshot("product-page.png", &client.screenshot().await.unwrap());
        client.close().await.unwrap();
        (user_agent, text)
    });

    // "202 <event id> <request id>", as the page's script wrote it.
    let parts: Vec<&str> = status.split(' ').collect();
    assert_eq!(parts.len(), 3, "{status}");
    assert_eq!(parts[0], "202", "{status}");
    eventlib::flush();
    let seen = SEEN.lock().unwrap().clone();
    let zoomed = seen
        .iter()
        .find(|(what, _)| what == "zoomed 42 x2.5")
        .unwrap_or_else(|| panic!("the handler did not run: {seen:?}"));
    let meta = |key: &str| {
        zoomed
            .1
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(meta("user_agent").as_deref(), Some(user_agent.as_str()));
    assert!(user_agent.contains("Chrome"), "{user_agent}");
    assert_eq!(meta("ingested").as_deref(), Some("true"));
    assert_eq!(meta("client_ip").as_deref(), Some("127.0.0.1"));
    assert_eq!(meta("request_id").as_deref(), Some(parts[2]));
    assert_eq!(meta("route").as_deref(), Some("/events/{name}"));
    // The page view itself was logged server-side, without `ingested`.
    let viewed = seen.iter().find(|(what, _)| what == "viewed 42").unwrap();
    assert!(!viewed.1.iter().any(|(k, _)| k == "ingested"), "{viewed:?}");
}
