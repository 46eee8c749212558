//! The rules for collectives and memberships.

use chrono::TimeDelta;
use diesel::prelude::*;
use serde_json::json;

use super::store::{self, CollectiveRow, MemberFilter, MembershipRow, UserRow};
use super::*;
use crate::audit;
use crate::auth::access::{authorize, Actor, Principal};
use crate::auth::password::{
    digest, hash_off_connection, hash_password, new_secret, verify_password,
};
use crate::auth::policy::{MembershipStatus, Permission, Role};
use crate::db::schema::{collectives, memberships, users};
use crate::db::{is_unique_violation, write_tx, Db, DbConnection};
use crate::error::{Error, Result};
use crate::events::{self, EventType};
use crate::ids::{new_id, now, utc};
use crate::pagination::{Page, PageRequest};

/// How long an invitation can be accepted.
const INVITATION_DAYS: i64 = 14;

/// Creates a collective with the caller as its first admin.
pub fn create(
    conn: &mut DbConnection,
    principal: &Principal,
    input: NewCollective,
) -> Result<Collective> {
    let user_id = principal.require_user()?.to_owned();
    let name = check_text("name", &input.name, 200)?;
    let time_zone = check_time_zone("time_zone", &input.time_zone)?;
    write_tx(conn, |conn| {
        let (collective, _) = insert_collective_with_admin(conn, &user_id, name, time_zone)?;
        Ok(collective)
    })
}

/// Inserts a collective and an active admin membership for `user_id`,
/// audited. Used by the API and by `commonpot admin bootstrap`.
pub fn insert_collective_with_admin(
    conn: &mut DbConnection,
    user_id: &str,
    name: String,
    time_zone: String,
) -> Result<(Collective, Membership)> {
    let at = now();
    let row = CollectiveRow {
        id: new_id(),
        name,
        time_zone,
        created_at: at,
        updated_at: at,
        version: 1,
        demo: false,
        require_second_factor_for_coordinators: false,
        retention_days: crate::personal_data::retention::DEFAULT_DAYS,
    };
    diesel::insert_into(collectives::table)
        .values(&row)
        .execute(conn)?;
    let membership = MembershipRow {
        collective_id: row.id.clone(),
        id: new_id(),
        user_id: user_id.to_owned(),
        role: Role::Admin.as_str().into(),
        status: MembershipStatus::Active.as_str().into(),
        invitation_hash: None,
        invitation_expires_at: None,
        invited_by: None,
        joined_at: Some(at),
        created_at: at,
        updated_at: at,
        version: 1,
        invited_name: None,
    };
    diesel::insert_into(memberships::table)
        .values(&membership)
        .execute(conn)?;
    let actor = Actor {
        collective_id: row.id.clone(),
        who: crate::auth::access::Who::Member {
            user_id: user_id.to_owned(),
            membership_id: membership.id.clone(),
            role: Role::Admin,
        },
    };
    audit::record(
        conn,
        &actor,
        "collective.created",
        "collective",
        &row.id,
        json!({"name": row.name, "time_zone": row.time_zone}),
    )?;
    let user = store::find_user(conn, user_id)?.ok_or(Error::NotFound { what: "user" })?;
    let membership = Membership::from_rows(membership, user, true)?;
    Ok((row.into(), membership))
}

/// Marks a collective as made by `commonpot demo`, so the API and the pages
/// say it is demo data. Only the command line does this; nothing unmarks it.
pub fn mark_as_demo(conn: &mut DbConnection, id: &str) -> Result<Collective> {
    write_tx(conn, |conn| {
        let row =
            store::find_collective(conn, id)?.ok_or(Error::NotFound { what: "collective" })?;
        diesel::update(collectives::table.filter(collectives::id.eq(id)))
            .set((
                collectives::demo.eq(true),
                collectives::updated_at.eq(now()),
                collectives::version.eq(row.version + 1),
            ))
            .execute(conn)?;
        audit::record(
            conn,
            &Actor::system(id),
            "collective.marked_demo",
            "collective",
            id,
            json!({}),
        )?;
        let collective: Collective = store::find_collective(conn, id)?
            .ok_or(Error::NotFound { what: "collective" })?
            .into();
        events::record(conn, id, EventType::CollectiveUpdated, &collective)?;
        Ok(collective)
    })
}

