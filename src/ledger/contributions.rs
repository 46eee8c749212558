//! Contributions: money received into a pool, from a member or an outside
//! donor (who may stay anonymous); refunds and chargebacks of them; and the
//! reversal of a contribution recorded by mistake.
//!
//! Personal data (donor name and email) lives here, never in the journal,
//! so it can be erased without touching the ledger.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::facts::{PledgePaid, PledgeTakenBack, Reactions};
use super::store::{self, ContributionRow, Whose};
use super::{record, Account, EntryKind, Reference};
use crate::audit;
use crate::auth::access::{Actor, Principal};
use crate::auth::policy::Permission;
use crate::collectives::check_text;
use crate::db::{is_unique_violation, write_tx, DbConnection};
use crate::error::{known, Error, Result};
use crate::events::{self, EventType};
use crate::ids::{new_id, now, utc, ContributionId, EntryId, PledgeId, PoolId};
use crate::money::{format_minor, Money};
use crate::pagination::{Page, PageRequest};
use crate::pools::service::load_authorized;
use crate::pools::store::{self as pool_store, PoolRow};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    Card,
    BankTransfer,
    Cash,
    MobileMoney,
    Other,
}

impl Method {
    fn as_str(self) -> &'static str {
        match self {
            Self::Card => "card",
            Self::BankTransfer => "bank_transfer",
            Self::Cash => "cash",
            Self::MobileMoney => "mobile_money",
            Self::Other => "other",
        }
    }
}

/// Who gave the money: a member, or an outside donor.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Contributor {
    /// A membership id of this collective.
    pub member_id: Option<String>,
    pub donor_name: Option<String>,
    pub donor_email: Option<String>,
    /// Show no name anywhere (the coordinators still see who gave).
    #[serde(default)]
    pub anonymous: bool,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewContribution {
    /// Gross amount received, in the pool's currency.
    #[schema(example = "50.00")]
    pub amount: String,
    /// Processor fee kept from it; the pool is credited the rest.
    #[schema(example = "1.75")]
    pub fee: Option<String>,
    pub method: Method,
    /// The processor's id for the payment; unique per pool, so a retried
    /// webhook cannot record the money twice.
    pub external_reference: Option<String>,
    pub contributor: Option<Contributor>,
    pub note: Option<String>,
    /// When the money arrived (default: now).
    pub received_at: Option<DateTime<Utc>>,
    /// A pledge to the same pool this money fulfils. The gross amount (what
    /// the pledger paid; the fee is the pool's cost of collecting it) is
    /// applied to the pledge's unpaid installments, oldest first; what
    /// exceeds the pledge stays an ordinary contribution (all of it, for a
    /// pledge already fulfilled). A cancelled pledge takes no payment (409
    /// `pledge_closed`). Without `contributor`, the pledger is the
    /// contributor.
    pub pledge_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefundKind {
    Refund,
    Chargeback,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRefund {
    /// What goes back, at most what is left of the **gross** amount: a
    /// processor claws back the gross and keeps its fee, so the pool bears
    /// the fee it never received.
    #[schema(example = "20.00")]
    pub amount: String,
    pub kind: RefundKind,
    pub reason: Option<String>,
    /// A chargeback's dispute fee, charged to the pool on top of `amount`
    /// (only with `kind: chargeback`).
    #[schema(example = "15.00")]
    #[serde(default)]
    pub dispute_fee: Option<String>,
}

/// Where a contribution stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ContributionStatus {
    Received,
    /// Some of it was given back (refund or chargeback).
    PartiallyRefunded,
    /// All of its gross amount was given back.
    Refunded,
    /// Its journal entry was reversed (recorded by mistake).
    Reversed,
}

impl ContributionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Received => "received",
            Self::PartiallyRefunded => "partially_refunded",
            Self::Refunded => "refunded",
            Self::Reversed => "reversed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "received" => Some(Self::Received),
            "partially_refunded" => Some(Self::PartiallyRefunded),
            "refunded" => Some(Self::Refunded),
            "reversed" => Some(Self::Reversed),
            _ => None,
        }
    }
}

