//! Everything held about a person, as one document: their account, and per
//! membership their requests (with the private fields), pledges,
//! contributions, declarations of affectedness, ballots and the comments
//! on their requests they may read; and their own audit trail. Made on
//! request from one consistent snapshot, never stored; nothing of anyone
//! else (on-behalf requests they filed for others are the others' data).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::store;
use crate::db::{read_snapshot, DbConnection};
use crate::error::{Error, Result};
use crate::ids::utc;
use crate::money::{format_minor, Currency};

/// Everything held about you.
#[derive(Debug, Serialize, ToSchema)]
pub struct PersonalData {
    /// When this document was made (it is made on each request, never kept).
    pub generated_at: DateTime<Utc>,
    pub account: AccountData,
    pub memberships: Vec<MembershipData>,
    /// What you did, as the audit trail records it, in every collective.
    /// Details are shown where the record is about you or what is yours.
    pub audit: Vec<AuditData>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccountData {
    pub user_id: String,
    pub email: String,
    pub display_name: String,
    pub phone: Option<String>,
    pub other_contact: Option<String>,
    pub created_at: DateTime<Utc>,
    /// Web sessions and API sign-ins (refresh tokens) open now.
    pub open_sign_ins: i64,
    pub second_factor: SecondFactorData,
}

/// Your second factor, as `GET /me/second-factor` says it: never its secret
/// or the recovery codes (only digests of those are kept).
#[derive(Debug, Serialize, ToSchema)]
pub struct SecondFactorData {
    /// `none`, `pending` (started, not confirmed) or `confirmed`.
    pub state: &'static str,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub recovery_codes_left: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MembershipData {
    pub membership_id: String,
    pub collective_id: String,
    pub collective_name: String,
    pub role: String,
    pub status: String,
    pub joined_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub affectedness: Vec<DeclarationData>,
    pub requests: Vec<RequestData>,
    pub pledges: Vec<PledgeData>,
    pub contributions: Vec<ContributionData>,
    pub ballots: Vec<BallotData>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeclarationData {
    pub issue_id: String,
    pub issue: String,
    /// `direct`, `indirect` or `supporter`.
    pub tier: String,
    pub verified: bool,
    pub declared_at: DateTime<Utc>,
}

/// An aid request for you, with its private fields.
#[derive(Debug, Serialize, ToSchema)]
pub struct RequestData {
    pub id: String,
    pub pool_id: String,
    pub currency: String,
    pub amount_requested: String,
    pub amount_approved: Option<String>,
    pub paid: String,
    pub category: String,
    pub urgency: String,
    pub needed_by: Option<NaiveDate>,
    pub public_summary: String,
    pub private_details: String,
    pub payout_reference: Option<String>,
    pub state: String,
    pub rejection_reason: Option<String>,
    pub withdrawal_reason: Option<String>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub decided_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// The comments on it you may read: yours, and those written to you.
    pub comments: Vec<CommentData>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CommentData {
    pub id: String,
    /// `you`, or `collective` for a coordinator writing to you.
    pub from: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PledgeData {
    pub id: String,
    pub pool_id: String,
    pub currency: String,
    pub amount: String,
    pub frequency: String,
    pub installments: i32,
    pub starts_on: NaiveDate,
    pub status: String,
    pub note: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ContributionData {
    pub id: String,
    pub pool_id: String,
    pub currency: String,
    pub amount: String,
    pub fee: String,
    pub refunded: String,
    pub method: String,
    pub external_reference: Option<String>,
    pub note: Option<String>,
    pub status: String,
    pub received_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BallotData {
    pub round_id: String,
    /// The ballot as cast.
    #[schema(value_type = Object)]
    pub choices: Value,
    pub weight: Option<i32>,
    pub cast_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditData {
    pub collective_id: String,
    pub occurred_at: DateTime<Utc>,
    pub action: String,
    pub object_kind: String,
    pub object_id: String,
    /// Present where the record is about you or what is yours.
    #[schema(value_type = Option<Object>)]
    pub details: Option<Value>,
}

fn money(minor: i64, currency: &Currency) -> String {
    format_minor(minor, *currency)
}

/// Everything held about `user_id`.
pub fn of(conn: &mut DbConnection, user_id: &str) -> Result<PersonalData> {
    read_snapshot(conn, |conn| {
        let user = store::user(conn, user_id)?.ok_or(Error::NotFound { what: "user" })?;
        let mut own: BTreeSet<String> = BTreeSet::from([user_id.to_owned()]);
        let mut memberships = Vec::new();
        for m in store::memberships_of(conn, user_id)? {
            own.insert(m.id.clone());
            let currencies: BTreeMap<String, Currency> =
                store::pool_currencies(conn, &m.collective_id)?;
            let currency_of = |pool: &str| {
                currencies
                    .get(pool)
                    .copied()
                    .ok_or_else(|| Error::Internal(format!("pool {pool} has no currency")))
            };
            let mut requests = Vec::new();
            for r in store::requests_of(conn, &m.collective_id, &m.id)? {
                own.insert(r.id.clone());
                let currency = currency_of(&r.pool_id)?;
                let comments = store::comments_for_requester(conn, &m.collective_id, &r.id)?
                    .into_iter()
                    .map(|c| CommentData {
                        from: if c.author_id == user_id {
                            "you"
                        } else {
                            "collective"
                        }
                        .to_owned(),
                        id: c.id,
                        body: c.body,
                        created_at: utc(c.created_at),
                    })
                    .collect();
                requests.push(RequestData {
                    id: r.id,
                    pool_id: r.pool_id,
                    currency: currency.code.to_owned(),
                    amount_requested: money(r.amount_requested_minor, &currency),
                    amount_approved: r.amount_approved_minor.map(|a| money(a, &currency)),
                    paid: money(r.paid_minor, &currency),
                    category: r.category,
                    urgency: r.urgency,
                    needed_by: r.needed_by,
                    public_summary: r.public_summary,
                    private_details: r.private_details,
                    payout_reference: r.payout_reference,
                    state: r.state,
                    rejection_reason: r.rejection_reason,
                    withdrawal_reason: r.withdrawal_reason,
                    submitted_at: r.submitted_at.map(utc),
                    decided_at: r.decided_at.map(utc),
                    created_at: utc(r.created_at),
                    comments,
                });
            }
            let mut pledges = Vec::new();
            for p in store::pledges_of(conn, &m.collective_id, &m.id)? {
                own.insert(p.id.clone());
                let currency = currency_of(&p.pool_id)?;
                pledges.push(PledgeData {
                    id: p.id,
                    pool_id: p.pool_id,
                    currency: currency.code.to_owned(),
                    amount: money(p.amount_minor, &currency),
                    frequency: p.frequency,
                    installments: p.installments,
                    starts_on: p.starts_on,
                    status: p.status,
                    note: p.note,
                    created_at: utc(p.created_at),
                });
            }
            let mut contributions = Vec::new();
            for c in store::contributions_of(conn, &m.collective_id, &m.id)? {
                own.insert(c.id.clone());
                let currency = currency_of(&c.pool_id)?;
                contributions.push(ContributionData {
                    id: c.id,
                    pool_id: c.pool_id,
                    currency: currency.code.to_owned(),
                    amount: money(c.amount_minor, &currency),
                    fee: money(c.fee_minor, &currency),
                    refunded: money(c.refunded_minor, &currency),
                    method: c.method,
                    external_reference: c.external_reference,
                    note: c.note,
                    status: c.status,
                    received_at: utc(c.received_at),
                });
            }
            let affectedness = store::declarations_of(conn, &m.collective_id, &m.id)?
                .into_iter()
                .map(|d| DeclarationData {
                    issue_id: d.issue_id,
                    issue: d.issue,
                    tier: d.tier,
                    verified: d.verified,
                    declared_at: utc(d.declared_at),
                })
                .collect();
            let ballots = store::ballots_of(conn, &m.collective_id, &m.id)?
                .into_iter()
                .map(|b| BallotData {
                    round_id: b.round_id,
                    choices: serde_json::from_str(&b.choices).unwrap_or(Value::String(b.choices)),
                    weight: b.weight,
                    cast_at: utc(b.cast_at),
                })
                .collect();
            memberships.push(MembershipData {
                membership_id: m.id,
                collective_id: m.collective_id,
                collective_name: m.collective_name,
                role: m.role,
                status: m.status,
                joined_at: m.joined_at.map(utc),
                created_at: utc(m.created_at),
                affectedness,
                requests,
                pledges,
                contributions,
                ballots,
            });
        }
        let audit = store::audit_by(conn, user_id)?
            .into_iter()
            .map(|a| AuditData {
                details: own.contains(&a.object_id).then_some(a.details),
                collective_id: a.collective_id,
                occurred_at: utc(a.occurred_at),
                action: a.action,
                object_kind: a.object_kind,
                object_id: a.object_id,
            })
            .collect();
        Ok(PersonalData {
            generated_at: utc(crate::ids::now()),
            account: AccountData {
                user_id: user.id,
                email: user.email,
                display_name: user.display_name,
                phone: user.phone,
                other_contact: user.other_contact,
                created_at: utc(user.created_at),
                open_sign_ins: store::open_sign_ins(conn, user_id)?,
                second_factor: {
                    let status = crate::auth::second_factor::status(conn, user_id)?;
                    SecondFactorData {
                        state: status.state_name(),
                        confirmed_at: status.confirmed_at.map(utc),
                        recovery_codes_left: status.recovery_codes_left,
                    }
                },
            },
            memberships,
            audit,
        })
    })
}
