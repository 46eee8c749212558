//! Rows and queries for webhook endpoints.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::webhook_endpoints;
use crate::db::DbConnection;
use crate::error::Result;
use crate::pagination::PageRequest;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = webhook_endpoints)]
pub struct EndpointRow {
    pub id: String,
    pub collective_id: String,
    pub client_id: String,
    pub url: String,
    pub event_types: String,
    pub description: String,
    pub status: String,
    pub disabled_reason: Option<String>,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_secret_expires_at: Option<NaiveDateTime>,
    pub cursor_seq: i64,
    pub created_by: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub version: i64,
}

impl EndpointRow {
    /// The secrets that sign at `at`: the current one, and the previous one
    /// while its grace period runs.
    pub fn secrets_at(&self, at: NaiveDateTime) -> Vec<&str> {
        let mut secrets = vec![self.secret.as_str()];
        if let (Some(previous), Some(until)) =
            (&self.previous_secret, self.previous_secret_expires_at)
        {
            if at < until {
                secrets.push(previous);
            }
        }
        secrets
    }
}

pub fn find(conn: &mut DbConnection, id: &str) -> Result<Option<EndpointRow>> {
    Ok(webhook_endpoints::table
        .filter(webhook_endpoints::id.eq(id))
        .select(EndpointRow::as_select())
        .get_result(conn)
        .optional()?)
}

/// The collective's endpoints, or only `client_id`'s.
pub fn list(
    conn: &mut DbConnection,
    collective_id: &str,
    client_id: Option<&str>,
    page: &PageRequest,
) -> Result<Vec<EndpointRow>> {
    let mut query = webhook_endpoints::table
        .filter(webhook_endpoints::collective_id.eq(collective_id))
        .into_boxed();
    if let Some(client_id) = client_id {
        query = query.filter(webhook_endpoints::client_id.eq(client_id.to_owned()));
    }
    if let Some(after) = &page.after {
        query = query.filter(webhook_endpoints::id.gt(after.clone()));
    }
    Ok(query
        .order(webhook_endpoints::id.asc())
        .limit(page.limit + 1)
        .select(EndpointRow::as_select())
        .load(conn)?)
}
