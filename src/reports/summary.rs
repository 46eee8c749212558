//! A pool's summary: its goal and progress, money in and out per month and
//! per request category, how many requests it has helped, and how its
//! pledges are kept. Every member of the collective may read it; anyone may
//! read the summary of a pool marked `public`, without signing in.
//!
//! No names, and no figure that points at one person: request categories
//! with fewer requests than the configured minimum (`summary_min_group`)
//! are merged into "other", and pledge figures are shown only when at least
//! that many people pledge. Monthly totals are the pool's flows, the same
//! facts its ledger shows members.

use std::collections::BTreeMap;

use chrono::{Days, Months, NaiveDate};
use serde::Serialize;
use utoipa::ToSchema;

use super::Flows;
use crate::auth::access::{authorize, Principal};
use crate::auth::policy::Permission;
use crate::calendar;
use crate::db::DbConnection;
use crate::error::{Error, Result};
use crate::ledger;
use crate::money::format_minor;
use crate::pools::store::{self as pool_store, PoolRow};
use crate::pools::Pool;

/// Months a summary covers, this one included.
pub const MONTHS: u32 = 12;

/// The category requests without one are counted under.
pub const UNCATEGORISED: &str = "uncategorised";
/// Where small categories are merged.
pub const OTHER: &str = "other";

#[derive(Debug, Serialize, ToSchema)]
pub struct MonthFlow {
    /// `YYYY-MM`, in the collective's time zone.
    #[schema(example = "2026-11")]
    pub month: String,
    /// Contributions received (gross).
    pub received: String,
    /// Paid out to requests.
    pub paid_out: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryFlow {
    /// A request category, or `other` for the categories too small to show.
    pub category: String,
    /// Requests helped (paid something).
    pub requests: u32,
    pub paid_out: String,
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
    /// Today in the collective's time zone.
    #[schema(value_type = String, format = Date)]
    pub as_of: NaiveDate,
    pub goal: Option<String>,
    /// Received − refunded − fees, to date.
    pub raised: String,
    pub goal_progress_percent: Option<String>,
    pub available: String,
    pub held: String,
    /// Paid out to requests, to date.
    pub paid_out: String,
    /// The last 12 calendar months, oldest first.
    pub months: Vec<MonthFlow>,
    /// Requests the pool has paid out to, to date.
    pub requests_helped: u32,
    /// Paid out per request category, to date; categories with fewer than
    /// `min_group` requests are merged into `other`.
    pub categories: Vec<CategoryFlow>,
    /// The smallest group a figure is shown for.
    pub min_group: u32,
    /// Absent while fewer than `min_group` people pledge.
    pub pledges: Option<PledgeFigures>,
}

/// A request a pool has paid out to, with its category.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelpedRequest {
    pub request_id: String,
    pub category: Option<String>,
    pub paid_minor: i64,
}

/// The aid requests a pool has paid out to (approved by coordinators or
/// funded by a round), with their categories and what they were paid.
pub fn helped_requests(conn: &mut DbConnection, pool_id: &str) -> Result<Vec<HelpedRequest>> {
    Ok(crate::requests::store::helped_in_pool(conn, pool_id)?
        .into_iter()
        .map(|(request_id, category, paid_minor)| HelpedRequest {
            request_id,
            category: Some(category).filter(|c| !c.trim().is_empty()),
            paid_minor,
        })
        .collect())
}

/// Requests and money per category, with every category of fewer than
/// `min_group` requests merged into `other`, in name order, `other` last.
pub fn by_category(helped: &[HelpedRequest], min_group: u32) -> Vec<(String, u32, i64)> {
    let mut all: BTreeMap<&str, (u32, i64)> = BTreeMap::new();
    for request in helped {
        let category = request.category.as_deref().unwrap_or(UNCATEGORISED);
        let slot = all.entry(category).or_default();
        slot.0 += 1;
        slot.1 += request.paid_minor;
    }
    let mut shown = Vec::new();
    let mut other = (0_u32, 0_i64);
    for (category, (count, paid)) in all {
        if count < min_group || category == OTHER {
            other.0 += count;
            other.1 += paid;
        } else {
            shown.push((category.to_owned(), count, paid));
        }
    }
    if other.0 > 0 {
        shown.push((OTHER.to_owned(), other.0, other.1));
    }
    shown
}

