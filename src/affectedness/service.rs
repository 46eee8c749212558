//! The rules for issues and declarations. Every change is audited; a
//! declaration is read only by its member and by coordinators.

use std::collections::HashSet;

use diesel::prelude::*;
use serde_json::json;

use super::store::{self, DeclarationRow, IssueRow};
use super::*;
use crate::audit;
use crate::auth::access::{authorize, Actor, Principal, Who};
use crate::auth::policy::Permission;
use crate::collectives::check_text;
use crate::db::schema::issues;
use crate::db::{is_unique_violation, write_tx, DbConnection};
use crate::error::{Error, Result};
use crate::events::{self, EventType};
use crate::ids::{new_id, now, utc};

fn issue_view(row: IssueRow) -> Issue {
    Issue {
        id: row.id,
        collective_id: row.collective_id,
        name: row.name,
        description: row.description,
        created_at: utc(row.created_at),
    }
}

fn declaration_view(row: DeclarationRow) -> Result<DeclarationView> {
    Ok(DeclarationView {
        tier: Tier::parse(&row.tier)
            .ok_or_else(|| Error::Internal(format!("unknown tier {:?}", row.tier)))?,
        verified: row.verified_at.is_some(),
        issue_id: row.issue_id,
        verified_by: row.verified_by,
        verified_at: row.verified_at.map(utc),
        declared_at: utc(row.declared_at),
    })
}

fn affectedness_of(
    conn: &mut DbConnection,
    collective_id: &str,
    membership_id: &str,
) -> Result<Affectedness> {
    let declarations = store::declarations_of(conn, collective_id, membership_id)?
        .into_iter()
        .map(declaration_view)
        .collect::<Result<Vec<_>>>()?;
    Ok(Affectedness {
        membership_id: membership_id.to_owned(),
        declarations,
    })
}

fn own_membership(actor: &Actor) -> Result<&str> {
    match &actor.who {
        Who::Member { membership_id, .. } => Ok(membership_id),
        _ => Err(Error::forbidden(
            "only members declare how they are affected",
        )),
    }
}

/// A member of the collective, to be read or verified by coordinators.
fn member_of(conn: &mut DbConnection, collective_id: &str, membership_id: &str) -> Result<()> {
    let known = crate::collectives::store::find_membership(conn, membership_id)?
        .is_some_and(|(m, _)| m.collective_id == collective_id);
    if known {
        Ok(())
    } else {
        Err(Error::NotFound { what: "member" })
    }
}

pub fn create_issue(
    conn: &mut DbConnection,
    principal: &Principal,
    collective_id: &str,
    input: NewIssue,
) -> Result<Issue> {
    let name = check_text("name", &input.name, 200)?;
    let description = input.description.trim().to_owned();
    if description.chars().count() > 2000 {
        return Err(Error::invalid(
            "description",
            "must be at most 2000 characters",
        ));
    }
    write_tx(conn, |conn| {
        let actor = authorize(
            conn,
            principal,
            collective_id,
            Permission::ManageIssues,
            "collective",
        )?;
        let row = IssueRow {
            collective_id: collective_id.to_owned(),
            id: new_id(),
            name,
            description,
            created_by: actor.id().to_owned(),
            created_at: now(),
        };
        let inserted = conn.transaction(|conn| {
            diesel::insert_into(issues::table)
                .values(&row)
                .execute(conn)
        });
        match inserted {
            Err(e) if is_unique_violation(&e) => {
                return Err(Error::conflict(
                    "issue_exists",
                    "the collective already has an issue of this name",
                ))
            }
            other => other?,
        };
        audit::record(
            conn,
            &actor,
            "issue.created",
            "issue",
            &row.id,
            json!({"name": row.name}),
        )?;
        let issue = issue_view(row);
        events::record(conn, collective_id, EventType::IssueCreated, &issue)?;
        Ok(issue)
    })
}

pub fn list_issues(
    conn: &mut DbConnection,
    principal: &Principal,
    collective_id: &str,
) -> Result<Vec<Issue>> {
    authorize(
        conn,
        principal,
        collective_id,
        Permission::ReadIssues,
        "collective",
    )?;
    Ok(store::issues_of(conn, collective_id)?
        .into_iter()
        .map(issue_view)
        .collect())
}

