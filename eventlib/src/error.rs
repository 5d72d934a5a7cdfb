//! The errors `log!` and the dispatcher return.

use std::fmt;

use crate::failure::Failure;

/// What can go wrong when an event is logged, or when the dispatcher is
/// configured or stopped.
///
/// `log!` never panics: every failure on the caller's side is one of these.
/// Failures of handlers are not returned to the caller (they run later, on
/// another thread) unless inline mode is asked to surface them; they are
/// counted in [`stats`](crate::stats) and reported to the error hook.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// No event with this name is registered in the running binary.
    UnknownEvent {
        /// The name that was asked for.
        name: String,
    },
    /// The name breaks the grammar of event names (see [`crate::name`]).
    InvalidName {
        /// The name that was given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// By-name data does not fit the event's type.
    InvalidData {
        /// The event the data was meant for.
        event: &'static str,
        /// The path of the field at fault (`user_id`, `items[2].sku`), or
        /// `None` when the data as a whole is at fault.
        field: Option<String>,
        /// Why the data does not fit, in serde's words.
        reason: String,
    },
    /// Metadata past a limit or with a malformed key (see
    /// [`metadata`](crate::metadata)); nothing was set.
    InvalidMetadata {
        /// Which limit or rule, and by how much.
        reason: String,
    },
    /// The event's `#[validate]` method refused it; nothing was queued.
    Validation {
        /// The event's name.
        event: &'static str,
        /// The error its `#[validate]` method returned.
        error: ValidationError,
    },
    /// Two `#[event]` declarations in the binary share a name; neither is
    /// dispatched until one is renamed with `#[event(name = "...")]`.
    DuplicateEvent {
        /// The shared name.
        name: &'static str,
        /// Where each declaration is, as `file:line` of the `#[event]` impl.
        locations: Vec<String>,
    },
    /// The local queue is full and the overflow policy is
    /// [`Overflow::Error`](crate::Overflow::Error), or the event was logged
    /// with [`try_log`](crate::try_log) or [`try_log_json`](crate::try_log_json);
    /// the event was not queued.
    QueueFull {
        /// The event's name.
        event: &'static str,
    },
    /// The dispatcher was shut down; the event was not queued.
    ShutDown,
    /// [`Dispatcher::install`](crate::Dispatcher) was called after the
    /// global dispatcher had been installed or started by a first `log!`.
    AlreadyInstalled,
    /// Inline mode with surfaced failures: at least one handler returned an
    /// error or panicked. The event was delivered to every handler.
    Handlers(Vec<Failure>),
    /// A transport (such as Redis) refused the event: it can never be
    /// delivered as it is (the server rejects it, or it is too large).
    Transport(String),
    /// A configuration value was refused: a builder option out of range,
    /// a malformed URL, a feature the build lacks.
    Config {
        /// The option at fault, such as `"url"`, `"group"` or `"stream"`.
        option: &'static str,
        /// What is wrong with it and how to fix it.
        reason: String,
    },
    /// A server (Redis) could not be reached, or refused the connection
    /// or the credentials.
    Connection {
        /// The server, with any password hidden.
        endpoint: String,
        /// What happened, in the client's words.
        reason: String,
    },
    /// The TLS handshake with a server (Redis) failed: it showed a
    /// certificate this client does not trust, or refused this client's
    /// certificate (or its lack of one). Only a change of certificates on
    /// either side fixes it.
    Tls {
        /// The server, with any password hidden.
        endpoint: String,
        /// What the TLS library said.
        reason: String,
    },
    /// A server (Redis) answered a command with an error.
    Server {
        /// The error reply, such as `NOPERM ...` or `WRONGTYPE ...`.
        reason: String,
    },
    /// eventlib could not start one of its threads (the operating system
    /// refused: too many threads, or out of memory).
    Spawn {
        /// The thread's name, such as `eventlib-pool-0`.
        thread: String,
        /// The operating system's error.
        error: std::io::Error,
    },
    /// The worker (or other long-running part) is already running.
    AlreadyRunning,
    /// Inline mode (or [`testing::inline`](crate::testing::inline)) would
    /// block an async runtime's thread to run the event's async handlers:
    /// a deadlock when they await that runtime's timers or I/O. Use
    /// [`testing::inline_async`](crate::testing::inline_async) in async
    /// tests. Detected with the `tokio` feature.
    InlineInAsync {
        /// The event's name.
        event: &'static str,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::UnknownEvent { name } => write!(
                f,
                "unknown event `{name}`: no `#[event]` with this name is linked into this binary; \
                 if it is declared in another crate, depend on that crate and make sure the binary \
                 links it, e.g. with `use that_crate as _;`"
            ),
            Error::InvalidName { name, reason } => {
                write!(f, "invalid event name `{name}`: {reason}")
            }
            Error::InvalidData {
                event,
                field: Some(field),
                reason,
            } => write!(
                f,
                "invalid data for event `{event}`: field `{field}`: {reason}"
            ),
            Error::InvalidData {
                event,
                field: None,
                reason,
            } => write!(f, "invalid data for event `{event}`: {reason}"),
            Error::InvalidMetadata { reason } => write!(f, "invalid metadata: {reason}"),
            Error::Validation { event, error } => {
                write!(f, "event `{event}` failed validation: {error}")
            }
            Error::DuplicateEvent { name, locations } => write!(
                f,
                "event name `{name}` is declared more than once ({}); rename all but one with \
                 `#[event(name = \"...\")]`",
                locations.join(", ")
            ),
            Error::QueueFull { event } => write!(
                f,
                "event `{event}` was not queued: the eventlib queue is full (raise \
                 `Dispatcher::builder().capacity(..)` or make the handlers faster)"
            ),
            Error::ShutDown => f.write_str("the eventlib dispatcher is shut down"),
            Error::AlreadyInstalled => f.write_str(
                "the eventlib dispatcher is already running: install it before the first `log!`",
            ),
            Error::Handlers(failures) => {
                write!(f, "{} handler(s) failed: ", failures.len())?;
                for (i, failure) in failures.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    write!(f, "{failure}")?;
                }
                Ok(())
            }
            Error::Transport(reason) => write!(f, "transport error: {reason}"),
            Error::Config { option, reason } => {
                write!(f, "invalid eventlib configuration (`{option}`): {reason}")
            }
            Error::Connection { endpoint, reason } => {
                write!(f, "cannot connect to `{endpoint}`: {reason}")
            }
            Error::Tls { endpoint, reason } => write!(
                f,
                "TLS with `{endpoint}` failed (check the CA, the client certificate and its \
                 key): {reason}"
            ),
            Error::Server { reason } => write!(f, "the server answered with an error: {reason}"),
            Error::Spawn { thread, error } => {
                write!(f, "eventlib cannot start its thread `{thread}`: {error}")
            }
            Error::AlreadyRunning => f.write_str("it is already running"),
            Error::InlineInAsync { event } => write!(
                f,
                "event `{event}` has async handlers, and running them inline here would block this \
                 async runtime's thread (a deadlock if they await its timers or I/O): in async \
                 tests use `eventlib::testing::inline_async()` and await `scope.finish()`"
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Validation { error, .. } => Some(error),
            Error::Spawn { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// The error a `#[validate]` method returns to refuse an event.
///
/// ```
/// let err = eventlib::ValidationError::new("source is required").on_field("source");
/// assert_eq!(err.to_string(), "source: source is required");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    message: String,
    field: Option<String>,
}

impl ValidationError {
    /// A validation error with a message for the caller.
    pub fn new(message: impl Into<String>) -> Self {
        ValidationError {
            message: message.into(),
            field: None,
        }
    }

    /// Names the field at fault.
    pub fn on_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The field at fault, if one was named.
    pub fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{field}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ValidationError {}
