//! The shoe store itself in a real browser: the example's binary serves
//! (`--serve 127.0.0.1:0`, Redis unreachable), headless Chromium opens its
//! product page and clicks the picture, the page's script logs
//! `shoestore.ProductImageZoomed` through the ingestion endpoint, and the
//! example's handler prints that browser's user agent, the request's
//! metadata and the event id the page was answered. Then SIGINT stops the
//! server gracefully and the example exits 0. A screenshot is saved in
//! `target/browser-artifacts/`.
//!
//! Runs the example binary `cargo test --workspace` builds
//! (`target/<profile>/examples/shoestore`). Needs Chromium as the other
//! browser tests do; `EVENTLIB_SKIP_BROWSER=1` skips it.

mod common;

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use fantoccini::Locator;

/// How long any one step may take on a loaded CI machine.
const STEP: Duration = Duration::from_secs(30);

/// The example binary next to this test's own profile directory.
fn example_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let binary = profile.join("examples").join("shoestore");
    assert!(
        binary.exists(),
        "{} is missing: `cargo test --workspace --all-features` builds it, or run \
         `cargo build -p eventlib-shoestore --all-features --example shoestore` first",
        binary.display()
    );
    binary
}

/// The example's process, killed if the test fails before it stopped.
struct Store {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Drop for Store {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Store {
    fn start() -> Store {
        let mut child = Command::new(example_binary())
            .args(["--serve", "127.0.0.1:0"])
            .env("REDIS_URL", "redis://127.0.0.1:1")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the shoe store");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Store {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// The first line of output that `wanted` accepts.
    fn wait_for(&mut self, what: &str, wanted: impl Fn(&str) -> bool) -> String {
        let started = Instant::now();
        loop {
            let left = STEP.saturating_sub(started.elapsed());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let hit = wanted(&line);
                    self.seen.push(line.clone());
                    if hit {
                        return line;
                    }
                }
                Err(_) => panic!("the shoe store never printed {what}: {:#?}", self.seen),
            }
        }
    }
}

#[test]
fn the_shoe_store_page_logs_a_zoom_from_a_real_browser() {
    let Some(browser) = common::browser::Browser::start() else {
        return;
    };
    let mut store = Store::start();
    let banner = store.wait_for("its address", |l| l.starts_with("the shoe store at "));
    let url = banner["the shoe store at ".len()..]
        .split(' ')
        .next()
        .unwrap()
        .to_owned();
    assert!(url.ends_with("/products/7"), "{banner}");

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (user_agent, answer) = runtime.block_on(async {
        let client = browser.session().await;
        client.goto(&url).await.unwrap();
        let heading = client.find(Locator::Css("h1")).await.unwrap();
        assert_eq!(heading.text().await.unwrap(), "Shoe 7");
        client
            .find(Locator::Id("picture"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let text =
            common::browser::text_once_changed(&client, "zoomed", "click the picture to zoom")
                .await;
        let user_agent = common::browser::user_agent(&client).await;
        common::browser::save_screenshot(
            "shoestore-product-page.png",
            &client.screenshot().await.unwrap(),
        );
        client.close().await.unwrap();
        (user_agent, text)
    });

    let event_id = answer
        .strip_prefix("zoom logged as event ")
        .unwrap_or_else(|| panic!("the ingestion endpoint refused the zoom: {answer}"));
    assert!(user_agent.contains("Chrome"), "{user_agent}");
    let zoom = store.wait_for("the zoom handler's line", |l| {
        l.starts_with("zoom on shoe 7 (x2) ")
    });
    assert!(
        zoom.starts_with(&format!(
            "zoom on shoe 7 (x2) from 127.0.0.1 ({user_agent}), request "
        )),
        "{zoom}"
    );
    assert!(zoom.ends_with(&format!(", event {event_id}")), "{zoom}");
    let request_id = zoom
        .rsplit_once(", event ")
        .and_then(|(head, _)| head.rsplit_once(", request "))
        .map(|(_, id)| id)
        .unwrap();
    assert!(
        !request_id.is_empty() && request_id != "?",
        "no request id: {zoom}"
    );

    // Ctrl-C: the server stops, eventlib shuts down, the example exits 0.
    let pid = store.child.id().to_string();
    let killed = Command::new("kill").args(["-INT", &pid]).status().unwrap();
    assert!(killed.success());
    store.wait_for("its shutdown report", |l| l.starts_with("stopped: "));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = store.child.try_wait().unwrap() {
            break status;
        }
        assert!(started.elapsed() < STEP, "the shoe store did not exit");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}: {:#?}", store.seen);
}
