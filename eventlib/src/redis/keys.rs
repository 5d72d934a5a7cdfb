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

/// The field of the progress hash counting how many times entry `id` was
/// left for another worker (those deliveries are no crash).
pub(crate) fn passed_field(id: &str) -> String {
    format!("{id}:passed")
}
