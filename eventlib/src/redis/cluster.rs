//! A Redis Cluster as eventlib reaches it: its seed nodes, the slot of a
//! key, and which primary serves a slot now.
//!
//! The work on one stream partition, whose keys all share one hash tag and
//! so one slot, runs on a plain connection to the primary that serves that
//! slot ([`Cluster::primary_of`]), opened with the seeds' credentials and
//! certificates, and dropped (to be resolved again) on `MOVED`, `ASK`, a
//! failover or a lost connection
//! ([`is_topology_change`](crate::redis::fault::is_topology_change)). A
//! partition's acknowledgements are `MULTI`/`EXEC` transactions and its
//! reads block in `XREADGROUP`: the redis crate's cluster connection can
//! do neither (its pipelines refuse transactions, and a blocked read
//! would hold up every other command on it), and its client takes a
//! private CA or client certificate only when built with rustls, while
//! eventlib's TLS is native-tls. The discovery is therefore eventlib's
//! own and small: `CLUSTER SLOTS` asked of the node that answered last,
//! else of the seeds in order, else of the nodes the last answer named.

use std::sync::Mutex;
use std::time::Duration;

use redis::{
    Client, Connection, ConnectionAddr, ConnectionInfo, IntoConnectionInfo, RedisResult, Value,
};

use crate::error::Error;
use crate::redis::server::Tls;

/// How many slots a Redis Cluster has.
pub(crate) const SLOTS: u16 = 16384;

/// The cluster slot of `key`: CRC16 (XMODEM) of its hash tag (the text
/// between its first `{` and the next `}`, when not empty) or of the whole
/// key, modulo 16384.
pub(crate) fn slot(key: &[u8]) -> u16 {
    let tagged = key.iter().position(|&b| b == b'{').and_then(|open| {
        let inside = &key[open + 1..];
        let close = inside.iter().position(|&b| b == b'}')?;
        (close > 0).then(|| &inside[..close])
    });
    crc16::State::<crc16::XMODEM>::calculate(tagged.unwrap_or(key)) % SLOTS
}

/// A Redis Cluster given by its seed nodes.
pub(crate) struct Cluster {
    /// The seeds as parsed, before certificates.
    seeds: Vec<ConnectionInfo>,
    certificates: Option<Tls>,
    connect_timeout: Duration,
    response_timeout: Duration,
    discovery: Mutex<Discovery>,
}

/// What the last discovery left: the connection of the node that
/// answered, and every node its answer named.
#[derive(Default)]
struct Discovery {
    conn: Option<(Connection, String)>,
    known: Vec<(String, u16)>,
}

impl Cluster {
    /// Checks the seed URLs and certificates; connects to nothing.
    pub(crate) fn new(
        seeds: &[String],
        tls: Option<&Tls>,
        connect_timeout: Duration,
        response_timeout: Duration,
    ) -> Result<Cluster, String> {
        if seeds.is_empty() || seeds.iter().any(|s| s.trim().is_empty()) {
            return Err("a cluster needs at least one seed node (host:port)".to_owned());
        }
        let infos = seeds
            .iter()
            .map(|seed| seed.as_str().into_connection_info())
            .collect::<RedisResult<Vec<_>>>()
            .map_err(|err| err.to_string())?;
        if infos.iter().any(|i| host_of(i).is_none()) {
            return Err("a cluster's seeds are TCP hosts, not Unix sockets".to_owned());
        }
        let cluster = Cluster {
            seeds: infos,
            certificates: tls.cloned(),
            connect_timeout,
            response_timeout,
            discovery: Mutex::new(Discovery::default()),
        };
        // The certificates are checked now, as for one server.
        cluster.seed_clients().map_err(|err| err.to_string())?;
        Ok(cluster)
    }

