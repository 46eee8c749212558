//! What a pool's public summary may say about its payouts without pointing
//! at anyone: no figure, and no combination of figures, drawn from fewer
//! than `min_group` requests.
//!
//! The public figures about payouts are the cells of two partitions of the
//! same requests — by period (the quarter of a request's first payout, and
//! everything before the first quarter shown) and by category — and their
//! grand total: how many requests, and what they were paid. Each request
//! is in exactly one period cell and one category cell, so every figure is
//! a sum over cells `(p, c)` of a period × category table that is itself
//! never published.
//!
//! * Cells are merged until each holds at least `min_group` requests (or
//!   none): a small quarter with its smaller neighbour, a small category
//!   into `other`, and while `other` is still too small the smallest named
//!   category into `other` too. The total is the sum of the cells, so it
//!   reveals nothing a cell does not.
//! * Differences across the two partitions (a quarter minus a category) can
//!   still isolate a few requests. Any integer combination
//!   `Σ αₚ·period(p) + Σ β꜀·category(c)` weighs table cell `(p, c)` by
//!   `αₚ + β꜀`; group the periods and categories by the value of `αₚ` and
//!   `−β꜀`: the cells weighed zero are those inside one group, so the
//!   requests a combination involves are exactly those in table cells that
//!   cross a partition of the periods and categories — a cut of the
//!   bipartite graph whose edges are the non-empty table cells. So: if every
//!   cut that crosses any request crosses at least `min_group` of them, no
//!   combination of published figures involves between 1 and `min_group − 1`
//!   requests. [`smallest_cut`] computes that minimum exactly, and the
//!   quarters are merged further until it holds (with one period the graph
//!   is a star, whose cuts are whole categories, so this ends).
//! * When the pool has paid fewer than `min_group` requests in all, nothing
//!   about them is shown: one period and one category, each "fewer than
//!   `min_group` requests", and no total.
//!
//! Counts are combined like amounts (the same cells, the same weights), so
//! the same argument covers them.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, Months, NaiveDate};

use super::summary::{OTHER, UNCATEGORISED};

/// Something the pool paid out to: an aid request, or a payout from a
/// coordinator's manual hold (counted as one request with no category).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    pub category: Option<String>,
    /// The local date of its first paid payout.
    pub first_paid: NaiveDate,
    /// Paid to date, in minor units.
    pub paid_minor: i64,
}

impl Unit {
    fn category(&self) -> &str {
        self.category.as_deref().unwrap_or(UNCATEGORISED)
    }
}

/// The calendar quarters a summary covers: those of its last months, and
/// one period before them (base period 0) for everything earlier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quarters {
    /// The first day of the first quarter shown.
    pub first: NaiveDate,
    /// How many quarters, the current one included.
    pub count: usize,
}

impl Quarters {
    /// The quarters covering the `months` months up to `today`.
    pub fn covering(today: NaiveDate, months: u32) -> Self {
        let start = today
            .with_day(1)
            .and_then(|d| d.checked_sub_months(Months::new(months.saturating_sub(1))))
            .unwrap_or(today);
        let first = quarter_start(start);
        let last = quarter_start(today);
        Self {
            first,
            count: 1 + quarters_between(first, last),
        }
    }

    /// Number of base periods: everything earlier, then each quarter.
    pub fn periods(&self) -> usize {
        self.count + 1
    }

    /// The base period of a date: 0 before the first quarter, then 1, 2, …
    /// (a date after the last quarter counts in the last).
    pub fn base_of(&self, date: NaiveDate) -> usize {
        if date < self.first {
            0
        } else {
            (1 + quarters_between(self.first, quarter_start(date))).min(self.count)
        }
    }

    /// The first month of a base period (`None` for "everything earlier").
    pub fn first_month(&self, base: usize) -> Option<NaiveDate> {
        (base > 0).then(|| add_quarters(self.first, base - 1))
    }

    /// The last month of a base period (its first day).
    pub fn last_month(&self, base: usize) -> NaiveDate {
        let next = add_quarters(self.first, base);
        next.checked_sub_months(Months::new(1)).unwrap_or(next)
    }