pub fn get(conn: &mut DbConnection, principal: &Principal, id: &str) -> Result<Collective> {
    authorize(
        conn,
        principal,
        id,
        Permission::ReadCollective,
        "collective",
    )?;
    let row = store::find_collective(conn, id)?.ok_or(Error::NotFound { what: "collective" })?;
    Ok(row.into())
}

/// The collectives the signed-in person is an active member of.
pub fn list(
    conn: &mut DbConnection,
    principal: &Principal,
    page: &PageRequest,
) -> Result<Page<Collective>> {
    let user_id = principal.require_user()?;
    let rows = store::collectives_of(conn, user_id, page)?;
    Ok(Page::from_rows(rows, page, |r| &r.id).map(Collective::from))
}

pub fn update(
    conn: &mut DbConnection,
    principal: &Principal,
    id: &str,
    patch: CollectivePatch,
    if_match: Option<&str>,
) -> Result<Collective> {
    let name = patch
        .name
        .as_deref()
        .map(|n| check_text("name", n, 200))
        .transpose()?;
    let time_zone = patch
        .time_zone
        .as_deref()
        .map(|z| check_time_zone("time_zone", z))
        .transpose()?;
    let retention_days = patch
        .retention_days
        .map(|days| crate::personal_data::retention::check_days("retention_days", days))
        .transpose()?;
    write_tx(conn, |conn| {
        let actor = authorize(
            conn,
            principal,
            id,
            Permission::UpdateCollective,
            "collective",
        )?;
        let row =
            store::find_collective(conn, id)?.ok_or(Error::NotFound { what: "collective" })?;
        check_if_match(if_match, row.version)?;
        let name = name.unwrap_or(row.name.clone());
        let time_zone = time_zone.unwrap_or(row.time_zone.clone());
        let require_second_factor = patch
            .require_second_factor_for_coordinators
            .unwrap_or(row.require_second_factor_for_coordinators);
        let retention_days = retention_days.unwrap_or(row.retention_days);
        let updated = diesel::update(
            collectives::table
                .filter(collectives::id.eq(id))
                .filter(collectives::version.eq(row.version)),
        )
        .set((
            collectives::name.eq(&name),
            collectives::time_zone.eq(&time_zone),
            collectives::require_second_factor_for_coordinators.eq(require_second_factor),
            collectives::retention_days.eq(retention_days),
            collectives::updated_at.eq(now()),
            collectives::version.eq(row.version + 1),
        ))
        .execute(conn)?;
        if updated == 0 {
            return Err(Error::PreconditionFailed {
                current_etag: etag(row.version + 1),
            });
        }
        let collective: Collective = store::find_collective(conn, id)?
            .ok_or(Error::NotFound { what: "collective" })?
            .into();
        let before = Collective::from(row);
        audit::record(
            conn,
            &actor,
            "collective.updated",
            "collective",
            id,
            json!({"name": name, "time_zone": time_zone, "retention_days": retention_days,
                   "require_second_factor_for_coordinators": require_second_factor,
                   "changes": audit::changes(&before, &collective, &[])}),
        )?;
        events::record(conn, id, EventType::CollectiveUpdated, &collective)?;
        Ok(collective)
    })
}

