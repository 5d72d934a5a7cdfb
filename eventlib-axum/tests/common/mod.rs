//! A server on a loopback port and a plain HTTP/1.1 client over a real
//! socket: the client sends bytes exactly as given (bad UTF-8, wrong
//! lengths, huge bodies), which a higher-level client would refuse to.

#![allow(dead_code)]

pub mod browser;

use std::io::{Read as _, Write as _};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::Duration;

use axum::Router;

/// Serves `app` on 127.0.0.1 (a free port) on a runtime of its own, with
/// the peer address available to the layer; returns the address.
pub fn serve(app: Router) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
            .unwrap();
        });
    });
    rx.recv_timeout(Duration::from_secs(10)).unwrap()
}

/// An answer: status, headers (names lowercased), body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The `Cookie` header a browser sends back after this answer's
    /// `Set-Cookie`.
    pub fn cookie(&self) -> Option<String> {
        let set = self.header("set-cookie")?;
        Some(format!("Cookie: {}", set.split(';').next()?))
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|err| panic!("not JSON ({err}): {:?}", self.body))
    }
}

/// One request over a fresh connection; `headers` as `name: value`.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[&str],
    body: &[u8],
) -> Answer {
    exchange(
        TcpStream::connect(addr).unwrap(),
        addr,
        method,
        path,
        headers,
        body,
    )
}

/// [`request`] from the loopback address `source` (such as `127.0.0.2`),
/// for a server to see another peer than `127.0.0.1`.
pub fn request_from(
    source: IpAddr,
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[&str],
    body: &[u8],
) -> Answer {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    let stream = runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(SocketAddr::new(source, 0)).unwrap();
        socket.connect(addr).await.unwrap().into_std().unwrap()
    });
    stream.set_nonblocking(false).unwrap();
    exchange(stream, addr, method, path, headers, body)
}

fn exchange(
    mut stream: TcpStream,
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[&str],
    body: &[u8],
) -> Answer {
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for header in headers {
        head.push_str(header);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    // The body from another thread: a server that answers before reading
    // it all (a body over the limit) is read meanwhile.
    let mut writer = stream.try_clone().unwrap();
    let body = body.to_vec();
    let writing = std::thread::spawn(move || {
        let _ = writer.write_all(&body);
    });
    let mut raw = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&chunk[..n]),
            // A reset after the answer came (the server stopped reading).
            Err(_) if !raw.is_empty() => break,
            Err(err) => panic!("reading the answer: {err}"),
        }
    }
    let _ = writing.join();
    parse(&raw)
}

fn parse(raw: &[u8]) -> Answer {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP answer");
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Answer {
        status,
        headers,
        body: body.to_owned(),
    }
}

/// `POST` of a JSON body.
pub fn post_json(addr: SocketAddr, path: &str, body: &str) -> Answer {
    request(
        addr,
        "POST",
        path,
        &["Content-Type: application/json"],
        body.as_bytes(),
    )
}

/// `XADD` of dead letter `n` of `dash.Paid` in `stream`, as a worker
/// writes it, with `reason`.
fn dead_letter(pipe: &mut redis::Pipeline, stream: &str, n: usize, reason: &str) {
    let letter = eventlib_redis_tests::DeadLetterFields {
        n,
        name: "dash.Paid",
        group: "billing",
        handler: "dash::Paid::charge",
        reason,
    };
    eventlib_redis_tests::xadd_dead_letter(pipe, stream, &letter);
}

/// Five dead letters of `dash.Paid` in `stream` (one reason is markup, to
/// check the escaping).
pub fn fill_dead_letters(conn: &mut redis::Connection, stream: &str) {
    let mut pipe = redis::pipe();
    let reasons = [
        "card refused",
        "timeout",
        "card refused",
        "<script>alert(1)</script>",
        "card refused",
    ];
    for (n, reason) in reasons.iter().enumerate() {
        dead_letter(&mut pipe, stream, n, reason);
    }
    pipe.query::<()>(conn).unwrap();
}

/// `count` dead letters of `dash.Paid` in `stream`, in pipelines of 1,000.
pub fn fill_many_dead_letters(conn: &mut redis::Connection, stream: &str, count: usize) {
    fill_dead_letters_with(conn, stream, count, "card refused");
}

/// `count` dead letters of `dash.Paid` in `stream` that all fail for
/// `reason`, in pipelines of 1,000.
pub fn fill_dead_letters_with(
    conn: &mut redis::Connection,
    stream: &str,
    count: usize,
    reason: &str,
) {
    for chunk in 0..count.div_ceil(1000) {
        let mut pipe = redis::pipe();
        for n in chunk * 1000..((chunk + 1) * 1000).min(count) {
            dead_letter(&mut pipe, stream, n, reason);
        }
        pipe.query::<()>(conn).unwrap();
    }
}

/// How many times Redis ran `command` so far (`INFO commandstats`).
pub fn redis_calls(conn: &mut redis::Connection, command: &str) -> u64 {
    let info: String = redis::cmd("INFO").arg("commandstats").query(conn).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("cmdstat_{command}:calls=")))
        .and_then(|rest| rest.split(',').next())
        .map_or(0, |n| n.parse().unwrap())
}
