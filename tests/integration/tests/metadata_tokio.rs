//! Metadata reaches async handlers that a tokio spawner runs, from a
//! tokio task that set it with the future wrapper.

mod common;
#[path = "common/meta.rs"]
mod meta;

use eventlib::metadata::{FutureExt as _, Metadata};
use eventlib::{log, Dispatcher};
use meta::{assert_seen, Seen};

#[test]
fn async_handlers_on_a_tokio_spawner_see_the_metadata() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("test-tokio-worker")
        .enable_all()
        .build()
        .unwrap();
    let handle = runtime.handle().clone();
    Dispatcher::builder()
        .spawner(move |task| drop(handle.spawn(task)))
        .install()
        .unwrap();
    let request = Metadata::new()
        .extend([("request_id", "req-t"), ("client_ip", "192.0.2.1")])
        .unwrap();
    runtime.block_on(async {
        tokio::spawn(async { log!(Seen { n: 1 }).unwrap() }.with_metadata(request))
            .await
            .unwrap();
        tokio::time::timeout(common::DEADLINE, eventlib::flush_async())
            .await
            .unwrap();
    });
    let seen = assert_seen(1, Some("req-t"), Some("192.0.2.1"));
    let on_async = seen.iter().find(|s| s.handler == "async").unwrap();
    assert!(on_async.thread.starts_with("test-tokio-worker"), "{seen:?}");
}
