//! Connections: the server (or the Redis Cluster) as given by its URL,
//! opening connections with explicit timeouts, dropping them on I/O
//! errors so the next use reconnects, and the crate's `Error` for a failed
//! command.
//!
//! On a cluster a [`Link`] serves one slot ([`Link::for_key`]): it
//! connects to the primary that serves that slot now, and after a
//! redirection, a failover or a lost connection it drops the connection,
//! so that the next use finds the slot's primary again. Every key of one
//! stream partition shares its hash tag, so one link runs all of that
//! partition's commands, transactions and blocking reads included. On one
//! server nothing of this runs: the link connects to the URL as before.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use redis::{Client, Connection, RedisError, RedisResult};

use crate::error::Error;
use crate::redis::cluster::{self, Cluster};
use crate::redis::fault::{
    is_connection_error, is_cut_after_handshake, is_tls_refusal, is_topology_change, TLS_HANDSHAKE,
};
use crate::redis::server::{Server, Tls};

/// How long opening a connection (TCP, TLS, AUTH) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a write may block.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// How many fresh TLS connections cut right after the handshake mean the
/// server refuses the client's certificate.
const CUTS_THAT_REFUSE: u32 = 3;
/// How long a cluster node may take to answer the cluster client's
/// discovery.
const CLUSTER_RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);

/// A Redis server as given by its URL, or a Redis Cluster by its seeds.
#[derive(Clone)]
pub(crate) struct Endpoint {
    nodes: Nodes,
    /// The URL with any password hidden, for messages.
    shown: String,
    /// Whether the URL is `rediss://`.
    tls: bool,
}

/// One server's client is kept inline: an endpoint is made once per
/// producer, worker or operator handle, and one server is the common case.
#[derive(Clone)]
#[allow(clippy::large_enum_variant)]
enum Nodes {
    One(Client),
    Cluster(Arc<Cluster>),
}

impl Endpoint {
    /// Checks the URL and the certificates; connects to nothing.
    pub(crate) fn new(server: impl Into<Server>) -> Result<Self, Error> {
        let server = server.into();
        let shown = server.shown();
        if let Some(seeds) = server.seeds() {
            let tls = seeds.iter().any(|seed| seed.starts_with("rediss://"));
            if tls && !cfg!(feature = "redis-tls") {
                return Err(cluster::config_error(
                    &shown,
                    "it asks for TLS: build eventlib with the `redis-tls` feature",
                ));
            }
            let cluster = Cluster::new(
                &seeds,
                server.certificates(),
                CONNECT_TIMEOUT,
                CLUSTER_RESPONSE_TIMEOUT,
            )
            .map_err(|reason| cluster::config_error(&shown, &reason))?;
            return Ok(Endpoint {
                nodes: Nodes::Cluster(Arc::new(cluster)),
                shown,
                tls,
            });
        }
        let url = server.url();
        if url.starts_with("rediss://") && !cfg!(feature = "redis-tls") {
            return Err(Error::Config {
                option: "url",
                reason: format!(
                    "`{shown}` asks for TLS: build eventlib with the `redis-tls` feature"
                ),
            });
        }
        let client = match server.certificates() {
            None => Client::open(url),
            Some(tls) => with_certificates(url, &shown, tls)?,
        }
        .map_err(|err| Error::Config {
            option: "url",
            reason: format!("invalid Redis URL `{shown}`: {err}"),
        })?;
        let tls = url.starts_with("rediss://");
        Ok(Endpoint {
            nodes: Nodes::One(client),
            shown,
            tls,
        })
    }

    /// Whether this is a Redis Cluster.
    pub(crate) fn is_cluster(&self) -> bool {
        matches!(self.nodes, Nodes::Cluster(_))
    }

