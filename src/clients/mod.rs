//! Partner apps: clients registered by a collective's admin, with scopes.
//! The secret is shown once and stored as a digest; it can be rotated, and
//! the client disabled, both taking effect at once.

pub mod http;
pub mod service;
pub mod store;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::policy::Scope;
use crate::error::{Error, Result};
use crate::ids::utc;
use store::ClientRow;

/// A partner app's id: `cpc_` and its time-ordered UUID's 32 hex digits
/// (ids sort in the order they were made, so they page like UUIDs do).
pub fn client_id(uuid: &str) -> String {
    format!("cpc_{}", uuid.replace('-', ""))
}

/// Whether `text` has the shape of a partner app's id: the list of apps
/// takes its own `next_cursor` back.
pub fn is_client_id(text: &str) -> bool {
    text.strip_prefix("cpc_").is_some_and(|hex| {
        hex.len() == 32
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

pub fn parse_scopes(text: &str) -> Vec<Scope> {
    text.split_whitespace().filter_map(Scope::parse).collect()
}

pub fn format_scopes(scopes: &[Scope]) -> String {
    scopes
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Checks a list of scope names: known, no duplicates, at least one.
pub fn check_scopes(field: &str, scopes: &[String]) -> Result<Vec<Scope>> {
    if scopes.is_empty() {
        return Err(Error::invalid(field, "must name at least one scope"));
    }
    let mut checked = Vec::new();
    for name in scopes {
        let scope = Scope::parse(name).ok_or_else(|| {
            Error::invalid(
                field,
                format!(
                    "{name:?} is not a scope; known scopes: {}",
                    format_scopes(Scope::ALL)
                ),
            )
        })?;
        if !checked.contains(&scope) {
            checked.push(scope);
        }
    }
    Ok(checked)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ClientStatus {
    Active,
    Disabled,
}

impl ClientStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Disabled => "disabled",
        }
    }
}

/// A registered partner app (never with its secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct Client {
    /// The `client_id` of the client-credentials grant.
    pub id: String,
    pub collective_id: String,
    pub name: String,
    #[schema(value_type = Vec<String>, example = json!(["contributions:write", "requests:read"]))]
    pub scopes: Vec<String>,
    pub status: ClientStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

impl From<ClientRow> for Client {
    fn from(row: ClientRow) -> Self {
        Self {
            scopes: parse_scopes(&row.scopes)
                .iter()
                .map(|s| s.as_str().to_owned())
                .collect(),
            status: row.status(),
            id: row.id,
            collective_id: row.collective_id,
            name: row.name,
            created_at: utc(row.created_at),
            updated_at: utc(row.updated_at),
            version: row.version,
        }
    }
}

/// A client with its secret: returned once, at registration or rotation.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientWithSecret {
    #[serde(flatten)]
    pub client: Client,
    /// Shown only now. Store it in the partner app's secret store.
    pub client_secret: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewClient {
    #[schema(example = "Payment processor")]
    pub name: String,
    #[schema(example = json!(["contributions:write"]))]
    pub scopes: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientPatch {
    pub name: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub status: Option<ClientStatus>,
}