    /// `2026-Q1`, `2025-Q4 – 2026-Q1`, or `until 2025-09`.
    pub fn label(&self, span: Span) -> String {
        let quarter = |base: usize| quarter_label(add_quarters(self.first, base - 1));
        match span.first {
            0 => format!(
                "until {}",
                crate::calendar::month_label(self.last_month(span.last))
            ),
            first if first == span.last => quarter(first),
            first => format!("{} – {}", quarter(first), quarter(span.last)),
        }
    }
}

fn quarter_start(date: NaiveDate) -> NaiveDate {
    let month = (date.month0() / 3) * 3 + 1;
    NaiveDate::from_ymd_opt(date.year(), month, 1).unwrap_or(date)
}

fn quarters_between(from: NaiveDate, to: NaiveDate) -> usize {
    let months = (to.year() - from.year()) * 12 + to.month() as i32 - from.month() as i32;
    usize::try_from(months / 3).unwrap_or(0)
}

fn add_quarters(date: NaiveDate, n: usize) -> NaiveDate {
    date.checked_add_months(Months::new(3 * n as u32))
        .unwrap_or(date)
}

fn quarter_label(start: NaiveDate) -> String {
    format!("{}-Q{}", start.year(), start.month0() / 3 + 1)
}

/// Consecutive base periods `first..=last`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub first: usize,
    pub last: usize,
}

impl Span {
    fn contains(self, base: usize) -> bool {
        (self.first..=self.last).contains(&base)
    }
}

/// A published cell: its requests and what they were paid, or only that
/// there are too few to say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Figure {
    Shown { requests: u32, paid_minor: i64 },
    FewerThan(u32),
}

/// The payout figures a summary publishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disclosed {
    /// Requests paid, and the total paid; `None` when too few.
    pub requests_helped: Option<u32>,
    pub paid_out: Option<i64>,
    /// In time order, covering every base period once.
    pub periods: Vec<(Span, Figure)>,
    /// Named categories in name order, `other` last.
    pub categories: Vec<(String, Figure)>,
}

fn totals<'a>(units: impl Iterator<Item = &'a Unit>) -> Figure {
    let (requests, paid_minor) = units.fold((0, 0), |(n, paid), u| (n + 1, paid + u.paid_minor));
    Figure::Shown {
        requests,
        paid_minor,
    }
}

/// Everything, for those who may read the pool's ledger anyway: one cell
/// per base period and per category.
pub fn full(units: &[Unit], quarters: &Quarters) -> Disclosed {
    let periods = (0..quarters.periods())
        .map(|base| {
            let span = Span {
                first: base,
                last: base,
            };
            (
                span,
                totals(
                    units
                        .iter()
                        .filter(|u| quarters.base_of(u.first_paid) == base),
                ),
            )
        })
        .collect();
    let names: BTreeSet<&str> = units.iter().map(Unit::category).collect();
    let categories = names
        .into_iter()
        .map(|name| {
            (
                name.to_owned(),
                totals(units.iter().filter(|u| u.category() == name)),
            )
        })
        .collect();
    Disclosed {
        requests_helped: Some(units.len() as u32),
        paid_out: Some(units.iter().map(|u| u.paid_minor).sum()),
        periods,
        categories,
    }
}

