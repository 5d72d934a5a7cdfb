//! The in-process scenarios (caller cost, end-to-end, inline, by-name,
//! memory) and, with the `redis` feature, the Redis transport's (with
//! `outbox`, the transactional outbox's); each
//! runs in a sub-process of its own and reports through
//! [`Report`](crate::harness::Report).

pub(crate) mod burst;
pub(crate) mod by_name;
pub(crate) mod caller;
pub(crate) mod inline;
pub(crate) mod memory;
#[cfg(feature = "redis")]
pub(crate) mod on_redis;
#[cfg(feature = "outbox")]
pub(crate) mod outbox;
pub(crate) mod throughput;
pub(crate) mod web;
