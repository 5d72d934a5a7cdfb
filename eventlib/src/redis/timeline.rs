//! The figures of every process over time, kept in Redis so that any
//! operator's tool sees the whole system: each worker adds what its
//! handlers did to per-minute and per-hour buckets, and every worker and
//! producer says it is alive. This module owns the layout; workers write
//! it (`worker/upkeep/publish.rs`), the operator's side reads and sums it.
//!
//! - `<stream>:stats:m:<minute>` and `<stream>:stats:h:<hour>` (minutes and
//!   hours since 1970): hashes of counts, kept [`MINUTES_KEPT`] minutes and
//!   [`HOURS_KEPT`] hours. A field is `<group>|<event>|<handler>|<what>`,
//!   `<what>` one of [`Count`]'s names or `t<n>`, the runs that took less
//!   than 2ⁿ µs and at least 2ⁿ⁻¹ µs (`t0`: under 1 µs);
//!   `<group>|||lag` / `<group>|||pending`, the group's figures as last
//!   sampled in that minute; and `|<event>||sent` / `|<event>||dropped`,
//!   what producers sent to the stream and gave up or dropped.
//! - `<stream>:processes`: a hash of the live processes: field = consumer
//!   name (or `producer:<host>:<pid>`), value = [`Process`] as JSON; a
//!   process not seen for [`PROCESS_STALE`] counts as gone.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::redis::stream_id::millis;

/// How long minute buckets are kept.
pub(crate) const MINUTES_KEPT: u64 = 120;
/// How long hour buckets are kept.
pub(crate) const HOURS_KEPT: u64 = 26;
/// How often a worker adds its counts.
pub(crate) const PUBLISH_EVERY: Duration = Duration::from_secs(5);
/// A process not seen for this long counts as gone.
pub const PROCESS_STALE: Duration = Duration::from_secs(30);
/// Run-time buckets: `t0` .. `t<RUN_TIME_BUCKETS - 1>` (the last one holds
/// everything from 2³⁰ µs, about 18 minutes, on).
pub(crate) const RUN_TIME_BUCKETS: usize = 32;

/// The host name the process runs on (`$HOSTNAME`, else `/etc/hostname`).
pub(crate) fn host_name() -> Option<String> {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
        })
        .filter(|h| !h.is_empty())
}

/// What is counted per handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Count {
    /// Runs that succeeded.
    Handled,
    /// Runs that returned an error.
    Failed,
    /// Runs that panicked.
    Panicked,
    /// Runs that were retries.
    Retried,
    /// Dead letters written for the handler.
    DeadLettered,
}

impl Count {
    /// Every count, in the order of [`Count::index`].
    pub const ALL: [Count; 5] = [
        Count::Handled,
        Count::Failed,
        Count::Panicked,
        Count::Retried,
        Count::DeadLettered,
    ];

    /// Its name in a field.
    pub fn name(self) -> &'static str {
        match self {
            Count::Handled => "handled",
            Count::Failed => "failed",
            Count::Panicked => "panicked",
            Count::Retried => "retried",
            Count::DeadLettered => "dead",
        }
    }

    /// Its position in [`Count::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    fn parse(name: &str) -> Option<Count> {
        Count::ALL.into_iter().find(|c| c.name() == name)
    }
}

/// The bucket of a run that took `took`.
pub(crate) fn run_time_bucket(took: Duration) -> usize {
    let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
    ((u64::BITS - micros.leading_zeros()) as usize).min(RUN_TIME_BUCKETS - 1)
}

/// The minute bucket key of `stream` for `minute` (minutes since 1970).
pub(crate) fn minute_key(stream: &str, minute: u64) -> String {
    format!("{stream}:stats:m:{minute}")
}

/// The hour bucket key of `stream` for `hour` (hours since 1970).
pub(crate) fn hour_key(stream: &str, hour: u64) -> String {
    format!("{stream}:stats:h:{hour}")
}

/// The hash of live processes of `stream`.
pub(crate) fn processes_key(stream: &str) -> String {
    format!("{stream}:processes")
}

/// The field of a handler's count.
pub(crate) fn count_field(group: &str, event: &str, handler: &str, count: Count) -> String {
    format!("{group}|{event}|{handler}|{}", count.name())
}

/// The field of a handler's run-time bucket.
pub(crate) fn run_time_field(group: &str, event: &str, handler: &str, bucket: usize) -> String {
    format!("{group}|{event}|{handler}|t{bucket}")
}