    /// A new connection whose replies may take up to `read_timeout`: to
    /// the server, or on a cluster to the primary that serves `slot` (to
    /// the first seed that answers when there is no slot).
    fn connect(&self, slot: Option<u16>, read_timeout: Duration) -> RedisResult<Connection> {
        let conn = match (&self.nodes, slot) {
            (Nodes::One(client), _) => self.open(client)?,
            (Nodes::Cluster(cluster), Some(slot)) => {
                let (host, port) = cluster.primary_of(slot)?;
                self.open(&cluster.node(&host, port)?)?
            }
            (Nodes::Cluster(cluster), None) => {
                let mut last = None;
                let mut found = None;
                for seed in cluster.seed_clients()? {
                    match self.open(&seed) {
                        Ok(conn) => {
                            found = Some(conn);
                            break;
                        }
                        Err(err) => last = Some(err),
                    }
                }
                match (found, last) {
                    (Some(conn), _) => conn,
                    (None, Some(err)) => return Err(err),
                    (None, None) => unreachable!("a cluster has at least one seed"),
                }
            }
        };
        // The sync client waits for ever unless told otherwise.
        conn.set_read_timeout(Some(read_timeout))?;
        conn.set_write_timeout(Some(WRITE_TIMEOUT))?;
        Ok(conn)
    }

    /// Opens a connection. Under TLS 1.3 a server refuses the client's
    /// certificate (or its lack of one) after the handshake, with an alert
    /// that a write of the client's can turn into a bare reset: a server
    /// that cuts every one of a few fresh connections right after the
    /// handshake is taken at its word, as a TLS refusal.
    fn open(&self, client: &Client) -> RedisResult<Connection> {
        let mut cut = 0;
        loop {
            match client.get_connection_with_timeout(CONNECT_TIMEOUT) {
                Err(err) if self.tls && is_cut_after_handshake(&err) => {
                    cut += 1;
                    if cut == CUTS_THAT_REFUSE {
                        return Err(RedisError::from((
                            redis::ErrorKind::Io,
                            TLS_HANDSHAKE,
                            format!(
                                "the server closed {cut} connections right after the handshake \
                                 ({err}): it refuses this client's certificate, or its lack of one"
                            ),
                        )));
                    }
                }
                result => return result,
            }
        }
    }

    /// The URL with any password hidden.
    pub(crate) fn shown(&self) -> &str {
        &self.shown
    }

    /// What a failed command means for the caller: the server could not
    /// be reached, or it answered with an error.
    pub(crate) fn error(&self, err: &RedisError) -> Error {
        if is_tls_refusal(err) {
            Error::Tls {
                endpoint: self.shown.clone(),
                reason: err.to_string(),
            }
        } else if is_connection_error(err) || err.kind() == redis::ErrorKind::AuthenticationFailed {
            Error::Connection {
                endpoint: self.shown.clone(),
                reason: err.to_string(),
            }
        } else {
            Error::Server {
                reason: err.to_string(),
            }
        }
    }
}

/// A client of the `rediss://` server at `url` with the operator's
/// certificates: the URL's own faults stay those of `url`, the
/// certificates' are those of `tls`.
#[cfg(feature = "redis-tls")]
fn with_certificates(url: &str, shown: &str, tls: &Tls) -> Result<RedisResult<Client>, Error> {
    if !url.starts_with("rediss://") {
        return Err(Error::Config {
            option: "tls",
            reason: format!("`{shown}` is not a `rediss://` URL: certificates need TLS"),
        });
    }
    let info = match redis::IntoConnectionInfo::into_connection_info(url) {
        Ok(info) => info,
        Err(err) => return Ok(Err(err)),
    };
    Client::build_with_tls(info, tls.to_redis())
        .map(Ok)
        .map_err(|err| Error::Config {
            option: "tls",
            reason: format!("the certificates for `{shown}` are unusable: {err}"),
        })
}

#[cfg(not(feature = "redis-tls"))]
fn with_certificates(_url: &str, shown: &str, _tls: &Tls) -> Result<RedisResult<Client>, Error> {
    Err(Error::Config {
        option: "tls",
        reason: format!(
            "certificates for `{shown}` need TLS: build eventlib with the `redis-tls` feature"
        ),
    })
}

