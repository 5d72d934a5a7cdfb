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
