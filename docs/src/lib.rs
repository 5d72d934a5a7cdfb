//! The eventlib guides. Each page of `docs/` is the documentation of one
//! module below, so `cargo test -p eventlib-docs` compiles and runs every
//! Rust block of every page.

#[doc = include_str!("../tutorial.md")]
pub mod tutorial {}

#[doc = include_str!("../declaring-events.md")]
pub mod declaring_events {}

#[doc = include_str!("../asynchronous-processing.md")]
pub mod asynchronous_processing {}

#[doc = include_str!("../testing.md")]
pub mod testing {}

#[doc = include_str!("../distributed-processing.md")]
pub mod distributed_processing {}

#[doc = include_str!("../delivery-guarantees.md")]
pub mod delivery_guarantees {}

#[doc = include_str!("../spool.md")]
pub mod spool {}

#[doc = include_str!("../retries.md")]
pub mod retries {}

#[doc = include_str!("../redis-operations.md")]
pub mod redis_operations {}

#[doc = include_str!("../security.md")]
pub mod security {}

#[doc = include_str!("../deployment.md")]
pub mod deployment {}

#[doc = include_str!("../wire-format.md")]
pub mod wire_format {}

#[doc = include_str!("../transactional-outbox.md")]
pub mod transactional_outbox {}

#[doc = include_str!("../producer-choices.md")]
pub mod producer_choices {}

#[doc = include_str!("../observability.md")]
pub mod observability {}

#[doc = include_str!("../web.md")]
pub mod web {}

#[doc = include_str!("../operations.md")]
pub mod operations {}

#[doc = include_str!("../scaling.md")]
pub mod scaling {}

#[doc = include_str!("../performance.md")]
pub mod performance {}

#[doc = include_str!("../configuration.md")]
pub mod configuration {}

#[doc = include_str!("../errors.md")]
pub mod errors {}

#[doc = include_str!("../architecture.md")]
pub mod architecture {}

#[doc = include_str!("../contributing.md")]
pub mod contributing {}
