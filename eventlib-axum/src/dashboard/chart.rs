//! Charts drawn on the server as SVG: readable without JavaScript, nothing
//! loaded from elsewhere. A chart is stacked bars over time (one bar per
//! minute or hour, one colour per series) or lines (lag, pending, run
//! times, failure rates). Every bar and point carries its series, its
//! slot's start and its value in `data-series`, `data-at` (seconds since
//! 1970) and `data-value` (in the chart's unit: a count, microseconds, a
//! percentage), so a test, or a curious reader, can check what is drawn
//! against what was counted.
//!
//! The plot stretches to its box (`preserveAspectRatio="none"`, strokes
//! that do not scale); its labels are HTML beside it, so they stay
//! readable from a phone to a wide screen.

use maud::{html, Markup};

/// Width of one slot in the SVG's units.
const SLOT: f64 = 10.0;
/// Height of the plot in the SVG's units (the page's style sets its
/// height on screen).
const HEIGHT: f64 = 100.0;
/// A bar's share of its slot.
const BAR: f64 = 0.76;
/// At most this many time labels under a chart.
const TIME_LABELS: usize = 6;

/// What a chart's values are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Unit {
    /// Things counted: runs, entries, letters.
    Count,
    /// Microseconds, shown as µs, ms or s.
    Micros,
    /// A percentage.
    Percent,
}

impl Unit {
    /// `v` as an axis or a tooltip shows it.
    pub(super) fn show(self, v: f64) -> String {
        match self {
            Unit::Count => compact(v),
            Unit::Micros => micros(v),
            Unit::Percent => format!("{}%", trim(v, if v < 10.0 { 1 } else { 0 })),
        }
    }
}

/// A count, short: `950`, `1.2k`, `3.4M`.
pub(super) fn compact(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{}M", trim(v / 1e6, 1))
    } else if a >= 1e4 {
        format!("{}k", trim(v / 1e3, 0))
    } else if a >= 1e3 {
        format!("{}k", trim(v / 1e3, 1))
    } else {
        trim(v, 1)
    }
}

/// Microseconds, in the unit that reads best.
pub(super) fn micros(v: f64) -> String {
    if v >= 1e6 {
        format!("{} s", trim(v / 1e6, 1))
    } else if v >= 1e3 {
        format!("{} ms", trim(v / 1e3, if v >= 1e4 { 0 } else { 1 }))
    } else {
        format!("{} µs", trim(v, if v < 10.0 { 1 } else { 0 }))
    }
}

/// `v` with at most `decimals` decimals, trailing zeros dropped.
fn trim(v: f64, decimals: usize) -> String {
    let text = format!("{v:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

/// A value as `data-value` holds it: an integer when it is one, else up
/// to two decimals.
fn data_value(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        trim(v, 2)
    }
}

/// The time slots of a chart: their starts in seconds since 1970.
pub(super) struct Slots {
    pub(super) starts: Vec<u64>,
}

impl Slots {
    /// `start` as the chart labels it (UTC).
    fn label(&self, start: u64) -> String {
        let of_day = start % 86_400;
        format!("{:02}:{:02}", of_day / 3600, of_day % 3600 / 60)
    }

    fn count(&self) -> usize {
        self.starts.len().max(1)
    }

    fn start(&self, i: usize) -> u64 {
        self.starts.get(i).copied().unwrap_or(0)
    }
}

/// One series of bars: a name, a CSS class that gives its colour (see the
/// page's style: `ok`, `fail`, `panic`, `dead`, `retry`) and a count per
/// slot.
pub(super) struct Bars<'a> {
    pub(super) name: &'a str,
    pub(super) class: &'a str,
    pub(super) values: Vec<u64>,
}

/// One line: a name, a CSS class (`lag`, `pending`, `p50`, `p99`,
/// `rate`) and a value per slot (`None` where nothing was measured: a gap).
pub(super) struct Line<'a> {
    pub(super) name: &'a str,
    pub(super) class: &'a str,
    pub(super) values: Vec<Option<f64>>,
}

