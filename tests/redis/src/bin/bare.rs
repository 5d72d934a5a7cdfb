//! A worker built without the crate of `rt.Order`'s handlers: it declares
//! the event (its crate of events is linked) but none of its handlers, does
//! not know `rt.Note` at all, and has only the first of `rt.Split`'s two
//! handlers. One handler of group `default` for an
//! event of its own lets it start as a worker of that group.
//!
//! `eventlib-redis-bare url=... consumer=b [group=default] [visibility_ms=..] [allow_empty=0]`

// Links `rt.Split` and its first handler, not the node's second one.
use eventlib_redis_tests as _;

use std::collections::HashMap;
use std::time::Duration;

use eventlib::redis::Worker;
use eventlib::{event, handler};
use serde::{Deserialize, Serialize};

/// The same event as the node binary's, without its handlers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Order {
    seq: u64,
}

#[event(name = "rt.Order")]
impl Order {}

/// An event of this binary alone.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ping {}

#[event(name = "bare.Ping")]
impl Ping {}

#[handler]
fn pong(_: &Ping) {}

fn main() {
    let args: HashMap<String, String> = std::env::args()
        .skip(1)
        .filter_map(|a| a.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
        .collect();
    let get =
        |key: &str, default: &str| args.get(key).cloned().unwrap_or_else(|| default.to_owned());
    let num = |key: &str, default: u64| -> u64 {
        get(key, &default.to_string()).parse().expect("a number")
    };
    let worker = Worker::builder(get("url", "redis://127.0.0.1/"))
        .group(get("group", "default"))
        .consumer(get("consumer", "bare"))
        .visibility_timeout(Duration::from_millis(num("visibility_ms", 60_000)))
        .block(Duration::from_millis(num("block_ms", 500)))
        .allow_empty_group(num("allow_empty", 0) == 1)
        .build()
        .expect("build the worker");
    println!("STARTED={}", std::process::id());
    match worker.run_blocking() {
        Ok(()) => println!("STATS={}", worker.stats()),
        Err(err) => {
            println!("ERROR={err}");
            std::process::exit(2);
        }
    }
}
