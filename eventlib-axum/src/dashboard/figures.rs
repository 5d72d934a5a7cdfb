//! What the pages show of the figures every worker publishes: the charts
//! of a scope (everything, one event, one handler) over the last hour and
//! day, the sums behind the tiles and tables, and who is paused.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use eventlib::redis::{Bucket, Count, HandlerFigures, Pause};
use maud::Markup;

use super::chart::{self, Bars, Line, Slots, Unit};

/// Minutes in the charts of the last hour.
pub(super) const MINUTES: u32 = 60;
/// Hours in the charts of the last day.
pub(super) const HOURS: u32 = 24;

/// The buckets of the last hour and the last day, oldest first.
pub(super) struct Timeline {
    pub(super) minutes: Vec<Bucket>,
    pub(super) hours: Vec<Bucket>,
}

/// Which figures a chart or a sum takes.
#[derive(Clone, Copy)]
pub(super) enum Scope<'a> {
    /// Every handler of every group.
    All,
    /// The handlers' runs for one event.
    Event(&'a str),
    /// One handler (its path), for every event it ran for.
    Handler(&'a str),
}

impl Scope<'_> {
    /// The figures of this scope in `bucket`.
    pub(super) fn of(self, bucket: &Bucket) -> HandlerFigures {
        match self {
            Scope::All => bucket.total(None),
            Scope::Event(name) => bucket.event(name),
            Scope::Handler(path) => bucket.handler(path, None),
        }
    }
}

fn slots(buckets: &[Bucket]) -> Slots {
    Slots {
        starts: buckets.iter().map(|b| b.start_secs).collect(),
    }
}

/// The figures of `scope` summed over `buckets`.
pub(super) fn sum(buckets: &[Bucket], scope: Scope<'_>) -> HandlerFigures {
    let mut total = HandlerFigures::default();
    for bucket in buckets {
        total.add(&scope.of(bucket));
    }
    total
}

/// The figures of `handler` (its path) of `group` summed over `buckets`.
pub(super) fn sum_of(buckets: &[Bucket], group: &str, handler: &str) -> HandlerFigures {
    let mut total = HandlerFigures::default();
    for bucket in buckets {
        total.add(&bucket.handler(handler, Some(group)));
    }
    total
}

/// Failed and panicked runs.
pub(super) fn failures(f: &HandlerFigures) -> u64 {
    f.get(Count::Failed) + f.get(Count::Panicked)
}

/// The runs of `scope` per bucket: succeeded, failed and panicked, stacked.
pub(super) fn runs_chart(id: &str, title: &str, buckets: &[Bucket], scope: Scope<'_>) -> Markup {
    let per: Vec<HandlerFigures> = buckets.iter().map(|b| scope.of(b)).collect();
    let count = |c: Count| per.iter().map(|f| f.get(c)).collect::<Vec<_>>();
    chart::bars(
        id,
        title,
        "runs",
        &slots(buckets),
        &[
            Bars {
                name: "handled",
                class: "ok",
                values: count(Count::Handled),
            },
            Bars {
                name: "failed",
                class: "fail",
                values: count(Count::Failed),
            },
            Bars {
                name: "panicked",
                class: "panic",
                values: count(Count::Panicked),
            },
        ],
    )
}

/// The dead letters of `scope` written per bucket.
/// What producers sent and gave up per bucket (every event, or one).
pub(super) fn produced_chart(
    id: &str,
    title: &str,
    buckets: &[Bucket],
    event: Option<&str>,
) -> Markup {
    let per: Vec<_> = buckets.iter().map(|b| b.produced(event)).collect();
    chart::bars(
        id,
        title,
        "events",
        &slots(buckets),
        &[
            Bars {
                name: "sent",
                class: "ok",
                values: per.iter().map(|p| p.sent).collect(),
            },
            Bars {
                name: "given up",
                class: "fail",
                values: per.iter().map(|p| p.dropped).collect(),
            },
        ],
    )
}

pub(super) fn dead_chart(id: &str, title: &str, buckets: &[Bucket], scope: Scope<'_>) -> Markup {
    chart::bars(
        id,
        title,
        "letters",
        &slots(buckets),
        &[Bars {
            name: "dead-lettered",
            class: "dead",
            values: buckets
                .iter()
                .map(|b| scope.of(b).get(Count::DeadLettered))
                .collect(),
        }],
    )
}

/// The retries and dead letters of `scope` per bucket.
pub(super) fn retries_chart(id: &str, title: &str, buckets: &[Bucket], scope: Scope<'_>) -> Markup {
    let per: Vec<HandlerFigures> = buckets.iter().map(|b| scope.of(b)).collect();
    chart::bars(
        id,
        title,
        "",
        &slots(buckets),
        &[
            Bars {
                name: "retried",
                class: "retry",
                values: per.iter().map(|f| f.get(Count::Retried)).collect(),
            },
            Bars {
                name: "dead-lettered",
                class: "dead",
                values: per.iter().map(|f| f.get(Count::DeadLettered)).collect(),
            },
        ],
    )
}

