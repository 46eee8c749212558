//! How members are affected by the issues their collective organises
//! around. Private: a member sees their own declarations, coordinators see
//! and verify everyone's; nobody else does. Budgeting rounds read them when
//! a round closes, to weigh ballots toward the most affected.

pub mod http;
pub mod service;
pub mod store;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// How a member is affected by an issue. Ordered: direct is the highest.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    Supporter,
    Indirect,
    Direct,
}

impl Tier {
    pub const ALL: [Tier; 3] = [Tier::Direct, Tier::Indirect, Tier::Supporter];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Direct => "direct",
            Self::Indirect => "indirect",
            Self::Supporter => "supporter",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == text)
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewIssue {
    #[schema(example = "facing eviction")]
    pub name: String,
    #[serde(default)]
    pub description: String,
}

/// An issue the collective organises around.
#[derive(Debug, Serialize, ToSchema)]
pub struct Issue {
    pub id: String,
    pub collective_id: String,
    pub name: String,
    pub description: String,
    pub created_at: DateTime<Utc>,
}

/// One declaration: how the member is affected by one issue.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Declaration {
    pub issue_id: String,
    pub tier: Tier,
}

/// All of a member's declarations; replaces those made before. A
/// declaration whose tier changes loses its verification.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Declarations {
    pub declarations: Vec<Declaration>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeclarationView {
    pub issue_id: String,
    pub tier: Tier,
    pub verified: bool,
    pub verified_by: Option<String>,
    pub verified_at: Option<DateTime<Utc>>,
    pub declared_at: DateTime<Utc>,
}

/// A member's declarations.
#[derive(Debug, Serialize, ToSchema)]
pub struct Affectedness {
    pub membership_id: String,
    pub declarations: Vec<DeclarationView>,
}