    /// A client of the node at `host:port`, with the seeds' credentials,
    /// TLS and certificates.
    pub(crate) fn node(&self, host: &str, port: u16) -> RedisResult<Client> {
        let seed = &self.seeds[0];
        let addr = match seed.addr() {
            ConnectionAddr::TcpTls { insecure, .. } => ConnectionAddr::TcpTls {
                host: host.to_owned(),
                port,
                insecure: *insecure,
                tls_params: None,
            },
            _ => ConnectionAddr::Tcp(host.to_owned(), port),
        };
        let info = seed.clone().set_addr(addr);
        node_client(info, self.certificates.as_ref())
    }

    /// The seeds' clients, in the order given.
    pub(crate) fn seed_clients(&self) -> RedisResult<Vec<Client>> {
        self.seeds
            .iter()
            .map(|seed| node_client(seed.clone(), self.certificates.as_ref()))
            .collect()
    }

    /// The address of the primary that serves `slot`, as the cluster says
    /// now (`CLUSTER SLOTS`).
    pub(crate) fn primary_of(&self, slot: u16) -> RedisResult<(String, u16)> {
        let mut discovery = self
            .discovery
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut last_error = None;
        if let Some((conn, host)) = &mut discovery.conn {
            match cluster_slots(conn) {
                Ok(reply) => {
                    let host = host.clone();
                    return self.answer(&mut discovery, &reply, slot, &host);
                }
                Err(err) => {
                    discovery.conn = None;
                    last_error = Some(err);
                }
            }
        }
        let mut candidates: Vec<(String, u16)> = self
            .seeds
            .iter()
            .filter_map(|seed| match seed.addr() {
                ConnectionAddr::Tcp(host, port) | ConnectionAddr::TcpTls { host, port, .. } => {
                    Some((host.clone(), *port))
                }
                _ => None,
            })
            .collect();
        for node in &discovery.known {
            if !candidates.contains(node) {
                candidates.push(node.clone());
            }
        }
        for (host, port) in candidates {
            let attempt = self.node(&host, port).and_then(|client| {
                let mut conn = client.get_connection_with_timeout(self.connect_timeout)?;
                conn.set_read_timeout(Some(self.response_timeout))?;
                conn.set_write_timeout(Some(self.response_timeout))?;
                let reply = cluster_slots(&mut conn)?;
                Ok((conn, reply))
            });
            match attempt {
                Ok((conn, reply)) => {
                    discovery.conn = Some((conn, host.clone()));
                    return self.answer(&mut discovery, &reply, slot, &host);
                }
                Err(err) => last_error = Some(err),
            }
        }
        Err(last_error.unwrap_or_else(|| {
            redis::RedisError::from((redis::ErrorKind::Io, "no cluster node answered"))
        }))
    }

    /// The primary of `slot` in `reply`, from the node at `host`; keeps the
    /// nodes it names for the next discovery.
    fn answer(
        &self,
        discovery: &mut Discovery,
        reply: &Value,
        slot: u16,
        host: &str,
    ) -> RedisResult<(String, u16)> {
        discovery.known = nodes_in_slots(reply, host);
        primary_in_slots(reply, slot, host).ok_or_else(|| {
            redis::RedisError::from((
                redis::ErrorKind::Server(redis::ServerErrorKind::ClusterDown),
                "no primary serves the slot",
                format!("CLUSTER SLOTS names no primary for slot {slot}"),
            ))
        })
    }
}

fn cluster_slots(conn: &mut Connection) -> RedisResult<Value> {
    redis::cmd("CLUSTER").arg("SLOTS").query(conn)
}

fn host_of(info: &ConnectionInfo) -> Option<&str> {
    match info.addr() {
        ConnectionAddr::Tcp(host, _) | ConnectionAddr::TcpTls { host, .. } => Some(host),
        _ => None,
    }
}

fn node_client(info: ConnectionInfo, tls: Option<&Tls>) -> RedisResult<Client> {
    match tls {
        #[cfg(feature = "redis-tls")]
        Some(tls) => Client::build_with_tls(info, tls.to_redis()),
        _ => Client::open(info),
    }
}

