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
/// `once_per_event_id`): `<stream>:done:<group>:<32 hex digits>`. Made
/// twice for every entry a worker reads with the option on (to look it up,
/// then to write it), so put together without the formatter.
pub(crate) fn done(stream: &str, group: &str, event_id: crate::EventId) -> String {
    const DONE: &str = ":done:";
    let hex = event_id.hex();
    let mut key = String::with_capacity(stream.len() + DONE.len() + group.len() + 1 + hex.len());
    key.push_str(stream);
    key.push_str(DONE);
    key.push_str(group);
    key.push(':');
    // Hex digits are ASCII, so always UTF-8.
    key.push_str(std::str::from_utf8(&hex).unwrap_or_default());
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marker_key_names_the_stream_group_and_id() {
        let id = crate::EventId::from_u128(0x0123_4567_89ab_cdef_0011_2233_4455_6677);
        assert_eq!(
            done("{shop}:events", "billing", id),
            format!("{{shop}}:events:done:billing:{id}")
        );
        assert_eq!(
            done("s", "g", id),
            "s:done:g:0123456789abcdef0011223344556677"
        );
    }
}