/// Invites a person by email. Creates their account (without a password)
/// if they have none. The answer is the same whether or not they had one.
pub fn invite(
    conn: &mut DbConnection,
    principal: &Principal,
    collective_id: &str,
    input: NewInvitation,
) -> Result<Invitation> {
    let email = check_email("email", &input.email)?;
    let display_name = check_text("display_name", &input.display_name, 100)?;
    let role = input.role.unwrap_or(Role::Member);
    let already_member = || {
        Error::conflict(
            "already_member",
            "this person already has a membership of the collective",
        )
    };
    write_tx(conn, |conn| {
        let actor = authorize(
            conn,
            principal,
            collective_id,
            Permission::InviteMembers,
            "collective",
        )?;
        if role > Role::Member && !actor.may(Permission::ManageMembers) {
            return Err(Error::forbidden(
                "only admins may invite coordinators and admins",
            ));
        }
        let user = store::find_or_create_user(conn, &email, &display_name)?;
        if store::membership_of(conn, collective_id, &user.id)?.is_some() {
            return Err(already_member());
        }
        let at = now();
        let token = new_secret("cpi");
        let expires_at = at + TimeDelta::days(INVITATION_DAYS);
        let membership = MembershipRow {
            collective_id: collective_id.to_owned(),
            id: new_id(),
            user_id: user.id.clone(),
            role: role.as_str().into(),
            status: MembershipStatus::Invited.as_str().into(),
            invitation_hash: Some(digest(&token)),
            invitation_expires_at: Some(expires_at),
            invited_by: Some(actor.id().to_owned()),
            joined_at: None,
            created_at: at,
            updated_at: at,
            version: 1,
            invited_name: Some(display_name),
        };
        // The same person invited twice at once: one wins the unique key, in
        // a savepoint so the loser answers cleanly.
        let inserted = conn.transaction(|conn| {
            diesel::insert_into(memberships::table)
                .values(&membership)
                .execute(conn)
        });
        match inserted {
            Err(e) if is_unique_violation(&e) => return Err(already_member()),
            other => other?,
        };
        // Who was invited is the membership; the account behind it is not
        // the inviter's to learn.
        audit::record(
            conn,
            &actor,
            "membership.invited",
            "membership",
            &membership.id,
            json!({"role": role.as_str()}),
        )?;
        let membership = Membership::from_rows(membership, user, true)?;
        events::record(
            conn,
            collective_id,
            EventType::MembershipInvited,
            &membership,
        )?;
        Ok(Invitation {
            membership,
            invitation_token: token,
            expires_at: utc(expires_at),
        })
    })
}

/// An invitation that can still be accepted, and the account it is for.
fn pending_invitation(conn: &mut DbConnection, token: &str) -> Result<(MembershipRow, UserRow)> {
    let hash = digest(token.trim());
    let found: Option<(MembershipRow, UserRow)> = memberships::table
        .inner_join(users::table)
        .filter(memberships::invitation_hash.eq(&hash))
        .select((MembershipRow::as_select(), UserRow::as_select()))
        .get_result(conn)
        .optional()?;
    let (membership, user) = found.ok_or(Error::NotFound { what: "invitation" })?;
    if membership.status != MembershipStatus::Invited.as_str()
        || membership
            .invitation_expires_at
            .is_some_and(|at| at <= now())
    {
        return Err(invitation_expired());
    }
    Ok((membership, user))
}

fn invitation_expired() -> Error {
    Error::conflict(
        "invitation_expired",
        "this invitation has expired or was already used; ask for a new one",
    )
}

fn sign_in_to_accept() -> Error {
    Error::Unauthenticated {
        code: "unauthenticated",
        message: "this invitation is for an existing account: sign in as that account, \
                  then accept it with your access token"
            .into(),
    }
}

/// Accepts an invitation with its token — the API's and the web app's way.
///
/// An account that already has a password accepts only while signed in as
/// itself (`signed_in`, the person's user id) and never by a password: a
/// password checked here would be an unthrottled oracle for anyone who can
/// invite. A new account sets its password here (hashed off any database
/// connection).
pub async fn accept_invitation(
    db: &Db,
    signed_in: Option<String>,
    input: AcceptInvitation,
) -> Result<Membership> {
    let token = input.invitation_token;
    let (membership, user) = db.run(move |conn| pending_invitation(conn, &token)).await?;
    if signed_in.as_ref().is_some_and(|id| *id != user.id) {
        return Err(Error::forbidden(
            "this invitation is for another account; sign out, or sign in as that account",
        ));
    }
    let new_hash = match (&user.password_hash, &signed_in, input.password) {
        (Some(_), None, _) => return Err(sign_in_to_accept()),
        (Some(_), Some(_), Some(_)) => {
            return Err(Error::invalid(
                "password",
                "your account has its password already; accept without one",
            ))
        }
        (Some(_), Some(_), None) => None,
        (None, _, None) => {
            return Err(Error::invalid(
                "password",
                "set a password for your new account",
            ))
        }
        (None, _, Some(password)) => {
            check_password("password", &password)?;
            Some(hash_off_connection(password).await)
        }
    };
    db.run(move |conn| complete_acceptance(conn, &membership, &user, new_hash))
        .await
}

