//! The audit trail: who did what, when, to which object. Written in the same
//! transaction as the change it describes; read by coordinators.

pub mod http;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::auth::access::Actor;
use crate::db::schema::audit_records;
use crate::db::DbConnection;
use crate::error::Result;
use crate::ids::{new_id, now, utc};
use crate::pagination::{Page, PageRequest};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_records)]
pub struct AuditRow {
    pub collective_id: String,
    pub id: String,
    pub occurred_at: chrono::NaiveDateTime,
    pub actor_kind: String,
    pub actor_id: String,
    pub action: String,
    pub object_kind: String,
    pub object_id: String,
    pub details: String,
}

/// Records that `actor` did `action` (e.g. `membership.role_changed`) to an
/// object. `details` must hold no secrets and no private request data.
pub fn record(
    conn: &mut DbConnection,
    actor: &Actor,
    action: &str,
    object_kind: &str,
    object_id: &str,
    details: Value,
) -> Result<()> {
    diesel::insert_into(audit_records::table)
        .values(AuditRow {
            collective_id: actor.collective_id.clone(),
            id: new_id(),
            occurred_at: now(),
            actor_kind: actor.kind().to_owned(),
            actor_id: actor.id().to_owned(),
            action: action.to_owned(),
            object_kind: object_kind.to_owned(),
            object_id: object_id.to_owned(),
            details: details.to_string(),
        })
        .execute(conn)?;
    Ok(())
}

/// One entry of the audit trail.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditRecord {
    pub id: String,
    pub collective_id: String,
    pub occurred_at: DateTime<Utc>,
    /// `user`, `client` or `system`.
    pub actor_kind: String,
    pub actor_id: String,
    /// What happened, e.g. `membership.invited`, `pool.created`.
    pub action: String,
    pub object_kind: String,
    pub object_id: String,
    #[schema(value_type = Object)]
    pub details: Value,
}

impl From<AuditRow> for AuditRecord {
    fn from(row: AuditRow) -> Self {
        Self {
            id: row.id,
            collective_id: row.collective_id,
            occurred_at: utc(row.occurred_at),
            actor_kind: row.actor_kind,
            actor_id: row.actor_id,
            action: row.action,
            object_kind: row.object_kind,
            object_id: row.object_id,
            details: serde_json::from_str(&row.details).unwrap_or(Value::Null),
        }
    }
}

/// What to look for in the trail.
#[derive(Debug, Default, Clone)]
pub struct AuditFilter {
    pub object_kind: Option<String>,
    pub object_id: Option<String>,
    pub actor_id: Option<String>,
    pub actor_kind: Option<String>,
    /// An action, or a prefix of one ending in `*`.
    pub action: Option<String>,
    pub since: Option<chrono::NaiveDateTime>,
    pub until: Option<chrono::NaiveDateTime>,
}

/// `text` with LIKE's wildcards taken literally.
fn like_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

pub fn list(
    conn: &mut DbConnection,
    collective_id: &str,
    filter: &AuditFilter,
    page: &PageRequest,
) -> Result<Page<AuditRecord>> {
    let mut query = audit_records::table
        .filter(audit_records::collective_id.eq(collective_id))
        .into_boxed();
    if let Some(v) = &filter.object_kind {
        query = query.filter(audit_records::object_kind.eq(v.clone()));
    }
    if let Some(v) = &filter.object_id {
        query = query.filter(audit_records::object_id.eq(v.clone()));
    }
    if let Some(v) = &filter.actor_id {
        query = query.filter(audit_records::actor_id.eq(v.clone()));
    }
    if let Some(v) = &filter.actor_kind {
        query = query.filter(audit_records::actor_kind.eq(v.clone()));
    }
    match filter.action.as_deref().map(|a| (a, a.strip_suffix('*'))) {
        None => {}
        Some((_, Some(prefix))) => {
            query = query.filter(
                audit_records::action
                    .like(format!("{}%", like_escape(prefix)))
                    .escape('\\'),
            );
        }
        Some((action, None)) => {
            query = query.filter(audit_records::action.eq(action.to_owned()));
        }
    }
    if let Some(v) = filter.since {
        query = query.filter(audit_records::occurred_at.ge(v));
    }
    if let Some(v) = filter.until {
        query = query.filter(audit_records::occurred_at.lt(v));
    }
    if let Some(after) = &page.after {
        query = query.filter(audit_records::id.gt(after.clone()));
    }
    let rows = query
        .order(audit_records::id.asc())
        .limit(page.limit + 1)
        .select(AuditRow::as_select())
        .load(conn)?;
    Ok(Page::from_rows(rows, page, |r| &r.id).map(AuditRecord::from))
}