impl ContributionRow {
    fn status(&self) -> Result<ContributionStatus> {
        let parsed = ContributionStatus::parse(&self.status);
        known(parsed, "contribution", &self.id, &self.status)
    }
}

/// A contribution as coordinators and payment partners see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Contribution {
    pub id: String,
    pub pool_id: String,
    pub amount: String,
    pub fee: String,
    /// Credited to the pool: amount − fee.
    pub net: String,
    /// Refunded or charged back so far, at most the gross amount.
    pub refunded: String,
    /// Dispute fees charged with chargebacks of it, borne by the pool.
    pub dispute_fees: String,
    pub currency: String,
    pub method: String,
    pub external_reference: Option<String>,
    pub member_id: Option<String>,
    pub donor_name: Option<String>,
    pub donor_email: Option<String>,
    pub anonymous: bool,
    pub note: Option<String>,
    pub status: ContributionStatus,
    /// The journal entry that credited the pool.
    pub entry_id: String,
    /// The pledge this contribution fulfils, if any.
    pub pledge_id: Option<String>,
    /// How much of it is applied to the pledge's installments (less what
    /// refunds took back).
    pub applied_to_pledge: Option<String>,
    pub received_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

impl Contribution {
    fn from_row(row: ContributionRow, pool: &PoolRow) -> Result<Self> {
        let currency = pool.currency()?;
        let show = |m: i64| format_minor(m, currency);
        let status = row.status()?;
        Ok(Self {
            amount: show(row.amount_minor),
            fee: show(row.fee_minor),
            net: show(row.amount_minor - row.fee_minor),
            refunded: show(row.refunded_minor),
            dispute_fees: show(row.dispute_fee_minor),
            currency: currency.code.to_owned(),
            id: row.id,
            pool_id: row.pool_id,
            method: row.method,
            external_reference: row.external_reference,
            member_id: row.member_id,
            donor_name: row.donor_name,
            donor_email: row.donor_email,
            anonymous: row.anonymous,
            note: row.note,
            status,
            entry_id: row.entry_id,
            applied_to_pledge: row
                .pledge_id
                .as_ref()
                .map(|_| show(row.pledge_applied_minor)),
            pledge_id: row.pledge_id,
            received_at: utc(row.received_at),
            created_at: utc(row.created_at),
        })
    }
}

fn optional_text(field: &str, text: Option<&str>, max: usize) -> Result<Option<String>> {
    text.map(|t| check_text(field, t, max)).transpose()
}

/// Records money received. The pool is credited the net amount; if it has a
/// deficit, the money covers that first.
pub fn record_contribution(
    conn: &mut DbConnection,
    principal: &Principal,
    pool_id: &PoolId,
    input: NewContribution,
    reactions: &mut dyn Reactions,
) -> Result<Contribution> {
    write_tx(conn, |conn| {
        record_contribution_tx(conn, principal, pool_id, input, reactions)
    })
}

