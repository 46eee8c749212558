//! Collectives (the tenants), the people in them, and their memberships:
//! creating a collective, inviting, accepting, changing roles, suspending.

pub mod http;
pub mod service;
pub mod store;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::policy::{MembershipStatus, Role};
use crate::error::{Error, Result};
use crate::ids::utc;
use store::{CollectiveRow, MembershipRow, UserRow};

/// A mutual aid group. Everything else belongs to one.
#[derive(Debug, Serialize, ToSchema)]
pub struct Collective {
    pub id: String,
    pub name: String,
    /// IANA time zone; statement periods and due dates are in it.
    #[schema(example = "Europe/Berlin")]
    pub time_zone: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Changes with every update; sent as the `ETag`.
    pub version: i64,
    /// Made by `commonpot demo`: invented people and money, not a real
    /// group's. The web app shows a banner on its pages.
    pub demo: bool,
    /// Coordinators and admins must have a second factor: until they
    /// enrol, their sign-in works only to enrol (403
    /// `second_factor_required` elsewhere).
    pub require_second_factor_for_coordinators: bool,
    /// How many days a closed request keeps its private fields (details,
    /// payout reference, beneficiary, reasons, comments, payout
    /// references) before they are redacted.
    #[schema(example = 365)]
    pub retention_days: i32,
}

impl From<CollectiveRow> for Collective {
    fn from(row: CollectiveRow) -> Self {
        Self {
            id: row.id,
            name: row.name,
            time_zone: row.time_zone,
            created_at: utc(row.created_at),
            updated_at: utc(row.updated_at),
            version: row.version,
            demo: row.demo,
            require_second_factor_for_coordinators: row.require_second_factor_for_coordinators,
            retention_days: row.retention_days,
        }
    }
}

/// A person's membership of a collective.
#[derive(Debug, Serialize, ToSchema)]
pub struct Membership {
    pub id: String,
    pub collective_id: String,
    /// The person's account; absent while the membership is an invitation
    /// (which looks the same whether or not the email has an account).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The person's name; for an invitation, the name the inviter gave.
    pub display_name: String,
    /// Shown to coordinators and to the member themselves only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    pub role: Role,
    pub status: MembershipStatus,
    pub joined_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

impl Membership {
    /// `show_contact`: whether the reader may see the email address.
    ///
    /// An invitation shows only what the inviter gave (email, name): the
    /// account behind it, if the email had one, is not theirs to see.
    pub fn from_rows(membership: MembershipRow, user: UserRow, show_contact: bool) -> Result<Self> {
        let status = MembershipStatus::parse(&membership.status)
            .ok_or_else(|| Error::Internal(format!("stored status {:?}", membership.status)))?;
        let (user_id, display_name) = match status {
            MembershipStatus::Invited => {
                (None, membership.invited_name.unwrap_or(user.display_name))
            }
            _ => (Some(user.id), user.display_name),
        };
        Ok(Self {
            role: Role::parse(&membership.role)
                .ok_or_else(|| Error::Internal(format!("stored role {:?}", membership.role)))?,
            status,
            id: membership.id,
            collective_id: membership.collective_id,
            user_id,
            display_name,
            email: show_contact.then_some(user.email),
            joined_at: membership.joined_at.map(utc),
            created_at: utc(membership.created_at),
            updated_at: utc(membership.updated_at),
            version: membership.version,
        })
    }
}

/// The strong ETag of a versioned resource.
pub fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

/// Checks an `If-Match` header value against the current version. `None`
/// (no header) always passes: If-Match is how a client opts in to safety.
/// The comparison is strong (RFC 9110 §13.1.1): a weak tag `W/"3"` never
/// matches, whatever its version.
pub fn check_if_match(if_match: Option<&str>, version: i64) -> Result<()> {
    let current = etag(version);
    match if_match {
        None => Ok(()),
        Some(value) => {
            let matches = value
                .split(',')
                .map(str::trim)
                .any(|v| v == "*" || v == current);
            if matches {
                Ok(())
            } else {
                Err(Error::PreconditionFailed {
                    current_etag: current,
                })
            }
        }
    }
}

pub fn normalise_email(email: &str) -> String {
    email.trim().to_lowercase()
}

pub fn check_email(field: &str, email: &str) -> Result<String> {
    let email = normalise_email(email);
    let valid = email.len() <= 254
        && !email.chars().any(char::is_whitespace)
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.')
        });
    if valid {
        Ok(email)
    } else {
        Err(Error::invalid(field, "is not an email address"))
    }
}

