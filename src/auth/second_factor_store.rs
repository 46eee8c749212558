//! Rows and queries of second factors: the person's sealed TOTP secret and
//! enrolment, their recovery codes' digests, and whether a collective they
//! coordinate requires a second factor. The secret is sealed here, at the
//! store boundary (see [`crate::crypto`]); callers see it clear.

use chrono::NaiveDateTime;
use diesel::dsl::exists;
use diesel::prelude::*;

use super::policy::{MembershipStatus, Role};
use crate::crypto;
use crate::db::schema::{collectives, memberships, recovery_codes, second_factors, users};
use crate::db::{is_unique_violation, DbConnection};
use crate::error::{Error, Result};

/// A person's enrolment, with the secret opened.
#[derive(Debug, Clone)]
pub struct Enrolment {
    pub secret: String,
    pub state: String,
    pub last_step: Option<i64>,
    pub confirmed_at: Option<NaiveDateTime>,
}

/// The person's enrolment, if they have one.
pub fn find(conn: &mut DbConnection, user_id: &str) -> Result<Option<Enrolment>> {
    let row: Option<(String, String, Option<i64>, Option<NaiveDateTime>)> = second_factors::table
        .find(user_id)
        .select((
            second_factors::secret,
            second_factors::state,
            second_factors::last_step,
            second_factors::confirmed_at,
        ))
        .first(conn)
        .optional()?;
    row.map(|(sealed, state, last_step, confirmed_at)| {
        Ok(Enrolment {
            secret: crypto::open("second_factors", "secret", user_id, &sealed)?,
            state,
            last_step,
            confirmed_at,
        })
    })
    .transpose()
}

/// Whether the person has an enrolment in `state`.
pub fn has(conn: &mut DbConnection, user_id: &str, state: &str) -> Result<bool> {
    let query = diesel::select(exists(
        second_factors::table
            .filter(second_factors::user_id.eq(user_id))
            .filter(second_factors::state.eq(state)),
    ));
    Ok(crate::on_backend!(conn, |c| query.get_result(c))?)
}

/// Replaces a pending enrolment (or none) with a new pending one. Answers
/// false, changing nothing, when the person has a confirmed one.
pub fn start(
    conn: &mut DbConnection,
    user_id: &str,
    secret: &str,
    pending: &str,
    at: NaiveDateTime,
) -> Result<bool> {
    let sealed = crypto::seal("second_factors", "secret", user_id, secret)?;
    let replaced = diesel::update(
        second_factors::table
            .filter(second_factors::user_id.eq(user_id))
            .filter(second_factors::state.eq(pending)),
    )
    .set((
        second_factors::secret.eq(&sealed),
        second_factors::last_step.eq(None::<i64>),
        second_factors::created_at.eq(at),
    ))
    .execute(conn)?;
    if replaced > 0 {
        return Ok(true);
    }
    // A confirmed one (or a pending one made meanwhile) holds the key.
    let inserted = conn.transaction(|conn| {
        diesel::insert_into(second_factors::table)
            .values((
                second_factors::user_id.eq(user_id),
                second_factors::secret.eq(&sealed),
                second_factors::state.eq(pending),
                second_factors::created_at.eq(at),
            ))
            .execute(conn)
    });
    match inserted {
        Ok(_) => Ok(true),
        Err(e) if is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Moves the enrolment from `from` to `to` with its first accepted step,
/// only if it is still in `from` with the step unused.
pub fn confirm(
    conn: &mut DbConnection,
    user_id: &str,
    from: &str,
    to: &str,
    step: i64,
    at: NaiveDateTime,
) -> Result<bool> {
    Ok(diesel::update(
        second_factors::table
            .filter(second_factors::user_id.eq(user_id))
            .filter(second_factors::state.eq(from)),
    )
    .set((
        second_factors::state.eq(to),
        second_factors::last_step.eq(step),
        second_factors::confirmed_at.eq(at),
    ))
    .execute(conn)?
        > 0)
}

/// Records `step` as the last one accepted, only if it is later than the
/// last one: of two uses of one code, one wins.
pub fn accept_step(conn: &mut DbConnection, user_id: &str, state: &str, step: i64) -> Result<bool> {
    Ok(diesel::update(
        second_factors::table
            .filter(second_factors::user_id.eq(user_id))
            .filter(second_factors::state.eq(state))
            .filter(
                second_factors::last_step
                    .is_null()
                    .or(second_factors::last_step.lt(step)),
            ),
    )
    .set(second_factors::last_step.eq(step))
    .execute(conn)?
        > 0)
}

/// Replaces the person's recovery codes by these digests.
pub fn replace_recovery_codes(
    conn: &mut DbConnection,
    user_id: &str,
    digests: &[String],
    at: NaiveDateTime,
) -> Result<()> {
    diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(user_id)))
        .execute(conn)?;
    for digest in digests {
        diesel::insert_into(recovery_codes::table)
            .values((
                recovery_codes::user_id.eq(user_id),
                recovery_codes::code_hash.eq(digest),
                recovery_codes::created_at.eq(at),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Uses up the recovery code with this digest, if it is unused.
pub fn use_recovery_code(
    conn: &mut DbConnection,
    user_id: &str,
    digest: &str,
    at: NaiveDateTime,
) -> Result<bool> {
    Ok(diesel::update(
        recovery_codes::table
            .filter(recovery_codes::user_id.eq(user_id))
            .filter(recovery_codes::code_hash.eq(digest))
            .filter(recovery_codes::used_at.is_null()),
    )
    .set(recovery_codes::used_at.eq(at))
    .execute(conn)?
        > 0)
}

/// How many unused recovery codes the person has.
pub fn recovery_codes_left(conn: &mut DbConnection, user_id: &str) -> Result<i64> {
    Ok(recovery_codes::table
        .filter(recovery_codes::user_id.eq(user_id))
        .filter(recovery_codes::used_at.is_null())
        .count()
        .get_result(conn)?)
}

/// Removes the person's second factor and recovery codes.
pub fn remove(conn: &mut DbConnection, user_id: &str) -> Result<usize> {
    diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(user_id)))
        .execute(conn)?;
    Ok(
        diesel::delete(second_factors::table.filter(second_factors::user_id.eq(user_id)))
            .execute(conn)?,
    )
}

/// Whether the person is an active coordinator or admin of a collective
/// that requires a second factor of them.
/// On the concrete connection (`crate::on_backend`): every money write of a
/// person runs it.
pub fn required_of(conn: &mut DbConnection, user_id: &str) -> Result<bool> {
    let query = diesel::select(exists(
        memberships::table
            .inner_join(collectives::table)
            .filter(memberships::user_id.eq(user_id))
            .filter(memberships::status.eq(MembershipStatus::Active.as_str()))
            // Not `eq_any`: diesel prepares an `IN` list anew at each call,
            // and this runs with every request of a person.
            .filter(
                memberships::role
                    .eq(Role::Coordinator.as_str())
                    .or(memberships::role.eq(Role::Admin.as_str())),
            )
            .filter(collectives::require_second_factor_for_coordinators.eq(true)),
    ));
    Ok(crate::on_backend!(conn, |c| query.get_result(c))?)
}

/// The person's email, the name their authenticator shows and their
/// sign-in throttle counts under.
pub fn email_of(conn: &mut DbConnection, user_id: &str) -> Result<String> {
    users::table
        .find(user_id)
        .select(users::email)
        .first(conn)
        .optional()?
        .ok_or(Error::NotFound { what: "user" })
}