fn record_contribution_tx(
    conn: &mut DbConnection,
    principal: &Principal,
    pool_id: &PoolId,
    input: NewContribution,
    reactions: &mut dyn Reactions,
) -> Result<Contribution> {
    // Locked and read once, then authorized against what was read: the
    // pool is not read a second time (an unknown pool, or one the caller
    // may not know, is the same 404 as before).
    let pool = pool_store::lock(conn, pool_id.as_str())?;
    let actor = crate::auth::access::authorize(
        conn,
        principal,
        &pool.collective_id,
        Permission::RecordContributions,
        "pool",
    )?;
    let currency = pool.currency()?;
    let gross = Money::parse_positive("amount", &input.amount, currency)?.minor;
    let fee = match input.fee.as_deref() {
        Some(text) => Money::parse("fee", text, currency)?.minor,
        None => 0,
    };
    if fee >= gross {
        return Err(Error::invalid("fee", "must be less than the amount"));
    }
    let external_reference = optional_text(
        "external_reference",
        input.external_reference.as_deref(),
        200,
    )?;
    let note = optional_text("note", input.note.as_deref(), 2000)?;
    let pledge = input
        .pledge_id
        .as_deref()
        .map(|id| {
            let id = PledgeId::from(id);
            reactions
                .pledge_named(conn, &pool, &id)
                .map(|pledger| (id, pledger))
        })
        .transpose()?;
    let contributor = match (input.contributor, pledge.as_ref()) {
        (Some(contributor), Some((_, pledger)))
            if contributor.member_id.is_some() && contributor.member_id != pledger.member_id =>
        {
            return Err(Error::invalid(
                "pledge_id",
                "is another contributor's pledge",
            ))
        }
        (Some(contributor), _) => contributor,
        (None, Some((_, pledger))) => pledger.clone(),
        (None, None) => Contributor {
            member_id: None,
            donor_name: None,
            donor_email: None,
            anonymous: false,
        },
    };
    if let Some(member_id) = &contributor.member_id {
        let known = crate::collectives::store::find_membership(conn, member_id)?
            .is_some_and(|(m, _)| m.collective_id == pool.collective_id);
        if !known {
            return Err(Error::invalid(
                "contributor.member_id",
                "is not a member of this collective",
            ));
        }
    }
    let donor_name = optional_text(
        "contributor.donor_name",
        contributor.donor_name.as_deref(),
        200,
    )?;
    let donor_email = contributor
        .donor_email
        .as_deref()
        .map(|e| crate::collectives::check_email("contributor.donor_email", e))
        .transpose()?;
    if let Some(reference) = &external_reference {
        if let Some(existing) = find_by_reference(conn, &pool.collective_id, &pool.id, reference)? {
            return Err(duplicate(&existing.id));
        }
    }

    let id = new_id();
    let net = gross - fee;
    let cover = net.min(pool.deficit_minor);
    let entry_id = record(
        conn,
        &pool,
        EntryKind::Contribution,
        &Reference::Contribution(id.as_str().into()),
        None,
        &[
            (Account::ContributionsIn, -gross),
            (Account::Fees, fee),
            (Account::Deficit, cover),
            (Account::Available, net - cover),
        ],
    )?;
    let (pledge_id, pledge_applied_minor) = match pledge {
        Some((pledge_id, _)) => {
            let paid = PledgePaid {
                pledge_id,
                contribution_id: id.as_str().into(),
                gross: Money::new(gross, currency),
            };
            let applied = reactions.pledge_paid(conn, &actor, &paid)?;
            (Some(paid.pledge_id.into_string()), applied.minor)
        }
        None => (None, 0),
    };
    let at = now();
    let row = ContributionRow {
        collective_id: pool.collective_id.clone(),
        id: id.clone(),
        pool_id: pool.id.clone(),
        amount_minor: gross,
        fee_minor: fee,
        refunded_minor: 0,
        method: input.method.as_str().to_owned(),
        external_reference,
        member_id: contributor.member_id,
        donor_name,
        donor_email,
        anonymous: contributor.anonymous,
        note,
        status: ContributionStatus::Received.as_str().to_owned(),
        entry_id: entry_id.into_string(),
        recorded_by: actor.id().to_owned(),
        received_at: input.received_at.map(|t| t.naive_utc()).unwrap_or(at),
        created_at: at,
        updated_at: at,
        pledge_id,
        pledge_applied_minor,
        dispute_fee_minor: 0,
    };
    // Two concurrent records of one processor payment: the unique key
    // stops the second, inside a savepoint so the caller sees a clean 409.
    if !store::insert_contribution(conn, &row)? {
        let existing = find_by_reference(
            conn,
            &pool.collective_id,
            &pool.id,
            row.external_reference.as_deref().unwrap_or_default(),
        )?;
        return Err(duplicate(
            existing.map(|c| c.id).as_deref().unwrap_or_default(),
        ));
    }
    audit::record(
        conn,
        &actor,
        "contribution.recorded",
        "contribution",
        &id,
        json!({"pool_id": pool.id, "amount_minor": gross, "fee_minor": fee, "covered_deficit_minor": cover,
               "pledge_id": row.pledge_id, "applied_to_pledge_minor": row.pledge_applied_minor}),
    )?;
    let contribution = Contribution::from_row(row, &pool)?;
    events::record(
        conn,
        &pool.collective_id,
        EventType::ContributionRecorded,
        &contribution,
    )?;
    Ok(contribution)
}

