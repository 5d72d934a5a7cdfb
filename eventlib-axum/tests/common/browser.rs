//! Headless Chromium through chromedriver, for the browser tests. Needs
//! Debian's `chromium` and `chromium-driver` (`.ci/test` installs them);
//! `EVENTLIB_SKIP_BROWSER=1` skips the tests on a machine without them.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};

/// A running chromedriver, killed when dropped.
pub struct Browser {
    driver: Child,
    port: u16,
    chromium: String,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn find(candidates: &[&str]) -> Option<String> {
    candidates
        .iter()
        .find(|c| std::path::Path::new(c).exists())
        .map(|c| (*c).to_owned())
}

impl Browser {
    /// Starts chromedriver; `None` (said on stderr) when
    /// `EVENTLIB_SKIP_BROWSER` is set.
    pub fn start() -> Option<Browser> {
        if std::env::var_os("EVENTLIB_SKIP_BROWSER").is_some() {
            eprintln!("EVENTLIB_SKIP_BROWSER is set: the browser test does not run");
            return None;
        }
        let chromedriver = find(&["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"])
            .expect("chromedriver is missing: install Debian's chromium and chromium-driver (.ci/test does), or set EVENTLIB_SKIP_BROWSER=1");
        let chromium = find(&["/usr/bin/chromium", "/usr/bin/chromium-browser"])
            .expect("chromium is missing: install Debian's chromium (.ci/test does)");
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "chromedriver did not listen"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(Browser {
            driver,
            port,
            chromium,
        })
    }

    /// A WebDriver session with headless Chromium.
    pub async fn session(&self) -> Client {
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": self.chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars"],
            }),
        );
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("a WebDriver session with headless Chromium")
    }
}

/// Saves a screenshot as a CI artifact in `target/browser-artifacts/`.
pub fn save_screenshot(name: &str, png: &[u8]) {
    assert!(png.starts_with(b"\x89PNG"), "not a PNG screenshot");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/browser-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), png).unwrap();
}

/// The text of the element with id `id` once it is no longer `initial`
/// (a page script's answer), waiting up to 20 s.
pub async fn text_once_changed(client: &Client, id: &str, initial: &str) -> String {
    let element = client.find(fantoccini::Locator::Id(id)).await.unwrap();
    let started = Instant::now();
    loop {
        let text = element.text().await.unwrap();
        if text != initial {
            return text;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the page's script never changed #{id}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The browser's `navigator.userAgent`.
pub async fn user_agent(client: &Client) -> String {
    client
        .execute("return navigator.userAgent", vec![])
        .await
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned()
}

/// Clicks the page's button labelled `label`.
pub async fn click_button(client: &Client, label: &str) {
    client
        .find(fantoccini::Locator::XPath(&format!(
            "//button[text()='{label}']"
        )))
        .await
        .unwrap_or_else(|err| panic!("no button `{label}`: {err}"))
        .click()
        .await
        .unwrap();
}

/// Saves a screenshot of a dashboard page as a test artefact in
/// `target/dashboard-screenshots/` (at the workspace's root).
pub fn save_dashboard_screenshot(name: &str, png: &[u8]) {
    assert!(png.starts_with(b"\x89PNG"), "not a PNG screenshot");
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/dashboard-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), png).unwrap();
}

/// Sets the browser's window to `width` × `height` CSS pixels and returns
/// the viewport's width as the page sees it (`innerWidth`: a vertical
/// scroll bar, where there is one, takes its width from the layout's).
pub async fn window(client: &Client, width: u32, height: u32) -> u64 {
    client.set_window_size(width, height).await.unwrap();
    client
        .execute("return window.innerWidth", vec![])
        .await
        .unwrap()
        .as_u64()
        .unwrap()
}

/// A screenshot of the whole page at `width`: the window is made as tall
/// as the page (up to 6,000 pixels), then set back to `width` × `height`.
pub async fn whole_page(client: &Client, width: u32, height: u32) -> Vec<u8> {
    let tall = client
        .execute("return document.documentElement.scrollHeight", vec![])
        .await
        .unwrap()
        .as_u64()
        .unwrap()
        .clamp(u64::from(height), 6000);
    client
        .set_window_size(width, u32::try_from(tall).unwrap())
        .await
        .unwrap();
    // Let the page lay itself out at the new size.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let png = client.screenshot().await.unwrap();
    client.set_window_size(width, height).await.unwrap();
    png
}

/// The elements that stick out of the viewport sideways, except inside a
/// box that scrolls or clips them (a table in its scrolling box), and
/// whether the page itself scrolls sideways; empty when nothing does.
pub async fn overflowing(client: &Client) -> Vec<String> {
    const SCRIPT: &str = r#"
        var w = document.documentElement.clientWidth, out = [];
        if (document.documentElement.scrollWidth > w) {
            out.push("the page scrolls sideways: " + document.documentElement.scrollWidth + " > " + w);
        }
        document.querySelectorAll("body *").forEach(function (e) {
            var r = e.getBoundingClientRect();
            if ((r.width === 0 && r.height === 0) || (r.right <= w + 0.5 && r.left >= -0.5)) { return; }
            for (var p = e.parentElement; p; p = p.parentElement) {
                var o = getComputedStyle(p).overflowX;
                if (o === "auto" || o === "scroll" || o === "hidden") { return; }
            }
            out.push(e.tagName.toLowerCase() + " class=" + (e.getAttribute("class") || "")
                + " " + Math.round(r.left) + ".." + Math.round(r.right) + " of " + w
                + ": " + (e.textContent || "").trim().slice(0, 40));
        });
        return out;
    "#;
    let found = client.execute(SCRIPT, vec![]).await.unwrap();
    serde_json::from_value(found).unwrap()
}

/// Clicks the element `css` selects, looking it up again if the page's
/// refresh swapped it out meanwhile.
pub async fn click(client: &Client, css: &str) {
    let mut tries = 0;
    loop {
        let clicked = match client.find(fantoccini::Locator::Css(css)).await {
            Ok(element) => element.click().await.map_err(|err| err.to_string()),
            Err(err) => Err(err.to_string()),
        };
        match clicked {
            Ok(()) => return,
            Err(err) if tries >= 20 => panic!("could not click `{css}`: {err}"),
            Err(_) => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}
