//! The Redis ACL users that `docs/security.md` ("Security of the Redis stream")
//! documents, read from the page itself so that what the tests run under is
//! exactly what an operator pastes into `redis-cli`.

use std::path::PathBuf;

/// The page that documents the users.
fn page() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/security.md")
}

/// One documented `ACL SETUSER` line.
#[derive(Debug, Clone)]
pub struct AclUser {
    /// The user name.
    pub name: String,
    /// The password the line sets (`>password`).
    pub password: String,
    /// The arguments after `ACL SETUSER`, the name first.
    pub args: Vec<String>,
}

impl AclUser {
    /// Every `ACL SETUSER` line of the page's "Security" section, in the
    /// fenced blocks where they appear.
    pub fn documented() -> Vec<AclUser> {
        let text = std::fs::read_to_string(page()).expect("read docs/security.md");
        let section = text
            .split("\n## ")
            .find(|s| s.starts_with("Security"))
            .expect("a `## Security...` section in docs/security.md");
        let mut users = Vec::new();
        let mut fenced = false;
        for line in section.lines() {
            if line.trim_start().starts_with("```") {
                fenced = !fenced;
                continue;
            }
            let Some(rest) = line.strip_prefix("ACL SETUSER ").filter(|_| fenced) else {
                continue;
            };
            let args: Vec<String> = rest.split_whitespace().map(str::to_owned).collect();
            let password = args
                .iter()
                .find_map(|a| a.strip_prefix('>'))
                .expect("each documented user sets a password")
                .to_owned();
            users.push(AclUser {
                name: args[0].clone(),
                password,
                args,
            });
        }
        users
    }

    /// The documented user named `name` (panics when the page has none).
    pub fn named(name: &str) -> AclUser {
        AclUser::documented()
            .into_iter()
            .find(|u| u.name == name)
            .unwrap_or_else(|| panic!("docs/security.md documents no user `{name}`"))
    }

    /// Runs the line on `conn`, as `redis-cli` would.
    pub fn create(&self, conn: &mut redis::Connection) {
        let mut cmd = redis::cmd("ACL");
        cmd.arg("SETUSER");
        for arg in &self.args {
            cmd.arg(arg);
        }
        cmd.exec(conn)
            .unwrap_or_else(|err| panic!("ACL SETUSER {}: {err}", self.args.join(" ")));
    }

    /// The line for another stream key, as the page says to write it:
    /// `stream` in place of `eventlib:events` in each key pattern, and in
    /// the partitions' patterns (`~{eventlib:events:*}`...) the key with
    /// the braces of its hash tag left out.
    pub fn for_stream(&self, stream: &str) -> AclUser {
        let bare: String = stream.chars().filter(|c| !matches!(c, '{' | '}')).collect();
        let args = self
            .args
            .iter()
            .map(|arg| match arg.find('~') {
                Some(at) => {
                    let (flags, pattern) = arg.split_at(at + 1);
                    let pattern = match pattern.strip_prefix("{eventlib:events") {
                        Some(rest) => format!("{{{bare}{rest}"),
                        None => pattern.replacen("eventlib:events", stream, 1),
                    };
                    format!("{flags}{pattern}")
                }
                None => arg.clone(),
            })
            .collect();
        AclUser {
            args,
            ..self.clone()
        }
    }

    /// `redis://name:password@127.0.0.1:port/`.
    pub fn url(&self, port: u16) -> String {
        format!("redis://{}:{}@127.0.0.1:{port}/", self.name, self.password)
    }
}

/// Creates every documented user on `conn`'s server, empties `ACL LOG`,
/// and returns them.
pub fn create_documented_users(conn: &mut redis::Connection) -> Vec<AclUser> {
    create_documented_users_for(conn, "eventlib:events")
}

/// [`create_documented_users`] with the lines rewritten for `stream` as
/// the page says ([`AclUser::for_stream`]).
pub fn create_documented_users_for(conn: &mut redis::Connection, stream: &str) -> Vec<AclUser> {
    let users: Vec<AclUser> = AclUser::documented()
        .iter()
        .map(|user| user.for_stream(stream))
        .collect();
    for user in &users {
        user.create(conn);
    }
    redis::cmd("ACL")
        .arg("LOG")
        .arg("RESET")
        .exec(conn)
        .expect("ACL LOG RESET");
    users
}

/// The entries of `ACL LOG` (denied commands and keys), one line each:
/// `user reason object (context)`.
pub fn acl_log(conn: &mut redis::Connection) -> Vec<String> {
    let entries: Vec<std::collections::HashMap<String, redis::Value>> =
        redis::cmd("ACL").arg("LOG").query(conn).expect("ACL LOG");
    let text = |entry: &std::collections::HashMap<String, redis::Value>, field: &str| {
        entry
            .get(field)
            .and_then(|v| redis::from_redis_value_ref::<String>(v).ok())
            .unwrap_or_default()
    };
    entries
        .iter()
        .map(|e| {
            format!(
                "user `{}` denied {} `{}` ({}, {} time(s))",
                text(e, "username"),
                text(e, "reason"),
                text(e, "object"),
                text(e, "context"),
                e.get("count")
                    .and_then(|v| redis::from_redis_value_ref::<i64>(v).ok())
                    .unwrap_or(0)
            )
        })
        .collect()
}