/// One connection, opened on demand and dropped after an I/O error so the
/// next use reconnects; on a cluster, to the primary of one slot, and
/// dropped after a redirection or a failover as well.
pub(crate) struct Link {
    endpoint: Endpoint,
    read_timeout: Duration,
    /// The slot this link serves on a cluster.
    slot: Option<u16>,
    conn: Option<Connection>,
    connected_once: bool,
    /// How many connections this link has opened: a command that needs
    /// the connection an earlier one ran on (`WAIT`) compares it.
    generation: u64,
}

impl Link {
    /// A link to the server; on a cluster, to any node (for commands that
    /// name no key).
    pub(crate) fn new(endpoint: Endpoint, read_timeout: Duration) -> Self {
        Link {
            endpoint,
            read_timeout,
            slot: None,
            conn: None,
            connected_once: false,
            generation: 0,
        }
    }

    /// A link for the commands on `key` and the keys that share its hash
    /// tag: on a cluster, to the primary that serves its slot; on one
    /// server, the same as [`Link::new`].
    pub(crate) fn for_key(endpoint: Endpoint, key: &str, read_timeout: Duration) -> Self {
        let slot = endpoint.is_cluster().then(|| cluster::slot(key.as_bytes()));
        Link {
            slot,
            ..Link::new(endpoint, read_timeout)
        }
    }

    /// Runs `f` on the connection, opening it first if needed; counts a
    /// reconnection in `reconnects`.
    pub(crate) fn run<T>(
        &mut self,
        reconnects: &AtomicU64,
        f: impl FnOnce(&mut Connection) -> RedisResult<T>,
    ) -> RedisResult<T> {
        let conn = match &mut self.conn {
            Some(conn) => conn,
            slot => {
                let conn = self.endpoint.connect(self.slot, self.read_timeout)?;
                if self.connected_once {
                    reconnects.fetch_add(1, Ordering::Relaxed);
                }
                self.connected_once = true;
                self.generation += 1;
                slot.insert(conn)
            }
        };
        let result = f(conn);
        if let Err(err) = &result {
            if is_connection_error(err)
                || !redis::ConnectionLike::is_open(conn)
                || (self.slot.is_some()
                    && is_topology_change(err)
                    // A key of another slot redirected: this slot's
                    // connection is still the right one.
                    && err.redirect_node().is_none_or(|(_, slot)| Some(slot) == self.slot))
            {
                self.conn = None;
            }
        }
        result
    }

    /// A link for the commands on the keys of `slot` of a cluster (the
    /// slot a `MOVED` reply names); on one server, the same as
    /// [`Link::new`].
    pub(crate) fn for_slot(endpoint: Endpoint, slot: u16, read_timeout: Duration) -> Self {
        let slot = endpoint.is_cluster().then_some(slot);
        Link {
            slot,
            ..Link::new(endpoint, read_timeout)
        }
    }

    /// The slot this link serves on a cluster (`None` on one server).
    pub(crate) fn slot(&self) -> Option<u16> {
        self.slot
    }

    /// A reply inside a pipeline said the slot moved (a pipeline with
    /// `ignore_errors` returns such replies as values, not as the
    /// command's error): the next use finds the slot's primary again.
    pub(crate) fn rerouted(&mut self) {
        if self.slot.is_some() {
            self.conn = None;
        }
    }

    /// Which connection the next command runs on, if it is still open:
    /// equal before and after a command, it ran on the same connection.
    pub(crate) fn generation(&self) -> Option<u64> {
        self.conn.as_ref().map(|_| self.generation)
    }

    /// The connection was lost by this process's own doing (a signal that
    /// stops the worker interrupted a blocked read): opening it again is
    /// not counted as a reconnection.
    pub(crate) fn cut_here(&mut self) {
        if self.conn.is_none() {
            self.connected_once = false;
        }
    }

