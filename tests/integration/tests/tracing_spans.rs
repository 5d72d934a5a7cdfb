//! With the `tracing` feature: each handler run is an `eventlib.handler`
//! span whose parent is the span current at `log!` (on the pool, inline,
//! on tokio), with its outcome and error recorded; `log!` records an
//! event on the caller's span. Checked with a real `tracing-subscriber`
//! layer that records every span.

mod common;

#[path = "common/spans.rs"]
mod spans;

use eventlib::{log, testing};
use spans::{check, handler_spans, recorder, Traced};

#[test]
fn handler_spans_are_children_of_the_span_at_log() {
    let recorder = recorder();
    common::quiet_panics("never");

    // On the pool (and the built-in executor for the async handler).
    let request = tracing::info_span!("request", path = "/products/1");
    let request_id = request.id().unwrap().into_u64();
    let id = request.in_scope(|| log!(Traced { n: 1 }).unwrap());
    drop(request);
    common::flush();
    check(1, &id.to_string(), request_id);
    // log! told the request span.
    let events = recorder.events.lock().unwrap().clone();
    assert!(
        events.contains(&("event logged".to_owned(), Some(request_id))),
        "{events:?}"
    );
    // The handler's own events are inside its span.
    let works = handler_spans(&id.to_string())["works"].clone();
    let inside = events
        .iter()
        .find(|(m, _)| m == "inside the handler")
        .unwrap();
    let works_id = recorder
        .spans
        .lock()
        .unwrap()
        .iter()
        .find(|(_, s)| s.fields.get("handler") == works.fields.get("handler"))
        .map(|(id, _)| *id);
    assert_eq!(inside.1, works_id);

    // Inline: in the caller.
    let inline = tracing::info_span!("inline test");
    let inline_id = inline.id().unwrap().into_u64();
    let id = {
        let _inline = testing::inline();
        inline.in_scope(|| match log!(Traced { n: 2 }) {
            Err(eventlib::Error::Handlers(failures)) => failures[0].event_id,
            other => panic!("{other:?}"),
        })
    };
    check(2, &id.to_string(), inline_id);

    // On tokio: the async handler runs on the runtime log! is called in.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let task = tracing::info_span!("tokio task");
    let task_id = task.id().unwrap().into_u64();
    let id = runtime.block_on(tracing::Instrument::instrument(
        async {
            let id = log!(Traced { n: 3 }).unwrap();
            tokio::time::timeout(common::DEADLINE, eventlib::flush_async())
                .await
                .unwrap();
            id
        },
        task,
    ));
    check(3, &id.to_string(), task_id);

    // The default error hook told the failure through tracing.
    let events = recorder.events.lock().unwrap().clone();
    assert!(
        events.iter().any(
            |(m, _)| m.contains("Traced::fails` of event `tests.tracing.Traced`")
                && m.contains("no stock for")
        ),
        "{events:?}"
    );

    // Without a span at log!, a handler span is a root.
    let id = log!(Traced { n: 4 }).unwrap();
    common::flush();
    let spans = handler_spans(&id.to_string());
    assert!(spans.values().all(|s| s.parent.is_none()), "{spans:#?}");
}
