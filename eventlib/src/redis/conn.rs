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

/// An error as a person reads it: the server's reply as sent (`NOPERM this
/// user has no permissions ...`) when there is one.
pub(crate) fn describe(err: &RedisError) -> String {
    match (err.code(), err.detail()) {
        (Some(code), Some(detail)) => format!("{code} {detail}"),
        _ => err.to_string(),
    }
}

/// Whether retrying a failed command can ever succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// The server is unreachable, restarting, loading, failing over or
    /// busy: the same command may succeed later.
    Transient,
    /// The server refuses the command for good as the deployment stands
    /// (credentials, ACL permissions, the key's type, an unknown command):
    /// sending it again gives the same answer.
    Permanent,
}

/// What a failed command means: [`Fault::Permanent`] for errors that only a
/// change of configuration on either side can fix, [`Fault::Transient`] for
/// everything else. When in doubt the answer is transient: a transient
/// error keeps the events waiting, a permanent one gives them up.
pub(crate) fn fault(err: &RedisError) -> Fault {
    use redis::{ErrorKind, ServerErrorKind};
    match err.kind() {
        ErrorKind::AuthenticationFailed
        | ErrorKind::InvalidClientConfig
        | ErrorKind::Client
        | ErrorKind::UnexpectedReturnType
        | ErrorKind::RESP3NotSupported => Fault::Permanent,
        ErrorKind::Server(kind) => match kind {
            ServerErrorKind::NoPerm
            | ServerErrorKind::CrossSlot
            | ServerErrorKind::NoScript
            | ServerErrorKind::ExecAbort
            | ServerErrorKind::NoSub
            | ServerErrorKind::NotBusy => Fault::Permanent,
            // `ERR` is the server's generic code: a malformed or unknown
            // command, but also a full client table.
            ServerErrorKind::ResponseError => {
                let detail = err.detail().unwrap_or_default();
                if detail.contains("max number of clients") {
                    Fault::Transient
                } else {
                    Fault::Permanent
                }
            }
            // LOADING, TRYAGAIN, CLUSTERDOWN, MASTERDOWN, READONLY (a
            // failover in progress), MOVED and ASK (a slot migration).
            _ => Fault::Transient,
        },
        // Codes redis-rs does not name: WRONGTYPE, NOAUTH, WRONGPASS and
        // the module and proxy codes, told apart by the code itself.
        ErrorKind::Extension => match err.code() {
            Some("WRONGTYPE" | "NOAUTH" | "WRONGPASS" | "NOPROTO" | "UNKILLABLE") => {
                Fault::Permanent
            }
            _ => Fault::Transient,
        },
        _ => Fault::Transient,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The error a server reply line such as `-NOPERM ...` becomes.
    fn reply(line: &str) -> RedisError {
        redis::parse_redis_value(format!("{line}\r\n").as_bytes())
            .expect("a RESP error line")
            .extract_error()
            .expect_err("an error reply")
    }

    #[test]
    fn refusals_of_the_deployment_are_permanent() {
        for line in [
            "-NOPERM User limited has no permissions to access the 'eventlib:events' key",
            "-NOPERM this user has no permissions to run the 'xadd' command",
            "-WRONGTYPE Operation against a key holding the wrong kind of value",
            "-NOAUTH Authentication required.",
            "-WRONGPASS invalid username-password pair or user is disabled.",
            "-ERR unknown command 'XADD', with args beginning with: ",
            "-ERR syntax error",
            "-ERR wrong number of arguments for 'xadd' command",
            "-CROSSSLOT Keys in request don't hash to the same slot",
        ] {
            assert_eq!(fault(&reply(line)), Fault::Permanent, "{line}");
        }
        for kind in [
            redis::ErrorKind::AuthenticationFailed,
            redis::ErrorKind::InvalidClientConfig,
            redis::ErrorKind::Client,
            redis::ErrorKind::UnexpectedReturnType,
        ] {
            let err = RedisError::from((kind, "refused"));
            assert_eq!(fault(&err), Fault::Permanent, "{kind:?}");
        }
    }

    #[test]
    fn a_server_that_is_away_or_busy_is_transient() {
        for line in [
            "-LOADING Redis is loading the dataset in memory",
            "-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.",
            "-TRYAGAIN Multiple keys request during rehashing of slot",
            "-MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
            "-CLUSTERDOWN The cluster is down",
            "-READONLY You can't write against a read only replica.",
            "-MOVED 3999 127.0.0.1:6381",
            "-ASK 3999 127.0.0.1:6381",
            "-OOM command not allowed when used memory > 'maxmemory'.",
            "-ERR max number of clients reached",
            "-SOMEMODULE an error code nobody knows",
        ] {
            assert_eq!(fault(&reply(line)), Fault::Transient, "{line}");
        }
        for kind in [
            std::io::ErrorKind::ConnectionRefused,
            std::io::ErrorKind::ConnectionReset,
            std::io::ErrorKind::BrokenPipe,
            std::io::ErrorKind::TimedOut,
            std::io::ErrorKind::WouldBlock,
            std::io::ErrorKind::UnexpectedEof,
        ] {
            let err = RedisError::from(std::io::Error::from(kind));
            assert_eq!(fault(&err), Fault::Transient, "{kind:?}");
        }
        let parse = RedisError::from((redis::ErrorKind::Parse, "half a reply"));
        assert_eq!(fault(&parse), Fault::Transient);
    }

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