/// A chart of stacked bars: `series` stacked per slot, with a legend and
/// the total over the span. `id` names the chart (`data-chart`), `noun`
/// says what is counted ("runs"; no total when empty, for series that do
/// not add up).
pub(super) fn bars(
    id: &str,
    title: &str,
    noun: &str,
    slots: &Slots,
    series: &[Bars<'_>],
) -> Markup {
    let n = slots.count();
    let totals: Vec<u64> = (0..n)
        .map(|i| {
            series
                .iter()
                .map(|s| s.values.get(i).copied().unwrap_or(0))
                .sum()
        })
        .collect();
    let max = nice_max(
        totals.iter().copied().max().unwrap_or(0) as f64,
        Unit::Count,
    );
    let y = |v: u64| HEIGHT * (1.0 - v as f64 / max);
    let sum: u64 = totals.iter().sum();
    let width = SLOT * BAR;
    let plot = html! {
        @for i in 0..n {
            @let x = SLOT * i as f64 + (SLOT - width) / 2.0;
            @let start = slots.start(i);
            @for (s, base, v) in stacked(series, i) {
                rect class=(s.class) x=(fmt(x)) y=(fmt(y(base + v))) width=(fmt(width))
                    height=(fmt(y(base) - y(base + v)))
                    data-series=(s.name) data-at=(start) data-value=(v) {
                    title { (s.name) " at " (slots.label(start)) ": " (v) }
                }
            }
        }
    };
    let legend: Vec<(&str, &str)> = series.iter().map(|s| (s.name, s.class)).collect();
    let caption = html! {
        (title)
        @if !noun.is_empty() { " " span.total { (sum) " " (noun) } }
    };
    figure(
        id,
        caption,
        title,
        max,
        Unit::Count,
        slots,
        plot,
        sum == 0,
        &legend,
    )
}

/// A chart of lines, one per series, with a dot on each value.
pub(super) fn lines(
    id: &str,
    title: &str,
    unit: Unit,
    slots: &Slots,
    series: &[Line<'_>],
) -> Markup {
    let top = series
        .iter()
        .flat_map(|s| s.values.iter().flatten().copied())
        .fold(0.0, f64::max);
    let mut max = nice_max(top, unit);
    if unit == Unit::Percent {
        max = max.min(100.0);
    }
    let y = |v: f64| HEIGHT * (1.0 - v / max);
    let x = |i: usize| SLOT * (i as f64 + 0.5);
    let nothing = series.iter().all(|s| s.values.iter().all(Option::is_none));
    let plot = html! {
        @for s in series {
            // One polyline per run of values without a gap.
            @for run in s.values.iter().enumerate().collect::<Vec<_>>().split(|(_, v)| v.is_none()) {
                @if run.len() > 1 {
                    @let points: Vec<String> = run.iter()
                        .filter_map(|(i, v)| v.map(|v| format!("{},{}", fmt(x(*i)), fmt(y(v)))))
                        .collect();
                    polyline class=(s.class) points=(points.join(" ")) vector-effect="non-scaling-stroke" {}
                }
            }
            @for (i, v) in s.values.iter().enumerate() {
                @if let Some(v) = v {
                    @let start = slots.start(i);
                    // A dot: a zero-length stroke with round caps, round at
                    // any stretch of the plot.
                    path class={ "dot " (s.class) } d={ "M" (fmt(x(i))) " " (fmt(y(*v))) "h0" }
                        vector-effect="non-scaling-stroke"
                        data-series=(s.name) data-at=(start) data-value=(data_value(*v)) {
                        title { (s.name) " at " (slots.label(start)) ": " (unit.show(*v)) }
                    }
                }
            }
        }
    };
    let legend: Vec<(&str, &str)> = series.iter().map(|s| (s.name, s.class)).collect();
    figure(
        id,
        html! { (title) },
        title,
        max,
        unit,
        slots,
        plot,
        nothing,
        &legend,
    )
}

/// The frame around a plot: caption, axes, legend.
#[allow(clippy::too_many_arguments)] // the parts of one figure, each used once
fn figure(
    id: &str,
    caption: Markup,
    title: &str,
    max: f64,
    unit: Unit,
    slots: &Slots,
    plot: Markup,
    empty: bool,
    legend: &[(&str, &str)],
) -> Markup {
    let n = slots.count();
    let width = SLOT * n as f64;
    // A label every so many slots, so that they do not overlap; none in
    // the last slots, where it would stick out of the chart.
    let every = n.div_ceil(TIME_LABELS).max(1);
    let mid = max / 2.0;
    let show_mid = unit != Unit::Count || mid.fract() == 0.0;
    html! {
        figure.chart data-chart=(id) {
            figcaption { (caption) }
            div.plot {
                div.yaxis aria-hidden="true" {
                    span style="top:0%" { (unit.show(max)) }
                    @if show_mid { span style="top:50%" { (unit.show(mid)) } }
                    span style="top:100%" { (unit.show(0.0)) }
                }
                svg viewBox={ "0 0 " (fmt(width)) " " (fmt(HEIGHT)) } role="img" preserveAspectRatio="none" {
                    title { (title) }
                    line.grid x1="0" y1="0" x2=(fmt(width)) y2="0" vector-effect="non-scaling-stroke" {}
                    line.grid x1="0" y1=(fmt(HEIGHT / 2.0)) x2=(fmt(width)) y2=(fmt(HEIGHT / 2.0)) vector-effect="non-scaling-stroke" {}
                    (plot)
                }
                div.xaxis aria-hidden="true" {
                    @for (i, start) in slots.starts.iter().enumerate() {
                        @if i % every == 0 && i + every / 2 < n {
                            span style={ "left:" (fmt(100.0 * (i as f64 + 0.5) / n as f64)) "%" } { (slots.label(*start)) }
                        }
                    }
                }
                @if empty { p.empty { "nothing published in this span" } }
            }
            ul.legend {
                @for (name, class) in legend {
                    li { span class={ "key " (class) } {} (name) }
                }
            }
        }
    }
}

/// The series of slot `i` that have a value there, each with the sum of
/// those below it.
fn stacked<'s, 'a>(series: &'s [Bars<'a>], i: usize) -> Vec<(&'s Bars<'a>, u64, u64)> {
    let mut base = 0;
    let mut out = Vec::new();
    for s in series {
        let v = s.values.get(i).copied().unwrap_or(0);
        if v > 0 {
            out.push((s, base, v));
            base += v;
        }
    }
    out
}

/// The top of the scale: `max` rounded up to 1, 2 or 5 times a power of
/// ten (at least 1 for counts, which are whole).
fn nice_max(max: f64, unit: Unit) -> f64 {
    if max.is_nan() || max <= 0.0 || max.is_infinite() {
        return 1.0;
    }
    let scale = 10f64.powf(max.log10().floor());
    let top = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|step| step * scale)
        .find(|top| *top >= max * (1.0 - 1e-9))
        .unwrap_or(10.0 * scale);
    if unit == Unit::Count {
        top.max(1.0)
    } else {
        top
    }
}