/// Takes back what a contribution paid on its pledge, up to `amount`.
fn take_back_from_pledge(
    conn: &mut DbConnection,
    actor: &Actor,
    pool: &PoolRow,
    row: &ContributionRow,
    amount: i64,
    reactions: &mut dyn Reactions,
) -> Result<()> {
    let Some(pledge_id) = row.pledge_id.as_deref().filter(|_| amount > 0) else {
        return Ok(());
    };
    let taken_back = PledgeTakenBack {
        pledge_id: pledge_id.into(),
        contribution_id: row.id.as_str().into(),
        amount: Money::new(amount, pool.currency()?),
    };
    let taken = reactions.pledge_taken_back(conn, actor, &taken_back)?.minor;
    store::take_back_pledge_credit(conn, &row.id, taken)
}

fn duplicate(existing_id: &str) -> Error {
    Error::Conflict {
        code: "duplicate_contribution",
        message: "a contribution with this external reference is already recorded in the pool"
            .into(),
        extra: Some(json!({"contribution_id": existing_id})),
    }
}

use store::{find_by_reference, find_contribution as find};

/// Loads a contribution for a caller allowed `permission` in its collective.
fn load_authorized_contribution(
    conn: &mut DbConnection,
    principal: &Principal,
    id: &ContributionId,
    permission: Permission,
) -> Result<(Actor, PoolRow, ContributionRow)> {
    let row = find(conn, id.as_str())?;
    let (actor, pool) =
        load_authorized(conn, principal, &row.pool_id, permission).map_err(|e| match e {
            Error::NotFound { .. } => Error::NotFound {
                what: "contribution",
            },
            other => other,
        })?;
    Ok((actor, pool, row))
}

pub fn get(
    conn: &mut DbConnection,
    principal: &Principal,
    id: &ContributionId,
) -> Result<Contribution> {
    let (_, pool, row) =
        load_authorized_contribution(conn, principal, id, Permission::ReadContributions)?;
    Contribution::from_row(row, &pool)
}

pub fn list(
    conn: &mut DbConnection,
    principal: &Principal,
    pool_id: &PoolId,
    page: &PageRequest,
) -> Result<Page<Contribution>> {
    let (_, pool) = load_authorized(
        conn,
        principal,
        pool_id.as_str(),
        Permission::ReadContributions,
    )?;
    store::contribution_page(conn, Whose::Pool(&pool.id), page)?
        .try_map(|r| Contribution::from_row(r, &pool))
}

/// `GET /me/contributions`: the caller's own contributions in a
/// collective, in every pool, oldest first.
pub fn list_mine(
    conn: &mut DbConnection,
    principal: &Principal,
    collective_id: &str,
    page: &PageRequest,
) -> Result<Page<Contribution>> {
    let actor = crate::auth::access::authorize(
        conn,
        principal,
        collective_id,
        Permission::ReadOwnContributions,
        "collective",
    )?;
    let member_id = actor
        .membership_id()
        .ok_or_else(|| Error::forbidden("only members have contributions of their own"))?;
    let page = store::contribution_page(
        conn,
        Whose::Member {
            collective_id,
            member_id,
        },
        page,
    )?;
    let mut pools: Vec<PoolRow> = Vec::new();
    let mut items = Vec::with_capacity(page.items.len());
    for row in page.items {
        if !pools.iter().any(|p| p.id == row.pool_id) {
            pools.push(store::pool(conn, &row.pool_id)?);
        }
        let pool = pools
            .iter()
            .find(|p| p.id == row.pool_id)
            .ok_or(Error::NotFound { what: "pool" })?;
        items.push(Contribution::from_row(row, pool)?);
    }
    Ok(Page {
        items,
        next_cursor: page.next_cursor,
    })
}

