//! Rows and queries for collectives, users and memberships.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{collectives, memberships, users};
use crate::db::DbConnection;
use crate::error::Result;
use crate::pagination::PageRequest;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = collectives)]
pub struct CollectiveRow {
    pub id: String,
    pub name: String,
    pub time_zone: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub version: i64,
    pub demo: bool,
    pub require_second_factor_for_coordinators: bool,
    pub retention_days: i32,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: String,
    pub email: String,
    pub display_name: String,
    pub password_hash: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = memberships)]
pub struct MembershipRow {
    pub collective_id: String,
    pub id: String,
    pub user_id: String,
    pub role: String,
    pub status: String,
    pub invitation_hash: Option<String>,
    pub invitation_expires_at: Option<NaiveDateTime>,
    pub invited_by: Option<String>,
    pub joined_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub version: i64,
    /// The name the inviter gave, shown until the invitation is accepted.
    pub invited_name: Option<String>,
}

impl MembershipRow {
    /// Whether the membership is active (the stored status read as the enum).
    pub fn is_active(&self) -> bool {
        crate::auth::policy::MembershipStatus::parse(&self.status)
            == Some(crate::auth::policy::MembershipStatus::Active)
    }

    pub fn role(&self) -> Option<crate::auth::policy::Role> {
        crate::auth::policy::Role::parse(&self.role)
    }

    /// The member acting through this membership, for the audit trail
    /// (an unknown role is recorded as a member's).
    pub fn actor(&self) -> crate::auth::access::Actor {
        use crate::auth::access::{Actor, Who};
        Actor {
            collective_id: self.collective_id.clone(),
            who: Who::Member {
                user_id: self.user_id.clone(),
                membership_id: self.id.clone(),
                role: self.role().unwrap_or(crate::auth::policy::Role::Member),
            },
        }
    }
}

/// Whether the database holds any collective at all (`commonpot demo`
/// refuses one that does).
pub fn any_collective(conn: &mut DbConnection) -> Result<bool> {
    Ok(diesel::select(diesel::dsl::exists(
        collectives::table.select(collectives::id),
    ))
    .get_result(conn)?)
}

pub fn find_collective(conn: &mut DbConnection, id: &str) -> Result<Option<CollectiveRow>> {
    Ok(collectives::table
        .find(id)
        .select(CollectiveRow::as_select())
        .get_result(conn)
        .optional()?)
}

pub fn membership_of(
    conn: &mut DbConnection,
    collective_id: &str,
    user_id: &str,
) -> Result<Option<MembershipRow>> {
    // On the concrete connection (`crate::on_backend`): every request of a
    // person in a collective runs it.
    Ok(crate::on_backend!(conn, |c| memberships::table
        .filter(memberships::collective_id.eq(collective_id))
        .filter(memberships::user_id.eq(user_id))
        .select(MembershipRow::as_select())
        .get_result(c)
        .optional())?)
}

pub fn find_membership(
    conn: &mut DbConnection,
    id: &str,
) -> Result<Option<(MembershipRow, UserRow)>> {
    Ok(memberships::table
        .inner_join(users::table)
        .filter(memberships::id.eq(id))
        .select((MembershipRow::as_select(), UserRow::as_select()))
        .get_result(conn)
        .optional()?)
}

pub fn find_user_by_email(conn: &mut DbConnection, email: &str) -> Result<Option<UserRow>> {
    Ok(users::table
        .filter(users::email.eq(email))
        .select(UserRow::as_select())
        .get_result(conn)
        .optional()?)
}

pub fn find_user(conn: &mut DbConnection, id: &str) -> Result<Option<UserRow>> {
    Ok(users::table
        .find(id)
        .select(UserRow::as_select())
        .get_result(conn)
        .optional()?)
}

/// The collectives where the user's membership is active, in id order.
pub fn collectives_of(
    conn: &mut DbConnection,
    user_id: &str,
    page: &PageRequest,
) -> Result<Vec<CollectiveRow>> {
    let mut query = collectives::table
        .inner_join(memberships::table)
        .filter(memberships::user_id.eq(user_id))
        .filter(memberships::status.eq("active"))
        .into_boxed();
    if let Some(after) = &page.after {
        query = query.filter(collectives::id.gt(after.clone()));
    }
    Ok(query
        .order(collectives::id.asc())
        .limit(page.limit + 1)
        .select(CollectiveRow::as_select())
        .load(conn)?)
}

