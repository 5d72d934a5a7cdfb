//! What an operator writes: an envelope by hand, a group destroyed.

use crate::error::Error;
use crate::redis::ops::operator::Resend;
use crate::redis::ops::Operator;
use crate::redis::server::Server;
use crate::redis::wire;

impl Operator {
    /// Writes a version-1 envelope of event `name` with `data` to the
    /// stream, as a producer in another language would (for testing a
    /// worker); returns the entry id. The name is checked against the
    /// grammar, not against a registry: this side has none.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidName`] for a name that breaks the grammar, and those
    /// of [`status`](Self::status).
    pub fn write_envelope(
        &mut self,
        name: &str,
        data: &serde_json::Value,
    ) -> Result<String, Error> {
        crate::name::validate_name(name).map_err(|reason| Error::InvalidName {
            name: name.to_owned(),
            reason,
        })?;
        let envelope = serde_json::json!({ "v": wire::VERSION, "name": name, "data": data });
        self.stream_exists()?;
        let stream = self.stream.clone();
        self.run(Resend::Never, |c| {
            redis::cmd("XADD")
                .arg(&stream)
                .arg("*")
                .arg(wire::FIELD)
                .arg(envelope.to_string())
                .query(c)
        })
    }

    /// Destroys consumer group `group` of the stream: its pending entries
    /// are released (no worker of it will acknowledge them) and it no
    /// longer holds trimming back. Returns whether the group existed.
    ///
    /// Stop the group's workers first ([`live_processes`](Self::live_processes)
    /// lists those alive; `eventlib groups destroy` refuses while one is):
    /// a worker that still runs makes its group again at its next read and
    /// handles every entry still in the stream again.
    ///
    /// # Errors
    ///
    /// As [`status`](Self::status).
    pub fn destroy_group(&mut self, group: &str) -> Result<bool, Error> {
        if !self.stream_exists()? {
            return Ok(false);
        }
        let stream = self.stream.clone();
        let destroyed: u64 = self.run(Resend::Never, |c| {
            redis::cmd("XGROUP")
                .arg("DESTROY")
                .arg(&stream)
                .arg(group)
                .query(c)
        })?;
        Ok(destroyed > 0)
    }
}

/// Writes a version-1 envelope of event `name` with `data` to `stream`,
/// on a connection of its own: [`Operator::write_envelope`] for one call.
///
/// # Errors
///
/// [`Error::Config`] for a malformed URL, and those of
/// [`Operator::write_envelope`].
pub fn write_envelope(
    server: impl Into<Server>,
    stream: &str,
    name: &str,
    data: &serde_json::Value,
) -> Result<String, Error> {
    Operator::new(server)?
        .stream(stream)
        .write_envelope(name, data)
}

/// Destroys consumer group `group` of `stream`, on a connection of its
/// own: [`Operator::destroy_group`] for one call.
///
/// # Errors
///
/// [`Error::Config`] for a malformed URL, and those of
/// [`Operator::destroy_group`].
pub fn destroy_group(server: impl Into<Server>, stream: &str, group: &str) -> Result<bool, Error> {
    Operator::new(server)?.stream(stream).destroy_group(group)
}
