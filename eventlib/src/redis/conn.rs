//! Connections: the server as given by its URL, opening connections with
//! explicit timeouts, dropping them on I/O errors so the next use
//! reconnects, and what a failed command means for the caller.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use redis::{Client, Connection, RedisError, RedisResult};

use crate::error::Error;

/// How long opening a connection (TCP, TLS, AUTH) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a write may block.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// A Redis server as given by its URL.
#[derive(Clone)]
pub(crate) struct Endpoint {
    client: Client,
    /// The URL with any password hidden, for messages.
    shown: String,
}

impl Endpoint {
    /// Checks the URL; connects to nothing.
    pub(crate) fn new(url: &str) -> Result<Self, Error> {
        let shown = hide_password(url);
        if url.starts_with("rediss://") && !cfg!(feature = "redis-tls") {
            return Err(Error::Config {
                option: "url",
                reason: format!(
                    "`{shown}` asks for TLS: build eventlib with the `redis-tls` feature"
                ),
            });
        }
        let client = Client::open(url).map_err(|err| Error::Config {
            option: "url",
            reason: format!("invalid Redis URL `{shown}`: {err}"),
        })?;
        Ok(Endpoint { client, shown })
    }

    /// A new connection whose replies may take up to `read_timeout`.
    fn connect(&self, read_timeout: Duration) -> RedisResult<Connection> {
        let conn = self.client.get_connection_with_timeout(CONNECT_TIMEOUT)?;
        // The sync client waits for ever unless told otherwise.
        conn.set_read_timeout(Some(read_timeout))?;
        conn.set_write_timeout(Some(WRITE_TIMEOUT))?;
        Ok(conn)
    }

    /// The URL with any password hidden.
    pub(crate) fn shown(&self) -> &str {
        &self.shown
    }

    /// What a failed command means for the caller: the server could not
    /// be reached, or it answered with an error.
    pub(crate) fn error(&self, err: &RedisError) -> Error {
        if is_connection_error(err) || err.kind() == redis::ErrorKind::AuthenticationFailed {
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

fn hide_password(url: &str) -> String {
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

/// One connection, opened on demand and dropped after an I/O error so the
/// next use reconnects.
pub(crate) struct Link {
    endpoint: Endpoint,
    read_timeout: Duration,
    conn: Option<Connection>,
    connected_once: bool,
}

impl Link {
    pub(crate) fn new(endpoint: Endpoint, read_timeout: Duration) -> Self {
        Link {
            endpoint,
            read_timeout,
            conn: None,
            connected_once: false,
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
                let conn = self.endpoint.connect(self.read_timeout)?;
                if self.connected_once {
                    reconnects.fetch_add(1, Ordering::Relaxed);
                }
                self.connected_once = true;
                slot.insert(conn)
            }
        };
        let result = f(conn);
        if let Err(err) = &result {
            if is_connection_error(err) || !redis::ConnectionLike::is_open(conn) {
                self.conn = None;
            }
        }
        result
    }

    pub(crate) fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    pub(crate) fn shown(&self) -> &str {
        self.endpoint.shown()
    }
}

/// An error after which the connection cannot be trusted (a reply may be
/// half read).
fn is_connection_error(err: &RedisError) -> bool {
    err.is_io_error()
        || err.is_timeout()
        || err.is_connection_dropped()
        || err.is_connection_refusal()
        || err.is_unrecoverable_error()
}

#[cfg(test)]
mod tests {
    use super::*;

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
