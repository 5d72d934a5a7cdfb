//! A black-box test of an axum app served on a multi-thread runtime and
//! called over a real loopback socket: the process-wide capture sees every
//! event the app logged, whichever worker thread served the request.

use std::time::Duration;

use axum::extract::Path;
use axum::routing::get;
use axum::Router;
use eventlib::{event, log, testing};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct PageViewed {
    page: u32,
}

#[event(name = "blackbox.PageViewed")]
impl PageViewed {
    #[handler]
    fn never_in_a_capture(&self) {
        panic!("captured events run no handler");
    }
}

async fn page(Path(page): Path<u32>) -> String {
    log!(PageViewed { page }).unwrap();
    format!("page {page}")
}

async fn get_page(addr: std::net::SocketAddr, page: u32) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET /pages/{page} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn capture_all_sees_what_a_served_app_logs() {
    let cap = testing::capture_all();
    let app = Router::new().route("/pages/{page}", get(page));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let clients: Vec<_> = (0..40)
        .map(|page| tokio::spawn(get_page(addr, page)))
        .collect();
    for (page, client) in clients.into_iter().enumerate() {
        let response = tokio::time::timeout(Duration::from_secs(20), client)
            .await
            .expect("the server answers")
            .unwrap();
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(response.ends_with(&format!("page {page}")), "{response}");
    }
    let mut pages: Vec<u32> = cap.events::<PageViewed>().iter().map(|e| e.page).collect();
    pages.sort_unstable();
    assert_eq!(pages, (0..40).collect::<Vec<_>>());
}