    pub(crate) fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    pub(crate) fn shown(&self) -> &str {
        self.endpoint.shown()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redis::server::hide_password;

    fn config_error(url: &str) -> String {
        match Endpoint::new(url) {
            Err(Error::Config { option, reason }) => {
                assert_eq!(option, "url");
                reason
            }
            Err(other) => panic!("`{url}`: not a configuration error: {other:?}"),
            Ok(_) => panic!("`{url}` was accepted"),
        }
    }

    #[test]
    fn redis_urls_are_accepted() {
        for url in [
            "redis://127.0.0.1/",
            "redis://127.0.0.1:6380/2",
            "redis://localhost",
            "redis://:secret@127.0.0.1:6379/",
            "redis://user:secret@127.0.0.1:6379/0",
            "redis+unix:///tmp/redis.sock",
        ] {
            assert!(Endpoint::new(url).is_ok(), "`{url}` refused");
        }
    }

    #[test]
    fn bad_urls_are_configuration_errors() {
        for url in [
            "",
            "127.0.0.1:6379",
            "http://127.0.0.1/",
            "redis://",
            "nonsense",
        ] {
            config_error(url);
        }
    }

    #[cfg(not(feature = "redis-tls"))]
    #[test]
    fn rediss_needs_the_tls_feature() {
        let reason = config_error("rediss://:secret@127.0.0.1:6380/");
        assert!(reason.contains("redis-tls"), "{reason}");
        assert!(!reason.contains("secret"), "{reason}");
    }

    #[cfg(feature = "redis-tls")]
    #[test]
    fn rediss_is_accepted_with_the_tls_feature() {
        assert!(Endpoint::new("rediss://127.0.0.1:6380/").is_ok());
    }

    fn tls_config_error(server: Server) -> String {
        match Endpoint::new(server) {
            Err(Error::Config { option, reason }) => {
                assert_eq!(option, "tls");
                reason
            }
            Err(other) => panic!("not a configuration error: {other:?}"),
            Ok(_) => panic!("accepted"),
        }
    }

    #[cfg(feature = "redis-tls")]
    #[test]
    fn certificates_need_a_rediss_url_and_a_pem() {
        let tls = Tls::new().ca_pem("-----BEGIN CERTIFICATE-----");
        let reason = tls_config_error(Server::new("redis://:secret@127.0.0.1/").tls(tls));
        assert!(reason.contains("rediss://"), "{reason}");
        assert!(!reason.contains("secret"), "{reason}");
        let reason =
            tls_config_error(Server::new("rediss://127.0.0.1/").tls(Tls::new().ca_pem("no PEM")));
        assert!(reason.contains("certificates"), "{reason}");
    }

    #[cfg(not(feature = "redis-tls"))]
    #[test]
    fn certificates_need_the_tls_feature() {
        let tls = Tls::new().ca_pem("-----BEGIN CERTIFICATE-----");
        let reason = tls_config_error(Server::new("redis://127.0.0.1/").tls(tls));
        assert!(reason.contains("redis-tls"), "{reason}");
    }

    #[test]
    fn a_missing_certificate_file_is_a_configuration_error() {
        match Tls::new().ca_file("/nonexistent/eventlib/ca.pem") {
            Err(Error::Config { option, reason }) => {
                assert_eq!(option, "tls_ca");
                assert!(reason.contains("/nonexistent/eventlib/ca.pem"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn passwords_are_hidden() {
        let shown = |url| Endpoint::new(url).unwrap().shown().to_owned();
        assert_eq!(
            shown("redis://:secret@127.0.0.1:6379/"),
            "redis://:***@127.0.0.1:6379/"
        );
        assert_eq!(
            shown("redis://alice:secret@host:6379/1"),
            "redis://alice:***@host:6379/1"
        );
        assert_eq!(shown("redis://127.0.0.1/"), "redis://127.0.0.1/");
        assert_eq!(
            Server::new("redis://:secret@127.0.0.1:6379/").to_string(),
            "redis://:***@127.0.0.1:6379/"
        );
        // A lone user info may be a password: it is hidden too.
        assert_eq!(shown("redis://alice@host/"), "redis://:***@host/");
        // An `@` inside the password: everything before the last one hides.
        assert_eq!(hide_password("redis://u:p@ss@host/"), "redis://u:***@host/");
        assert_eq!(hide_password("no scheme"), "no scheme");
    }

    #[test]
    fn a_bad_url_does_not_show_its_password() {
        let reason = config_error("redis://:secret@127.0.0.1:notaport/");
        assert!(!reason.contains("secret"), "{reason}");
    }
}
