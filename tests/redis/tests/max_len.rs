//! `RedisTransport::max_len`: every `XADD` carries `MAXLEN ~ n`, so a
//! stream that no worker reads stays near its cap, and the entries kept
//! are whole envelopes, the newest last.

use eventlib::redis::RedisTransport;
use eventlib::{event, log, Dispatcher};
use eventlib_redis_tests::{xlen, RedisServer};
use serde::{Deserialize, Serialize};

const STREAM: &str = "maxlen:events";
const EVENTS: u64 = 5_000;
const CAP: usize = 200;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Tick {
    n: u64,
}

#[event(name = "maxlen.Tick")]
impl Tick {
    #[handler]
    fn count(&self) {}
}

#[test]
fn a_capped_stream_keeps_about_its_cap_of_whole_envelopes() {
    let redis = RedisServer::start();
    Dispatcher::builder()
        .transport(
            RedisTransport::new(redis.url())
                .unwrap()
                .stream(STREAM)
                .max_len(CAP),
        )
        .install()
        .unwrap();
    for n in 0..EVENTS {
        log!(Tick { n }).unwrap();
    }
    assert!(eventlib::flush().is_clean(), "{}", eventlib::stats());
    let sent = eventlib::redis::producer_stats()
        .expect("a Redis producer")
        .delivered;
    assert_eq!(sent, EVENTS, "events Redis confirmed");

    let mut conn = redis.connection();
    // `~` trims whole nodes of the stream (100 entries each by default):
    // at least the cap stays, and not much more.
    let len = xlen(&mut conn, STREAM);
    assert!(
        (CAP as i64..=CAP as i64 + 200).contains(&len),
        "{len} entries kept for a cap of {CAP}"
    );
    let newest: Vec<(String, Vec<(String, String)>)> = redis::cmd("XREVRANGE")
        .arg(STREAM)
        .arg("+")
        .arg("-")
        .arg("COUNT")
        .arg(1)
        .query(&mut conn)
        .expect("XREVRANGE");
    let (_, fields) = &newest[0];
    assert_eq!(fields.len(), 1, "{fields:?}");
    let envelope: serde_json::Value = serde_json::from_str(&fields[0].1).expect("JSON");
    assert_eq!(envelope["name"], "maxlen.Tick");
    assert_eq!(envelope["data"]["n"], EVENTS - 1);
}
