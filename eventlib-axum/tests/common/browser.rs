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
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
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