/// The field of a producer's count of `event`: `sent` or `dropped`.
pub(crate) fn produced_field(event: &str, what: &str) -> String {
    format!("|{event}||{what}")
}

/// The field of a group's figure (`lag` or `pending`) as last sampled.
pub(crate) fn group_field(group: &str, figure: &str) -> String {
    format!("{group}|||{figure}")
}

/// A live process as it says itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Process {
    /// `worker` or `producer`.
    pub kind: String,
    /// The worker's group (empty for a producer).
    #[serde(default)]
    pub group: String,
    /// The host name, as the process knows it.
    #[serde(default)]
    pub host: String,
    /// The process id.
    #[serde(default)]
    pub pid: u32,
    /// When it started, in milliseconds since 1970.
    #[serde(default)]
    pub started_ms: u64,
    /// When it last said it is alive, in milliseconds since 1970.
    #[serde(default)]
    pub seen_ms: u64,
    /// The handlers it pauses now (`*` for its whole group).
    #[serde(default)]
    pub paused: Vec<String>,
}

impl Process {
    /// The same process as seen on another key: the latest sighting, with
    /// the pauses of both.
    pub(crate) fn merge(&mut self, other: Process) {
        if other.seen_ms > self.seen_ms {
            let paused = std::mem::take(&mut self.paused);
            *self = other;
            self.paused.extend(paused);
        } else {
            self.paused.extend(other.paused);
        }
        self.paused.sort();
        self.paused.dedup();
    }
}

/// One handler's figures in one bucket (or summed over several).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct HandlerFigures {
    /// Each [`Count`], by [`Count::index`].
    pub counts: [u64; Count::ALL.len()],
    /// Runs by run-time bucket (see [`HandlerFigures::run_time_quantile`]).
    pub run_times: Vec<u64>,
}

impl HandlerFigures {
    /// The count of `count`.
    pub fn get(&self, count: Count) -> u64 {
        self.counts[count.index()]
    }

    /// Every run (handled, failed or panicked).
    pub fn runs(&self) -> u64 {
        self.get(Count::Handled) + self.get(Count::Failed) + self.get(Count::Panicked)
    }

    /// The run time under which a share `q` (0 to 1) of the runs finished,
    /// as the upper bound of its bucket (a power of two of microseconds);
    /// `None` without runs.
    pub fn run_time_quantile(&self, q: f64) -> Option<Duration> {
        let total: u64 = self.run_times.iter().sum();
        if total == 0 {
            return None;
        }
        let wanted = ((total as f64) * q.clamp(0.0, 1.0)).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (bucket, n) in self.run_times.iter().enumerate() {
            seen += n;
            if seen >= wanted {
                return Some(Duration::from_micros(1u64 << bucket.min(62)));
            }
        }
        None
    }

    /// Adds `other`'s figures to these.
    pub fn add(&mut self, other: &HandlerFigures) {
        for (a, b) in self.counts.iter_mut().zip(other.counts) {
            *a += b;
        }
        if self.run_times.len() < other.run_times.len() {
            self.run_times.resize(other.run_times.len(), 0);
        }
        for (a, b) in self.run_times.iter_mut().zip(&other.run_times) {
            *a += b;
        }
    }
}

/// What producers did with one event (or every event) in a bucket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProducedFigures {
    /// Events Redis confirmed.
    pub sent: u64,
    /// Events given up: refused by Redis for good, or dropped by the
    /// producer's overflow policy.
    pub dropped: u64,
}

impl ProducedFigures {
    /// Adds `other`'s figures to these.
    pub fn add(&mut self, other: &ProducedFigures) {
        self.sent += other.sent;
        self.dropped += other.dropped;
    }
}

/// Which handler: its group, event and path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HandlerKey {
    /// The handler's group.
    pub group: String,
    /// The event it ran for.
    pub event: String,
    /// The handler's path.
    pub handler: String,
}

/// One bucket (a minute or an hour) as read back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Bucket {
    /// Its start, in seconds since 1970.
    pub start_secs: u64,
    /// Each handler's figures.
    pub handlers: BTreeMap<HandlerKey, HandlerFigures>,
    /// Each group's lag as last sampled in the bucket.
    pub lag: BTreeMap<String, u64>,
    /// Each group's pending entries as last sampled in the bucket.
    pub pending: BTreeMap<String, u64>,
    /// What producers did with each event, by event name.
    pub produced: BTreeMap<String, ProducedFigures>,
}

