//! Webhooks (#19): partner apps' endpoints, and the delivery of the
//! collective's events to them, signed as the Standard Webhooks
//! specification says.
//!
//! * An endpoint belongs to a partner app (a client). An admin registers
//!   one for any client of the collective; a partner app with
//!   `webhooks:manage` registers and sees only its own.
//! * Its signing secret (`whsec_` + base64 of 32 random bytes) is shown
//!   once, at registration and at rotation. After a rotation the previous
//!   secret signs beside the new one for a grace period.
//! * Request forgery: [`ssrf`].
//! * Delivery: [`delivery`] (rows, lease, retries) and [`worker`] (the
//!   loop `serve` runs, and the HTTP client).

pub mod delivery;
pub mod http;
pub mod log;
pub mod service;
pub mod signing;
pub mod ssrf;
pub mod store;
pub mod worker;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ids::utc;
use store::EndpointRow;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum EndpointStatus {
    /// Receives deliveries.
    Enabled,
    /// Receives nothing; see `disabled_reason`.
    Disabled,
}

impl EndpointStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enabled => "enabled",
            Self::Disabled => "disabled",
        }
    }

    pub fn parse(text: &str) -> Self {
        if text == "enabled" {
            Self::Enabled
        } else {
            Self::Disabled
        }
    }
}

/// A webhook endpoint (never with its secret).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Endpoint {
    pub id: String,
    pub collective_id: String,
    /// The partner app that receives (and whose scopes filter) its messages.
    pub client_id: String,
    #[schema(example = "https://partner.example/hooks/commonpot")]
    pub url: String,
    /// Event types, each exact or a prefix ending in `*`.
    #[schema(example = json!(["request.*", "disbursement.paid"]))]
    pub event_types: Vec<String>,
    pub description: String,
    pub status: EndpointStatus,
    /// Why it was disabled: by hand, or after its deliveries kept failing.
    pub disabled_reason: Option<String>,
    /// While a rotation's grace period runs: until when the previous
    /// secret still signs beside the current one.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

impl From<EndpointRow> for Endpoint {
    fn from(row: EndpointRow) -> Self {
        Self {
            event_types: split_types(&row.event_types),
            status: EndpointStatus::parse(&row.status),
            previous_secret_expires_at: row
                .previous_secret
                .as_ref()
                .and(row.previous_secret_expires_at)
                .map(utc),
            created_at: utc(row.created_at),
            updated_at: utc(row.updated_at),
            id: row.id,
            collective_id: row.collective_id,
            client_id: row.client_id,
            url: row.url,
            description: row.description,
            disabled_reason: row.disabled_reason,
            version: row.version,
        }
    }
}

pub(crate) fn split_types(text: &str) -> Vec<String> {
    text.split(',')
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

/// An endpoint with its signing secret: answered once, at registration and
/// at rotation.
#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointWithSecret {
    #[serde(flatten)]
    pub endpoint: Endpoint,
    /// `whsec_` and the base64 of the key: verify signatures with it, using
    /// a Standard Webhooks library. Shown only now.
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    pub secret: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEndpoint {
    /// The partner app the endpoint is for. An admin must name it; a
    /// partner app registers for itself and may leave it out.
    pub client_id: Option<String>,
    #[schema(example = "https://partner.example/hooks/commonpot")]
    pub url: String,
    /// Event types to receive, each exact or a prefix ending in `*`
    /// (`request.*`; `*` for everything the partner app may read).
    #[schema(example = json!(["request.*", "disbursement.paid"]))]
    pub event_types: Vec<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// Default true.
    #[serde(default)]
    pub enabled: Option<bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointPatch {
    pub url: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub description: Option<String>,
    /// Disable (deliveries wait) or enable again. An endpoint keeps its
    /// place in the collective's events while disabled: enabled again, it
    /// receives what happened meanwhile (as long as events are kept).
    pub enabled: Option<bool>,
}
