//! Metadata reaches async handlers that a smol spawner runs.

mod common;
#[path = "common/meta.rs"]
mod meta;

use eventlib::{log, metadata, Dispatcher};
use meta::{assert_seen, Seen};

#[test]
fn async_handlers_on_a_smol_spawner_see_the_metadata() {
    Dispatcher::builder()
        .spawner(|task| smol::spawn(task).detach())
        .install()
        .unwrap();
    metadata::scope([("request_id", "req-s")], || log!(Seen { n: 1 }).unwrap()).unwrap();
    smol::block_on(eventlib::flush_async());
    let seen = assert_seen(1, Some("req-s"), None);
    let on_async = seen.iter().find(|s| s.handler == "async").unwrap();
    assert!(on_async.thread.starts_with("smol-"), "{seen:?}");
}
