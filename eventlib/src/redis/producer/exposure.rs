//! Without [`Confirm`](crate::redis::Confirm), on a cluster: how many of a
//! partition's confirmed events no replica was yet known to have, so that
//! when the connection to its primary is lost (a failover, or the primary
//! unreachable) the events that a failover can have lost are counted and
//! said, not silent.
//!
//! Once a second a partition's batch carries `INFO replication` after its
//! `XADD`s: the primary's replication offset then is past those events,
//! and a later answer whose best replica's acknowledged offset reaches it
//! says a replica has them. What is counted is an upper bound: events
//! confirmed since the last answer a replica may well have.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How often a partition's replication is looked at.
const EVERY: Duration = Duration::from_secs(1);

/// One partition's confirmed events not yet known to be on a replica.
#[derive(Default)]
pub(super) struct Exposure {
    /// Confirmed since the last look.
    since_look: u64,
    /// (primary offset at a look, events confirmed before it since the
    /// look before).
    looks: VecDeque<(u64, u64)>,
    last_look: Option<Instant>,
}

impl Exposure {
    /// Whether the next batch should carry `INFO replication`.
    pub(super) fn due(&self) -> bool {
        self.last_look.is_none_or(|at| at.elapsed() >= EVERY)
    }

    /// `events` were confirmed by the primary.
    pub(super) fn confirmed(&mut self, events: u64) {
        self.since_look += events;
    }

    /// What `INFO replication` said, after the events confirmed so far.
    pub(super) fn looked(&mut self, info: &str) {
        self.last_look = Some(Instant::now());
        let Some((primary, best_replica)) = offsets(info) else {
            return;
        };
        self.looks
            .push_back((primary, std::mem::take(&mut self.since_look)));
        while self
            .looks
            .front()
            .is_some_and(|&(offset, _)| offset <= best_replica)
        {
            self.looks.pop_front();
        }
    }

    /// The connection to the primary is lost: how many confirmed events no
    /// replica was known to have; forgotten from here on.
    pub(super) fn lost(&mut self) -> u64 {
        let exposed = self.since_look + self.looks.iter().map(|&(_, n)| n).sum::<u64>();
        *self = Exposure::default();
        exposed
    }
}

/// The primary's `master_repl_offset` and the greatest `offset=` of its
/// online replicas in an `INFO replication` answer (0 without replicas).
fn offsets(info: &str) -> Option<(u64, u64)> {
    let mut primary = None;
    let mut best = 0;
    for line in info.lines() {
        let line = line.trim();
        if let Some(offset) = line.strip_prefix("master_repl_offset:") {
            primary = offset.parse().ok();
        } else if line.starts_with("slave") && line.contains("state=online") {
            let offset = line
                .split(',')
                .find_map(|field| field.strip_prefix("offset="))
                .and_then(|o| o.parse().ok());
            best = best.max(offset.unwrap_or(0));
        }
    }
    Some((primary?, best))
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: &str = "# Replication\r\nrole:master\r\nconnected_slaves:1\r\n\
        slave0:ip=127.0.0.1,port=7003,state=online,offset=900,lag=0\r\n\
        master_failover_state:no-failover\r\nmaster_repl_offset:1000\r\n";

    #[test]
    fn offsets_are_read() {
        assert_eq!(offsets(INFO), Some((1000, 900)));
        assert_eq!(
            offsets("role:master\r\nmaster_repl_offset:5\r\n"),
            Some((5, 0))
        );
        assert_eq!(offsets("nothing"), None);
    }

    #[test]
    fn events_a_replica_has_are_no_longer_exposed() {
        let mut exposure = Exposure::default();
        assert!(exposure.due());
        exposure.confirmed(10);
        exposure.looked(INFO); // 10 events before offset 1000; replica at 900
        assert!(!exposure.due());
        exposure.confirmed(5);
        exposure.looked(
            &INFO
                .replace("offset=900", "offset=1000")
                .replace(":1000", ":1200"),
        );
        // The first 10 are on the replica now, the 5 are not.
        exposure.confirmed(2);
        assert_eq!(exposure.lost(), 7);
        assert_eq!(exposure.lost(), 0);
    }
}
