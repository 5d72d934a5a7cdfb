//! Consumer groups: creating them where the user chose (a created group
//! holds back trimming from then on), and the groups a stream has.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use redis::streams::StreamInfoGroupsReply;
use redis::Value;

use crate::error::Error;
use crate::redis::conn::{Endpoint, Link};
use crate::redis::fault::{fault, Fault};
use crate::redis::server::Server;

/// Where a consumer group created by eventlib starts reading its stream.
///
/// The default, [`Oldest`](GroupStart::Oldest), loses nothing: a new group
/// handles every entry the stream still holds. [`Now`](GroupStart::Now)
/// and [`After`](GroupStart::After) skip entries on purpose; the skipped
/// entries are not handled by that group (and are trimmed once every other
/// group is done with them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum GroupStart {
    /// The stream's oldest entry (`XGROUP CREATE ... 0`).
    #[default]
    Oldest,
    /// The end of the stream: only entries written after the group is
    /// created (`XGROUP CREATE ... $`).
    Now,
    /// The entries after this stream entry id (`1700000000000-0`).
    After(String),
}

impl GroupStart {
    /// Parses `oldest`, `now` or an entry id, as the command line takes it.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for anything else.
    pub fn parse(text: &str) -> Result<Self, Error> {
        match text {
            "oldest" | "0" => Ok(GroupStart::Oldest),
            "now" | "$" => Ok(GroupStart::Now),
            id => match id.parse::<crate::redis::stream_id::StreamId>() {
                Ok(id) => Ok(GroupStart::After(id.to_string())),
                Err(_) => Err(Error::Config {
                    option: "from",
                    reason: format!(
                        "`{id}` is neither `oldest`, `now` nor a stream entry id (`<ms>-<seq>`)"
                    ),
                }),
            },
        }
    }

    fn id(&self) -> &str {
        match self {
            GroupStart::Oldest => "0",
            GroupStart::Now => "$",
            GroupStart::After(id) => id,
        }
    }

    fn describe(&self) -> String {
        match self {
            GroupStart::Oldest => "at its oldest entry".to_owned(),
            GroupStart::Now => "at its end".to_owned(),
            GroupStart::After(id) => format!("after entry {id}"),
        }
    }
}

/// A group that [`create`] created (rather than found).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Created {
    /// Entries the stream held when the group was created.
    pub(crate) held: u64,
    /// Of those, the entries the group starts after (not handled by it).
    pub(crate) skipped: u64,
}

/// `XGROUP CREATE <stream> <group> <start> MKSTREAM`: `None` when the
/// group exists already (it is left as it is).
pub(crate) fn create(
    link: &mut Link,
    reconnects: &AtomicU64,
    stream: &str,
    group: &str,
    start: &GroupStart,
) -> redis::RedisResult<Option<Created>> {
    let result = link.run(reconnects, |c| {
        redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(stream)
            .arg(group)
            .arg(start.id())
            .arg("MKSTREAM")
            .exec(c)
    });
    match result {
        Err(err) if err.code() == Some("BUSYGROUP") => return Ok(None),
        Err(err) => return Err(err),
        Ok(()) => {}
    }
    let held: u64 = link.run(reconnects, |c| redis::cmd("XLEN").arg(stream).query(c))?;
    let skipped = match start {
        GroupStart::Oldest => 0,
        GroupStart::Now => held,
        GroupStart::After(id) => {
            let read: u64 = link.run(reconnects, |c| {
                redis::cmd("XRANGE")
                    .arg(stream)
                    .arg("-")
                    .arg(id.as_str())
                    .query::<Vec<Value>>(c)
                    .map(|entries| entries.len() as u64)
            })?;
            read
        }
    };
    if held > 0 {
        crate::notice::warn(&format!(
            "eventlib: group `{group}` created on stream `{stream}` {}: {}",
            start.describe(),
            if skipped == 0 {
                format!("the {held} entries the stream holds will be handled")
            } else {
                format!(
                    "{skipped} of the {held} entries the stream holds are skipped (this group does not handle them)"
                )
            }
        ));
    }
    Ok(Some(Created { held, skipped }))
}

/// Creates each group of `groups` that does not exist yet, at the stream's
/// oldest entry (see [`GroupStart::Oldest`]).
pub(crate) fn declare(
    link: &mut Link,
    reconnects: &AtomicU64,
    stream: &str,
    groups: &[&str],
) -> redis::RedisResult<()> {
    for group in groups {
        create(link, reconnects, stream, group, &GroupStart::Oldest)?;
    }
    Ok(())
}