/// Money goes back out: from what is available, and the shortfall — money
/// already held or spent — becomes the pool's deficit.
fn take_back(pool: &PoolRow, amount: i64) -> (i64, i64) {
    let take = amount.min(pool.available_minor);
    (take, amount - take)
}

/// Refunds or charges back part or all of a contribution's gross amount,
/// with a chargeback's dispute fee.
pub fn refund(
    conn: &mut DbConnection,
    principal: &Principal,
    contribution_id: &ContributionId,
    input: NewRefund,
    reactions: &mut dyn Reactions,
) -> Result<Contribution> {
    write_tx(conn, |conn| {
        refund_tx(conn, principal, contribution_id, input, reactions)
    })
}

fn refund_tx(
    conn: &mut DbConnection,
    principal: &Principal,
    contribution_id: &ContributionId,
    input: NewRefund,
    reactions: &mut dyn Reactions,
) -> Result<Contribution> {
    let (actor, pool, _) = load_authorized_contribution(
        conn,
        principal,
        contribution_id,
        Permission::RecordContributions,
    )?;
    let pool = pool_store::lock(conn, &pool.id)?;
    let row = find(conn, contribution_id.as_str())?;
    let currency = pool.currency()?;
    let amount = Money::parse_positive("amount", &input.amount, currency)?.minor;
    let dispute_fee = match (input.dispute_fee.as_deref(), input.kind) {
        (None, _) => 0,
        (Some(text), RefundKind::Chargeback) => Money::parse("dispute_fee", text, currency)?.minor,
        (Some(_), RefundKind::Refund) => {
            return Err(Error::invalid(
                "dispute_fee",
                "only a chargeback carries a dispute fee",
            ))
        }
    };
    let reason = optional_text("reason", input.reason.as_deref(), 2000)?;
    if row.status()? == ContributionStatus::Reversed {
        return Err(Error::conflict(
            "contribution_reversed",
            "this contribution was reversed",
        ));
    }
    // Up to the gross: the processor claws back what the contributor paid
    // and keeps its fee, so the pool bears the fee it never received.
    let refundable = row.amount_minor - row.refunded_minor;
    if amount > refundable {
        return Err(Error::Conflict {
            code: "refund_exceeds_contribution",
            message: format!(
                "at most {} can still be refunded",
                format_minor(refundable, currency)
            ),
            extra: Some(json!({"refundable": format_minor(refundable, currency)})),
        });
    }
    // The dispute fee leaves the pool with the money, to the processor.
    let (take, shortfall) = take_back(&pool, amount + dispute_fee);
    let kind = match input.kind {
        RefundKind::Refund => EntryKind::Refund,
        RefundKind::Chargeback => EntryKind::Chargeback,
    };
    record(
        conn,
        &pool,
        kind,
        &Reference::Contribution(row.id.as_str().into()),
        None,
        &[
            (Account::Available, -take),
            (Account::Deficit, -shortfall),
            (Account::ContributionsIn, amount),
            (Account::Fees, dispute_fee),
        ],
    )?;
    let refunded = row.refunded_minor + amount;
    let status = if refunded == row.amount_minor {
        ContributionStatus::Refunded
    } else {
        ContributionStatus::PartiallyRefunded
    };
    if !store::add_refund(conn, &row, amount, dispute_fee, status.as_str(), now())? {
        return Err(Error::conflict(
            "concurrent_change",
            "the contribution changed meanwhile; try again",
        ));
    }
    // What is given back comes first out of the part that paid no
    // installment; pledge credit goes only where the money kept no longer
    // covers it.
    let kept = row.amount_minor - refunded;
    let credit_back = (row.pledge_applied_minor - kept).max(0);
    take_back_from_pledge(conn, &actor, &pool, &row, credit_back, reactions)?;
    audit::record(
        conn,
        &actor,
        &format!("contribution.{}", kind.as_str()),
        "contribution",
        &row.id,
        json!({"amount_minor": amount, "dispute_fee_minor": dispute_fee,
               "deficit_minor": shortfall, "reason": reason}),
    )?;
    let contribution = Contribution::from_row(find(conn, contribution_id.as_str())?, &pool)?;
    let happened = match input.kind {
        RefundKind::Refund => EventType::ContributionRefunded,
        RefundKind::Chargeback => EventType::ContributionChargedBack,
    };
    events::record(conn, &pool.collective_id, happened, &contribution)?;
    Ok(contribution)
}

