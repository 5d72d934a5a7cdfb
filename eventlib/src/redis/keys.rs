//! The keys derived from the stream key. They keep the stream key as a
//! prefix, so a hash tag in it (`{shop}:events`) keeps them all in one
//! Redis Cluster slot.

/// The dead-letter stream of `stream`.
pub(crate) fn dead_letters(stream: &str) -> String {
    format!("{stream}:dead")
}

/// The hash of saved progress of `group` on `stream` (entry id → JSON).
pub(crate) fn progress(stream: &str, group: &str) -> String {
    format!("{stream}:progress:{group}")
}

/// The hash where the workers of `group` publish the handlers they run
/// (consumer name → JSON).
pub(crate) fn handlers(stream: &str, group: &str) -> String {
    format!("{stream}:handlers:{group}")
}

/// The hash where the workers of `group` on a partitioned `stream` say
/// they are alive (consumer name → the server's time in milliseconds).
pub(crate) fn members(stream: &str, group: &str) -> String {
    format!("{stream}:members:{group}")
}

/// The lease of `group` on `partition` (a partition's stream key): the
/// consumer name of the worker that reads it.
pub(crate) fn lease(partition: &str, group: &str) -> String {
    format!("{partition}:lease:{group}")
}

/// The set of the partition counts `stream` is used with.
pub(crate) fn partition_counts(stream: &str) -> String {
    format!("{stream}:partitions")
}

/// The marker that group `group` finished event `event_id` (with
/// `once_per_event_id`).
pub(crate) fn done(stream: &str, group: &str, event_id: &str) -> String {
    format!("{stream}:done:{group}:{event_id}")
}
