//! Who the client is: the peer address, or a forwarded address when the
//! peer is a proxy the user declared trusted. The layer decides once per
//! request; everything else (the ingestion router's metadata and rate
//! limit) reads its verdict through [`client_ip`].

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::Request;

/// The proxies whose `x-forwarded-for` header is believed. Empty by
/// default: the client IP is the peer address, whatever headers say, since
/// anyone can send `x-forwarded-for`.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpAddr>);

impl TrustedProxies {
    /// No trusted proxy.
    pub fn none() -> Self {
        TrustedProxies(Vec::new())
    }

    /// Trusts these proxy addresses (a load balancer, a reverse proxy on
    /// the same host: `127.0.0.1`).
    pub fn new(proxies: impl IntoIterator<Item = IpAddr>) -> Self {
        TrustedProxies(proxies.into_iter().collect())
    }

    fn trusts(&self, ip: &IpAddr) -> bool {
        self.0.contains(ip)
    }

    /// Decides the request's client IP with these proxies and records it
    /// on the request, where [`client_ip`] finds it.
    pub(crate) fn identify<B>(&self, request: &mut Request<B>) -> Option<IpAddr> {
        let ip = self.resolve(request);
        request.extensions_mut().insert(ClientIp(ip));
        ip
    }

    /// The client's IP: the peer's, or when the peer is trusted, the
    /// last address of `x-forwarded-for` that is not itself a trusted
    /// proxy. `None` when the server was not started with
    /// `into_make_service_with_connect_info::<SocketAddr>()`.
    fn resolve<B>(&self, request: &Request<B>) -> Option<IpAddr> {
        let peer = peer(request)?;
        if !self.trusts(&peer) {
            return Some(peer);
        }
        let mut client = peer;
        // Every x-forwarded-for header, in order, then right to left: the
        // rightmost entries were added by the proxies nearest to us.
        let forwarded: Vec<IpAddr> = request
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .map(|hop| hop.parse::<IpAddr>().ok())
            .collect::<Option<Vec<_>>>()
            // A malformed hop: believe nothing beyond the trusted peer.
            .unwrap_or_default();
        for hop in forwarded.into_iter().rev() {
            client = hop;
            if !self.trusts(&hop) {
                break;
            }
        }
        Some(client)
    }
}

/// The client IP the layer decided for a request.
#[derive(Debug, Clone, Copy)]
struct ClientIp(Option<IpAddr>);

/// The request's client IP: what [`RequestMetadataLayer`](crate::RequestMetadataLayer)
/// decided with its trusted proxies when it is installed, else the peer
/// address (no forwarded header is believed without the layer's proxies).
pub(crate) fn client_ip<B>(request: &Request<B>) -> Option<IpAddr> {
    match request.extensions().get::<ClientIp>() {
        Some(ClientIp(ip)) => *ip,
        None => peer(request),
    }
}

fn peer<B>(request: &Request<B>) -> Option<IpAddr> {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip())
}