/// Accepts an invitation on the command line (`commonpot demo`), where no
/// one signs in: a new account gets `password_hash` (hashed by the caller),
/// or stays without a password — it holds a real membership but cannot sign
/// in, as the demo's scaled members (hashing thousands of passwords would
/// take minutes). An account that has a password already keeps it.
pub fn accept_invitation_offline(
    conn: &mut DbConnection,
    invitation_token: &str,
    password_hash: Option<String>,
) -> Result<Membership> {
    let (membership, user) = pending_invitation(conn, invitation_token)?;
    let new_hash = password_hash.filter(|_| user.password_hash.is_none());
    complete_acceptance(conn, &membership, &user, new_hash)
}

fn complete_acceptance(
    conn: &mut DbConnection,
    membership: &MembershipRow,
    user: &UserRow,
    new_hash: Option<String>,
) -> Result<Membership> {
    write_tx(conn, |conn| {
        let at = now();
        let accepted = diesel::update(
            memberships::table
                .filter(memberships::id.eq(&membership.id))
                .filter(memberships::status.eq(MembershipStatus::Invited.as_str()))
                .filter(memberships::invitation_expires_at.gt(at)),
        )
        .set((
            memberships::status.eq(MembershipStatus::Active.as_str()),
            memberships::invitation_hash.eq(None::<String>),
            memberships::invited_name.eq(None::<String>),
            memberships::joined_at.eq(Some(at)),
            memberships::updated_at.eq(at),
            memberships::version.eq(memberships::version + 1),
        ))
        .execute(conn)?;
        if accepted == 0 {
            return Err(invitation_expired());
        }
        if let Some(hash) = &new_hash {
            // Another invitation of this new account may have set its
            // password meanwhile: then it is an existing account.
            let set = diesel::update(
                users::table
                    .filter(users::id.eq(&user.id))
                    .filter(users::password_hash.is_null()),
            )
            .set((users::password_hash.eq(hash), users::updated_at.eq(at)))
            .execute(conn)?;
            if set == 0 {
                return Err(sign_in_to_accept());
            }
        }
        let actor = Actor {
            collective_id: membership.collective_id.clone(),
            who: crate::auth::access::Who::Member {
                user_id: user.id.clone(),
                membership_id: membership.id.clone(),
                role: Role::parse(&membership.role).unwrap_or(Role::Member),
            },
        };
        audit::record(
            conn,
            &actor,
            "membership.accepted",
            "membership",
            &membership.id,
            json!({}),
        )?;
        let (row, user) = store::find_membership(conn, &membership.id)?
            .ok_or(Error::NotFound { what: "invitation" })?;
        let joined = Membership::from_rows(row, user, true)?;
        events::record(
            conn,
            &joined.collective_id,
            EventType::MembershipJoined,
            &joined,
        )?;
        Ok(joined)
    })
}

pub fn list_members(
    conn: &mut DbConnection,
    principal: &Principal,
    collective_id: &str,
    filter: MemberFilter,
    page: &PageRequest,
) -> Result<Page<Membership>> {
    let actor = authorize(
        conn,
        principal,
        collective_id,
        Permission::ListMembers,
        "collective",
    )?;
    let contacts = actor.may(Permission::ReadMemberContacts);
    // Members see who is in the collective; invitations and suspensions are
    // coordinators' business.
    let filter = if contacts {
        filter
    } else {
        MemberFilter {
            status: Some(MembershipStatus::Active.as_str().into()),
            ..filter
        }
    };
    let rows = store::list_members(conn, collective_id, &filter, page)?;
    Page::from_rows(rows, page, |(m, _)| &m.id).try_map(|(m, u)| {
        let own = actor.user_id() == Some(u.id.as_str());
        Membership::from_rows(m, u, contacts || own)
    })
}

