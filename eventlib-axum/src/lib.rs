//! eventlib for axum services.
//!
//! - [`RequestMetadataLayer`]: a tower layer that, for every request, puts
//!   the request id, the client IP, the method and the matched route in
//!   [eventlib's metadata](eventlib::metadata) scope, so every `log!` in a
//!   handler carries them with no argument passing; the request id is
//!   echoed in the response's `x-request-id`.
//! - [`Ingest`]: an HTTP ingestion router for browsers and other
//!   languages: `POST /events/{name}` and `POST /events` (a batch) log
//!   events by name, closed by default to every event you do not allow.
//! - `Dashboard` (feature `redis`): the operator's pages, to mount behind
//!   the service's auth: the registry, live stats, the stream's status and
//!   its dead letters (filter, detail, replay, purge).
//!
//! ```no_run
//! use axum::{routing::get, Router};
//! use eventlib_axum::{Ingest, RequestMetadataLayer};
//!
//! # async fn serve() -> anyhow::Result<()> {
//! let app = Router::new()
//!     .route("/products/{id}", get(|| async { "a product page" }))
//!     .merge(Ingest::new().allow(["shoestore.ProductImageZoomed"]).router()?)
//!     .layer(RequestMetadataLayer::new());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>())
//!     .with_graceful_shutdown(async { let _ = tokio::signal::ctrl_c().await; })
//!     .await?;
//! // The server has stopped taking requests: let the handlers finish.
//! let report = eventlib::shutdown_async(std::time::Duration::from_secs(30)).await;
//! assert!(report.is_clean(), "{report}");
//! # Ok(())
//! # }
//! ```
//!
//! The guide is `docs/web.md`.

mod client;
#[cfg(feature = "redis")]
mod dashboard;
mod ingest;
mod layer;
mod problem;
mod rate;

pub use client::TrustedProxies;
#[cfg(feature = "redis")]
pub use dashboard::Dashboard;
pub use ingest::{Ingest, MAX_USER_AGENT_LEN};
pub use layer::{RequestMetadata, RequestMetadataLayer, REQUEST_ID_HEADER};
