//! From a verified token to an [`Actor`] of one collective.
//!
//! Role, membership status and a client's state are read from the database
//! at every request, so a suspension or a disabled client takes effect at
//! once. Anything in a collective the caller does not belong to is reported
//! as not found, never as forbidden: its existence is not ours to reveal.

use crate::auth::policy::{MembershipStatus, Permission, Role, Scope};
use crate::clients::ClientStatus;
use crate::db::DbConnection;
use crate::error::{Error, Result};
use crate::{clients, collectives};

/// Who presented the token, before we know what they may do.
#[derive(Debug, Clone)]
pub enum Principal {
    User {
        user_id: String,
    },
    Client {
        client_id: String,
        collective_id: String,
        scopes: Vec<Scope>,
    },
}

impl Principal {
    pub fn user_id(&self) -> Option<&str> {
        match self {
            Self::User { user_id } => Some(user_id),
            Self::Client { .. } => None,
        }
    }

    /// Only people may do this (create a collective, read their profile …).
    pub fn require_user(&self) -> Result<&str> {
        self.user_id().ok_or_else(|| Error::Forbidden {
            code: "users_only",
            message: "partner apps cannot do this".into(),
        })
    }
}

/// A caller of a money-moving command: the verified token's principal,
/// whose second-factor restriction (see [`Principal`]'s extractor) is
/// checked inside the command itself, on the writer's connection
/// ([`crate::http::idempotent::run`]), not by a read of its own before it:
/// one connection and one queue place per money write (#23).
#[derive(Debug, Clone)]
pub struct Caller(pub Principal);

/// A caller on their way to enrol a second factor: a person a collective
/// restricts to enrolling (see [`super::second_factor::restricted`]) is
/// let through too. Only the enrolment's own operations take it.
#[derive(Debug, Clone)]
pub struct Enrolling(pub Principal);

/// A caller acting within one collective, with what they may do there.
#[derive(Debug, Clone)]
pub struct Actor {
    pub collective_id: String,
    pub who: Who,
}

#[derive(Debug, Clone)]
pub enum Who {
    Member {
        user_id: String,
        membership_id: String,
        role: Role,
    },
    Client {
        client_id: String,
        scopes: Vec<Scope>,
    },
    /// The command line (bootstrap, demo): for the audit trail.
    System,
}

impl Actor {
    pub fn system(collective_id: &str) -> Self {
        Self {
            collective_id: collective_id.to_owned(),
            who: Who::System,
        }
    }

    /// `user`, `client` or `system`, as the audit trail records it.
    pub fn kind(&self) -> &'static str {
        match self.who {
            Who::Member { .. } => "user",
            Who::Client { .. } => "client",
            Who::System => "system",
        }
    }

    pub fn id(&self) -> &str {
        match &self.who {
            Who::Member { user_id, .. } => user_id,
            Who::Client { client_id, .. } => client_id,
            Who::System => "system",
        }
    }

    pub fn user_id(&self) -> Option<&str> {
        match &self.who {
            Who::Member { user_id, .. } => Some(user_id),
            _ => None,
        }
    }

    /// The membership a person acts through; none for apps and the system.
    pub fn membership_id(&self) -> Option<&str> {
        match &self.who {
            Who::Member { membership_id, .. } => Some(membership_id),
            _ => None,
        }
    }

    pub fn role(&self) -> Option<Role> {
        match &self.who {
            Who::Member { role, .. } => Some(*role),
            _ => None,
        }
    }

    /// Whether this actor may also do `permission` (for what a response
    /// shows, such as contact data for coordinators).
    pub fn may(&self, permission: Permission) -> bool {
        let rule = permission.rule();
        match &self.who {
            Who::Member { role, .. } => rule.role.is_some_and(|least| *role >= least),
            Who::Client { scopes, .. } => rule.scope.is_some_and(|s| scopes.contains(&s)),
            Who::System => true,
        }
    }
}

/// Checks that `principal` may take `permission` in the collective; `what`
/// names the thing reported as not found when they are not part of it.
pub fn authorize(
    conn: &mut DbConnection,
    principal: &Principal,
    collective_id: &str,
    permission: Permission,
    what: &'static str,
) -> Result<Actor> {
    let rule = permission.rule();
    let hidden = || Error::NotFound { what };
    match principal {
        Principal::User { user_id } => {
            let membership = collectives::store::membership_of(conn, collective_id, user_id)?
                .ok_or_else(hidden)?;
            match MembershipStatus::parse(&membership.status) {
                Some(MembershipStatus::Active) => {}
                Some(MembershipStatus::Suspended) => {
                    return Err(Error::Forbidden {
                        code: "membership_suspended",
                        message: "your membership of this collective is suspended".into(),
                    })
                }
                _ => {
                    return Err(Error::Forbidden {
                        code: "membership_not_active",
                        message: "accept your invitation to this collective first".into(),
                    })
                }
            }
            let role = Role::parse(&membership.role)
                .ok_or_else(|| Error::Internal(format!("unknown role {:?}", membership.role)))?;
            if rule.role.is_none_or(|least| role < least) {
                return Err(Error::Forbidden {
                    code: "forbidden",
                    message: match rule.role {
                        Some(least) => format!("this needs the {} role", least.as_str()),
                        None => "members cannot do this; it is for partner apps".into(),
                    },
                });
            }
            Ok(Actor {
                collective_id: collective_id.to_owned(),
                who: Who::Member {
                    user_id: user_id.clone(),
                    membership_id: membership.id,
                    role,
                },
            })
        }
        Principal::Client {
            client_id,
            collective_id: home,
            scopes,
        } => {
            if home != collective_id {
                return Err(hidden());
            }
            let client = clients::store::find(conn, client_id)?
                .filter(|c| c.status() == ClientStatus::Active && c.collective_id == *home)
                .ok_or_else(|| Error::Unauthenticated {
                    code: "invalid_token",
                    message: "this partner app is disabled or no longer registered".into(),
                })?;
            // A scope counts only while the client still holds it.
            let current = clients::parse_scopes(&client.scopes);
            let held: Vec<Scope> = scopes
                .iter()
                .copied()
                .filter(|s| current.contains(s))
                .collect();
            match rule.scope {
                Some(needed) if held.contains(&needed) => Ok(Actor {
                    collective_id: collective_id.to_owned(),
                    who: Who::Client {
                        client_id: client_id.clone(),
                        scopes: held,
                    },
                }),
                Some(needed) => Err(Error::Forbidden {
                    code: "insufficient_scope",
                    message: format!("this needs the {} scope", needed.as_str()),
                }),
                None => Err(Error::Forbidden {
                    code: "insufficient_scope",
                    message: "partner apps cannot do this".into(),
                }),
            }
        }
    }
}