/// The user's active memberships, in collective order.
pub fn active_memberships_of(conn: &mut DbConnection, user_id: &str) -> Result<Vec<MembershipRow>> {
    Ok(memberships::table
        .filter(memberships::user_id.eq(user_id))
        .filter(memberships::status.eq(crate::auth::policy::MembershipStatus::Active.as_str()))
        .order(memberships::collective_id.asc())
        .select(MembershipRow::as_select())
        .load(conn)?)
}

/// Filters for the member list.
#[derive(Debug, Default, Clone)]
pub struct MemberFilter {
    pub status: Option<String>,
    pub role: Option<String>,
}

pub fn list_members(
    conn: &mut DbConnection,
    collective_id: &str,
    filter: &MemberFilter,
    page: &PageRequest,
) -> Result<Vec<(MembershipRow, UserRow)>> {
    let mut query = memberships::table
        .inner_join(users::table)
        .filter(memberships::collective_id.eq(collective_id))
        .into_boxed();
    if let Some(status) = &filter.status {
        query = query.filter(memberships::status.eq(status.clone()));
    }
    if let Some(role) = &filter.role {
        query = query.filter(memberships::role.eq(role.clone()));
    }
    if let Some(after) = &page.after {
        query = query.filter(memberships::id.gt(after.clone()));
    }
    Ok(query
        .order(memberships::id.asc())
        .limit(page.limit + 1)
        .select((MembershipRow::as_select(), UserRow::as_select()))
        .load(conn)?)
}

/// Takes the collective's row lock until the transaction ends, so that
/// changes checked against the collective as a whole (the last active admin)
/// are made one after the other: on PostgreSQL under read committed two
/// transactions could otherwise each count, then each change another row.
/// (A no-op guarded update, as `FOR UPDATE` is outside the shared subset; on
/// SQLite the write transaction already serialises.)
pub fn lock_collective(conn: &mut DbConnection, id: &str) -> Result<bool> {
    let locked = diesel::update(collectives::table.filter(collectives::id.eq(id)))
        .set(collectives::version.eq(collectives::version))
        .execute(conn)?;
    Ok(locked > 0)
}

/// The user with this email, creating them (without a password) if there is
/// none. Safe when several invitations of one new email run at once: the
/// insert runs in a savepoint, and whoever loses the unique key reads the
/// winner's row.
pub fn find_or_create_user(
    conn: &mut DbConnection,
    email: &str,
    display_name: &str,
) -> Result<UserRow> {
    for _ in 0..3 {
        if let Some(user) = find_user_by_email(conn, email)? {
            return Ok(user);
        }
        let at = crate::ids::now();
        let user = UserRow {
            id: crate::ids::new_id(),
            email: email.to_owned(),
            display_name: display_name.to_owned(),
            password_hash: None,
            created_at: at,
            updated_at: at,
        };
        let inserted = conn.transaction(|conn| {
            diesel::insert_into(users::table)
                .values(&user)
                .execute(conn)
        });
        match inserted {
            Ok(_) => return Ok(user),
            Err(e) if crate::db::is_unique_violation(&e) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(crate::error::Error::Internal(format!(
        "no user row for {email} after three tries"
    )))
}

pub fn count_active_admins(conn: &mut DbConnection, collective_id: &str) -> Result<i64> {
    Ok(memberships::table
        .filter(memberships::collective_id.eq(collective_id))
        .filter(memberships::role.eq("admin"))
        .filter(memberships::status.eq("active"))
        .count()
        .get_result(conn)?)
}

/// The collective's time zone: due dates and statement periods are in it.
pub fn time_zone(conn: &mut DbConnection, collective_id: &str) -> Result<chrono_tz::Tz> {
    let name: String = collectives::table
        .find(collective_id)
        .select(collectives::time_zone)
        .get_result(conn)
        .optional()?
        .ok_or(crate::error::Error::NotFound { what: "collective" })?;
    crate::calendar::zone(&name)
}
