//! Pools: funds in one currency with a goal and rules. Their balances come
//! from the ledger (`crate::ledger`); this module owns what a pool is.

pub mod http;
pub mod service;
pub mod store;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{Error, Result};
use crate::ids::utc;
use crate::money::{format_minor, percent, Currency};
use store::PoolRow;

/// Who may ask a pool for help.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Requesters {
    /// Members may ask for themselves; coordinators on anyone's behalf.
    Members,
    /// Only coordinators, on someone's behalf.
    Coordinators,
}

impl Requesters {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Members => "members",
            Self::Coordinators => "coordinators",
        }
    }
}

/// The rules of a pool, amounts as decimal strings in the pool's currency.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PoolRules {
    /// Largest single request; absent for no limit.
    #[schema(example = "500.00")]
    pub max_request: Option<String>,
    /// Distinct coordinator approvals a request needs (1 to 10; default 2).
    pub approvals_needed: Option<i32>,
    /// Emergency requests up to this amount need one approval; absent for no fast track.
    #[schema(example = "100.00")]
    pub fast_track_limit: Option<String>,
    /// Who may ask this pool for help (default `members`).
    pub requesters: Option<Requesters>,
}

/// A pool's balances, derived from its ledger postings.
#[derive(Debug, Serialize, ToSchema)]
pub struct Balances {
    /// Spendable now.
    #[schema(example = "1250.00")]
    pub available: String,
    /// Reserved for approved requests and open rounds.
    pub held: String,
    /// Refunds or chargebacks of money already spent, not yet covered by new
    /// contributions. While above zero, no new hold is placed.
    pub deficit: String,
    /// Contributions received to date, before fees and refunds.
    pub received: String,
    /// Refunded or charged back to date.
    pub refunded: String,
    /// Processor fees to date.
    pub fees: String,
    /// Paid out to date.
    pub paid: String,
}

/// A fund in one currency.
#[derive(Debug, Serialize, ToSchema)]
pub struct Pool {
    pub id: String,
    pub collective_id: String,
    pub name: String,
    pub description: String,
    /// ISO 4217; fixed at creation.
    #[schema(example = "EUR")]
    pub currency: String,
    /// Decimals of the currency (JPY 0, EUR 2, BHD 3).
    pub exponent: i32,
    pub goal: Option<String>,
    /// Net raised (received − refunded − fees) as a percentage of the goal,
    /// with two decimals; absent without a goal.
    #[schema(example = "42.50")]
    pub goal_progress_percent: Option<String>,
    pub rules: PoolRules,
    /// Whether the public summary can be read without signing in.
    pub public: bool,
    pub balances: Balances,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

impl PoolRow {
    /// Net raised to date: received − refunded − fees.
    pub fn raised_minor(&self) -> i64 {
        self.received_minor - self.refunded_minor - self.fees_minor
    }

    pub fn currency(&self) -> Result<Currency> {
        Currency::from_code(&self.currency)
            .filter(|c| i32::from(c.exponent) == self.exponent)
            .ok_or_else(|| {
                Error::Internal(format!(
                    "pool {} has an unknown currency {}",
                    self.id, self.currency
                ))
            })
    }
}

impl TryFrom<PoolRow> for Pool {
    type Error = Error;

    fn try_from(row: PoolRow) -> Result<Self> {
        let currency = row.currency()?;
        let show = |minor: i64| format_minor(minor, currency);
        let goal_progress_percent = row
            .goal_minor
            .and_then(|goal| percent(row.raised_minor(), goal));
        Ok(Self {
            goal: row.goal_minor.map(show),
            goal_progress_percent,
            rules: PoolRules {
                max_request: row.max_request_minor.map(show),
                approvals_needed: Some(row.approvals_needed),
                fast_track_limit: row.fast_track_limit_minor.map(show),
                requesters: Some(if row.requesters == "coordinators" {
                    Requesters::Coordinators
                } else {
                    Requesters::Members
                }),
            },
            balances: Balances {
                available: show(row.available_minor),
                held: show(row.held_minor),
                deficit: show(row.deficit_minor),
                received: show(row.received_minor),
                refunded: show(row.refunded_minor),
                fees: show(row.fees_minor),
                paid: show(row.paid_minor),
            },
            id: row.id,
            collective_id: row.collective_id,
            name: row.name,
            description: row.description,
            currency: row.currency,
            exponent: row.exponent,
            public: row.public,
            created_at: utc(row.created_at),
            updated_at: utc(row.updated_at),
            version: row.version,
        })
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPool {
    #[schema(example = "Rent relief")]
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[schema(example = "EUR")]
    pub currency: String,
    #[schema(example = "5000.00")]
    pub goal: Option<String>,
    pub rules: Option<PoolRules>,
    #[serde(default)]
    pub public: bool,
}

/// Changes to a pool. The currency is fixed once created.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PoolPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    /// A new goal; `null` is not accepted — send "0" to clear it.
    pub goal: Option<String>,
    pub rules: Option<PoolRules>,
    pub public: Option<bool>,
    /// Present only to be refused clearly: a pool's currency never changes.
    #[schema(ignore)]
    pub currency: Option<String>,
}