/// A member replaces their declarations.
pub fn declare(
    conn: &mut DbConnection,
    principal: &Principal,
    collective_id: &str,
    input: Declarations,
) -> Result<Affectedness> {
    write_tx(conn, |conn| {
        let actor = authorize(
            conn,
            principal,
            collective_id,
            Permission::DeclareAffectedness,
            "collective",
        )?;
        let membership_id = own_membership(&actor)?.to_owned();
        let issues: HashSet<String> = store::issues_of(conn, collective_id)?
            .into_iter()
            .map(|i| i.id)
            .collect();
        let before = store::declarations_of(conn, collective_id, &membership_id)?;
        let mut seen = HashSet::new();
        let at = now();
        let mut rows = Vec::new();
        for (i, declaration) in input.declarations.iter().enumerate() {
            let field = format!("declarations[{i}].issue_id");
            if !issues.contains(&declaration.issue_id) {
                return Err(Error::invalid(field, "is not an issue of this collective"));
            }
            if !seen.insert(declaration.issue_id.clone()) {
                return Err(Error::invalid(field, "is declared twice"));
            }
            let tier = declaration.tier.as_str();
            // An unchanged declaration keeps its verification and its date.
            let kept = before
                .iter()
                .find(|d| d.issue_id == declaration.issue_id && d.tier == tier);
            rows.push(match kept {
                Some(row) => row.clone(),
                None => DeclarationRow {
                    collective_id: collective_id.to_owned(),
                    membership_id: membership_id.clone(),
                    issue_id: declaration.issue_id.clone(),
                    tier: tier.to_owned(),
                    verified_by: None,
                    verified_at: None,
                    declared_at: at,
                },
            });
        }
        let previously = affectedness_of(conn, collective_id, &membership_id)?;
        store::replace(conn, collective_id, &membership_id, &rows)?;
        let declared = affectedness_of(conn, collective_id, &membership_id)?;
        audit::record(
            conn,
            &actor,
            "affectedness.declared",
            "membership",
            &membership_id,
            json!({"declarations": rows.iter().map(|r| json!({"issue_id": r.issue_id, "tier": r.tier})).collect::<Vec<_>>(),
                   "changes": audit::changes(&previously, &declared, &[])}),
        )?;
        events::record(
            conn,
            collective_id,
            EventType::AffectednessDeclared,
            &declared,
        )?;
        Ok(declared)
    })
}

pub fn mine(
    conn: &mut DbConnection,
    principal: &Principal,
    collective_id: &str,
) -> Result<Affectedness> {
    let actor = authorize(
        conn,
        principal,
        collective_id,
        Permission::DeclareAffectedness,
        "collective",
    )?;
    let membership_id = own_membership(&actor)?.to_owned();
    affectedness_of(conn, collective_id, &membership_id)
}

/// Coordinators read a member's declarations.
pub fn of_member(
    conn: &mut DbConnection,
    principal: &Principal,
    collective_id: &str,
    membership_id: &str,
) -> Result<Affectedness> {
    authorize(
        conn,
        principal,
        collective_id,
        Permission::ReviewAffectedness,
        "collective",
    )?;
    member_of(conn, collective_id, membership_id)?;
    affectedness_of(conn, collective_id, membership_id)
}

/// A coordinator verifies one of a member's declarations.
pub fn verify(
    conn: &mut DbConnection,
    principal: &Principal,
    collective_id: &str,
    membership_id: &str,
    issue_id: &str,
) -> Result<Affectedness> {
    write_tx(conn, |conn| {
        let actor = authorize(
            conn,
            principal,
            collective_id,
            Permission::ReviewAffectedness,
            "collective",
        )?;
        member_of(conn, collective_id, membership_id)?;
        let previously = affectedness_of(conn, collective_id, membership_id)?;
        if !store::verify(
            conn,
            collective_id,
            membership_id,
            issue_id,
            actor.id(),
            now(),
        )? {
            return Err(Error::NotFound {
                what: "declaration",
            });
        }
        let verified = affectedness_of(conn, collective_id, membership_id)?;
        audit::record(
            conn,
            &actor,
            "affectedness.verified",
            "membership",
            membership_id,
            json!({"issue_id": issue_id, "changes": audit::changes(&previously, &verified, &[])}),
        )?;
        events::record(
            conn,
            collective_id,
            EventType::AffectednessVerified,
            &verified,
        )?;
        Ok(verified)
    })
}

/// The tiers that count for a member under a policy: each declaration's
/// tier, for the issues `counts` admits, verified ones only unless
/// `unverified` count too. Read when a round closes.
pub fn counted_tiers(
    conn: &mut DbConnection,
    collective_id: &str,
    membership_id: &str,
    counts: &dyn Fn(&str) -> bool,
    unverified: bool,
) -> Result<Vec<Tier>> {
    Ok(store::declarations_of(conn, collective_id, membership_id)?
        .into_iter()
        .filter(|d| counts(&d.issue_id) && (unverified || d.verified_at.is_some()))
        .filter_map(|d| Tier::parse(&d.tier))
        .collect())
}
