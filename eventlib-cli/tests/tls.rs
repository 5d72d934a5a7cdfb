//! `eventlib status` through TLS with the operator's CA and client
//! certificate, given as options and as environment variables, against a
//! `redis-server` that asks every client for a certificate.

use std::process::{Command, Output};

use eventlib::redis::write_envelope;
use eventlib_redis_tests::pki::{Pki, TlsRedisServer};
use serde_json::Value;

const STREAM: &str = "clitls:events";

/// Runs the command with `env` only (no `REDIS_*` of the caller's).
fn eventlib(args: &[&str], env: &[(&str, String)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_eventlib"));
    for var in [
        "REDIS_URL",
        "REDIS_TLS_CA",
        "REDIS_TLS_CERT",
        "REDIS_TLS_KEY",
    ] {
        command.env_remove(var);
    }
    command
        .args(["--stream", STREAM])
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("run the eventlib command")
}

fn stream_length(output: &Output) -> u64 {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let status: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    status["length"]
        .as_u64()
        .unwrap_or_else(|| panic!("{status}"))
}

#[test]
fn status_works_through_mutual_tls_with_options_or_environment() {
    let pki = Pki::new("cli-tls");
    let redis = TlsRedisServer::start(&pki);
    write_envelope(
        redis.server(&pki),
        STREAM,
        "clitls.Ping",
        &serde_json::json!({}),
    )
    .unwrap();
    let path = |file: &str| pki.path(file).display().to_string();
    let url = redis.url();

    let by_options = eventlib(
        &[
            "--url",
            &url,
            "--tls-ca",
            &path("ca.pem"),
            "--tls-cert",
            &path("client.pem"),
            "--tls-key",
            &path("client.key"),
            "status",
            "--json",
        ],
        &[],
    );
    assert_eq!(stream_length(&by_options), 1);

    let by_environment = eventlib(
        &["status", "--json"],
        &[
            ("REDIS_URL", url.clone()),
            ("REDIS_TLS_CA", path("ca.pem")),
            ("REDIS_TLS_CERT", path("client.pem")),
            ("REDIS_TLS_KEY", path("client.key")),
        ],
    );
    assert_eq!(stream_length(&by_environment), 1);

    // No client certificate: the server refuses, and the command says it is TLS.
    let anonymous = eventlib(&["--url", &url, "--tls-ca", &path("ca.pem"), "status"], &[]);
    let stderr = String::from_utf8_lossy(&anonymous.stderr);
    assert_eq!(anonymous.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("TLS"), "{stderr}");

    // A certificate without its key is bad usage.
    let half = eventlib(
        &["--url", &url, "--tls-cert", &path("client.pem"), "status"],
        &[],
    );
    assert_eq!(half.status.code(), Some(2));

    // A CA file that is not there is bad usage too, said before connecting.
    let missing = eventlib(
        &["--url", &url, "--tls-ca", &path("absent.pem"), "status"],
        &[],
    );
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert_eq!(missing.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("absent.pem"), "{stderr}");
}