impl Bucket {
    /// Adds `other`'s figures to these: counts, lags and pending entries
    /// (as a partitioned stream's buckets add up over its partitions).
    pub fn add(&mut self, other: &Bucket) {
        for (key, figures) in &other.handlers {
            self.handlers.entry(key.clone()).or_default().add(figures);
        }
        for (group, lag) in &other.lag {
            *self.lag.entry(group.clone()).or_default() += lag;
        }
        for (group, pending) in &other.pending {
            *self.pending.entry(group.clone()).or_default() += pending;
        }
        for (event, produced) in &other.produced {
            self.produced
                .entry(event.clone())
                .or_default()
                .add(produced);
        }
    }

    /// The bucket starting at `start_secs` from the fields of its hash.
    pub(crate) fn read(start_secs: u64, fields: &BTreeMap<String, u64>) -> Bucket {
        let mut bucket = Bucket {
            start_secs,
            ..Bucket::default()
        };
        for (field, &value) in fields {
            let mut parts = field.rsplitn(2, '|');
            let (Some(what), Some(rest)) = (parts.next(), parts.next()) else {
                continue;
            };
            let mut parts = rest.splitn(3, '|');
            let (Some(group), Some(event), Some(handler)) =
                (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            if group.is_empty() && handler.is_empty() && !event.is_empty() {
                let figures = bucket.produced.entry(event.to_owned()).or_default();
                match what {
                    "sent" => figures.sent += value,
                    "dropped" => figures.dropped += value,
                    _ => {}
                }
                continue;
            }
            if event.is_empty() && handler.is_empty() {
                match what {
                    "lag" => bucket.lag.insert(group.to_owned(), value),
                    "pending" => bucket.pending.insert(group.to_owned(), value),
                    _ => None,
                };
                continue;
            }
            let key = HandlerKey {
                group: group.to_owned(),
                event: event.to_owned(),
                handler: handler.to_owned(),
            };
            if let Some(count) = Count::parse(what) {
                bucket.handlers.entry(key).or_default().counts[count.index()] += value;
            } else if let Some(n) = what.strip_prefix('t').and_then(|n| n.parse::<usize>().ok()) {
                if n < RUN_TIME_BUCKETS {
                    let figures = bucket.handlers.entry(key).or_default();
                    if figures.run_times.len() <= n {
                        figures.run_times.resize(n + 1, 0);
                    }
                    figures.run_times[n] += value;
                }
            }
        }
        bucket
    }

    /// Every handler's figures summed (of one group when given).
    pub fn total(&self, group: Option<&str>) -> HandlerFigures {
        let mut total = HandlerFigures::default();
        for (key, figures) in &self.handlers {
            if group.is_none_or(|g| g == key.group) {
                total.add(figures);
            }
        }
        total
    }

    /// One handler's figures (over every event it ran for, of its group
    /// when given).
    pub fn handler(&self, handler: &str, group: Option<&str>) -> HandlerFigures {
        let mut total = HandlerFigures::default();
        for (key, figures) in &self.handlers {
            if key.handler == handler && group.is_none_or(|g| g == key.group) {
                total.add(figures);
            }
        }
        total
    }

    /// What producers did, with one event when given, else with every
    /// event.
    pub fn produced(&self, event: Option<&str>) -> ProducedFigures {
        let mut total = ProducedFigures::default();
        for (name, figures) in &self.produced {
            if event.is_none_or(|e| e == name) {
                total.add(figures);
            }
        }
        total
    }

    /// One event's figures (over its handlers).
    pub fn event(&self, event: &str) -> HandlerFigures {
        let mut total = HandlerFigures::default();
        for (key, figures) in &self.handlers {
            if key.event == event {
                total.add(figures);
            }
        }
        total
    }
}

/// A span of buckets to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    /// The last `n` minutes, the current one included.
    Minutes(u32),
    /// The last `n` hours, the current one included.
    Hours(u32),
}

