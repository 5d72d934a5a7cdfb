//! How to reach Redis: [`Server`] (one server's URL, or a Redis Cluster's
//! seed nodes) and [`Tls`] (the operator's own CA and client certificate
//! for `rediss://`).

use std::fmt;
use std::path::Path;

use crate::error::Error;

/// A Redis server to connect to: its URL, and for `rediss://` the
/// certificates to trust it with and to show it.
///
/// Every function and builder of [`eventlib::redis`](crate::redis) that
/// connects takes `impl Into<Server>`: a URL (`&str`, `&String`) where the
/// system's trust store is enough, or a `Server` with [`Tls`] for a
/// private CA and mutual TLS (Redis' `tls-auth-clients yes`, its default).
///
/// ```no_run
/// use eventlib::redis::{RedisTransport, Server, Tls, Worker};
///
/// let server = Server::new("rediss://redis.internal:6380/").tls(
///     Tls::new()
///         .ca_file("/etc/shop/redis-ca.pem")?
///         .client_files("/etc/shop/client.pem", "/etc/shop/client.key")?,
/// );
/// let transport = RedisTransport::new(&server)?;
/// let worker = Worker::builder(&server).build()?;
/// # Ok::<(), eventlib::Error>(())
/// ```
///
/// # A Redis Cluster
///
/// A cluster is given by some of its nodes (the *seeds*; the others are
/// discovered from them), in one URL whose scheme is `redis+cluster://`
/// (`rediss+cluster://` for TLS) and whose hosts are separated by commas,
/// or with [`Server::cluster`]:
///
/// ```no_run
/// use eventlib::redis::{RedisTransport, Server};
///
/// let one_url = Server::new("redis+cluster://:secret@10.0.0.5:6379,10.0.0.6:6379,10.0.0.7:6379/");
/// let seeds = Server::cluster(["redis://:secret@10.0.0.5:6379/", "redis://:secret@10.0.0.6:6379/"]);
/// let transport = RedisTransport::new(&one_url)?;
/// # let _ = (seeds, transport);
/// # Ok::<(), eventlib::Error>(())
/// ```
///
/// The user and password of the URL (or of the first seed) are those of
/// every node. A plain `redis://` URL is one server, and is used as one
/// even if that server is a cluster node: the cluster form is asked for,
/// never guessed, so a single server costs nothing more. How eventlib
/// uses a cluster (one connection per stream partition, to the node that
/// serves its slot) is in `docs/scaling.md`.
#[derive(Clone)]
pub struct Server {
    url: String,
    /// The seed URLs of a cluster given by [`Server::cluster`].
    seeds: Option<Vec<String>>,
    tls: Option<Tls>,
}

impl Server {
    /// The server at `url`: `redis://[user][:password]@host[:port][/db]`,
    /// or `rediss://...` for TLS (feature `redis-tls`). Checked when it is
    /// used, with [`Error::Config`].
    ///
    /// `redis+cluster://[user][:password]@host:port,host:port,.../` (or
    /// `rediss+cluster://`) is a Redis Cluster with those seed nodes.
    pub fn new(url: impl Into<String>) -> Self {
        Server {
            url: url.into(),
            seeds: None,
            tls: None,
        }
    }

    /// A Redis Cluster reached through `seeds`, each a `redis://` (or
    /// `rediss://`) URL of one of its nodes; the first that answers tells
    /// the others. The same as one `redis+cluster://` URL with those hosts.
    pub fn cluster<I, S>(seeds: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let seeds: Vec<String> = seeds.into_iter().map(Into::into).collect();
        Server {
            url: seeds.join(","),
            seeds: Some(seeds),
            tls: None,
        }
    }

    /// The certificates of a `rediss://` connection; a `redis://` URL with
    /// them is an [`Error::Config`] when the server is used.
    pub fn tls(mut self, tls: Tls) -> Self {
        self.tls = Some(tls);
        self
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// The URL (or the seeds' URLs) with any password hidden, for messages.
    pub(crate) fn shown(&self) -> String {
        match &self.seeds {
            Some(seeds) => seeds
                .iter()
                .map(|seed| hide_password(seed))
                .collect::<Vec<_>>()
                .join(","),
            None => hide_password(&self.url),
        }
    }

    /// The seed URLs when this is a cluster (`redis+cluster://` or
    /// [`Server::cluster`]), each a plain `redis://`/`rediss://` URL;
    /// `None` for one server.
    pub(crate) fn seeds(&self) -> Option<Vec<String>> {
        if let Some(seeds) = &self.seeds {
            return Some(seeds.clone());
        }
        cluster_seeds(&self.url)
    }

    pub(crate) fn certificates(&self) -> Option<&Tls> {
        self.tls.as_ref()
    }
}

impl From<String> for Server {
    fn from(url: String) -> Self {
        Server::new(url)
    }
}

impl From<&str> for Server {
    fn from(url: &str) -> Self {
        Server::new(url)
    }
}

impl From<&String> for Server {
    fn from(url: &String) -> Self {
        Server::new(url.as_str())
    }
}

impl From<&Server> for Server {
    fn from(server: &Server) -> Self {
        server.clone()
    }
}

/// The URL, with any password hidden.
impl fmt::Display for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hide_password(&self.url))
    }
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("url", &self.shown())
            .field("tls", &self.tls)
            .finish()
    }
}

/// The certificates of a TLS connection to Redis, in PEM: the CA that
/// signed the server's certificate (instead of the system's trust store),
/// and the client certificate and key the server asks for under
/// `tls-auth-clients yes`. The key must be PKCS#8 (`BEGIN PRIVATE KEY`;
/// `openssl pkcs8 -topk8 -nocrypt` converts an older one).
///
/// The files are read when they are given: a missing file is an
/// [`Error::Config`] there and then, and a malformed PEM one when the
/// server is first used.
#[derive(Clone, Default)]
pub struct Tls {
    ca: Option<Vec<u8>>,
    client: Option<(Vec<u8>, Vec<u8>)>,
}

