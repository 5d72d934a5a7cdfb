//! The errors of the outbox.

/// Why an event could not be written to the outbox, or the table not made.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The event was refused before any write: validation (`#[validate]`),
    /// invalid by-name data, an unknown name.
    Event(eventlib::Error),
    /// The database failed.
    Database(sqlx::Error),
    /// The relay's transport gave an event of a batch up (counted as
    /// dropped by eventlib): the batch's rows stay, to be sent again.
    Unconfirmed,
    /// `log` was given a connection outside a transaction begun with sqlx
    /// (`begin`, `begin_with`): its row would commit on its own, whatever
    /// becomes of the business rows. Nothing was written.
    NotInTransaction,
    /// Another relay sends this outbox (SQLite, where one relay at a time
    /// holds it): this one stands by, and takes over once that one stops
    /// or its lease runs out.
    StandingBy {
        /// The relay that holds the outbox: its name, then its process.
        holder: String,
    },
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Event(err) => write!(f, "event refused: {err}"),
            Error::Database(err) => write!(f, "outbox database error: {}", described(err)),
            Error::Unconfirmed => f.write_str(
                "the transport gave an event of the batch up; its rows stay in the outbox",
            ),
            Error::NotInTransaction => f.write_str(
                "the outbox's `log` needs the connection of a transaction (`let mut tx = \
                 pool.begin().await?; log(&mut tx, event)`): outside one, the event would commit \
                 on its own, whatever becomes of the business rows; nothing was written",
            ),
            Error::StandingBy { holder } => write!(
                f,
                "another relay ({holder}) sends this SQLite outbox; this one stands by and \
                 takes over once that one stops or its lease runs out"
            ),
        }
    }
}

/// `err`, with what to do when it says the outbox table is missing (a
/// deploy that did not apply the migration).
pub(crate) fn described(err: &sqlx::Error) -> String {
    let missing = err.as_database_error().is_some_and(|db| {
        let message = db.message();
        message.contains("eventlib_outbox")
            && (db.code().as_deref() == Some("42P01") || message.contains("no such table"))
    });
    if missing {
        format!(
            "{err}; the outbox table is missing: apply its migration first \
             (`eventlib_sql::postgres::migrate` or `eventlib_sql::sqlite::migrate`)"
        )
    } else {
        err.to_string()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Event(err) => Some(err),
            Error::Database(err) => Some(err),
            Error::Unconfirmed | Error::NotInTransaction | Error::StandingBy { .. } => None,
        }
    }
}

impl From<eventlib::Error> for Error {
    fn from(err: eventlib::Error) -> Self {
        Error::Event(err)
    }
}

impl From<sqlx::Error> for Error {
    fn from(err: sqlx::Error) -> Self {
        Error::Database(err)
    }
}
