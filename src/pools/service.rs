//! The rules for creating and changing pools.

use diesel::prelude::*;
use serde_json::json;

use super::store::{self, PoolRow};
use super::*;
use crate::audit;
use crate::auth::access::{authorize, Principal};
use crate::auth::policy::Permission;
use crate::collectives::{check_if_match, check_text, etag};
use crate::db::schema::pools;
use crate::db::{write_tx, DbConnection};
use crate::events::{self, EventType};
use crate::ids::{new_id, now};
use crate::money::{Currency, Money};
use crate::pagination::{Page, PageRequest};

/// Checked rules in minor units.
struct Rules {
    max_request_minor: Option<i64>,
    approvals_needed: i32,
    fast_track_limit_minor: Option<i64>,
    requesters: Requesters,
}

fn check_rules(
    rules: Option<&PoolRules>,
    currency: Currency,
    current: Option<&PoolRow>,
) -> Result<Rules> {
    let optional_amount =
        |field: &str, text: Option<&String>, current: Option<i64>| -> Result<Option<i64>> {
            match text {
                None => Ok(current),
                Some(text) => Ok(Some(Money::parse_positive(field, text, currency)?.minor)),
            }
        };
    let rules_in = rules.cloned().unwrap_or(PoolRules {
        max_request: None,
        approvals_needed: None,
        fast_track_limit: None,
        requesters: None,
    });
    let max_request_minor = optional_amount(
        "rules.max_request",
        rules_in.max_request.as_ref(),
        current.and_then(|p| p.max_request_minor),
    )?;
    let fast_track_limit_minor = optional_amount(
        "rules.fast_track_limit",
        rules_in.fast_track_limit.as_ref(),
        current.and_then(|p| p.fast_track_limit_minor),
    )?;
    let approvals_needed = rules_in
        .approvals_needed
        .unwrap_or(current.map_or(2, |p| p.approvals_needed));
    if !(1..=10).contains(&approvals_needed) {
        return Err(Error::invalid(
            "rules.approvals_needed",
            "must be between 1 and 10",
        ));
    }
    if let (Some(limit), Some(max)) = (fast_track_limit_minor, max_request_minor) {
        if limit > max {
            return Err(Error::invalid(
                "rules.fast_track_limit",
                "must not be more than the largest request",
            ));
        }
    }
    let requesters = rules_in.requesters.unwrap_or(match current {
        Some(p) if p.requesters == "coordinators" => Requesters::Coordinators,
        _ => Requesters::Members,
    });
    Ok(Rules {
        max_request_minor,
        approvals_needed,
        fast_track_limit_minor,
        requesters,
    })
}

pub fn create(
    conn: &mut DbConnection,
    principal: &Principal,
    collective_id: &str,
    input: NewPool,
) -> Result<Pool> {
    let name = check_text("name", &input.name, 200)?;
    let description = input.description.trim().to_owned();
    if description.chars().count() > 5000 {
        return Err(Error::invalid(
            "description",
            "must be at most 5000 characters",
        ));
    }
    let currency = Currency::check("currency", &input.currency)?;
    let goal_minor = input
        .goal
        .as_deref()
        .map(|g| Money::parse_positive("goal", g, currency).map(|m| m.minor))
        .transpose()?;
    let rules = check_rules(input.rules.as_ref(), currency, None)?;
    write_tx(conn, |conn| {
        let actor = authorize(
            conn,
            principal,
            collective_id,
            Permission::ManagePools,
            "collective",
        )?;
        let at = now();
        let row = PoolRow {
            collective_id: collective_id.to_owned(),
            id: new_id(),
            name,
            description,
            currency: currency.code.to_owned(),
            exponent: i32::from(currency.exponent),
            goal_minor,
            max_request_minor: rules.max_request_minor,
            approvals_needed: rules.approvals_needed,
            fast_track_limit_minor: rules.fast_track_limit_minor,
            requesters: rules.requesters.as_str().to_owned(),
            public: input.public,
            available_minor: 0,
            held_minor: 0,
            deficit_minor: 0,
            received_minor: 0,
            refunded_minor: 0,
            fees_minor: 0,
            paid_minor: 0,
            created_by: actor.id().to_owned(),
            created_at: at,
            updated_at: at,
            version: 1,
        };
        diesel::insert_into(pools::table)
            .values(&row)
            .execute(conn)?;
        audit::record(
            conn,
            &actor,
            "pool.created",
            "pool",
            &row.id,
            json!({"name": row.name, "currency": row.currency, "goal_minor": row.goal_minor}),
        )?;
        let pool = Pool::try_from(row)?;
        events::record(conn, collective_id, EventType::PoolCreated, &pool)?;
        Ok(pool)
    })
}

