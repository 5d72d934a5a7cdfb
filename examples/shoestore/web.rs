//! The shoe store as an axum service: the product page (one `log!`, and
//! the cart add's transaction), the ingestion endpoint the page's script logs a client-side event through,
//! and the request metadata layer; started on a loopback port and stopped
//! the axum way, with eventlib shut down after the server.

use std::future::IntoFuture as _;
use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Html;
use axum::routing::get;
use axum::Router;
use eventlib_axum::{Ingest, RequestMetadataLayer};
use serde::Deserialize;

/// The page's query: who views it, from where; `traced` asks for the
/// view's trace (see `telemetry`).
#[derive(Deserialize)]
pub struct Visit {
    #[serde(default = "anonymous")]
    user: u64,
    #[serde(default = "web")]
    source: String,
    #[serde(default)]
    traced: bool,
}

fn anonymous() -> u64 {
    1
}

fn web() -> String {
    "web".into()
}

/// The product page; `logging` off serves the same page (and cart add)
/// without its events, for the latency comparison.
async fn product(
    State(logging): State<bool>,
    Path(product_id): Path<u64>,
    Query(visit): Query<Visit>,
) -> Result<Html<String>, (StatusCode, String)> {
    if logging {
        let view = crate::product_page(visit.user, product_id, &visit.source);
        let logged = if visit.traced {
            crate::telemetry::page_view(product_id, view).await
        } else {
            view.await
        };
        logged.map_err(|err| (StatusCode::SERVICE_UNAVAILABLE, err.to_string()))?;
    } else {
        crate::product_page_untracked(visit.user, product_id)
            .await
            .map_err(|err| (StatusCode::SERVICE_UNAVAILABLE, err.to_string()))?;
    }
    Ok(Html(page(product_id)))
}

fn page(product_id: u64) -> String {
    format!(
        r#"<!doctype html>
<html><head><meta charset="utf-8"><title>Shoe {product_id}</title></head>
<body>
  <h1>Shoe {product_id}</h1>
  <img id="picture" alt="shoe {product_id}" width="240" height="160"
       style="background:#ddd;cursor:zoom-in">
  <p id="zoomed">click the picture to zoom</p>
  <script>
    document.getElementById("picture").addEventListener("click", async () => {{
      const answer = await fetch("/events/shoestore.ProductImageZoomed", {{
        method: "POST",
        headers: {{ "Content-Type": "application/json" }},
        body: JSON.stringify({{ product_id: {product_id}, zoom: 2 }}),
      }});
      const body = await answer.json();
      document.getElementById("zoomed").textContent =
        answer.status === 202 ? "zoom logged as event " + body.id : "refused: " + body.error;
    }});
  </script>
</body></html>"#
    )
}

/// The service's router.
pub fn app(logging: bool) -> anyhow::Result<Router> {
    Ok(Router::new()
        .route("/products/{id}", get(product))
        .with_state(logging)
        .merge(
            Ingest::new()
                .allow(["shoestore.ProductImageZoomed"])
                .router()?,
        )
        .layer(RequestMetadataLayer::new()))
}

/// A running server and what stops it.
pub struct Server {
    pub addr: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Serves `app` on `addr` (port 0: any free one).
pub async fn start(app: Router, addr: SocketAddr) -> anyhow::Result<Server> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            let _ = stopped.await;
        })
        .into_future(),
    );
    Ok(Server { addr, stop, task })
}

impl Server {
    /// Stops taking requests and waits for those in progress.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        self.task.await??;
        Ok(())
    }
}

/// How long eventlib's shutdown waits, once the servers and the relay
/// stopped, for the handlers (or, on a producer, for Redis to confirm the
/// outbox).
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);
