//! What a failed command means: whether the connection can still be
//! trusted, whether retrying can help ([`Fault`]), a TLS refusal told apart
//! from a cut, and an error as a person reads it.

use redis::RedisError;

/// How the redis crate starts the text of a failed TLS handshake.
pub(crate) const TLS_HANDSHAKE: &str = "SSL Handshake error";

/// An error after which the connection cannot be trusted (a reply may be
/// half read).
pub(crate) fn is_connection_error(err: &RedisError) -> bool {
    err.is_io_error()
        || err.is_timeout()
        || err.is_connection_dropped()
        || err.is_connection_refusal()
        || err.is_unrecoverable_error()
}

/// Whether the cluster's layout changed under the command: the key's slot
/// is served elsewhere (`MOVED`, `ASK`), is being moved or failed over
/// (`TRYAGAIN`, `CLUSTERDOWN`, `MASTERDOWN`), or the node is now a replica
/// (`READONLY`); also when such a reply aborted a transaction. The command
/// can succeed on the slot's current primary.
pub(crate) fn is_topology_change(err: &RedisError) -> bool {
    use redis::{ErrorKind, ServerErrorKind};
    let moved = |kind: Option<ServerErrorKind>| {
        matches!(
            kind,
            Some(
                ServerErrorKind::Moved
                    | ServerErrorKind::Ask
                    | ServerErrorKind::TryAgain
                    | ServerErrorKind::ClusterDown
                    | ServerErrorKind::MasterDown
                    | ServerErrorKind::ReadOnly
            )
        )
    };
    match err.kind() {
        ErrorKind::Server(ServerErrorKind::ExecAbort) => {
            err.clone().into_server_errors().is_some_and(|errors| {
                !errors.is_empty() && errors.iter().all(|(_, e)| moved(e.kind()))
            })
        }
        ErrorKind::Server(kind) => moved(Some(kind)),
        _ => false,
    }
}

/// Whether the TLS handshake failed for a reason only new certificates or
/// settings fix: a server certificate this client does not trust, a
/// client certificate the server refuses or misses, no TLS on the other
/// side. A handshake cut short (a server restarting) is not one.
pub(crate) fn is_tls_refusal(err: &RedisError) -> bool {
    // The redis crate reports a failed handshake as an I/O error described
    // so, and an alert the server sends after it (TLS 1.3 asks for the
    // client's certificate then) as OpenSSL's I/O error: the reason is
    // only in the text.
    const TLS: [&str; 2] = [TLS_HANDSHAKE, "SSL routines"];
    const REFUSALS: [&str; 4] = ["certificate", "unknown ca", "alert", "wrong version number"];
    let text = err.to_string();
    err.kind() == redis::ErrorKind::Io
        && TLS.iter().any(|tls| text.contains(tls))
        && REFUSALS.iter().any(|reason| text.contains(reason))
}

/// A connection that went through the TLS handshake and was closed by the
/// server before its first reply.
pub(crate) fn is_cut_after_handshake(err: &RedisError) -> bool {
    err.is_connection_dropped()
        && !err.is_connection_refusal()
        && !err.to_string().starts_with(TLS_HANDSHAKE)
}

/// An error as a person reads it: the server's reply as sent (`NOPERM this
/// user has no permissions ...`) when there is one.
pub(crate) fn describe(err: &RedisError) -> String {
    if is_tls_refusal(err) {
        return format!(
            "TLS handshake refused (check the CA, the client certificate and its key): {err}"
        );
    }
    match (err.code(), err.detail()) {
        (Some(code), Some(detail)) => format!("{code} {detail}"),
        _ => err.to_string(),
    }
}

/// Tells a failure of a task beside a worker's reading on `stretch`: Redis
/// out of reach only goes to `log`, since the reading tells the outage; a
/// refusal (a permission missing) is told as
/// [`Stretch::failed`](crate::notice::Stretch::failed) does.
pub(crate) fn tell_beside(stretch: &mut crate::notice::Stretch, line: &str, err: &RedisError) {
    if is_connection_error(err) {
        log::warn!("{line}");
    } else {
        stretch.failed(line);
    }
}

/// Whether retrying a failed command can ever succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// The server is unreachable, restarting, loading, failing over or
    /// busy: the same command may succeed later.
    Transient,
    /// The server refuses the command for good as the deployment stands
    /// (credentials, certificates, ACL permissions, the key's type, an
    /// unknown command):
    /// sending it again gives the same answer.
    Permanent,
}

/// What a failed command means: [`Fault::Permanent`] for errors that only a
/// change of configuration on either side can fix, [`Fault::Transient`] for
/// everything else. When in doubt the answer is transient: a transient
/// error keeps the events waiting, a permanent one gives them up.
pub(crate) fn fault(err: &RedisError) -> Fault {
    use redis::{ErrorKind, ServerErrorKind};
    if is_tls_refusal(err) {
        return Fault::Permanent;
    }
    // A transaction aborted because its slot moved or failed over.
    if is_topology_change(err) {
        return Fault::Transient;
    }
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

    #[test]
    fn tls_refusals_are_permanent_and_a_cut_handshake_is_not() {
        let untrusted = RedisError::from((
            redis::ErrorKind::Io,
            TLS_HANDSHAKE,
            "error:0A000086:SSL routines:tls_post_process_server_certificate:certificate verify \
             failed"
                .to_owned(),
        ));
        let alert = RedisError::from(std::io::Error::other(
            "error:0A00045C:SSL routines:ssl3_read_bytes:tlsv13 alert certificate required",
        ));
        for err in [untrusted, alert] {
            assert!(is_tls_refusal(&err), "{err}");
            assert_eq!(fault(&err), Fault::Permanent, "{err}");
            assert!(describe(&err).starts_with("TLS handshake refused"), "{err}");
        }
        let cut = RedisError::from((
            redis::ErrorKind::Io,
            TLS_HANDSHAKE,
            "Connection reset by peer (os error 104)".to_owned(),
        ));
        assert!(!is_tls_refusal(&cut));
        assert_eq!(fault(&cut), Fault::Transient);
        assert!(
            !is_cut_after_handshake(&cut),
            "a handshake cut is not after it"
        );
        let reset = RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        assert!(is_cut_after_handshake(&reset));
        let refused = RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(!is_cut_after_handshake(&refused));
    }
}
