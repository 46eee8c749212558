//! A pool's summary: its goal and progress, money in and out per month,
//! payouts per quarter and per request category, how many requests it has
//! helped, and how its pledges are kept.
//!
//! Two views. Those who may read the pool's ledger (members of its
//! collective, partner apps with `pools:read`) get the `full` view: every
//! figure, as the ledger has it. Anyone else — without signing in, for a
//! pool marked `public` — gets the `public` view, in which no figure, and
//! no combination of figures, is drawn from fewer than `summary_min_group`
//! requests (see [`super::disclosure`]): payouts by quarter instead of by
//! month, small quarters merged with a neighbour and small categories into
//! "other", and while too few requests are paid in all, no amount about
//! them. Pledge figures are shown only when at least that many people
//! pledge. No names in either view.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{Days, Months, NaiveDate};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::disclosure::{self, Figure, Quarters, Unit};
use super::Flows;
use crate::auth::access::{authorize, Principal};
use crate::auth::policy::Permission;
use crate::calendar;
use crate::db::DbConnection;
use crate::error::{Error, Result};
use crate::ids::{HoldId, PoolId};
use crate::ledger;
use crate::ledger::holds::{self, HoldFor};
use crate::money::format_minor;
use crate::pools::store::{self as pool_store, PoolRow};
use crate::pools::Pool;

/// Months a summary covers, this one included.
pub const MONTHS: u32 = 12;

/// The category requests without one are counted under.
pub const UNCATEGORISED: &str = "uncategorised";
/// Where small categories are merged.
pub const OTHER: &str = "other";

/// Who a summary is for: `full` for those who may read the pool's ledger
/// (members of its collective, partner apps with `pools:read`), `public`
/// for anyone else (see the module's documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SummaryView {
    Full,
    Public,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MonthFlow {
    /// `YYYY-MM`, in the collective's time zone.
    #[schema(example = "2026-11")]
    pub month: String,
    /// Contributions received (gross).
    pub received: String,
    /// Paid out to requests; `null` in the public view, which shows
    /// payouts by period instead.
    pub paid_out: Option<String>,
}