/// What anyone may read: see the module's documentation.
pub fn public(units: &[Unit], quarters: &Quarters, min_group: u32) -> Disclosed {
    let min_group = min_group.max(1);
    let n = units.len() as u32;
    if n == 0 {
        return full(units, quarters);
    }
    if n < min_group {
        return Disclosed {
            requests_helped: None,
            paid_out: None,
            periods: vec![(
                Span {
                    first: 0,
                    last: quarters.periods() - 1,
                },
                Figure::FewerThan(min_group),
            )],
            categories: vec![(OTHER.to_owned(), Figure::FewerThan(min_group))],
        };
    }

    // Categories: small ones into `other`, then `other` made big enough.
    let mut counts: BTreeMap<&str, u32> = BTreeMap::new();
    for unit in units {
        *counts.entry(unit.category()).or_default() += 1;
    }
    let mut named: BTreeSet<&str> = counts
        .iter()
        .filter(|(name, count)| **count >= min_group && **name != OTHER)
        .map(|(name, _)| *name)
        .collect();
    loop {
        let other: u32 = counts
            .iter()
            .filter(|(name, _)| !named.contains(*name))
            .map(|(_, count)| count)
            .sum();
        if other == 0 || other >= min_group {
            break;
        }
        let Some(smallest) = named.iter().copied().min_by_key(|name| counts[name]) else {
            break;
        };
        named.remove(smallest);
    }
    let mut category_names: Vec<String> = named.iter().map(|n| (*n).to_owned()).collect();
    if units.iter().any(|u| !named.contains(u.category())) {
        category_names.push(OTHER.to_owned());
    }
    let category_of = |unit: &Unit| -> usize {
        named
            .iter()
            .position(|n| *n == unit.category())
            .unwrap_or(named.len())
    };

    // Periods: each base period, small ones merged with a neighbour.
    let mut spans: Vec<Span> = (0..quarters.periods())
        .map(|base| Span {
            first: base,
            last: base,
        })
        .collect();
    let bases: Vec<usize> = units
        .iter()
        .map(|u| quarters.base_of(u.first_paid))
        .collect();
    let count_in = |span: Span| bases.iter().filter(|b| span.contains(**b)).count() as u32;
    let merge = |spans: &mut Vec<Span>, i: usize, j: usize| {
        let (lo, hi) = (i.min(j), i.max(j));
        spans[lo].last = spans[hi].last;
        spans.remove(hi);
    };
    loop {
        let small = (0..spans.len())
            .filter(|&i| (1..min_group).contains(&count_in(spans[i])))
            .min_by_key(|&i| (count_in(spans[i]), i));
        let Some(i) = small else { break };
        let neighbour = [i.checked_sub(1), Some(i + 1).filter(|&j| j < spans.len())]
            .into_iter()
            .flatten()
            .min_by_key(|&j| (count_in(spans[j]) == 0, count_in(spans[j]), j));
        let Some(j) = neighbour else { break };
        merge(&mut spans, i, j);
    }
    // Then until no cut across the two partitions isolates too few.
    loop {
        let period_of = |base: usize| spans.iter().position(|s| s.contains(base)).unwrap_or(0);
        let mut edges: BTreeMap<(usize, usize), u32> = BTreeMap::new();
        for (unit, base) in units.iter().zip(&bases) {
            *edges
                .entry((period_of(*base), category_of(unit)))
                .or_default() += 1;
        }
        let safe = smallest_cut(&edges, spans.len(), category_names.len())
            .is_none_or(|cut| cut >= min_group);
        if safe || spans.len() == 1 {
            break;
        }
        let i = (0..spans.len() - 1)
            .min_by_key(|&i| (count_in(spans[i]) + count_in(spans[i + 1]), i))
            .unwrap_or(0);
        merge(&mut spans, i, i + 1);
    }

    let periods = spans
        .iter()
        .map(|&span| {
            (
                span,
                totals(
                    units
                        .iter()
                        .zip(&bases)
                        .filter(|(_, base)| span.contains(**base))
                        .map(|(u, _)| u),
                ),
            )
        })
        .collect();
    let categories = category_names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            (
                name.clone(),
                totals(units.iter().filter(|u| category_of(u) == i)),
            )
        })
        .collect();
    Disclosed {
        requests_helped: Some(n),
        paid_out: Some(units.iter().map(|u| u.paid_minor).sum()),
        periods,
        categories,
    }
}

