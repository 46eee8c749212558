//! What happened to a request, in order, as its requester and coordinators
//! read it: drawn from the audit trail, which records every change in the
//! same transaction as the change itself.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde_json::Value;

use super::service::load;
use crate::auth::access::Principal;
use crate::auth::policy::Permission;
use crate::db::schema::audit_records;
use crate::db::DbConnection;
use crate::error::{Error, Result};
use crate::ids::utc;
use crate::money::format_minor;
use crate::pools::store as pool_store;

/// One step of a request's life.
#[derive(Debug, Clone)]
pub struct Step {
    pub at: DateTime<Utc>,
    /// What happened: `created`, `submitted`, `taken_into_review`,
    /// `approval_given`, `approved`, `paid` …
    pub what: String,
    /// Whether a person of the request's collective did it (rather than a
    /// partner app or the system).
    pub by_person: bool,
    /// An amount the step names (approved or paid), in the pool's currency.
    pub amount: Option<String>,
}

/// Steps only coordinators see: who declared a conflict, internal notes.
const COORDINATORS_ONLY: &[&str] = &["conflict_declared", "commented", "reassigned"];

/// The request's history, oldest first: for the requester and
/// coordinators (others: 403, like its comments).
pub fn timeline(conn: &mut DbConnection, principal: &Principal, id: &str) -> Result<Vec<Step>> {
    let (actor, row, own) = load(conn, principal, id)?;
    let coordinator = actor.may(Permission::ReviewRequests);
    if !own && !coordinator {
        return Err(Error::forbidden(
            "a request's history is for the requester and coordinators",
        ));
    }
    let currency = pool_store::find(conn, &row.pool_id)?
        .ok_or(Error::NotFound { what: "pool" })?
        .currency()?;
    let records: Vec<(String, chrono::NaiveDateTime, String, String, String)> =
        audit_records::table
            .filter(audit_records::collective_id.eq(&row.collective_id))
            .filter(audit_records::object_kind.eq("request"))
            .filter(audit_records::object_id.eq(&row.id))
            .order(audit_records::id.asc())
            .select((
                audit_records::id,
                audit_records::occurred_at,
                audit_records::actor_kind,
                audit_records::action,
                audit_records::details,
            ))
            .load(conn)?;
    Ok(records
        .into_iter()
        .filter_map(|(id, at, kind, action, details)| {
            let what = action.strip_prefix("request.")?.to_owned();
            if !coordinator && COORDINATORS_ONLY.contains(&what.as_str()) {
                return None;
            }
            // Sealed at rest (`crate::crypto`); one that does not open shows
            // no amount rather than failing the whole timeline.
            let details =
                crate::crypto::open("audit_records", "details", &id, &details).unwrap_or_default();
            let details: Value = serde_json::from_str(&details).unwrap_or(Value::Null);
            let amount = matches!(
                what.as_str(),
                "approved" | "approval_given" | "paid" | "partially_paid"
            )
            .then(|| details.get("amount_minor").and_then(Value::as_i64))
            .flatten()
            .map(|minor| format_minor(minor, currency));
            Some(Step {
                at: utc(at),
                what,
                by_person: kind == "user",
                amount,
            })
        })
        .collect())
}