/// A trimmed, non-empty text of at most `max` characters.
pub fn check_text(field: &str, text: &str, max: usize) -> Result<String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if text.chars().count() > max {
        return Err(Error::invalid(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    Ok(text.to_owned())
}

pub fn check_time_zone(field: &str, zone: &str) -> Result<String> {
    zone.parse::<chrono_tz::Tz>()
        .map(|tz| tz.name().to_owned())
        .map_err(|_| Error::invalid(field, "is not an IANA time zone such as Europe/Berlin"))
}

pub fn check_password(field: &str, password: &str) -> Result<()> {
    crate::auth::password::check_new_password(field, password)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCollective {
    #[schema(example = "Northside Mutual Aid")]
    pub name: String,
    #[schema(example = "Europe/Berlin")]
    pub time_zone: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CollectivePatch {
    pub name: Option<String>,
    pub time_zone: Option<String>,
    /// Require a second factor of coordinators and admins (admins only).
    pub require_second_factor_for_coordinators: Option<bool>,
    /// Days a closed request keeps its private fields, 1 to 36500.
    #[schema(minimum = 1, maximum = 36500)]
    pub retention_days: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewInvitation {
    pub email: String,
    /// Shown for the invitation until it is accepted; the name of a new
    /// account.
    pub display_name: String,
    /// Defaults to `member`. Only admins may invite coordinators and admins.
    pub role: Option<Role>,
}

/// A new membership, with the token the person uses to accept it. The
/// token is shown only here: pass it on to them.
#[derive(Debug, Serialize, ToSchema)]
pub struct Invitation {
    pub membership: Membership,
    pub invitation_token: String,
    pub expires_at: DateTime<Utc>,
}

/// Accepting an invitation. For an email that has no account yet, the
/// password of the new account; an existing account accepts while signed in
/// as itself (`Authorization: Bearer`), without a password.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvitation {
    pub invitation_token: String,
    /// The new account's password. Leave it out when signed in.
    pub password: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MembershipPatch {
    pub role: Option<Role>,
    /// `active` or `suspended`.
    pub status: Option<MembershipStatus>,
}

/// The signed-in person and where they belong.
#[derive(Debug, Serialize, ToSchema)]
pub struct Profile {
    pub user_id: String,
    pub email: String,
    pub display_name: String,
    pub memberships: Vec<Membership>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_match_accepts_the_current_version_only() {
        assert!(check_if_match(None, 3).is_ok());
        assert!(check_if_match(Some("\"3\""), 3).is_ok());
        assert!(matches!(
            check_if_match(Some("W/\"3\""), 3),
            Err(Error::PreconditionFailed { .. })
        ));
        assert!(check_if_match(Some("W/\"3\", \"3\""), 3).is_ok());
        assert!(check_if_match(Some("*"), 3).is_ok());
        assert!(matches!(
            check_if_match(Some("\"2\""), 3),
            Err(Error::PreconditionFailed { .. })
        ));
    }

    #[test]
    fn inputs_are_checked() {
        assert_eq!(
            check_email("email", " Ana@Example.org ").unwrap(),
            "ana@example.org"
        );
        assert!(check_email("email", "not-an-email").is_err());
        assert!(check_email("email", "a b@example.org").is_err());
        assert_eq!(
            check_time_zone("tz", "Europe/Berlin").unwrap(),
            "Europe/Berlin"
        );
        assert!(check_time_zone("tz", "Mars/Olympus").is_err());
        assert!(check_text("name", "   ", 10).is_err());
        assert!(check_text("name", "abcdefghijk", 10).is_err());
        assert!(check_password("password", "short").is_err());
    }
}