/// Loads a pool and checks the caller may take `permission` in its
/// collective. Pools of other collectives are not found.
pub fn load_authorized(
    conn: &mut DbConnection,
    principal: &Principal,
    pool_id: &str,
    permission: Permission,
) -> Result<(crate::auth::access::Actor, PoolRow)> {
    let pool = store::find(conn, pool_id)?.ok_or(Error::NotFound { what: "pool" })?;
    let actor = authorize(conn, principal, &pool.collective_id, permission, "pool")?;
    Ok((actor, pool))
}

pub fn get(conn: &mut DbConnection, principal: &Principal, id: &str) -> Result<Pool> {
    let (_, pool) = load_authorized(conn, principal, id, Permission::ReadPools)?;
    Pool::try_from(pool)
}

pub fn list(
    conn: &mut DbConnection,
    principal: &Principal,
    collective_id: &str,
    page: &PageRequest,
) -> Result<Page<Pool>> {
    authorize(
        conn,
        principal,
        collective_id,
        Permission::ReadPools,
        "collective",
    )?;
    let rows = store::list(conn, collective_id, page)?;
    Page::from_rows(rows, page, |r| &r.id).try_map(Pool::try_from)
}

pub fn update(
    conn: &mut DbConnection,
    principal: &Principal,
    id: &str,
    patch: PoolPatch,
    if_match: Option<&str>,
) -> Result<Pool> {
    if patch.currency.is_some() {
        return Err(Error::invalid(
            "currency",
            "a pool's currency is fixed once it is created",
        ));
    }
    write_tx(conn, |conn| {
        let (actor, pool) = load_authorized(conn, principal, id, Permission::ManagePools)?;
        check_if_match(if_match, pool.version)?;
        let currency = pool.currency()?;
        let name = patch
            .name
            .as_deref()
            .map(|n| check_text("name", n, 200))
            .transpose()?;
        let goal_minor = match patch.goal.as_deref() {
            None => pool.goal_minor,
            Some(text) => Some(Money::parse("goal", text, currency)?.minor).filter(|g| *g > 0),
        };
        let rules = check_rules(patch.rules.as_ref(), currency, Some(&pool))?;
        let updated = diesel::update(
            pools::table
                .filter(pools::id.eq(id))
                .filter(pools::version.eq(pool.version)),
        )
        .set((
            pools::name.eq(name.unwrap_or(pool.name.clone())),
            pools::description.eq(patch
                .description
                .map(|d| d.trim().to_owned())
                .unwrap_or(pool.description.clone())),
            pools::goal_minor.eq(goal_minor),
            pools::max_request_minor.eq(rules.max_request_minor),
            pools::approvals_needed.eq(rules.approvals_needed),
            pools::fast_track_limit_minor.eq(rules.fast_track_limit_minor),
            pools::requesters.eq(rules.requesters.as_str()),
            pools::public.eq(patch.public.unwrap_or(pool.public)),
            pools::updated_at.eq(now()),
            pools::version.eq(pool.version + 1),
        ))
        .execute(conn)?;
        if updated == 0 {
            return Err(Error::PreconditionFailed {
                current_etag: etag(pool.version + 1),
            });
        }
        let updated =
            Pool::try_from(store::find(conn, id)?.ok_or(Error::NotFound { what: "pool" })?)?;
        let before = Pool::try_from(pool.clone())?;
        audit::record(
            conn,
            &actor,
            "pool.updated",
            "pool",
            id,
            json!({"goal_minor": goal_minor, "changes": audit::changes(&before, &updated, &[])}),
        )?;
        events::record(
            conn,
            &updated.collective_id,
            EventType::PoolUpdated,
            &updated,
        )?;
        Ok(updated)
    })
}