/// A coordinate with two decimals, which is plenty for a chart.
fn fmt(v: f64) -> String {
    trim(v, 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slots(n: u64) -> Slots {
        Slots {
            starts: (0..n).map(|i| 3600 + i * 60).collect(),
        }
    }

    #[test]
    fn scales_are_round() {
        assert_eq!(nice_max(0.0, Unit::Count), 1.0);
        assert_eq!(nice_max(1.0, Unit::Count), 1.0);
        assert_eq!(nice_max(3.0, Unit::Count), 5.0);
        assert_eq!(nice_max(11.0, Unit::Count), 20.0);
        assert_eq!(nice_max(1008.0, Unit::Count), 2000.0);
        assert_eq!(nice_max(0.3, Unit::Percent), 0.5);
        assert_eq!(nice_max(0.3, Unit::Count), 1.0);
        assert_eq!(nice_max(f64::NAN, Unit::Micros), 1.0);
    }

    #[test]
    fn values_read_in_their_unit() {
        assert_eq!(Unit::Count.show(950.0), "950");
        assert_eq!(Unit::Count.show(1200.0), "1.2k");
        assert_eq!(Unit::Count.show(20_000.0), "20k");
        assert_eq!(Unit::Count.show(0.5), "0.5");
        assert_eq!(Unit::Micros.show(512.0), "512 µs");
        assert_eq!(Unit::Micros.show(0.5), "0.5 µs");
        assert_eq!(Unit::Micros.show(2048.0), "2 ms");
        assert_eq!(Unit::Micros.show(16384.0), "16 ms");
        assert_eq!(Unit::Micros.show(2_097_152.0), "2.1 s");
        assert_eq!(Unit::Percent.show(2.5), "2.5%");
        assert_eq!(Unit::Percent.show(50.0), "50%");
        assert_eq!(data_value(3.0), "3");
        assert_eq!(data_value(33.333), "33.33");
    }

    #[test]
    fn bars_carry_their_values_and_stack() {
        let chart = bars(
            "runs",
            "Handler runs per minute",
            "runs",
            &slots(3),
            &[
                Bars {
                    name: "handled",
                    class: "ok",
                    values: vec![5, 0, 7],
                },
                Bars {
                    name: "failed",
                    class: "fail",
                    values: vec![1, 0, 0],
                },
            ],
        )
        .into_string();
        assert!(chart.contains(r#"data-chart="runs""#), "{chart}");
        assert!(
            chart.contains(r#"data-series="handled" data-at="3600" data-value="5""#),
            "{chart}"
        );
        assert!(
            chart.contains(r#"data-series="failed" data-at="3600" data-value="1""#),
            "{chart}"
        );
        assert!(
            chart.contains(r#"data-series="handled" data-at="3720" data-value="7""#),
            "{chart}"
        );
        assert!(chart.contains("13 runs"), "{chart}");
        assert!(chart.contains(">01:00<"), "{chart}");
        assert!(!chart.contains("nothing published"), "{chart}");
        // Nothing drawn for an empty slot.
        assert!(!chart.contains(r#"data-at="3660""#), "{chart}");
        // The failed bar sits on the handled one: 6 of a scale of 10.
        assert!(
            chart.contains(r#"y="40" width="7.6" height="10""#),
            "{chart}"
        );
    }

    #[test]
    fn lines_leave_gaps_where_nothing_was_sampled() {
        let chart = lines(
            "lag",
            "Lag",
            Unit::Count,
            &slots(4),
            &[Line {
                name: "lag",
                class: "lag",
                values: vec![Some(4.0), None, Some(0.0), Some(2.0)],
            }],
        )
        .into_string();
        assert!(
            chart.contains(r#"data-series="lag" data-at="3600" data-value="4""#),
            "{chart}"
        );
        assert!(
            chart.contains(r#"data-series="lag" data-at="3720" data-value="0""#),
            "{chart}"
        );
        assert!(!chart.contains(r#"data-at="3660""#), "{chart}");
        // One line, over the last two points only.
        assert_eq!(chart.matches("<polyline").count(), 1, "{chart}");
        assert!(chart.contains(r#"points="25,100 35,60""#), "{chart}");
    }

    #[test]
    fn an_empty_chart_says_so() {
        let chart = bars("dead", "Dead letters", "letters", &slots(2), &[]).into_string();
        assert!(chart.contains("nothing published in this span"), "{chart}");
        assert!(chart.contains("0 letters"), "{chart}");
    }
}