/// The fewest requests any cut of the period–category graph crosses, among
/// the cuts crossing at least one (`None` when there is no edge): `edges`
/// maps (period, category) to the requests in that table cell.
///
/// A cut puts each period and each category on one side. For a given side
/// of every period, each category's cheapest side is independent of the
/// others; a choice of periods whose cheapest cut crosses nothing only
/// leaves cuts that move whole categories across, the cheapest of which is
/// the smallest category. So it enumerates the periods' sides (a summary
/// has at most a handful of periods) and takes the smallest category.
pub fn smallest_cut(
    edges: &BTreeMap<(usize, usize), u32>,
    periods: usize,
    categories: usize,
) -> Option<u32> {
    assert!(periods < 20, "too many periods to enumerate: {periods}");
    let mut best: Option<u32> = None;
    let mut consider = |value: u32| {
        if value > 0 {
            best = Some(best.map_or(value, |b| b.min(value)));
        }
    };
    for c in 0..categories {
        consider(
            edges
                .iter()
                .filter(|((_, cat), _)| *cat == c)
                .map(|(_, w)| w)
                .sum(),
        );
    }
    for mask in 1..(1_u32 << periods).saturating_sub(1) {
        let cost = (0..categories)
            .map(|c| {
                let (mut inside, mut outside) = (0, 0);
                for ((p, cat), w) in edges {
                    if *cat == c {
                        if mask & (1 << p) != 0 {
                            inside += w;
                        } else {
                            outside += w;
                        }
                    }
                }
                inside.min(outside)
            })
            .sum();
        consider(cost);
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn quarters_cover_the_last_twelve_months_and_everything_before() {
        let q = Quarters::covering(d(2026, 11, 30), 12);
        // December 2025 is in 2025-Q4: five quarters.
        assert_eq!(
            q,
            Quarters {
                first: d(2025, 10, 1),
                count: 5
            }
        );
        assert_eq!(q.base_of(d(2025, 9, 30)), 0);
        assert_eq!(q.base_of(d(2025, 10, 1)), 1);
        assert_eq!(q.base_of(d(2026, 11, 30)), 5);
        assert_eq!(q.label(Span { first: 0, last: 0 }), "until 2025-09");
        assert_eq!(q.label(Span { first: 2, last: 2 }), "2026-Q1");
        assert_eq!(q.label(Span { first: 1, last: 3 }), "2025-Q4 – 2026-Q2");
        assert_eq!(q.label(Span { first: 0, last: 5 }), "until 2026-12");
        assert_eq!(q.first_month(1), Some(d(2025, 10, 1)));
        assert_eq!(q.last_month(5), d(2026, 12, 1));
    }

    fn unit(category: &str, first_paid: NaiveDate, paid_minor: i64) -> Unit {
        Unit {
            category: Some(category.to_owned()),
            first_paid,
            paid_minor,
        }
    }

    #[test]
    fn a_small_month_merges_into_its_quarter_and_a_small_quarter_into_its_neighbour() {
        let q = Quarters::covering(d(2026, 11, 30), 12);
        let units = [
            unit("rent", d(2026, 1, 5), 100),
            unit("rent", d(2026, 2, 5), 200),
            unit("rent", d(2026, 3, 5), 300),
            // One request in 2026-Q2, alone: merged with a neighbour.
            unit("rent", d(2026, 4, 5), 740),
        ];
        let public = public(&units, &q, 3);
        assert_eq!(public.paid_out, Some(1340));
        assert_eq!(
            public
                .periods
                .iter()
                .map(|(s, f)| (q.label(*s), *f))
                .collect::<Vec<_>>(),
            vec![
                (
                    "until 2025-09".to_owned(),
                    Figure::Shown {
                        requests: 0,
                        paid_minor: 0
                    }
                ),
                (
                    "2025-Q4".to_owned(),
                    Figure::Shown {
                        requests: 0,
                        paid_minor: 0
                    }
                ),
                (
                    "2026-Q1 – 2026-Q2".to_owned(),
                    Figure::Shown {
                        requests: 4,
                        paid_minor: 1340
                    }
                ),
                (
                    "2026-Q3".to_owned(),
                    Figure::Shown {
                        requests: 0,
                        paid_minor: 0
                    }
                ),
                (
                    "2026-Q4".to_owned(),
                    Figure::Shown {
                        requests: 0,
                        paid_minor: 0
                    }
                ),
            ]
        );
    }

    #[test]
    fn other_too_small_takes_the_smallest_category_and_too_few_in_all_shows_no_amount() {
        let q = Quarters::covering(d(2026, 11, 30), 12);
        let day = d(2026, 11, 2);
        let mut units = vec![
            unit("rent", day, 1),
            unit("rent", day, 2),
            unit("rent", day, 3),
            unit("food", day, 4),
            unit("food", day, 5),
            unit("food", day, 6),
            unit("food", day, 7),
            unit("escaping violence", day, 740),
        ];
        let public_view = public(&units, &q, 3);
        assert_eq!(
            public_view.categories,
            vec![
                (
                    "food".to_owned(),
                    Figure::Shown {
                        requests: 4,
                        paid_minor: 22
                    }
                ),
                (
                    "other".to_owned(),
                    Figure::Shown {
                        requests: 4,
                        paid_minor: 746
                    }
                ),
            ]
        );
        units.truncate(2);
        let public_view = public(&units, &q, 3);
        assert_eq!(public_view.paid_out, None);
        assert_eq!(public_view.requests_helped, None);
        assert_eq!(
            public_view.categories,
            vec![("other".to_owned(), Figure::FewerThan(3))]
        );
        assert_eq!(
            public_view.periods,
            vec![(Span { first: 0, last: 5 }, Figure::FewerThan(3))]
        );
    }

    #[test]
    fn a_quarter_minus_a_category_that_would_isolate_one_request_is_merged_away() {
        let q = Quarters::covering(d(2026, 11, 30), 12);
        // 2026-Q1: three rent requests and one food; 2026-Q2: three food.
        // Q1 (4) minus rent (3) would be the one food request of Q1.
        let units = [
            unit("rent", d(2026, 1, 5), 100),
            unit("rent", d(2026, 1, 6), 200),
            unit("rent", d(2026, 1, 7), 300),
            unit("food", d(2026, 2, 5), 740),
            unit("food", d(2026, 4, 5), 10),
            unit("food", d(2026, 5, 5), 20),
            unit("food", d(2026, 6, 5), 30),
        ];
        let public = public(&units, &q, 3);
        let shown: Vec<i64> = public
            .periods
            .iter()
            .filter_map(|(_, f)| match f {
                Figure::Shown { paid_minor, .. } if *paid_minor > 0 => Some(*paid_minor),
                _ => None,
            })
            .collect();
        assert_eq!(shown, vec![1400], "{public:?}");
    }

    /// Every bipartition of the published cells, by brute force: the
    /// requests whose (period, category) cell crosses it.
    fn crossing_everywhere(
        cells: &[(usize, usize)],
        periods: usize,
        categories: usize,
    ) -> Vec<usize> {
        let vertices = periods + categories;
        (1..(1_u64 << vertices) - 1)
            .map(|mask| {
                cells
                    .iter()
                    .filter(|(p, c)| (mask >> p & 1) != (mask >> (periods + c) & 1))
                    .count()
            })
            .collect()
    }

    fn arbitrary_units() -> impl Strategy<Value = Vec<Unit>> {
        let categories = ["rent", "food", "medical", "other"];
        proptest::collection::vec((0..categories.len(), 0_u32..20, 1_i64..100_000), 0..12).prop_map(
            move |raw| {
                raw.into_iter()
                    .map(|(c, months_ago, paid)| Unit {
                        category: (c < 3).then(|| categories[c].to_owned()),
                        first_paid: d(2026, 11, 15)
                            .checked_sub_months(Months::new(months_ago))
                            .unwrap(),
                        paid_minor: paid,
                    })
                    .collect()
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// No combination of published figures involves between 1 and
        /// `min_group − 1` requests, checked against every cut by brute
        /// force; and no published figure, nor the difference of two,
        /// equals one request's amount unless it is made of `min_group` or
        /// more requests.
        #[test]
        fn no_published_combination_isolates_fewer_than_the_minimum(
            units in arbitrary_units(),
            min_group in 2_u32..5,
        ) {
            let q = Quarters::covering(d(2026, 11, 30), 12);
            let view = public(&units, &q, min_group);
            let shown_periods: Vec<Span> = view.periods.iter().map(|(s, _)| *s).collect();
            let names: Vec<&str> = view.categories.iter().map(|(n, _)| n.as_str()).collect();
            // The test's own idea of where each request is.
            let cell_of = |u: &Unit| {
                let base = q.base_of(u.first_paid);
                let p = shown_periods.iter().position(|s| s.contains(base)).unwrap();
                let name = u.category.as_deref().unwrap_or(UNCATEGORISED);
                let c = names.iter().position(|n| *n == name && *n != OTHER)
                    .unwrap_or_else(|| names.iter().position(|n| *n == OTHER).unwrap());
                (p, c)
            };
            let cells: Vec<(usize, usize)> = units.iter().map(cell_of).collect();
            let shown = |f: &Figure| matches!(f, Figure::Shown { requests, .. } if *requests > 0);
            let any_shown = view.periods.iter().any(|(_, f)| shown(f))
                || view.categories.iter().any(|(_, f)| shown(f));
            if any_shown {
                for crossing in crossing_everywhere(&cells, shown_periods.len(), names.len()) {
                    prop_assert!(crossing == 0 || crossing >= min_group as usize,
                        "a cut crossing {crossing} requests: {view:?} of {units:?}");
                }
            } else {
                prop_assert!(view.paid_out.is_none_or(|p| p == 0));
            }
            // Figures: (members, amount), the total included.
            let mut figures: Vec<(Vec<bool>, i64)> = Vec::new();
            for (i, (_, f)) in view.periods.iter().enumerate() {
                if let Figure::Shown { requests, paid_minor } = f {
                    let members: Vec<bool> = cells.iter().map(|(p, _)| *p == i).collect();
                    prop_assert_eq!(members.iter().filter(|m| **m).count() as u32, *requests);
                    prop_assert_eq!(units.iter().zip(&members).filter(|(_, m)| **m).map(|(u, _)| u.paid_minor).sum::<i64>(), *paid_minor);
                    figures.push((members, *paid_minor));
                }
            }
            for (i, (_, f)) in view.categories.iter().enumerate() {
                if let Figure::Shown { requests, paid_minor } = f {
                    let members: Vec<bool> = cells.iter().map(|(_, c)| *c == i).collect();
                    prop_assert_eq!(members.iter().filter(|m| **m).count() as u32, *requests);
                    figures.push((members, *paid_minor));
                }
            }
            if let Some(total) = view.paid_out {
                figures.push((vec![true; units.len()], total));
            }
            let amounts: BTreeSet<i64> = units.iter().map(|u| u.paid_minor).collect();
            let check = |involved: usize, value: i64| -> Result<(), TestCaseError> {
                prop_assert!(involved == 0 || involved >= min_group as usize,
                    "a figure of {involved} requests: {view:?}");
                if amounts.contains(&value.abs()) {
                    prop_assert!(involved >= min_group as usize,
                        "{value} is one request's amount, from {involved} requests");
                }
                Ok(())
            };
            for (members, value) in &figures {
                check(members.iter().filter(|m| **m).count(), *value)?;
            }
            for (a, (ma, va)) in figures.iter().enumerate() {
                for (mb, vb) in &figures[a + 1..] {
                    let involved = ma.iter().zip(mb).filter(|(x, y)| x != y).count();
                    if involved > 0 || va != vb {
                        check(involved, va - vb)?;
                    }
                }
            }
        }
    }

    #[test]
    fn the_smallest_cut_is_the_smallest_category_for_one_period() {
        let edges = BTreeMap::from([((0, 0), 3), ((0, 1), 5)]);
        assert_eq!(smallest_cut(&edges, 1, 2), Some(3));
        // Two periods, each tied to a category except one request across.
        let edges = BTreeMap::from([((0, 0), 3), ((1, 1), 3), ((0, 1), 1)]);
        assert_eq!(smallest_cut(&edges, 2, 2), Some(1));
        assert_eq!(smallest_cut(&BTreeMap::new(), 3, 0), None);
    }
}
