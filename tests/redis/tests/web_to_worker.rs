//! From a browser's request to a worker on another process: an axum
//! service with the request metadata layer and the ingestion endpoint logs
//! to Redis; a worker process's handler sees the request id and client IP
//! of the HTTP request that logged its event.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use eventlib::redis::RedisTransport;
use eventlib::Dispatcher;
use eventlib_axum::{Ingest, RequestMetadataLayer};
use eventlib_redis_tests::{Process, RedisServer, TempDir};

const BIN: &str = env!("CARGO_BIN_EXE_eventlib-redis-traced");
const STREAM: &str = "web:events";

fn post(addr: SocketAddr, path: &str, request_id: &str, body: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\n\
         x-request-id: {request_id}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

#[test]
fn a_worker_sees_the_http_request_that_logged_its_event() {
    let redis = RedisServer::start();
    let url = redis.url();
    Dispatcher::builder()
        .transport(RedisTransport::new(&url).unwrap().stream(STREAM))
        .install()
        .unwrap();
    let app = axum::Router::new()
        .merge(Ingest::new().allow(["ot.Traced"]).router().unwrap())
        .layer(RequestMetadataLayer::new());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    runtime.spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });

    for seq in 0..3 {
        let answer = post(
            addr,
            "/events/ot.Traced",
            &format!("web-{seq}"),
            &format!(r#"{{"seq":{seq}}}"#),
        );
        assert!(answer.starts_with("HTTP/1.1 202"), "{answer}");
    }
    assert!(eventlib::flush_timeout(Duration::from_secs(30)).is_clean());

    let dir = TempDir::new("web-to-worker");
    let mut worker = Process::node(
        BIN,
        "worker",
        &dir.0,
        &[
            "worker".into(),
            format!("url={url}"),
            format!("stream={STREAM}"),
        ],
    );
    assert!(worker.wait(Duration::from_secs(60)), "{}", worker.output());
    let output = worker.output();
    for seq in 0..3 {
        assert!(
            output.contains(&format!(
                "SEEN seq={seq} request_id=web-{seq} client_ip=127.0.0.1"
            )),
            "{output}"
        );
    }
}
