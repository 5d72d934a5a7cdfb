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
//! The guides: `docs/distributed-processing.md` (guarantees, retries, dead
//! letters, operations, security), `docs/wire-format.md` (the envelope, for
//! producers in other languages) and `docs/scaling.md`.

mod ack;
mod backoff;
mod conn;
mod control;
mod dead_letter;
mod elsewhere;
mod groups;
mod handle;
mod handler_sets;
mod inflight;
mod inspect;
mod keys;
mod producer;
mod read;
mod resp;
mod spool;
mod state;
mod stats;
mod upkeep;
mod wire;
mod worker;

pub use dead_letter::{dead_letters, DeadLetter, DeadLetters};
pub use groups::declare_groups;
pub use inspect::{
    destroy_group, emit, last_entry_id, read_after, stream_status, ConsumerStatus, GroupStatus,
    StreamEntry, StreamStatus,
};
pub use producer::{producer_stats, RedisTransport};
pub use spool::FsyncPolicy;
pub use stats::{ProducerStats, WorkerStats};
pub use worker::builder::{WorkerBuilder, DEFAULT_MAX_ENTRY_BYTES};
pub use worker::Worker;

/// The stream key producers and workers use unless told otherwise.
pub const DEFAULT_STREAM: &str = "eventlib:events";
