//! Consumer groups: declaring them (a declared group holds back trimming
//! from then on), and the groups a stream has.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use redis::Value;

use crate::error::Error;
use crate::redis::conn::{Endpoint, Link};
use crate::redis::resp;

/// `XGROUP CREATE <stream> <group> $ MKSTREAM` for each group not declared
/// yet: a new group starts at the end of the stream as it is now, and sees
/// every entry written after. A group that exists is left as it is.
pub(crate) fn declare(
    link: &mut Link,
    reconnects: &AtomicU64,
    stream: &str,
    groups: &[&str],
) -> redis::RedisResult<()> {
    for group in groups {
        let result = link.run(reconnects, |c| {
            redis::cmd("XGROUP")
                .arg("CREATE")
                .arg(stream)
                .arg(*group)
                .arg("$")
                .arg("MKSTREAM")
                .exec(c)
        });
        match result {
            Err(err) if err.code() != Some("BUSYGROUP") => return Err(err),
            _ => {}
        }
    }
    Ok(())
}

/// The names of the consumer groups of `stream`.
pub(crate) fn names(
    link: &mut Link,
    reconnects: &AtomicU64,
    stream: &str,
) -> redis::RedisResult<Vec<String>> {
    let reply: Value = link.run(reconnects, |c| {
        redis::cmd("XINFO").arg("GROUPS").arg(stream).query(c)
    })?;
    Ok(resp::groups(&reply).into_iter().map(|g| g.name).collect())
}

/// Declares handler groups on a stream before any of their workers runs,
/// so that trimming keeps every entry written from now on until each of
/// these groups has acknowledged it. A group that exists already is left
/// as it is; a new one starts at the end of the stream (it sees what is
/// written after this call, not before).
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
pub fn declare_groups(url: &str, stream: &str, groups: &[&str]) -> Result<(), Error> {
    for group in groups {
        if let Err(reason) = crate::name::validate_group(group) {
            return Err(Error::Config {
                option: "group",
                reason: format!("invalid group `{group}`: {reason}"),
            });
        }
    }
    let endpoint = Endpoint::new(url)?;
    let mut link = Link::new(endpoint.clone(), Duration::from_secs(10));
    declare(&mut link, &AtomicU64::new(0), stream, groups).map_err(|err| endpoint.error(&err))
}