/// Reverses the entry of a contribution recorded by mistake: the money is
/// taken back out (the shortfall, if it was already used, becomes deficit).
/// An entry is reversed at most once; only contribution entries without
/// refunds can be reversed — holds are undone by releasing them, payouts by
/// recording their failure.
pub fn reverse_entry(
    conn: &mut DbConnection,
    principal: &Principal,
    entry_id: &EntryId,
    reason: Option<String>,
    reactions: &mut dyn Reactions,
) -> Result<super::Entry> {
    write_tx(conn, |conn| {
        reverse_entry_tx(conn, principal, entry_id, reason, reactions)
    })
}

fn reverse_entry_tx(
    conn: &mut DbConnection,
    principal: &Principal,
    entry_id: &EntryId,
    reason: Option<String>,
    reactions: &mut dyn Reactions,
) -> Result<super::Entry> {
    let entry =
        store::find_entry(conn, entry_id.as_str())?.ok_or(Error::NotFound { what: "entry" })?;
    let (actor, pool) =
        load_authorized(conn, principal, &entry.pool_id, Permission::ReverseEntries).map_err(
            |e| match e {
                Error::NotFound { .. } => Error::NotFound { what: "entry" },
                other => other,
            },
        )?;
    let reason = optional_text("reason", reason.as_deref(), 2000)?;
    if entry.kind()? != EntryKind::Contribution {
        return Err(Error::Conflict {
            code: "not_reversible",
            message: "only contribution entries are reversed; release a hold or record a failed payout instead".into(),
            extra: Some(json!({"kind": entry.kind})),
        });
    }
    let pool = pool_store::lock(conn, &pool.id)?;
    if store::is_reversed(conn, &entry.id)? {
        return Err(Error::conflict(
            "already_reversed",
            "this entry has already been reversed",
        ));
    }
    let row = find(conn, &entry.reference_id)?;
    if row.refunded_minor > 0 {
        return Err(Error::conflict(
            "not_reversible",
            "this contribution has refunds; refund the rest instead of reversing it",
        ));
    }
    let net = row.amount_minor - row.fee_minor;
    let (take, shortfall) = take_back(&pool, net);
    let reversed = EntryId::from(entry.id.as_str());
    let recorded = write_tx(conn, |conn| {
        record(
            conn,
            &pool,
            EntryKind::Reversal,
            &Reference::Contribution(row.id.as_str().into()),
            Some(&reversed),
            &[
                (Account::ContributionsIn, row.amount_minor),
                (Account::Fees, -row.fee_minor),
                (Account::Available, -take),
                (Account::Deficit, -shortfall),
            ],
        )
    });
    let reversal_id = match recorded {
        Err(Error::Storage(e)) if is_unique_violation(&e) => {
            return Err(Error::conflict(
                "already_reversed",
                "this entry has already been reversed",
            ))
        }
        other => other?,
    };
    store::set_contribution_status(conn, &row.id, ContributionStatus::Reversed.as_str(), now())?;
    take_back_from_pledge(
        conn,
        &actor,
        &pool,
        &row,
        row.pledge_applied_minor,
        reactions,
    )?;
    audit::record(
        conn,
        &actor,
        "entry.reversed",
        "entry",
        &entry.id,
        json!({"reversal_entry_id": reversal_id.as_str(), "reason": reason, "deficit_minor": shortfall}),
    )?;
    let reversal = super::single_entry(conn, &pool, &reversal_id)?;
    let contribution = Contribution::from_row(find(conn, &row.id)?, &pool)?;
    events::record(
        conn,
        &pool.collective_id,
        EventType::EntryReversed,
        &reversal,
    )?;
    events::record(
        conn,
        &pool.collective_id,
        EventType::ContributionReversed,
        &contribution,
    )?;
    Ok(reversal)
}
