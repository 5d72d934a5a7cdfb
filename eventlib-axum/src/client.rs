//! Who the client is: the peer address, or a forwarded address when the
//! peer is a proxy the user declared trusted.

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

    /// The client's IP: the peer's, or when the peer is trusted, the
    /// last address of `x-forwarded-for` that is not itself a trusted
    /// proxy. `None` when the server was not started with
    /// `into_make_service_with_connect_info::<SocketAddr>()`.
    pub(crate) fn client_ip<B>(&self, request: &Request<B>) -> Option<IpAddr> {
        let peer = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip())?;
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
