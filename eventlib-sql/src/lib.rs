//! A transactional outbox for eventlib on sqlx: an event is written as a
//! row of the `eventlib_outbox` table inside the caller's own transaction,
//! so it commits or rolls back with the business rows; a [`Relay`] moves
//! committed rows to the installed transport (the local pool or Redis
//! Streams) with their original event ids, and deletes them only once the
//! transport confirmed.
//!
//! `docs/transactional-outbox.md` is the guide. Features: `postgres`
//! ([`postgres`]) and `sqlite` ([`sqlite`]), both on by default; `metrics`
//! (the relay's counters and backlog gauge on the `metrics` facade).
//!
//! ```no_run
//! # #[cfg(feature = "postgres")]
//! # async fn demo(pool: sqlx::PgPool, event: impl eventlib::Event) -> Result<(), eventlib_sql::Error> {
//! let mut tx = pool.begin().await?;
//! // ... the business rows ...
//! eventlib_sql::postgres::log(&mut tx, event).await?;
//! tx.commit().await?;
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

mod error;
mod publish;
mod relay;
mod send;
mod stats;

#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "sqlite")]
pub mod sqlite;

pub use error::Error;
pub use relay::{Relay, RelayOptions, RelayTask};
pub use stats::RelayStats;

/// The table the outbox rows live in.
pub const TABLE: &str = "eventlib_outbox";