/// Whether `err`, from [`declare`], is the server refusing the command
/// itself (`NOPERM`: an ACL user without `XGROUP CREATE`; `ERR`: a renamed
/// command), which only a change of configuration fixes, as opposed to the
/// connection failing.
pub(crate) fn refused(err: &redis::RedisError) -> bool {
    use redis::{ErrorKind, ServerErrorKind};
    fault(err) == Fault::Permanent
        && matches!(
            err.kind(),
            ErrorKind::Server(ServerErrorKind::NoPerm | ServerErrorKind::ResponseError)
        )
}

/// The names of the consumer groups of `stream`.
pub(crate) fn names(
    link: &mut Link,
    reconnects: &AtomicU64,
    stream: &str,
) -> redis::RedisResult<Vec<String>> {
    let reply: StreamInfoGroupsReply = link.run(reconnects, |c| {
        redis::cmd("XINFO").arg("GROUPS").arg(stream).query(c)
    })?;
    Ok(reply.groups.into_iter().map(|g| g.name).collect())
}

/// Declares handler groups on a stream before any of their workers runs,
/// so that trimming keeps every entry until each of these groups has
/// acknowledged it. A group that exists already is left as it is; a new
/// one starts at the stream's oldest entry (it handles every entry the
/// stream holds, and everything written after).
///
/// Call it where events are produced (at deploy, or at the start of the
/// producer) for every group that will consume the stream. Workers declare
/// their own group when they start too.
///
/// ```no_run
/// eventlib::redis::declare_groups(
///     "redis://127.0.0.1/",
///     eventlib::redis::DEFAULT_STREAM,
///     &["default", "analytics"],
/// )?;
/// # Ok::<(), eventlib::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::Config`] for a malformed URL or an invalid group name,
/// [`Error::Connection`] when the server cannot be reached, and
/// [`Error::Server`] when it refuses the command (a key of another type at
/// the stream key, a missing permission).
pub fn declare_groups(
    server: impl Into<Server>,
    stream: &str,
    groups: &[&str],
) -> Result<(), Error> {
    for group in groups {
        if let Err(reason) = crate::name::validate_group(group) {
            return Err(Error::Config {
                option: "group",
                reason: format!("invalid group `{group}`: {reason}"),
            });
        }
    }
    let endpoint = Endpoint::new(server)?;
    let mut link = Link::for_key(endpoint.clone(), stream, Duration::from_secs(10));
    declare(&mut link, &AtomicU64::new(0), stream, groups).map_err(|err| endpoint.error(&err))
}

/// Creates consumer group `group` on `stream`, starting where `start`
/// says; what the `eventlib groups create` command runs. Returns `false`
/// when the group exists already (it is left as it is).
///
/// ```no_run
/// use eventlib::redis::{create_group, GroupStart, DEFAULT_STREAM};
/// create_group("redis://127.0.0.1/", DEFAULT_STREAM, "analytics", &GroupStart::Oldest)?;
/// # Ok::<(), eventlib::Error>(())
/// ```
///
/// # Errors
///
/// As [`declare_groups`].
pub fn create_group(
    server: impl Into<Server>,
    stream: &str,
    group: &str,
    start: &GroupStart,
) -> Result<bool, Error> {
    if let Err(reason) = crate::name::validate_group(group) {
        return Err(Error::Config {
            option: "group",
            reason: format!("invalid group `{group}`: {reason}"),
        });
    }
    let endpoint = Endpoint::new(server)?;
    let mut link = Link::for_key(endpoint.clone(), stream, Duration::from_secs(10));
    create(&mut link, &AtomicU64::new(0), stream, group, start)
        .map(|created| created.is_some())
        .map_err(|err| endpoint.error(&err))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The error a server reply line such as `-NOPERM ...` becomes.
    fn reply(line: &str) -> redis::RedisError {
        redis::parse_redis_value(format!("{line}\r\n").as_bytes())
            .expect("a RESP error line")
            .extract_error()
            .expect_err("an error reply")
    }

    #[test]
    fn only_a_refusal_of_the_command_itself_skips_declaring() {
        for line in [
            "-NOPERM User eventlib-producer has no permissions to run the 'xgroup|create' command",
            "-ERR unknown command 'XGROUP', with args beginning with: 'CREATE'",
        ] {
            assert!(refused(&reply(line)), "{line}");
        }
        for line in [
            "-WRONGPASS invalid username-password pair or user is disabled.",
            "-NOAUTH Authentication required.",
            "-WRONGTYPE Operation against a key holding the wrong kind of value",
            "-LOADING Redis is loading the dataset in memory",
            "-READONLY You can't write against a read only replica.",
            "-ERR max number of clients reached",
        ] {
            assert!(!refused(&reply(line)), "{line}");
        }
    }
}
