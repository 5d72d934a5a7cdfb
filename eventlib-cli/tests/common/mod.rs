//! What the command's tests share: running the `eventlib` binary and
//! reading its JSON.

// Each test binary uses a part of this module.
#![allow(dead_code)]

use std::process::{Command, Output};

use serde_json::Value;

/// Runs `eventlib --url URL --stream STREAM ARGS...`, with no `REDIS_URL`
/// from the environment.
pub fn eventlib(url: &str, stream: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_eventlib"))
        .args(["--url", url, "--stream", stream])
        .args(args)
        .env_remove("REDIS_URL")
        .output()
        .expect("run the eventlib command")
}

/// The command's output as one JSON document, after checking that it
/// succeeded.
pub fn json(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
        panic!(
            "not one JSON document ({err}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}
