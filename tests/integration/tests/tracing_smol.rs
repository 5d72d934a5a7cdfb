//! With the `tracing` feature and a smol spawner: the async handler's span,
//! run by smol, is a child of the span current at `log!`, as the pool's are.

mod common;

#[path = "common/spans.rs"]
mod spans;

use eventlib::{log, Dispatcher};
use spans::{check, recorder, Traced};

#[test]
fn handler_spans_on_a_smol_spawner_are_children_of_the_span_at_log() {
    recorder();
    Dispatcher::builder()
        .spawner(|task| smol::spawn(task).detach())
        .error_hook(|_| {})
        .install()
        .unwrap();
    let task = tracing::info_span!("smol task");
    let task_id = task.id().unwrap().into_u64();
    let id = smol::block_on(tracing::Instrument::instrument(
        async {
            let id = log!(Traced { n: 5 }).unwrap();
            eventlib::flush_async().await;
            id
        },
        task,
    ));
    check(5, &id.to_string(), task_id);
}
