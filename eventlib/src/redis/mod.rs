//! Distributed processing on Redis Streams (feature `redis`).
//!
//! - **Producer**: install [`RedisTransport`] on the dispatcher; `log!`
//!   does not wait for Redis while the outbox has room, and events go to
//!   one stream (`eventlib:events`)
//!   in pipelined `XADD` batches, each confirmed before it counts as
//!   delivered. The outbox is in memory unless a disk spool is asked for
//!   ([`RedisTransport::spool`]).
//! - **Workers**: [`Worker`] processes, on any machine, consume the stream
//!   through one consumer group per handler group, run that group's
//!   handlers with retries, dead-letter what keeps failing, and take over
//!   the entries of workers that died.
//! - **Groups**: [`declare_groups`] where events are produced, before
//!   producing: a group sees what is written after it is declared, and
//!   trimming keeps what it has not acknowledged.
//! - **Operations**: [`producer_stats`], [`Worker::stats`], a stream's
//!   groups, consumers and lag through [`stream_status`], and the
//!   dead-letter stream through [`dead_letters`].
//!
//! ```no_run
//! // The producer (a web service):
//! eventlib::Dispatcher::builder()
//!     .transport(eventlib::redis::RedisTransport::new("redis://127.0.0.1/")?)
//!     .install()?;
//!
//! // A worker process of the "default" handler group:
//! eventlib::redis::Worker::builder("redis://127.0.0.1/").build()?.run_blocking()?;
//! # Ok::<(), eventlib::Error>(())
//! ```
//!
//! The guides: `docs/distributed-processing.md` (setting up producers and
//! workers), `docs/delivery-guarantees.md`, `docs/spool.md`,
//! `docs/retries.md`, `docs/redis-operations.md`, `docs/security.md`,
//! `docs/wire-format.md` (the envelope, for producers in other languages)
//! and `docs/scaling.md`.

// Shared by the producer, the workers and the operator's side.
mod adders;
mod backoff;
mod cluster;
mod conn;
mod dead_letter;
mod fault;
mod groups;
mod keys;
mod partitions;
mod pause;
mod reply;
mod server;
mod stream_id;
pub(crate) mod timeline;
pub(crate) mod wire;

mod ops;
mod producer;
pub(crate) mod worker;

pub use dead_letter::DeadLetter;
pub use groups::{create_group, declare_groups, GroupStart};
pub use ops::dead_letters::{dead_letters, DeadLetterFilter, DeadLetters};
pub use ops::operator::Operator;
pub use ops::pause::{pause, pauses, resume};
pub use ops::relays::RelayFigures;
pub use ops::status::{stream_status, ConsumerStatus, GroupStatus, StreamStatus};
pub use ops::tail::{StreamEntry, TailPosition};
pub use ops::timeline::{live_processes, timeline};
pub use ops::write::{destroy_group, write_envelope};
pub use partitions::partition_keys;
pub use pause::Pause;
pub use producer::spool::FsyncPolicy;
pub use producer::stats::ProducerStats;
pub use producer::{producer_stats, Confirm, RedisTransport};
pub use server::{Server, Tls};
pub use timeline::{
    Bucket, Count, HandlerFigures, HandlerKey, Process, ProducedFigures, Span, PROCESS_STALE,
};
pub use worker::builder::{WorkerBuilder, DEFAULT_MAX_ENTRY_BYTES};
pub use worker::stats::WorkerStats;
pub use worker::Worker;

/// The stream key producers and workers use unless told otherwise.
pub const DEFAULT_STREAM: &str = "eventlib:events";