/// The buckets of `span` of `stream`, oldest first (a bucket nobody wrote
/// to is empty).
pub(crate) fn read(
    c: &mut redis::Connection,
    stream: &str,
    span: Span,
) -> redis::RedisResult<Vec<Bucket>> {
    let now = millis(SystemTime::now()) / 1000;
    let (unit, n, key): (u64, u32, fn(&str, u64) -> String) = match span {
        Span::Minutes(n) => (60, n.min(MINUTES_KEPT as u32), minute_key),
        Span::Hours(n) => (3600, n.min(HOURS_KEPT as u32), hour_key),
    };
    let last = now / unit;
    let first = last.saturating_sub(u64::from(n.max(1)) - 1);
    let mut pipe = redis::pipe();
    for at in first..=last {
        pipe.cmd("HGETALL").arg(key(stream, at));
    }
    let all: Vec<BTreeMap<String, u64>> = pipe.query(c)?;
    Ok((first..=last)
        .zip(all)
        .map(|(at, fields)| Bucket::read(at * unit, &fields))
        .collect())
}

/// The processes of `stream` that said they are alive within
/// [`PROCESS_STALE`], by name.
pub(crate) fn live_processes(
    c: &mut redis::Connection,
    stream: &str,
) -> redis::RedisResult<BTreeMap<String, Process>> {
    let all: BTreeMap<String, String> =
        redis::cmd("HGETALL").arg(processes_key(stream)).query(c)?;
    let now = millis(SystemTime::now());
    let stale = PROCESS_STALE.as_millis() as u64;
    Ok(all
        .into_iter()
        .filter_map(|(name, json)| Some((name, serde_json::from_str::<Process>(&json).ok()?)))
        .filter(|(_, p)| now.saturating_sub(p.seen_ms) <= stale)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_times_fall_in_powers_of_two() {
        assert_eq!(run_time_bucket(Duration::ZERO), 0);
        assert_eq!(run_time_bucket(Duration::from_micros(1)), 1);
        assert_eq!(run_time_bucket(Duration::from_micros(3)), 2);
        assert_eq!(run_time_bucket(Duration::from_micros(1000)), 10);
        assert_eq!(
            run_time_bucket(Duration::from_secs(86_400)),
            RUN_TIME_BUCKETS - 1
        );
    }

    #[test]
    fn a_bucket_reads_back_and_sums() {
        let mut fields = BTreeMap::new();
        let f = |c| count_field("default", "shop.Paid", "shop::mail", c);
        fields.insert(f(Count::Handled), 8);
        fields.insert(f(Count::Failed), 2);
        fields.insert(f(Count::DeadLettered), 1);
        fields.insert(run_time_field("default", "shop.Paid", "shop::mail", 10), 9);
        fields.insert(run_time_field("default", "shop.Paid", "shop::mail", 20), 1);
        fields.insert(
            count_field("audit", "shop.Paid", "shop::log", Count::Handled),
            10,
        );
        fields.insert(group_field("default", "lag"), 42);
        fields.insert(group_field("default", "pending"), 3);
        fields.insert(produced_field("shop.Paid", "sent"), 30);
        fields.insert(produced_field("shop.Paid", "dropped"), 2);
        fields.insert(produced_field("shop.Viewed", "sent"), 5);
        fields.insert("garbage".into(), 1);
        fields.insert("a|b|c|t99".into(), 1);
        let bucket = Bucket::read(60, &fields);
        let mail = bucket.handler("shop::mail", None);
        assert_eq!(mail.get(Count::Handled), 8);
        assert_eq!(mail.runs(), 10);
        assert_eq!(mail.get(Count::DeadLettered), 1);
        assert_eq!(
            mail.run_time_quantile(0.5),
            Some(Duration::from_micros(1024))
        );
        assert_eq!(
            mail.run_time_quantile(0.99),
            Some(Duration::from_micros(1 << 20))
        );
        assert_eq!(bucket.total(None).get(Count::Handled), 18);
        assert_eq!(bucket.total(Some("audit")).get(Count::Handled), 10);
        assert_eq!(bucket.event("shop.Paid").runs(), 20);
        assert_eq!(bucket.lag["default"], 42);
        assert_eq!(bucket.pending["default"], 3);
        assert_eq!(HandlerFigures::default().run_time_quantile(0.5), None);
        assert_eq!(bucket.produced(Some("shop.Paid")).sent, 30);
        assert_eq!(bucket.produced(Some("shop.Paid")).dropped, 2);
        assert_eq!(bucket.produced(None).sent, 35);
        // Producer fields are not handlers.
        assert_eq!(bucket.handlers.len(), 2);
    }
}