/// The address in a node entry of `CLUSTER SLOTS` (`[host, port, id,
/// ...]`); a node that does not know its own address says an empty host
/// (or `?`): it is then `default_host`, the host of the node asked.
fn node_address(node: &Value, default_host: &str) -> Option<(String, u16)> {
    let Value::Array(fields) = node else {
        return None;
    };
    let host = match fields.first()? {
        Value::BulkString(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        Value::SimpleString(text) => text.clone(),
        _ => return None,
    };
    let Value::Int(port) = fields.get(1)? else {
        return None;
    };
    let host = if host.is_empty() || host == "?" {
        default_host.to_owned()
    } else {
        host
    };
    Some((host, u16::try_from(*port).ok()?))
}

/// Every node, primaries and replicas, a `CLUSTER SLOTS` reply names.
fn nodes_in_slots(reply: &Value, default_host: &str) -> Vec<(String, u16)> {
    let Value::Array(ranges) = reply else {
        return Vec::new();
    };
    let mut nodes: Vec<(String, u16)> = Vec::new();
    for range in ranges {
        if let Value::Array(fields) = range {
            for node in fields.iter().skip(2) {
                if let Some(address) = node_address(node, default_host) {
                    if !nodes.contains(&address) {
                        nodes.push(address);
                    }
                }
            }
        }
    }
    nodes
}

/// The primary of `slot` in a `CLUSTER SLOTS` reply: `[start, end,
/// primary, replicas...]` per range.
fn primary_in_slots(reply: &Value, slot: u16, default_host: &str) -> Option<(String, u16)> {
    let Value::Array(ranges) = reply else {
        return None;
    };
    ranges.iter().find_map(|range| {
        let Value::Array(fields) = range else {
            return None;
        };
        let (Some(Value::Int(start)), Some(Value::Int(end)), Some(primary)) =
            (fields.first(), fields.get(1), fields.get(2))
        else {
            return None;
        };
        (*start..=*end)
            .contains(&i64::from(slot))
            .then(|| node_address(primary, default_host))
            .flatten()
    })
}

/// An [`Error::Config`] for a cluster URL.
pub(crate) fn config_error(shown: &str, reason: &str) -> Error {
    Error::Config {
        option: "url",
        reason: format!("invalid Redis Cluster `{shown}`: {reason}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_those_of_redis() {
        // Values from `CLUSTER KEYSLOT` on Redis 7.
        assert_eq!(slot(b"foo"), 12182);
        assert_eq!(slot(b"bar"), 5061);
        assert_eq!(slot(b"{user1000}.following"), slot(b"user1000"));
        assert_eq!(slot(b"{shop}:events:dead"), slot(b"shop"));
        // An empty tag does not count: the whole key is hashed.
        assert_eq!(slot(b"{}x"), 10595);
        assert_eq!(slot(b"a{}{b}"), 15033);
        assert_eq!(slot(b"{eventlib:events:3-of-6:0}"), 14286);
    }

    #[test]
    fn the_primary_of_a_slot_is_found() {
        let bulk = |s: &str| Value::BulkString(s.as_bytes().to_vec());
        let node =
            |host: &str, port: i64| Value::Array(vec![bulk(host), Value::Int(port), bulk("id")]);
        let reply = Value::Array(vec![
            Value::Array(vec![
                Value::Int(0),
                Value::Int(5460),
                node("10.0.0.1", 7000),
                node("10.0.0.4", 7003),
            ]),
            Value::Array(vec![Value::Int(5461), Value::Int(16383), node("", 7001)]),
        ]);
        assert_eq!(
            primary_in_slots(&reply, 5460, "seed"),
            Some(("10.0.0.1".to_owned(), 7000))
        );
        assert_eq!(
            primary_in_slots(&reply, 9000, "seed"),
            Some(("seed".to_owned(), 7001))
        );
        assert_eq!(primary_in_slots(&Value::Array(vec![]), 1, "seed"), None);
        assert_eq!(
            nodes_in_slots(&reply, "seed"),
            [
                ("10.0.0.1".to_owned(), 7000),
                ("10.0.0.4".to_owned(), 7003),
                ("seed".to_owned(), 7001)
            ]
        );
    }
}
