//! The operator's side, from Redis alone (no registry needed): a stream's
//! status, its entries as they arrive, its dead letters, an envelope
//! written by hand, a group destroyed. The `eventlib` command and the
//! dashboard are built on these.
//!
//! - `operator.rs`: [`Operator`], the handle: one connection kept across
//!   calls, opened again after a failure, the crate's typed errors.
//! - `status.rs`: what an operator asks of a stream (length, dead letters,
//!   groups, consumers, pending, lag).
//! - `tail.rs`: the newest entry id, and the entries after an id.
//! - `write.rs`: an envelope written by hand, a group destroyed.
//! - `dead_letters.rs`: the dead letters: counting, paging, finding by
//!   [`DeadLetterFilter`](dead_letters::DeadLetterFilter), replaying,
//!   removing.
//! - `pause.rs`: pausing and resuming a handler or a group.
//! - `timeline.rs`: the figures workers publish over time, and the live
//!   processes.
//! - `parts.rs`: the partitions of a partitioned stream, which every call
//!   above spans when given the stream's name.
//!
//! Each call is a method of [`Operator`]; `stream_status`,
//! `write_envelope`, `destroy_group` and `dead_letters` build one for a
//! single use.

pub(crate) mod dead_letters;
pub(crate) mod operator;
pub(crate) mod parts;
pub(crate) mod pause;
pub(crate) mod relays;
pub(crate) mod status;
pub(crate) mod tail;
pub(crate) mod timeline;
pub(crate) mod write;

pub(crate) use operator::Operator;