/// Requests first paid in a period, and what they have been paid.
#[derive(Debug, Serialize, ToSchema)]
pub struct PeriodFlow {
    /// `2026-Q1`, `2025-Q4 – 2026-Q1` (quarters merged), or
    /// `until 2025-09` (everything before the quarters shown).
    #[schema(example = "2026-Q1")]
    pub period: String,
    /// First month (`YYYY-MM`); `null` when the period starts with the pool.
    pub from_month: Option<String>,
    /// Last month (`YYYY-MM`), included.
    pub to_month: String,
    /// `null` when `fewer_than` is set.
    pub requests: Option<u32>,
    /// `null` when `fewer_than` is set.
    pub paid_out: Option<String>,
    /// Set (to the minimum group) when the period holds too few requests to
    /// show anything about them: "fewer than 3 requests".
    pub fewer_than: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryFlow {
    /// A request category, or `other` for the categories too small to show.
    pub category: String,
    /// Requests helped (paid something); `null` when `fewer_than` is set.
    pub requests: Option<u32>,
    /// `null` when `fewer_than` is set.
    pub paid_out: Option<String>,
    /// Set (to the minimum group) when too few requests to show anything.
    pub fewer_than: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PledgeFigures {
    /// People (members and outside donors) with a pledge to the pool.
    pub pledgers: u32,
    pub outstanding: String,
    pub due_this_month: String,
    #[schema(example = "87.50")]
    pub fulfilment_rate_percent: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PoolSummary {
    pub pool_id: String,
    pub name: String,
    pub currency: String,
    pub public: bool,
    /// The pool's collective was made by `commonpot demo`: its people,
    /// requests and money are invented.
    pub demo: bool,
    /// `full` (every figure) or `public` (nothing drawn from fewer than
    /// `min_group` requests).
    pub view: SummaryView,
    /// Today in the collective's time zone.
    #[schema(value_type = String, format = Date)]
    pub as_of: NaiveDate,
    pub goal: Option<String>,
    /// Received − refunded − fees, to date.
    pub raised: String,
    pub goal_progress_percent: Option<String>,
    /// `null` in the public view while fewer than `min_group` requests are
    /// paid in all, or while fewer than `min_group` requests (but some) have
    /// money reserved for them.
    pub available: Option<String>,
    /// Reserved for approved requests and open rounds; `null` like
    /// `available`.
    pub held: Option<String>,
    /// Paid out to date; `null` in the public view while fewer than
    /// `min_group` requests are paid.
    pub paid_out: Option<String>,
    /// The last 12 calendar months, oldest first.
    pub months: Vec<MonthFlow>,
    /// Payouts by the quarter of each request's first payout, oldest first,
    /// starting with everything before the quarters of the last 12 months.
    /// Every request is in exactly one period; the public view merges
    /// quarters (see `view`).
    pub periods: Vec<PeriodFlow>,
    /// Requests the pool has paid out to, to date (a payout from a manual
    /// hold counts as one request without a category); `null` in the
    /// public view while fewer than `min_group`.
    pub requests_helped: Option<u32>,
    /// Paid out per request category, to date; in the public view,
    /// categories with fewer than `min_group` requests are merged into
    /// `other`.
    pub categories: Vec<CategoryFlow>,
    /// The smallest group a public figure is drawn from.
    pub min_group: u32,
    /// Absent while fewer than `min_group` people pledge.
    pub pledges: Option<PledgeFigures>,
}

/// What the pool paid out, one unit per request (or manual hold), dated by
/// its first paid payout in the collective's time zone, in id order.
pub fn payout_units(conn: &mut DbConnection, pool: &PoolRow, tz: Tz) -> Result<Vec<Unit>> {
    let pool_id = pool.id.as_str();
    let paid = holds::paid_payouts(conn, pool)?;
    let holds = hold_owners(conn, pool_id)?;
    let categories: HashMap<String, String> =
        crate::requests::store::helped_in_pool(conn, pool_id)?
            .into_iter()
            .map(|(id, category, _)| (id, category))
            .collect();
    let mut units: BTreeMap<String, Unit> = BTreeMap::new();
    for payout in paid {
        let (hold_id, amount) = (payout.hold_id, payout.amount.minor);
        let (key, request) = holds
            .get(&hold_id)
            .cloned()
            .unwrap_or_else(|| (format!("hold:{hold_id}"), false));
        let on = calendar::local_date(tz, payout.paid_at);
        let category = request
            .then(|| categories.get(&key).cloned())
            .flatten()
            .filter(|c| !c.trim().is_empty());
        let unit = units.entry(key).or_insert(Unit {
            category,
            first_paid: on,
            paid_minor: 0,
        });
        unit.first_paid = unit.first_paid.min(on);
        unit.paid_minor += amount;
    }
    Ok(units.into_values().filter(|u| u.paid_minor > 0).collect())
}

/// Each hold of the pool: what it is for (the request id for a request's
/// hold, else `hold:<id>`), and whether that is a request.
fn hold_owners(conn: &mut DbConnection, pool_id: &str) -> Result<HashMap<HoldId, (String, bool)>> {
    Ok(
        holds::held_for_in_pool(conn, &PoolId::from(pool_id), false)?
            .into_iter()
            .map(|(id, held_for)| {
                let owner = match held_for {
                    HoldFor::Request(request) => (request.into_string(), true),
                    _ => (format!("hold:{id}"), false),
                };
                (id, owner)
            })
            .collect(),
    )
}

/// How many requests (or manual holds) have money reserved: holds for a
/// round's budget are not about anyone.
fn held_for(conn: &mut DbConnection, pool_id: &str) -> Result<usize> {
    let owners: BTreeSet<String> = holds::held_for_in_pool(conn, &PoolId::from(pool_id), true)?
        .into_iter()
        .filter_map(|(id, held_for)| match held_for {
            HoldFor::Request(request) => Some(request.into_string()),
            HoldFor::Round(_) => None,
            HoldFor::Manual => Some(format!("hold:{id}")),
        })
        .collect();
    Ok(owners.len())
}

/// Which view a caller gets: `full` for those who may read the pool's
/// ledger, `public` for anyone else when the pool is public (or when they
/// ask for it); others are refused as before.
fn view_for(
    conn: &mut DbConnection,
    principal: Option<&Principal>,
    pool: &PoolRow,
    wanted: Option<SummaryView>,
) -> Result<SummaryView> {
    let may_read_ledger = match principal {
        Some(principal) => match authorize(
            conn,
            principal,
            &pool.collective_id,
            Permission::ReadLedger,
            "pool",
        ) {
            Ok(_) => true,
            Err(Error::NotFound { .. } | Error::Forbidden { .. }) if pool.public => false,
            Err(other) => return Err(other),
        },
        None if pool.public => false,
        None => {
            return Err(Error::Unauthenticated {
                code: "unauthenticated",
                message: "this pool's summary is for members of its collective; sign in".into(),
            })
        }
    };
    match (wanted, may_read_ledger) {
        (Some(SummaryView::Public), _) | (None, false) => Ok(SummaryView::Public),
        (Some(SummaryView::Full) | None, true) => Ok(SummaryView::Full),
        (Some(SummaryView::Full), false) => Err(Error::Forbidden {
            code: "forbidden",
            message: "the full summary is for those who may read the pool's ledger".into(),
        }),
    }
}

pub fn summary(
    conn: &mut DbConnection,
    principal: Option<&Principal>,
    pool_id: &str,
    min_group: u32,
    wanted: Option<SummaryView>,
) -> Result<PoolSummary> {
    let row = pool_store::find(conn, pool_id)?.ok_or(Error::NotFound { what: "pool" })?;
    let view = view_for(conn, principal, &row, wanted)?;
    let public = view == SummaryView::Public;
    let currency = row.currency()?;
    let show = |m: i64| format_minor(m, currency);
    let collective = crate::collectives::store::find_collective(conn, &row.collective_id)?
        .ok_or(Error::NotFound { what: "collective" })?;
    let tz = calendar::zone(&collective.time_zone)?;
    let today = calendar::today(tz, crate::clock::now_utc());

    // Month by month, the last MONTHS months.
    let first_month = calendar::first_of_month(today)
        .checked_sub_months(Months::new(MONTHS - 1))
        .unwrap_or(today);
    let mut months: BTreeMap<String, (i64, i64)> = (0..MONTHS)
        .filter_map(|k| first_month.checked_add_months(Months::new(k)))
        .map(|m| (calendar::month_label(m), (0, 0)))
        .collect();
    let start = calendar::start_of_day(tz, first_month);
    let end = calendar::start_of_day(tz, today.checked_add_days(Days::new(1)).unwrap_or(today));
    for entry in ledger::entries_between(conn, &row, start, end)? {
        let postings: Vec<_> = entry.postings.iter().map(|(a, m)| (*a, m.minor)).collect();
        let flows = Flows::of(&postings);
        let month = calendar::month_label(calendar::local_date(tz, entry.created_at));
        if let Some(slot) = months.get_mut(&month) {
            slot.0 += flows.received;
            slot.1 += flows.paid_out;
        }
    }

    let units = payout_units(conn, &row, tz)?;
    let quarters = Quarters::covering(today, MONTHS);
    let disclosed = if public {
        disclosure::public(&units, &quarters, min_group)
    } else {
        disclosure::full(&units, &quarters)
    };
    let figure = |f: Figure| match f {
        Figure::Shown {
            requests,
            paid_minor,
        } => (Some(requests), Some(show(paid_minor)), None),
        Figure::FewerThan(n) => (None, None, Some(n)),
    };
    let periods = disclosed
        .periods
        .iter()
        .map(|&(span, f)| {
            let (requests, paid_out, fewer_than) = figure(f);
            PeriodFlow {
                period: quarters.label(span),
                from_month: quarters.first_month(span.first).map(calendar::month_label),
                to_month: calendar::month_label(quarters.last_month(span.last)),
                requests,
                paid_out,
                fewer_than,
            }
        })
        .collect();
    let categories = disclosed
        .categories
        .into_iter()
        .map(|(category, f)| {
            let (requests, paid_out, fewer_than) = figure(f);
            CategoryFlow {
                category,
                requests,
                paid_out,
                fewer_than,
            }
        })
        .collect();
    // Balances: `raised − available − held` is what was paid out, and
    // `held` can be one request's approved amount.
    let balances_shown = !public
        || (disclosed.paid_out.is_some() && {
            let held = held_for(conn, &row.id)?;
            held == 0 || held >= min_group as usize
        });

    let (report, pledgers) = crate::pledges::report::report_of(conn, &row, today)?;
    let pledges = (pledgers >= min_group as usize && pledgers > 0).then_some(PledgeFigures {
        pledgers: pledgers as u32,
        outstanding: report.outstanding,
        due_this_month: report.due_this_month,
        fulfilment_rate_percent: report.fulfilment_rate_percent,
    });

    let raised = row.raised_minor();
    let pool = Pool::try_from(row)?;
    Ok(PoolSummary {
        raised: show(raised),
        pool_id: pool.id,
        name: pool.name,
        currency: pool.currency,
        public: pool.public,
        demo: collective.demo,
        view,
        as_of: today,
        goal: pool.goal,
        goal_progress_percent: pool.goal_progress_percent,
        available: balances_shown.then_some(pool.balances.available),
        held: balances_shown.then_some(pool.balances.held),
        paid_out: if public {
            disclosed.paid_out.map(show)
        } else {
            Some(pool.balances.paid)
        },
        months: months
            .into_iter()
            .map(|(month, (received, paid_out))| MonthFlow {
                month,
                received: show(received),
                paid_out: (!public).then(|| show(paid_out)),
            })
            .collect(),
        periods,
        requests_helped: disclosed.requests_helped,
        categories,
        min_group,
        pledges,
    })
}