/// Who may read a pool's summary: anyone for a public pool, members of its
/// collective (and partner apps with `pools:read`) otherwise.
fn authorize_summary(
    conn: &mut DbConnection,
    principal: Option<&Principal>,
    pool: &PoolRow,
) -> Result<()> {
    if pool.public {
        return Ok(());
    }
    match principal {
        Some(principal) => {
            authorize(
                conn,
                principal,
                &pool.collective_id,
                Permission::ReadPools,
                "pool",
            )?;
            Ok(())
        }
        None => Err(Error::Unauthenticated {
            code: "unauthenticated",
            message: "this pool's summary is for members of its collective; sign in".into(),
        }),
    }
}

pub fn summary(
    conn: &mut DbConnection,
    principal: Option<&Principal>,
    pool_id: &str,
    min_group: u32,
) -> Result<PoolSummary> {
    let row = pool_store::find(conn, pool_id)?.ok_or(Error::NotFound { what: "pool" })?;
    authorize_summary(conn, principal, &row)?;
    let currency = row.currency()?;
    let show = |m: i64| format_minor(m, currency);
    let tz = crate::collectives::store::time_zone(conn, &row.collective_id)?;
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
    for (entry, postings) in ledger::entries_between(conn, &row.id, start, end)? {
        let flows = Flows::of(&postings);
        let month = calendar::month_label(calendar::local_date(tz, entry.created_at));
        if let Some(slot) = months.get_mut(&month) {
            slot.0 += flows.received;
            slot.1 += flows.paid_out;
        }
    }

    let helped = helped_requests(conn, &row.id)?;
    let categories = by_category(&helped, min_group)
        .into_iter()
        .map(|(category, requests, paid)| CategoryFlow {
            category,
            requests,
            paid_out: show(paid),
        })
        .collect();

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
        as_of: today,
        goal: pool.goal,
        goal_progress_percent: pool.goal_progress_percent,
        available: pool.balances.available,
        held: pool.balances.held,
        paid_out: pool.balances.paid,
        months: months
            .into_iter()
            .map(|(month, (received, paid_out))| MonthFlow {
                month,
                received: show(received),
                paid_out: show(paid_out),
            })
            .collect(),
        requests_helped: helped.len() as u32,
        categories,
        min_group,
        pledges,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn helped(category: Option<&str>, paid: i64) -> HelpedRequest {
        HelpedRequest {
            request_id: format!("r{paid}"),
            category: category.map(str::to_owned),
            paid_minor: paid,
        }
    }

    #[test]
    fn a_category_with_fewer_requests_than_the_minimum_is_merged_into_other() {
        let requests = [
            helped(Some("rent"), 100),
            helped(Some("rent"), 200),
            helped(Some("rent"), 300),
            helped(Some("escaping violence"), 400),
            helped(Some("food"), 50),
            helped(Some("food"), 60),
        ];
        assert_eq!(
            by_category(&requests, 3),
            vec![("rent".to_owned(), 3, 600), ("other".to_owned(), 3, 510),]
        );
        // With a minimum of 1 every category shows.
        assert_eq!(by_category(&requests, 1).len(), 3);
    }

    #[test]
    fn requests_without_a_category_are_uncategorised() {
        let requests = [helped(None, 1), helped(None, 2), helped(None, 3)];
        assert_eq!(
            by_category(&requests, 3),
            vec![(UNCATEGORISED.to_owned(), 3, 6)]
        );
        assert!(by_category(&[], 3).is_empty());
    }
}
