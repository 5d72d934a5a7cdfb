//! A local Redis Cluster for the tests: six `redis-server --cluster-enabled
//! yes` on free loopback ports, three primaries with one replica each,
//! joined by `redis-cli --cluster create`; a primary can be killed with
//! `kill -9` (its replica takes over), started again (it comes back as a
//! replica), and slots moved with `redis-cli --cluster reshard`.
//!
//! Every node runs in a temporary directory of its own and is killed on
//! drop, also when the test panics.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::{redis_server_binary, wait_for, TempDir};

/// How long a node may be unreachable before the others take it as
/// failed. Short, so that a failover takes seconds; long enough that a
/// busy 2-core machine does not fail nodes over by itself.
const NODE_TIMEOUT_MS: u64 = 2000;

/// How long the cluster may take to agree, to fail over or to reshard.
const SETTLE: Duration = Duration::from_secs(60);

/// Primaries, and replicas per primary.
const PRIMARIES: usize = 3;
const REPLICAS: usize = 1;

/// The cluster `.ci/test` started for the tests that only produce and
/// consume (`$REDIS_CLUSTER_URL`, a `redis+cluster://` URL), if any; the
/// tests that kill or reshard nodes start their own.
pub fn shared_url() -> Option<String> {
    std::env::var("REDIS_CLUSTER_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

/// The `redis-cli` to run: `$REDIS_CLI`, or `redis-cli` on the `PATH`.
fn redis_cli_binary() -> PathBuf {
    std::env::var_os("REDIS_CLI").map_or_else(|| PathBuf::from("redis-cli"), PathBuf::from)
}

/// One node of the cluster.
struct Node {
    port: u16,
    bus_port: u16,
    dir: PathBuf,
    child: Option<Child>,
    /// A node of a cluster this process did not start (`$REDIS_CLUSTER_URL`):
    /// counted as running, never killed.
    external: bool,
}

impl Node {
    fn launch(&mut self) {
        let log = std::fs::File::create(self.dir.join("redis.log")).expect("create the node's log");
        let child = Command::new(redis_server_binary())
            .args(["--port", &self.port.to_string()])
            .args(["--cluster-port", &self.bus_port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(&self.dir)
            .args(["--cluster-enabled", "yes"])
            .args(["--cluster-config-file", "nodes.conf"])
            .args(["--cluster-node-timeout", &NODE_TIMEOUT_MS.to_string()])
            // A replica takes over however long ago it last heard from its
            // primary, and stays with its own primary.
            .args(["--cluster-replica-validity-factor", "0"])
            .args(["--cluster-allow-replica-migration", "no"])
            .args(["--save", ""])
            .args(["--appendonly", "no"])
            .args(["--repl-diskless-sync", "yes"])
            .args(["--repl-diskless-sync-delay", "0"])
            .args(["--daemonize", "no"])
            .stdout(Stdio::from(log.try_clone().expect("clone the log")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start redis-server");
        self.child = Some(child);
        let port = self.port;
        wait_for(
            "a cluster node to answer PING",
            Duration::from_secs(20),
            || self.exited() || try_connect(port).is_some(),
        );
        assert!(
            !self.exited(),
            "the cluster node on port {port} exited: {}",
            std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default()
        );
    }

    /// Starts the node on fresh ports: a port found free can be taken by
    /// someone else (another test's client) before the node binds it, and
    /// the node then exits; it is tried again on other ports.
    fn launch_fresh(&mut self) {
        for _ in 0..5 {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.launch()));
            if result.is_ok() {
                return;
            }
            self.kill9();
            let ports = free_ports(2);
            (self.port, self.bus_port) = (ports[0], ports[1]);
        }
        self.launch();
    }

    /// Whether the node's process has exited.
    fn exited(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|child| matches!(child.try_wait(), Ok(Some(_))))
    }

    fn kill9(&mut self) {
        assert!(
            !self.external,
            "a node of the shared cluster is never killed"
        );
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn running(&self) -> bool {
        self.external || self.child.is_some()
    }
}

fn try_connect(port: u16) -> Option<redis::Connection> {
    let conn = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
        .ok()?
        .get_connection_with_timeout(Duration::from_millis(500))
        .ok()?;
    conn.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    Some(conn)
}

/// A node as `CLUSTER NODES` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    pub id: String,
    pub port: u16,
    pub primary: bool,
    /// The id of its primary, for a replica.
    pub primary_id: Option<String>,
    /// Marked as failing (`fail` or `fail?`).
    pub failing: bool,
    /// The slot ranges it serves, inclusive.
    pub slots: Vec<(u16, u16)>,
}

/// Parses the text of `CLUSTER NODES`.
fn parse_nodes(text: &str) -> Vec<NodeInfo> {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() < 8 {
                return None;
            }
            // `127.0.0.1:7000@17000` (with an optional `,hostname`).
            let port = fields[1]
                .split('@')
                .next()?
                .rsplit(':')
                .next()?
                .parse()
                .ok()?;
            let flags = fields[2];
            let slots = fields[8..]
                .iter()
                .filter(|s| !s.starts_with('['))
                .filter_map(|s| match s.split_once('-') {
                    Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
                    None => s.parse().ok().map(|n| (n, n)),
                })
                .collect();
            Some(NodeInfo {
                id: fields[0].to_owned(),
                port,
                primary: flags.contains("master"),
                primary_id: (fields[3] != "-").then(|| fields[3].to_owned()),
                failing: flags.contains("fail"),
                slots,
            })
        })
        .collect()
}

/// A Redis Cluster of three primaries and three replicas of the test's
/// own.
pub struct RedisCluster {
    nodes: Vec<Node>,
    _dir: TempDir,
}

impl RedisCluster {
    /// Starts six nodes on free loopback ports, makes them a cluster (the
    /// first three primaries, then one replica of each) and waits until
    /// every node sees every slot served and every replica in sync.
    pub fn start() -> RedisCluster {
        let dir = TempDir::new("cluster");
        let ports = free_ports(2 * PRIMARIES * (1 + REPLICAS));
        let mut nodes: Vec<Node> = ports
            .chunks(2)
            .map(|pair| {
                let node_dir = dir.0.join(pair[0].to_string());
                std::fs::create_dir_all(&node_dir).expect("create the node's directory");
                Node {
                    port: pair[0],
                    bus_port: pair[1],
                    dir: node_dir,
                    child: None,
                    external: false,
                }
            })
            .collect();
        for node in &mut nodes {
            node.launch_fresh();
        }
        let cluster = RedisCluster { nodes, _dir: dir };
        let addresses: Vec<String> = cluster
            .nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let out = Command::new(redis_cli_binary())
            .arg("--cluster")
            .arg("create")
            .args(&addresses)
            .args(["--cluster-replicas", &REPLICAS.to_string()])
            .arg("--cluster-yes")
            .stdin(Stdio::null())
            .output()
            .expect("run redis-cli --cluster create");
        assert!(
            out.status.success(),
            "redis-cli --cluster create failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        cluster.wait_settled();
        cluster
    }

    /// The cluster `.ci/test` started (`$REDIS_CLUSTER_URL`) when there is
    /// one, else one of the test's own. Only for tests that change nothing
    /// in the cluster itself (no kill, no reshard) and use keys of their
    /// own: the shared cluster is never stopped by them.
    pub fn shared_or_start() -> RedisCluster {
        let Some(url) = shared_url() else {
            return RedisCluster::start();
        };
        let hosts = url
            .strip_prefix("redis+cluster://")
            .unwrap_or_else(|| panic!("REDIS_CLUSTER_URL is not a redis+cluster:// URL: {url}"))
            .trim_end_matches('/');
        let nodes = hosts
            .split(',')
            .map(|host| {
                let port = host
                    .rsplit(':')
                    .next()
                    .and_then(|p| p.parse().ok())
                    .unwrap_or_else(|| panic!("no port in `{host}` of REDIS_CLUSTER_URL"));
                Node {
                    port,
                    bus_port: 0,
                    dir: PathBuf::new(),
                    child: None,
                    external: true,
                }
            })
            .collect();
        let cluster = RedisCluster {
            nodes,
            _dir: TempDir::new("shared-cluster"),
        };
        cluster.wait_settled();
        cluster
    }

    /// The seed nodes as `redis://` URLs: every node, primaries first.
    pub fn seed_urls(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|n| format!("redis://127.0.0.1:{}/", n.port))
            .collect()
    }

    /// The cluster as one URL: `redis+cluster://` with every node as a
    /// seed.
    pub fn url(&self) -> String {
        let hosts: Vec<String> = self
            .nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        format!("redis+cluster://{}/", hosts.join(","))
    }

    /// The ports of the running nodes.
    pub fn ports(&self) -> Vec<u16> {
        self.nodes
            .iter()
            .filter(|n| n.running())
            .map(|n| n.port)
            .collect()
    }

    /// A plain connection to the node on `port`.
    pub fn node_connection(&self, port: u16) -> redis::Connection {
        try_connect(port).unwrap_or_else(|| panic!("connect to the cluster node on {port}"))
    }

    /// The cluster as the redis crate's cluster client sees it, for the
    /// test's own commands.
    pub fn connection(&self) -> redis::cluster::ClusterConnection {
        let client = redis::cluster::ClusterClientBuilder::new(
            self.ports()
                .iter()
                .map(|p| format!("redis://127.0.0.1:{p}/"))
                .collect::<Vec<_>>(),
        )
        .connection_timeout(Duration::from_secs(2))
        .response_timeout(Duration::from_secs(10))
        .build()
        .expect("a cluster client");
        client.get_connection().expect("connect to the cluster")
    }

    /// The nodes as a running node sees them (`CLUSTER NODES`).
    pub fn nodes(&self) -> Vec<NodeInfo> {
        for port in self.ports() {
            if let Some(mut conn) = try_connect(port) {
                if let Ok(text) = redis::cmd("CLUSTER")
                    .arg("NODES")
                    .query::<String>(&mut conn)
                {
                    return parse_nodes(&text);
                }
            }
        }
        panic!("no cluster node answers CLUSTER NODES");
    }

    /// The primaries that serve slots, by port, with their slots.
    pub fn primaries(&self) -> Vec<NodeInfo> {
        let mut primaries: Vec<NodeInfo> = self
            .nodes()
            .into_iter()
            .filter(|n| n.primary && !n.failing && !n.slots.is_empty())
            .collect();
        primaries.sort_by_key(|n| n.port);
        primaries
    }

    /// The slot of `key` (hash tags included), as the cluster computes it
    /// (`CLUSTER KEYSLOT`).
    pub fn slot(&self, key: &str) -> u16 {
        let port = self.ports()[0];
        redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg(key)
            .query(&mut self.node_connection(port))
            .expect("CLUSTER KEYSLOT")
    }

    /// The port of the primary that serves `key`'s slot.
    pub fn owner(&self, key: &str) -> u16 {
        let slot = self.slot(key);
        self.primaries()
            .into_iter()
            .find(|n| n.slots.iter().any(|&(a, b)| (a..=b).contains(&slot)))
            .map(|n| n.port)
            .unwrap_or_else(|| panic!("no primary serves slot {slot} (of `{key}`)"))
    }

    /// Which primary (by port) serves each of `keys`.
    pub fn owners<'a>(&self, keys: impl IntoIterator<Item = &'a str>) -> BTreeMap<String, u16> {
        keys.into_iter()
            .map(|k| (k.to_owned(), self.owner(k)))
            .collect()
    }

    /// Waits until every running node answers `cluster_state:ok`, knows
    /// every slot, agrees on who serves which, has no node marked as
    /// failing but the stopped ones, and every replica's link to its
    /// primary is up.
    pub fn wait_settled(&self) {
        let running = self.ports();
        wait_for("the cluster to settle", SETTLE, || {
            let mut views = Vec::new();
            for &port in &running {
                let Some(mut conn) = try_connect(port) else {
                    return false;
                };
                let Ok(info) = redis::cmd("CLUSTER").arg("INFO").query::<String>(&mut conn) else {
                    return false;
                };
                if !info.contains("cluster_state:ok") || !info.contains("cluster_slots_ok:16384") {
                    return false;
                }
                let Ok(text) = redis::cmd("CLUSTER")
                    .arg("NODES")
                    .query::<String>(&mut conn)
                else {
                    return false;
                };
                let nodes = parse_nodes(&text);
                let mut served: Vec<(u16, Vec<(u16, u16)>)> = nodes
                    .iter()
                    .filter(|n| n.primary && !n.slots.is_empty())
                    .map(|n| (n.port, n.slots.clone()))
                    .collect();
                served.sort();
                if nodes.iter().any(|n| n.failing && running.contains(&n.port)) {
                    return false;
                }
                // Every running node that serves no slot is known as a
                // replica (a node joining is a primary without slots for
                // a moment).
                let replicas = nodes
                    .iter()
                    .filter(|n| !n.primary && running.contains(&n.port))
                    .count();
                if replicas != running.len() - PRIMARIES {
                    return false;
                }
                let me = nodes.iter().find(|n| n.port == port);
                if me.is_some_and(|n| !n.primary) {
                    let Ok(replication) = redis::cmd("INFO")
                        .arg("replication")
                        .query::<String>(&mut conn)
                    else {
                        return false;
                    };
                    if !replication.contains("master_link_status:up") {
                        return false;
                    }
                }
                views.push(served);
            }
            views.windows(2).all(|w| w[0] == w[1])
        });
    }

    fn node_mut(&mut self, port: u16) -> &mut Node {
        self.nodes
            .iter_mut()
            .find(|n| n.port == port)
            .unwrap_or_else(|| panic!("no cluster node on port {port}"))
    }

    /// `kill -9` the node on `port`.
    pub fn kill9(&mut self, port: u16) {
        self.node_mut(port).kill9();
    }

    /// Starts the node on `port` again, with its `nodes.conf`: a primary
    /// that was failed over comes back as a replica of its successor.
    pub fn restart(&mut self, port: u16) {
        let node = self.node_mut(port);
        node.kill9();
        node.launch();
    }

    /// `kill -9` the primary on `port` and waits until its replica has
    /// taken over and the cluster serves every slot again; returns the
    /// port of the new primary.
    pub fn fail_over_by_kill(&mut self, port: u16) -> u16 {
        let before = self.nodes();
        let killed = before
            .iter()
            .find(|n| n.port == port && n.primary)
            .unwrap_or_else(|| panic!("no primary on port {port}"))
            .clone();
        let replica = before
            .iter()
            .find(|n| n.primary_id.as_deref() == Some(killed.id.as_str()))
            .unwrap_or_else(|| panic!("the primary on {port} has no replica"))
            .port;
        self.kill9(port);
        wait_for(
            "the replica to take over from the killed primary",
            SETTLE,
            || {
                try_connect(replica)
                    .and_then(|mut c| redis::cmd("ROLE").query::<Vec<redis::Value>>(&mut c).ok())
                    .and_then(|role| match role.first() {
                        Some(redis::Value::BulkString(b)) => Some(b == b"master"),
                        _ => None,
                    })
                    .unwrap_or(false)
            },
        );
        self.wait_available();
        replica
    }

    /// Waits until every running node answers `cluster_state:ok` (every
    /// slot served), without waiting for failed nodes to come back.
    pub fn wait_available(&self) {
        let running = self.ports();
        wait_for("every slot to be served again", SETTLE, || {
            running.iter().all(|&port| {
                try_connect(port)
                    .and_then(|mut c| {
                        redis::cmd("CLUSTER")
                            .arg("INFO")
                            .query::<String>(&mut c)
                            .ok()
                    })
                    .is_some_and(|info| info.contains("cluster_state:ok"))
            })
        });
    }

    /// Moves `slots` slots from the primary on `from` to the primary on
    /// `to` with `redis-cli --cluster reshard` (it moves the source's
    /// lowest slots first, with their keys), and waits until every node
    /// agrees.
    pub fn reshard(&self, from: u16, to: u16, slots: u16) {
        let id = |port: u16| {
            self.primaries()
                .into_iter()
                .find(|n| n.port == port)
                .unwrap_or_else(|| panic!("no primary on port {port}"))
                .id
        };
        let out = Command::new(redis_cli_binary())
            .arg("--cluster")
            .arg("reshard")
            .arg(format!("127.0.0.1:{from}"))
            .args(["--cluster-from", &id(from)])
            .args(["--cluster-to", &id(to)])
            .args(["--cluster-slots", &slots.to_string()])
            .arg("--cluster-yes")
            .stdin(Stdio::null())
            .output()
            .expect("run redis-cli --cluster reshard");
        assert!(
            out.status.success(),
            "redis-cli --cluster reshard failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        self.wait_settled();
    }

    /// How many of the lowest slots of the primary on `port` a reshard
    /// must move for `slot` to go with them.
    pub fn slots_up_to(&self, port: u16, slot: u16) -> u16 {
        let node = self
            .primaries()
            .into_iter()
            .find(|n| n.port == port)
            .unwrap_or_else(|| panic!("no primary on port {port}"));
        let mut count = 0;
        for &(a, b) in &node.slots {
            if slot > b {
                count += b - a + 1;
            } else if slot >= a {
                return count + slot - a + 1;
            }
        }
        panic!("the primary on {port} does not serve slot {slot}")
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for node in self.nodes.iter_mut().filter(|n| !n.external) {
            node.kill9();
        }
    }
}

/// `n` distinct free loopback ports (each held while the others are
/// found).
fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("find a free port"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("local address").port())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::parse_nodes;

    #[test]
    fn cluster_nodes_is_parsed() {
        let text = "\
07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:30004@31004,host replica e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 0 1426238317239 4 connected
67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 127.0.0.1:30002@31002 master - 0 1426238316232 2 connected 5461-10922
e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:30001@31001 myself,master - 0 0 1 connected 0-5460 [5461->-67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1]
6ec23923021cf3ffec47632106199cb7f496ce01 127.0.0.1:30005@31005 master,fail - 0 1426238316232 5 connected 10923 10925-16383
";
        let nodes = parse_nodes(text);
        assert_eq!(nodes.len(), 4);
        assert_eq!(nodes[0].port, 30004);
        assert!(!nodes[0].primary);
        assert_eq!(
            nodes[0].primary_id.as_deref(),
            Some("e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca")
        );
        assert_eq!(nodes[2].slots, vec![(0, 5460)]);
        assert!(nodes[3].failing);
        assert_eq!(nodes[3].slots, vec![(10923, 10923), (10925, 16383)]);
    }
}
