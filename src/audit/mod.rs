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
    // Details are sealed (`crate::crypto`): some say how a member is
    // affected, and a copy of the database should not.
    let id = new_id();
    let details = crate::crypto::seal("audit_records", "details", &id, &details.to_string())?;
    let row = (
        audit_records::collective_id.eq(actor.collective_id.clone()),
        audit_records::id.eq(id),
        audit_records::occurred_at.eq(now()),
        audit_records::actor_kind.eq(actor.kind()),
        audit_records::actor_id.eq(actor.id().to_owned()),
        audit_records::action.eq(action.to_owned()),
        audit_records::object_kind.eq(object_kind.to_owned()),
        audit_records::object_id.eq(object_id.to_owned()),
        audit_records::details.eq(details),
    );
    crate::on_backend!(conn, |c| diesel::insert_into(audit_records::table)
        .values(row)
        .execute(c))?;
    Ok(())
}

/// What an update changed, for its audit record: every field whose value
/// differs between the `before` and `after` views of the resource, as
/// `{"field": {"before": …, "after": …}}` (nested fields dotted, e.g.
/// `rules.approvals_needed`). A field under one of the `private` prefixes
/// is named with its values left out: `{"private.details": {"private":
/// true}}`. Bookkeeping (`version`, `updated_at`) is not a change.
pub fn changes(before: &impl Serialize, after: &impl Serialize, private: &[&str]) -> Value {
    let (before, after) = (
        serde_json::to_value(before).unwrap_or(Value::Null),
        serde_json::to_value(after).unwrap_or(Value::Null),
    );
    let mut changed = serde_json::Map::new();
    diff_into(&mut changed, "", &before, &after, private);
    Value::Object(changed)
}

/// `details` with the update's `changes` added (details that are not an
/// object are kept under `details`).
pub fn with_changes(details: Value, changes: Value) -> Value {
    let mut object = match details {
        Value::Object(object) => object,
        Value::Null => serde_json::Map::new(),
        other => serde_json::Map::from_iter([("details".to_owned(), other)]),
    };
    object.insert("changes".to_owned(), changes);
    Value::Object(object)
}

fn diff_into(
    changed: &mut serde_json::Map<String, Value>,
    path: &str,
    before: &Value,
    after: &Value,
    private: &[&str],
) {
    const BOOKKEEPING: [&str; 2] = ["version", "updated_at"];
    let is_private = |path: &str| {
        private
            .iter()
            .any(|p| path == *p || path.starts_with(&format!("{p}.")))
    };
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            let keys: std::collections::BTreeSet<&String> = b.keys().chain(a.keys()).collect();
            for key in keys {
                if path.is_empty() && BOOKKEEPING.contains(&key.as_str()) {
                    continue;
                }
                let inner = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                let null = Value::Null;
                diff_into(
                    changed,
                    &inner,
                    b.get(key).unwrap_or(&null),
                    a.get(key).unwrap_or(&null),
                    private,
                );
            }
        }
        (b, a) if b == a => {}
        // A private object that appears or goes: name the fields within.
        (Value::Object(b), Value::Null) | (Value::Null, Value::Object(b)) if is_private(path) => {
            for key in b.keys() {
                changed.insert(
                    format!("{path}.{key}"),
                    serde_json::json!({"private": true}),
                );
            }
        }
        _ if is_private(path) => {
            changed.insert(path.to_owned(), serde_json::json!({"private": true}));
        }
        (b, a) => {
            changed.insert(
                path.to_owned(),
                serde_json::json!({"before": b, "after": a}),
            );
        }
    }
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
        .load(conn)?
        .into_iter()
        .map(|mut row: AuditRow| {
            crate::crypto::open_in(
                "audit_records",
                "details",
                &row.id.clone(),
                &mut row.details,
            )?;
            Ok(row)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Page::from_rows(rows, page, |r| &r.id).map(AuditRecord::from))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn changes_name_what_changed_and_keep_private_values_out() {
        let before = json!({"name": "A", "rules": {"approvals_needed": 2, "max_request": "10.00"},
                            "private": {"details": "secret", "payout_reference": "DE1"},
                            "version": 3, "updated_at": "then"});
        let after = json!({"name": "A", "rules": {"approvals_needed": 3, "max_request": null},
                           "private": {"details": "other secret", "payout_reference": "DE1"},
                           "version": 4, "updated_at": "now"});
        assert_eq!(
            changes(&before, &after, &["private"]),
            json!({
                "rules.approvals_needed": {"before": 2, "after": 3},
                "rules.max_request": {"before": "10.00", "after": null},
                "private.details": {"private": true},
            })
        );
        assert_eq!(changes(&before, &before, &["private"]), json!({}));
        assert_eq!(
            with_changes(json!({"approvals_cleared": true}), json!({})),
            json!({"approvals_cleared": true, "changes": {}})
        );
    }
}