fn load_membership(conn: &mut DbConnection, id: &str) -> Result<(MembershipRow, UserRow)> {
    store::find_membership(conn, id)?.ok_or(Error::NotFound { what: "membership" })
}

pub fn get_member(
    conn: &mut DbConnection,
    principal: &Principal,
    collective_id: &str,
    id: &str,
) -> Result<Membership> {
    let actor = authorize(
        conn,
        principal,
        collective_id,
        Permission::ListMembers,
        "collective",
    )?;
    let (row, user) = load_membership(conn, id)?;
    let own = actor.user_id() == Some(user.id.as_str());
    let contacts = actor.may(Permission::ReadMemberContacts);
    if row.collective_id != collective_id || (!contacts && !own && !row.is_active()) {
        return Err(Error::NotFound { what: "membership" });
    }
    Membership::from_rows(row, user, contacts || own)
}

/// Changes a member's role or suspends / reinstates them. The last active
/// admin can be neither demoted nor suspended.
pub fn update_member(
    conn: &mut DbConnection,
    principal: &Principal,
    collective_id: &str,
    id: &str,
    patch: MembershipPatch,
    if_match: Option<&str>,
) -> Result<Membership> {
    if patch.status == Some(MembershipStatus::Invited) {
        return Err(Error::invalid(
            "status",
            "can only be set to active or suspended",
        ));
    }
    write_tx(conn, |conn| {
        let actor = authorize(
            conn,
            principal,
            collective_id,
            Permission::ManageMembers,
            "collective",
        )?;
        // Changes are checked against the collective's admins as a whole:
        // one at a time, so two demotions cannot both count the other.
        store::lock_collective(conn, collective_id)?;
        let (row, _) = load_membership(conn, id)?;
        if row.collective_id != collective_id {
            return Err(Error::NotFound { what: "membership" });
        }
        check_if_match(if_match, row.version)?;
        let current_status =
            MembershipStatus::parse(&row.status).unwrap_or(MembershipStatus::Invited);
        if let Some(status) = patch.status {
            if current_status == MembershipStatus::Invited && status != MembershipStatus::Invited {
                return Err(Error::Conflict {
                    code: "invalid_transition",
                    message: "an invitation becomes active only when the person accepts it".into(),
                    extra: Some(json!({"current_status": "invited"})),
                });
            }
        }
        let role = patch
            .role
            .unwrap_or(Role::parse(&row.role).unwrap_or(Role::Member));
        let status = patch.status.unwrap_or(current_status);
        let was_active_admin = row.role() == Some(Role::Admin) && row.is_active();
        let stays_active_admin = role == Role::Admin && status == MembershipStatus::Active;
        if was_active_admin
            && !stays_active_admin
            && store::count_active_admins(conn, collective_id)? <= 1
        {
            return Err(Error::conflict(
                "last_admin",
                "a collective needs at least one active admin: appoint another first",
            ));
        }
        let updated = diesel::update(
            memberships::table
                .filter(memberships::id.eq(id))
                .filter(memberships::version.eq(row.version)),
        )
        .set((
            memberships::role.eq(role.as_str()),
            memberships::status.eq(status.as_str()),
            memberships::updated_at.eq(now()),
            memberships::version.eq(row.version + 1),
        ))
        .execute(conn)?;
        if updated == 0 {
            return Err(Error::PreconditionFailed {
                current_etag: etag(row.version + 1),
            });
        }
        let (fresh, user) = load_membership(conn, id)?;
        let before = Membership::from_rows(row.clone(), user.clone(), true)?;
        let changed = Membership::from_rows(fresh, user, true)?;
        let changes = audit::changes(&before, &changed, &["email"]);
        if role.as_str() != row.role {
            events::record(
                conn,
                collective_id,
                EventType::MembershipRoleChanged,
                &changed,
            )?;
            audit::record(
                conn,
                &actor,
                "membership.role_changed",
                "membership",
                id,
                json!({"from": row.role, "to": role.as_str(), "changes": changes}),
            )?;
        }
        if status.as_str() != row.status {
            let happened = match status {
                MembershipStatus::Suspended => EventType::MembershipSuspended,
                _ => EventType::MembershipReinstated,
            };
            audit::record(
                conn,
                &actor,
                happened.name(),
                "membership",
                id,
                json!({"changes": changes}),
            )?;
            events::record(conn, collective_id, happened, &changed)?;
        }
        Ok(changed)
    })
}

