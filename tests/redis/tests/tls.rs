//! TLS with the operator's own CA and client certificates, against a
//! `redis-server` that listens only on a TLS port and asks every client
//! for a certificate (`tls-auth-clients yes`): with the right
//! certificates events go through to a worker; with a server certificate
//! the client does not trust, or without a client certificate, the
//! producer gives its events up at once (counted, told on standard error
//! with no logger installed) and a worker does not start.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use eventlib::redis::{declare_groups, stream_status, RedisTransport, Server, Tls, Worker};
use eventlib::{event, log, Dispatcher, Error};
use eventlib_redis_tests::pki::{node_tls_args, Pki, TlsRedisServer};
use eventlib_redis_tests::{args, Process, TempDir};
use serde::{Deserialize, Serialize};

const NODE: &str = env!("CARGO_BIN_EXE_eventlib-redis-node");
const STREAM: &str = "tls:events";
const N: u64 = 200;

static HANDLED: AtomicU64 = AtomicU64::new(0);

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Sealed {
    n: u64,
}

#[event(name = "tlstest.Sealed")]
impl Sealed {
    #[handler(group = "sealed")]
    fn count(&self) {
        HANDLED.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn events_reach_a_worker_through_mutual_tls() {
    let pki = Pki::new("tls-ok");
    let redis = TlsRedisServer::start(&pki);
    let server = redis.server(&pki);
    declare_groups(&server, STREAM, &["sealed"]).unwrap();
    Dispatcher::builder()
        .transport(RedisTransport::new(&server).unwrap().stream(STREAM))
        .install()
        .unwrap();
    for n in 0..N {
        log!(Sealed { n }).unwrap();
    }
    let report = eventlib::flush_timeout(Duration::from_secs(30));
    assert!(report.is_clean(), "{report}");

    let worker = Worker::builder(&server)
        .stream(STREAM)
        .group("sealed")
        .handle_signals(false)
        .stop_when_idle(Duration::from_millis(500))
        .build()
        .unwrap();
    let start = Instant::now();
    let running = {
        let worker = worker.clone();
        std::thread::spawn(move || worker.run_blocking())
    };
    while !running.is_finished() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the worker did not stop: {}",
            worker.stats()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    running.join().unwrap().unwrap();
    assert_eq!(HANDLED.load(Ordering::SeqCst), N, "{}", worker.stats());
    let status = stream_status(&server, STREAM).unwrap();
    let group = status.groups.iter().find(|g| g.name == "sealed").unwrap();
    assert_eq!(group.pending, 0, "{status:?}");
}

/// The ways a client can hold the wrong certificates.
fn wrong_certificates(pki: &Pki) -> [(&'static str, Tls); 2] {
    let untrusted = Tls::new()
        .ca_file(pki.path("rogue-ca.pem"))
        .unwrap()
        .client_files(pki.path("client.pem"), pki.path("client.key"))
        .unwrap();
    let anonymous = Tls::new().ca_file(pki.path("ca.pem")).unwrap();
    [
        ("untrusted server", untrusted),
        ("no client certificate", anonymous),
    ]
}

#[test]
fn wrong_certificates_are_a_tls_error_not_a_connection_to_retry() {
    let pki = Pki::new("tls-ops");
    let redis = TlsRedisServer::start(&pki);
    for (case, tls) in wrong_certificates(&pki) {
        let server = Server::new(redis.url()).tls(tls);
        match stream_status(&server, STREAM) {
            Err(Error::Tls { endpoint, reason }) => {
                assert_eq!(endpoint, redis.url(), "{case}");
                assert!(!reason.is_empty(), "{case}");
            }
            other => panic!("{case}: not a TLS error: {other:?}"),
        }
    }
}

#[test]
fn a_worker_with_wrong_certificates_does_not_start() {
    let pki = Pki::new("tls-worker");
    let redis = TlsRedisServer::start(&pki);
    for (case, tls) in wrong_certificates(&pki) {
        let worker = Worker::builder(Server::new(redis.url()).tls(tls))
            .stream(STREAM)
            .group("sealed")
            .handle_signals(false)
            .build()
            .unwrap();
        let start = Instant::now();
        let running = {
            let worker = worker.clone();
            std::thread::spawn(move || worker.run_blocking())
        };
        while !running.is_finished() {
            if start.elapsed() > Duration::from_secs(20) {
                worker.shutdown();
                panic!("{case}: the worker kept trying for 20 s instead of failing");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        match running.join().unwrap() {
            Err(Error::Tls { reason, .. }) => assert!(!reason.is_empty(), "{case}"),
            other => panic!("{case}: not a TLS error: {other:?}"),
        }
    }
}

#[test]
fn a_producer_with_wrong_certificates_gives_its_events_up_at_once() {
    const EVENTS: u64 = 500;
    let pki = Pki::new("tls-producer");
    let redis = TlsRedisServer::start(&pki);
    let cases = [
        (
            "untrusted",
            node_tls_args(
                Some(&pki.path("rogue-ca.pem")),
                Some((&pki.path("client.pem"), &pki.path("client.key"))),
            ),
        ),
        ("anonymous", node_tls_args(Some(&pki.path("ca.pem")), None)),
    ];
    for (case, tls) in cases {
        let dir = TempDir::new(case);
        let mut pairs = vec![
            ("count", EVENTS.to_string()),
            ("stream", STREAM.to_owned()),
            ("shutdown_secs", "30".to_owned()),
        ];
        pairs.extend(tls);
        let mut producer = Process::node(
            NODE,
            case,
            &dir.0,
            &args("refused_producer", &redis.url(), &pairs),
        );
        assert!(
            producer.wait(Duration::from_secs(60)),
            "{case}: still running"
        );
        let output = producer.output();
        let value = |key: &str| -> u64 {
            producer
                .reported(key)
                .unwrap_or_else(|| panic!("{case}: no {key}= in:\n{output}"))
                .parse()
                .unwrap()
        };
        assert_eq!(value("EMITTED"), EVENTS, "{case}:\n{output}");
        assert_eq!(value("DROPPED"), EVENTS, "{case}:\n{output}");
        assert_eq!(value("ABANDONED"), 0, "{case}:\n{output}");
        let took = value("SHUTDOWN_MS");
        assert!(took < 5_000, "{case}: shutdown took {took} ms:\n{output}");
        let notices: Vec<&str> = output
            .lines()
            .filter(|line| line.starts_with("eventlib"))
            .collect();
        assert!(
            notices.iter().any(|line| line.contains("TLS")),
            "{case}: no line tells of TLS:\n{output}"
        );
        assert!(
            (1..=12).contains(&notices.len()),
            "{case}: {} lines for {EVENTS} events given up:\n{output}",
            notices.len()
        );
    }
}
