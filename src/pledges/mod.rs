//! Pledges: promises to contribute to a pool, once or every week or month,
//! that fall due in installments on dates in the collective's time zone.
//!
//! Pledged money is never spendable and never in the ledger: a pledge is a
//! promise, recorded here; it turns into money only when a contribution is
//! received (`crate::ledger::contributions`) and applied to its installments,
//! oldest first. The rules that decide what is due and when a pledge has
//! lapsed are pure functions in [`schedule`], shared by the API (on read) and
//! by the scheduled task in [`lapses`] (on write).

pub mod due;
pub mod http;
pub mod lapses;
pub mod payments;
pub mod report;
pub mod schedule;
pub mod service;
pub mod store;
pub mod view;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ledger::contributions::Contributor;

/// How often installments fall due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Frequency {
    Once,
    Weekly,
    Monthly,
}

impl Frequency {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Once => "once",
            Self::Weekly => "weekly",
            Self::Monthly => "monthly",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "once" => Some(Self::Once),
            "weekly" => Some(Self::Weekly),
            "monthly" => Some(Self::Monthly),
            _ => None,
        }
    }
}

/// Where a pledge stands. `active`, `paused` and `cancelled` are set by
/// people; `fulfilled` (every installment paid or waived) and `lapsed` (an
/// installment unpaid past its grace period) follow from the installments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PledgeStatus {
    Active,
    Paused,
    Fulfilled,
    Cancelled,
    Lapsed,
}

impl PledgeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Paused => "paused",
            Self::Fulfilled => "fulfilled",
            Self::Cancelled => "cancelled",
            Self::Lapsed => "lapsed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "active" => Some(Self::Active),
            "paused" => Some(Self::Paused),
            "fulfilled" => Some(Self::Fulfilled),
            "cancelled" => Some(Self::Cancelled),
            "lapsed" => Some(Self::Lapsed),
            _ => None,
        }
    }
}

/// A promise to contribute.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPledge {
    /// Each installment, in the pool's currency.
    #[schema(example = "25.00")]
    pub amount: String,
    pub frequency: Frequency,
    /// The first (or only) due date, in the collective's time zone; today if
    /// absent. At most a year back (to record a running arrangement) or
    /// ahead.
    #[schema(value_type = Option<String>, format = Date, example = "2026-12-01")]
    pub starts_on: Option<NaiveDate>,
    /// For weekly and monthly pledges: how many installments (at most 120)…
    pub installments: Option<u32>,
    /// …or the last date an installment may fall on. Give one of the two.
    #[schema(value_type = Option<String>, format = Date)]
    pub ends_on: Option<NaiveDate>,
    /// Who pledges. Absent: the caller, for themselves. Coordinators may
    /// name a member (`member_id`) or an outside donor (`donor_name`).
    pub pledger: Option<Contributor>,
    /// Days an installment may be late before the pledge lapses (0 to 90).
    /// Coordinators only; the service's default otherwise.
    pub grace_days: Option<u32>,
    pub note: Option<String>,
}

/// A change of stance: pause, resume (`active`) or cancel.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PledgePatch {
    /// `paused`, `active` (resume a paused pledge) or `cancelled`.
    /// Installments falling due while paused are waived on resuming;
    /// installments not yet due are waived on cancelling.
    pub status: PledgeStatus,
}

/// One installment of a pledge.
#[derive(Debug, Serialize, ToSchema)]
pub struct Installment {
    /// 1 for the first.
    pub seq: u32,
    #[schema(value_type = String, format = Date)]
    pub due_on: NaiveDate,
    pub amount: String,
    pub paid: String,
    /// `paid`, `waived`, `suspended` (falls due while paused), `missed`
    /// (unpaid when the pledge was cancelled), `overdue`, `due` (today) or
    /// `upcoming`.
    pub state: String,
}

/// A pledge and what it adds up to today.
#[derive(Debug, Serialize, ToSchema)]
pub struct Pledge {
    pub id: String,
    pub pool_id: String,
    pub collective_id: String,
    /// The pledging member's membership id, or absent for an outside donor.
    pub member_id: Option<String>,
    pub donor_name: Option<String>,
    pub donor_email: Option<String>,
    pub anonymous: bool,
    /// Each installment.
    pub amount: String,
    pub currency: String,
    pub frequency: Frequency,
    /// Number of installments.
    pub installments: u32,
    #[schema(value_type = String, format = Date)]
    pub starts_on: NaiveDate,
    /// The last installment's due date.
    #[schema(value_type = String, format = Date)]
    pub ends_on: NaiveDate,
    pub grace_days: u32,
    pub status: PledgeStatus,
    /// Since when, while paused.
    #[schema(value_type = Option<String>, format = Date)]
    pub paused_on: Option<NaiveDate>,
    /// Everything promised.
    pub total: String,
    /// Received and applied so far.
    pub paid: String,
    /// Forgiven by pausing or cancelling.
    pub waived: String,
    /// Still expected, now or later (zero once cancelled).
    pub outstanding: String,
    /// Owed now: unpaid installments due today or earlier.
    pub due_now: String,
    /// The next installment due after today, and what is left of it.
    #[schema(value_type = Option<String>, format = Date)]
    pub next_due_on: Option<NaiveDate>,
    pub next_due_amount: Option<String>,
    pub note: Option<String>,
    /// Every installment, oldest first (in single-pledge answers only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Vec<Installment>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Sent as the `ETag`; send it back as `If-Match` when changing the pledge.
    pub version: i64,
}

/// A pool's pledges in figures, today.
#[derive(Debug, Serialize, ToSchema)]
pub struct PledgeReport {
    pub pool_id: String,
    pub currency: String,
    /// Today in the collective's time zone.
    #[schema(value_type = String, format = Date)]
    pub as_of: NaiveDate,
    /// The sum of the pledges' `outstanding`: unpaid installments of every
    /// pledge not cancelled, now or later.
    pub outstanding: String,
    /// Unpaid installments falling due this calendar month (collective time
    /// zone), already late or still to come; suspended ones aside.
    pub due_this_month: String,
    /// Unpaid installments past their due date; suspended ones aside.
    pub overdue: String,
    /// Of everything that has fallen due (waived and suspended installments
    /// aside, whatever the pledge's status now), the share paid, in percent
    /// with two decimals; absent while nothing has fallen due.
    #[schema(example = "87.50")]
    pub fulfilment_rate_percent: Option<String>,
    /// Pledges by status.
    pub active: u32,
    pub paused: u32,
    pub fulfilled: u32,
    pub cancelled: u32,
    pub lapsed: u32,
}