impl Tls {
    /// No certificates yet: the system's trust store, no client certificate.
    pub fn new() -> Self {
        Tls::default()
    }

    /// Trusts the CA certificate(s) in the PEM file at `path`, and only
    /// them (the system's trust store is no longer used).
    pub fn ca_file(self, path: impl AsRef<Path>) -> Result<Self, Error> {
        let pem = read("tls_ca", path.as_ref())?;
        Ok(self.ca_pem(pem))
    }

    /// Trusts the CA certificate(s) in `pem`, and only them.
    pub fn ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca = Some(pem.into());
        self
    }

    /// Shows the server the certificate (chain) in the PEM file `cert`,
    /// with the PKCS#8 key in the PEM file `key`.
    pub fn client_files(
        self,
        cert: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<Self, Error> {
        let cert = read("tls_cert", cert.as_ref())?;
        let key = read("tls_key", key.as_ref())?;
        Ok(self.client_pem(cert, key))
    }

    /// Shows the server the certificate (chain) `cert`, with the PKCS#8
    /// key `key`, both PEM.
    pub fn client_pem(mut self, cert: impl Into<Vec<u8>>, key: impl Into<Vec<u8>>) -> Self {
        self.client = Some((cert.into(), key.into()));
        self
    }

    /// The certificates as the redis crate takes them.
    #[cfg(feature = "redis-tls")]
    pub(crate) fn to_redis(&self) -> redis::TlsCertificates {
        redis::TlsCertificates {
            client_tls: self
                .client
                .as_ref()
                .map(|(cert, key)| redis::ClientTlsConfig {
                    client_cert: cert.clone(),
                    client_key: key.clone(),
                }),
            root_cert: self.ca.clone(),
        }
    }
}

fn read(option: &'static str, path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|err| Error::Config {
        option,
        reason: format!("cannot read `{}`: {err}", path.display()),
    })
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the key; whether each part is set is what a reader needs.
        f.debug_struct("Tls")
            .field("ca", &self.ca.is_some())
            .field("client_certificate", &self.client.is_some())
            .finish()
    }
}

/// The seed URLs of a `redis+cluster://` or `rediss+cluster://` URL: one
/// `redis://` (`rediss://`) URL per host of its comma-separated list, each
/// with the URL's user info, path and query. `None` for any other URL.
fn cluster_seeds(url: &str) -> Option<Vec<String>> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.strip_suffix("+cluster")?;
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(at) => rest.split_at(at),
        None => (rest, ""),
    };
    let (userinfo, hosts) = match authority.rsplit_once('@') {
        Some((userinfo, hosts)) => (format!("{userinfo}@"), hosts),
        None => (String::new(), authority),
    };
    let tail = if tail.is_empty() { "/" } else { tail };
    Some(
        hosts
            .split(',')
            .map(|host| format!("{scheme}://{userinfo}{}{tail}", host.trim()))
            .collect(),
    )
}

/// `url` with the password of its user info hidden, for messages.
pub(crate) fn hide_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or("", |(user, _)| user);
            format!("{scheme}://{user}:***@{host}")
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_neither_the_password_nor_the_key() {
        let server = Server::new("rediss://alice:secret@host:6380/").tls(
            Tls::new()
                .ca_pem("CA-PEM-BYTES")
                .client_pem("CERT-PEM-BYTES", "KEY-PEM-BYTES"),
        );
        let shown = format!("{server:?}");
        for hidden in ["secret", "CA-PEM", "CERT-PEM", "KEY-PEM", "75, 69, 89"] {
            assert!(!shown.contains(hidden), "{shown}");
        }
        assert!(shown.contains("alice:***@host"), "{shown}");
        assert!(shown.contains("client_certificate: true"), "{shown}");
    }

    #[test]
    fn a_cluster_url_names_its_seeds() {
        assert_eq!(
            cluster_seeds("redis+cluster://:pw@10.0.0.5:7000,10.0.0.6:7001/").unwrap(),
            ["redis://:pw@10.0.0.5:7000/", "redis://:pw@10.0.0.6:7001/"]
        );
        assert_eq!(
            cluster_seeds("rediss+cluster://a:7000, b:7001?insecure").unwrap(),
            ["rediss://a:7000?insecure", "rediss://b:7001?insecure"]
        );
        assert_eq!(
            cluster_seeds("redis+cluster://h:1").unwrap(),
            ["redis://h:1/"]
        );
        assert_eq!(cluster_seeds("redis://h:1,g:2/"), None);
        assert_eq!(Server::new("redis://127.0.0.1/").seeds(), None);
        assert_eq!(
            Server::cluster(["redis://a:1/", "redis://b:2/"])
                .seeds()
                .unwrap(),
            ["redis://a:1/", "redis://b:2/"]
        );
        // The password stays hidden in messages.
        let shown = format!("{:?}", Server::new("redis+cluster://:secret@a:1,b:2/"));
        assert!(!shown.contains("secret"), "{shown}");
    }

    #[test]
    fn a_client_file_that_cannot_be_read_names_its_option() {
        let dir = std::env::temp_dir();
        let cert = dir.join(format!("eventlib-tls-test-{}.pem", std::process::id()));
        std::fs::write(&cert, "certificate").unwrap();
        let result = Tls::new().client_files(&cert, "/nonexistent/eventlib/client.key");
        let _ = std::fs::remove_file(&cert);
        match result {
            Err(Error::Config { option, reason }) => {
                assert_eq!(option, "tls_key");
                assert!(reason.contains("client.key"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }
}