pub fn profile(conn: &mut DbConnection, principal: &Principal) -> Result<Profile> {
    let user_id = principal.require_user()?;
    let user = store::find_user(conn, user_id)?.ok_or(Error::NotFound { what: "user" })?;
    let rows: Vec<MembershipRow> = memberships::table
        .filter(memberships::user_id.eq(user_id))
        .order(memberships::id.asc())
        .select(MembershipRow::as_select())
        .load(conn)?;
    let memberships = rows
        .into_iter()
        .map(|m| Membership::from_rows(m, user.clone(), true))
        .collect::<Result<Vec<_>>>()?;
    Ok(Profile {
        user_id: user.id,
        email: user.email,
        display_name: user.display_name,
        memberships,
    })
}

/// `commonpot admin bootstrap`: the first admin and their collective. Makes
/// the account if the email is new (with this password), or proves an
/// existing account with it.
pub fn bootstrap(
    conn: &mut DbConnection,
    email: &str,
    display_name: &str,
    password: &str,
    collective_name: &str,
    time_zone: &str,
) -> Result<(Collective, Membership)> {
    let email = check_email("email", email)?;
    let display_name = check_text("name", display_name, 100)?;
    let collective_name = check_text("collective", collective_name, 200)?;
    let time_zone = check_time_zone("time_zone", time_zone)?;
    check_password("password", password)?;
    let existing = store::find_user_by_email(conn, &email)?;
    let new_hash = match &existing {
        Some(user) if !verify_password(password, user.password_hash.as_deref()) => {
            return Err(Error::Unauthenticated {
                code: "invalid_grant",
                message: format!("{email} already has an account with another password"),
            })
        }
        Some(_) => None,
        None => Some(hash_password(password)),
    };
    write_tx(conn, |conn| {
        let user_id = match (existing, new_hash) {
            (Some(user), _) => user.id,
            (None, hash) => {
                let at = now();
                let user = UserRow {
                    id: new_id(),
                    email,
                    display_name,
                    password_hash: hash,
                    created_at: at,
                    updated_at: at,
                };
                diesel::insert_into(users::table)
                    .values(&user)
                    .execute(conn)?;
                user.id
            }
        };
        insert_collective_with_admin(conn, &user_id, collective_name, time_zone)
    })
}

/// What an invitation shows whoever holds its link, before accepting (the
/// web app's acceptance page): the collective and what the inviter gave —
/// the email, name and role — never whether the email has an account.
#[derive(Debug, Clone)]
pub struct InvitationDetails {
    pub collective_id: String,
    pub collective_name: String,
    pub time_zone: String,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

/// The invitation a token names, if it can still be accepted (404 for no
/// such invitation, 409 `invitation_expired` when expired or used).
pub fn invitation_details(conn: &mut DbConnection, token: &str) -> Result<InvitationDetails> {
    let (membership, user) = pending_invitation(conn, token)?;
    let collective = store::find_collective(conn, &membership.collective_id)?
        .ok_or(Error::NotFound { what: "invitation" })?;
    Ok(InvitationDetails {
        collective_id: collective.id,
        collective_name: collective.name,
        time_zone: collective.time_zone,
        email: user.email,
        display_name: membership.invited_name.unwrap_or_default(),
        role: Role::parse(&membership.role).unwrap_or(Role::Member),
        expires_at: utc(membership
            .invitation_expires_at
            .ok_or_else(invitation_expired)?),
    })
}