/// The run time of `scope` per bucket: its median and 99th percentile (the
/// upper bounds of their power-of-two buckets).
pub(super) fn run_time_chart(
    id: &str,
    title: &str,
    buckets: &[Bucket],
    scope: Scope<'_>,
) -> Markup {
    let per: Vec<HandlerFigures> = buckets.iter().map(|b| scope.of(b)).collect();
    let quantile = |q: f64| {
        per.iter()
            .map(|f| f.run_time_quantile(q).map(|d| d.as_micros() as f64))
            .collect::<Vec<_>>()
    };
    chart::lines(
        id,
        title,
        Unit::Micros,
        &slots(buckets),
        &[
            Line {
                name: "p50",
                class: "p50",
                values: quantile(0.5),
            },
            Line {
                name: "p99",
                class: "p99",
                values: quantile(0.99),
            },
        ],
    )
}

/// The share of `scope`'s runs that failed or panicked, per bucket with
/// runs.
pub(super) fn failure_rate_chart(
    id: &str,
    title: &str,
    buckets: &[Bucket],
    scope: Scope<'_>,
) -> Markup {
    chart::lines(
        id,
        title,
        Unit::Percent,
        &slots(buckets),
        &[Line {
            name: "failure rate",
            class: "rate",
            values: buckets
                .iter()
                .map(|b| {
                    let f = scope.of(b);
                    (f.runs() > 0).then(|| 100.0 * failures(&f) as f64 / f.runs() as f64)
                })
                .collect(),
        }],
    )
}

/// A group's lag and pending entries as its workers sampled them.
pub(super) fn group_chart(id: &str, group: &str, buckets: &[Bucket]) -> Markup {
    let sample = |of: fn(&Bucket) -> &BTreeMap<String, u64>| {
        buckets
            .iter()
            .map(|b| of(b).get(group).map(|&v| v as f64))
            .collect::<Vec<_>>()
    };
    chart::lines(
        id,
        "Lag and pending, per minute",
        Unit::Count,
        &slots(buckets),
        &[
            Line {
                name: "lag",
                class: "lag",
                values: sample(|b| &b.lag),
            },
            Line {
                name: "pending",
                class: "pending",
                values: sample(|b| &b.pending),
            },
        ],
    )
}

/// A run time as a table shows it.
pub(super) fn run_time(d: Option<Duration>) -> String {
    d.map_or_else(|| "-".to_owned(), |d| chart::micros(d.as_micros() as f64))
}

/// Every (group, handler path) the figures name, with the events each ran
/// for.
pub(super) fn handlers_seen(buckets: &[Bucket]) -> BTreeMap<(String, String), BTreeSet<String>> {
    let mut seen: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for bucket in buckets {
        for key in bucket.handlers.keys() {
            seen.entry((key.group.clone(), key.handler.clone()))
                .or_default()
                .insert(key.event.clone());
        }
    }
    seen
}

/// Whether a handler runs, as the pauses say.
#[derive(Clone, Copy)]
pub(super) enum State<'a> {
    Running,
    /// The handler itself is paused.
    Paused(&'a Pause),
    /// Its whole group is paused.
    GroupPaused(&'a Pause),
}

/// The pauses of the stream, looked up by group and handler.
#[derive(Default)]
pub(super) struct Pauses(pub(super) Vec<Pause>);

impl Pauses {
    /// The pause of the whole `group`, if any.
    pub(super) fn group(&self, group: &str) -> Option<&Pause> {
        self.0
            .iter()
            .find(|p| p.group == group && p.handler.is_none())
    }

    /// The pause of `handler` of `group` alone, if any.
    pub(super) fn handler(&self, group: &str, handler: &str) -> Option<&Pause> {
        self.0
            .iter()
            .find(|p| p.group == group && p.handler.as_deref() == Some(handler))
    }

    /// Whether `handler` of `group` runs.
    pub(super) fn state(&self, group: &str, handler: &str) -> State<'_> {
        match (self.handler(group, handler), self.group(group)) {
            (Some(pause), _) => State::Paused(pause),
            (None, Some(pause)) => State::GroupPaused(pause),
            (None, None) => State::Running,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pause(group: &str, handler: Option<&str>) -> Pause {
        let mut p = Pause::default();
        p.group = group.into();
        p.handler = handler.map(Into::into);
        p
    }

    #[test]
    fn a_handler_is_paused_by_its_own_pause_first_then_by_its_group() {
        let pauses = Pauses(vec![pause("shop", Some("a::mail")), pause("audit", None)]);
        assert!(matches!(pauses.state("shop", "a::mail"), State::Paused(_)));
        assert!(matches!(pauses.state("shop", "a::log"), State::Running));
        assert!(matches!(
            pauses.state("audit", "a::log"),
            State::GroupPaused(_)
        ));
        assert!(pauses.group("shop").is_none());
        assert!(pauses.group("audit").is_some());
    }
}
