//! Aid requests and the coordinator workflow: intake, privacy, ownership,
//! N-of-M approval, payment, comments. Money moves only through the
//! ledger's holds and disbursements.

pub mod http;
pub mod service;
pub mod state;
pub mod store;
pub mod timeline;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use state::State;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    Emergency,
    Standard,
}

impl Urgency {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Emergency => "emergency",
            Self::Standard => "standard",
        }
    }
}

/// Someone who is not a member, on whose behalf a coordinator asks. Kept
/// private.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Beneficiary {
    pub name: String,
    pub contact: Option<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRequest {
    /// In the pool's currency; at most the pool's largest request.
    #[schema(example = "450.00")]
    pub amount: String,
    #[schema(example = "rent")]
    pub category: String,
    pub urgency: Urgency,
    pub needed_by: Option<NaiveDate>,
    /// What every member may read.
    pub public_summary: String,
    /// Only the requester and coordinators read this.
    #[serde(default)]
    pub private_details: String,
    /// Where the money goes (IBAN, phone …): private.
    pub payout_reference: Option<String>,
    /// For a coordinator asking on behalf of a member: their membership id.
    pub on_behalf_of_member: Option<String>,
    /// For a coordinator asking on behalf of someone who is not a member.
    pub beneficiary: Option<Beneficiary>,
    /// A shared project rather than one person's need.
    #[serde(default)]
    pub shared_project: bool,
    /// Submit at once (default) or keep as a draft.
    #[serde(default)]
    pub draft: bool,
}

/// Changes by the requester. After submission they clear the approvals
/// given so far.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestPatch {
    pub amount: Option<String>,
    pub category: Option<String>,
    pub urgency: Option<Urgency>,
    pub needed_by: Option<NaiveDate>,
    pub public_summary: Option<String>,
    pub private_details: Option<String>,
    pub payout_reference: Option<String>,
}

/// Private fields, present only for those allowed to see them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PrivateFields {
    pub private_details: String,
    pub payout_reference: Option<String>,
    pub beneficiary: Option<Beneficiary>,
    pub requester_membership_id: Option<String>,
    pub submitted_by: String,
    /// Why the requester withdrew it, if they said.
    pub withdrawal_reason: Option<String>,
}

/// An aid request. `private` is absent for readers who may not see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AidRequest {
    pub id: String,
    pub collective_id: String,
    pub pool_id: String,
    pub state: State,
    pub amount_requested: String,
    /// The lowest amount approved, once approved.
    pub amount_approved: Option<String>,
    pub paid: String,
    pub currency: String,
    pub category: String,
    pub urgency: Urgency,
    pub needed_by: Option<NaiveDate>,
    pub public_summary: String,
    pub shared_project: bool,
    /// The coordinator reviewing it.
    pub owner_user_id: Option<String>,
    /// Why it was rejected; the requester sees it.
    pub rejection_reason: Option<String>,
    /// Approvals given in the current round, and how many are needed.
    pub approvals: i64,
    pub approvals_needed: i32,
    pub hold_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private: Option<PrivateFields>,
    pub submitted_at: Option<DateTime<Utc>>,
    /// When it was paid, rejected, withdrawn, cancelled or not funded; the
    /// collective's `retention_days` count from here.
    pub closed_at: Option<DateTime<Utc>>,
    /// When its private fields were redacted, that long after it closed
    /// (they read `[erased]` or null from then on).
    pub redacted_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApproval {
    /// Approve less than was asked; the lowest amount approved stands.
    pub amount: Option<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reason {
    pub reason: String,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OptionalReason {
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TakeOwnership {
    /// Admins only: hand the request to this coordinator (user id).
    pub assign_to: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// Among coordinators only.
    Internal,
    /// A message the requester reads.
    Requester,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewComment {
    pub body: String,
    /// Coordinators choose; a requester's comments are always `requester`.
    pub visibility: Option<Visibility>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Comment {
    pub id: String,
    pub request_id: String,
    pub author_kind: String,
    pub author_id: String,
    pub visibility: Visibility,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

/// Requests per state, for a dashboard.
#[derive(Debug, Serialize, ToSchema)]
pub struct StateCounts {
    #[schema(value_type = Object)]
    pub counts: std::collections::BTreeMap<String, i64>,
}
