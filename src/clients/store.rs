//! Rows and queries for partner-app clients.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::clients;
use crate::db::DbConnection;
use crate::error::Result;
use crate::pagination::PageRequest;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = clients)]
pub struct ClientRow {
    pub collective_id: String,
    pub id: String,
    pub name: String,
    pub secret_hash: String,
    pub scopes: String,
    pub status: String,
    pub created_by: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub version: i64,
}

impl ClientRow {
    /// The stored status read as the enum: anything but `active` is disabled.
    pub fn status(&self) -> super::ClientStatus {
        if self.status == super::ClientStatus::Active.as_str() {
            super::ClientStatus::Active
        } else {
            super::ClientStatus::Disabled
        }
    }
}

pub fn find(conn: &mut DbConnection, id: &str) -> Result<Option<ClientRow>> {
    Ok(clients::table
        .filter(clients::id.eq(id))
        .select(ClientRow::as_select())
        .get_result(conn)
        .optional()?)
}

pub fn list(
    conn: &mut DbConnection,
    collective_id: &str,
    page: &PageRequest,
) -> Result<Vec<ClientRow>> {
    let mut query = clients::table
        .filter(clients::collective_id.eq(collective_id))
        .into_boxed();
    if let Some(after) = &page.after {
        query = query.filter(clients::id.gt(after.clone()));
    }
    Ok(query
        .order(clients::id.asc())
        .limit(page.limit + 1)
        .select(ClientRow::as_select())
        .load(conn)?)
}
