//! The request metadata layer.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::MatchedPath;
use axum::http::{HeaderValue, Request, Response};
use eventlib::metadata::{FutureExt as _, Metadata};
use tower::{Layer, Service};

use crate::client::TrustedProxies;

/// The header a request id is read from and echoed in.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The longest request id taken from a client; a longer or malformed one
/// is replaced by a generated id.
const MAX_REQUEST_ID_LEN: usize = 64;

/// Puts the request's metadata in scope for everything its handler logs:
///
/// | key | value |
/// |---|---|
/// | `request_id` | `x-request-id` if present and well-formed (1 to 64 of `A-Z a-z 0-9 - _ . :`), else a generated id; echoed in the response's `x-request-id` |
/// | `client_ip` | the peer address, or `x-forwarded-for`'s client when the peer is a [trusted proxy](TrustedProxies); absent when the server was not started with `into_make_service_with_connect_info::<SocketAddr>()` |
/// | `method` | `GET`, `POST`... |
/// | `route` | the matched route, such as `/products/{id}` (not the path: bounded, and free of ids), when the layer is added with `Router::layer` |
///
/// The handler's future carries the metadata to whichever thread polls
/// it, and the [`RequestMetadata`] extension gives it to the handler too.
#[derive(Debug, Clone, Default)]
pub struct RequestMetadataLayer {
    proxies: TrustedProxies,
}

impl RequestMetadataLayer {
    /// The layer, trusting no proxy.
    pub fn new() -> Self {
        RequestMetadataLayer::default()
    }

    /// Believes `x-forwarded-for` from these proxies only.
    pub fn trusted_proxies(mut self, proxies: TrustedProxies) -> Self {
        self.proxies = proxies;
        self
    }
}

impl<S> Layer<S> for RequestMetadataLayer {
    type Service = RequestMetadataService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestMetadataService {
            inner,
            proxies: self.proxies.clone(),
        }
    }
}

/// The service of [`RequestMetadataLayer`].
#[derive(Debug, Clone)]
pub struct RequestMetadataService<S> {
    inner: S,
    proxies: TrustedProxies,
}

/// The metadata the layer put in scope, as a request extension (for a
/// handler that wants the request id itself).
#[derive(Debug, Clone)]
pub struct RequestMetadata(pub Metadata);

impl<S, B, R> Service<Request<B>> for RequestMetadataService<S>
where
    S: Service<Request<B>, Response = Response<R>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let request_id = request
            .headers()
            .get(REQUEST_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .filter(|id| well_formed(id))
            .map_or_else(|| eventlib::EventId::new().to_string(), str::to_owned);
        let mut entries = vec![
            ("request_id", request_id.clone()),
            ("method", request.method().as_str().to_owned()),
        ];
        if let Some(ip) = self.proxies.identify(&mut request) {
            entries.push(("client_ip", ip.to_string()));
        }
        if let Some(route) = request.extensions().get::<MatchedPath>() {
            entries.push(("route", route.as_str().to_owned()));
        }
        // Within the limits by construction (4 short entries, a route of a
        // few hundred bytes at most); a route too long to fit is left out.
        let metadata = eventlib::metadata::current()
            .extend(entries.iter().map(|(k, v)| (*k, v.as_str())))
            .or_else(|_| {
                eventlib::metadata::current().extend(
                    entries
                        .iter()
                        .filter(|(k, _)| *k != "route")
                        .map(|(k, v)| (*k, v.as_str())),
                )
            })
            // Past the limits even so (an outer scope nearly full): the
            // outer metadata stays; the request id is still echoed.
            .unwrap_or_else(|_| eventlib::metadata::current());
        request
            .extensions_mut()
            .insert(RequestMetadata(metadata.clone()));
        let future = self.inner.call(request).with_metadata(metadata);
        Box::pin(async move {
            let mut response = future.await?;
            if let Ok(value) = HeaderValue::from_str(&request_id) {
                response.headers_mut().insert(REQUEST_ID_HEADER, value);
            }
            Ok(response)
        })
    }
}

fn well_formed(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_REQUEST_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}
