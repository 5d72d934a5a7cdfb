//! The dashboard's overview through TLS with the operator's CA and client
//! certificate, over a real socket, against a `redis-server` that asks
//! every client for a certificate; without the client certificate the page
//! says the TLS handshake failed.

mod common;

use axum::Router;
use common::{request, serve};
use eventlib::redis::{write_envelope, Server, Tls};
use eventlib_axum::Dashboard;
use eventlib_redis_tests::pki::{Pki, TlsRedisServer};

const STREAM: &str = "dashtls:events";

#[test]
fn the_dashboard_reads_the_stream_through_mutual_tls() {
    let pki = Pki::new("dash-tls");
    let redis = TlsRedisServer::start(&pki);
    let server = redis.server(&pki);
    for n in 0..3 {
        write_envelope(
            &server,
            STREAM,
            "dashtls.Seen",
            &serde_json::json!({ "n": n }),
        )
        .unwrap();
    }
    let anonymous = Server::new(redis.url()).tls(Tls::new().ca_file(pki.path("ca.pem")).unwrap());
    let app = Router::new()
        .merge(Dashboard::new("/eventlib").redis(&server, STREAM).router())
        .merge(
            Dashboard::new("/anonymous")
                .redis(anonymous, STREAM)
                .router(),
        );
    let addr = serve(app);

    let page = request(addr, "GET", "/eventlib", &[], b"");
    assert_eq!(page.status, 200, "{page:?}");
    assert!(page.body.contains("dashtls:events"), "{}", page.body);
    assert!(page.body.contains("3 entries"), "{}", page.body);

    let refused = request(addr, "GET", "/anonymous", &[], b"");
    assert_eq!(refused.status, 200, "{refused:?}");
    assert!(refused.body.contains("TLS with"), "{}", refused.body);
    assert!(!refused.body.contains("3 entries"), "{}", refused.body);
}
