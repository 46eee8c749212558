//! Who may do what — the one place it is written down.
//!
//! A [`Permission`] names an action; [`Permission::rule`] says which member
//! role may take it and which partner-app scope allows it. Handlers ask
//! `access::authorize` with a permission and never compare roles themselves.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A member's role in a collective. Ordered: an admin can do all a
/// coordinator can, a coordinator all a member can.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Member,
    Coordinator,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Member => "member",
            Self::Coordinator => "coordinator",
            Self::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "member" => Some(Self::Member),
            "coordinator" => Some(Self::Coordinator),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }
}

/// Where a membership stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MembershipStatus {
    Invited,
    Active,
    Suspended,
}

impl MembershipStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Invited => "invited",
            Self::Active => "active",
            Self::Suspended => "suspended",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "invited" => Some(Self::Invited),
            "active" => Some(Self::Active),
            "suspended" => Some(Self::Suspended),
            _ => None,
        }
    }
}

macro_rules! scopes {
    ($($variant:ident => $name:literal, $doc:literal;)*) => {
        /// A partner app's scope. A client token carries only the scopes
        /// its client was registered with.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
        pub enum Scope {
            $(#[doc = $doc] #[serde(rename = $name)] $variant,)*
        }

        impl Scope {
            pub const ALL: &'static [Scope] = &[$(Scope::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $name,)* }
            }

            pub fn parse(text: &str) -> Option<Self> {
                match text { $($name => Some(Self::$variant),)* _ => None }
            }

            pub fn description(self) -> &'static str {
                match self { $(Self::$variant => $doc,)* }
            }
        }
    };
}

scopes! {
    CollectiveRead => "collective:read", "Read the collective and its list of members (names and roles, no contacts).";
    PoolsRead => "pools:read", "Read pools, balances, ledger entries and statements.";
    ContributionsWrite => "contributions:write", "Record contributions, refunds and chargebacks, and read contributions with their contributor details (personal data) and the pledges they fulfil.";
    RequestsRead => "requests:read", "Read aid requests without their private fields.";
    RequestsReadPrivate => "requests:read_private", "Read the private fields of aid requests (details, contact, payout reference).";
    RequestsWrite => "requests:write", "Submit aid requests on someone's behalf (intake forms).";
    DisbursementsWrite => "disbursements:write", "Record the outcome of disbursements (paid, failed), and read holds and disbursements.";
    RoundsRead => "rounds:read", "Read budgeting rounds and their results.";
    EventsRead => "events:read", "Read the events feed.";
    WebhooksManage => "webhooks:manage", "Register, change and rotate the secret of the partner app's own webhook endpoints, read their delivery log, retry and replay.";
}

/// Which role may take an action, and which scope lets a partner app take it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// The least role a member needs; `None`: no member may.
    pub role: Option<Role>,
    /// The scope a partner app needs; `None`: no partner app may.
    pub scope: Option<Scope>,
}

/// An action someone may take in a collective.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    ReadCollective,
    UpdateCollective,
    ListMembers,
    /// See members' contact data and invitation state.
    ReadMemberContacts,
    InviteMembers,
    ManageMembers,
    ManageClients,
    ReadAudit,
    ReadPools,
    ManagePools,
    ReadLedger,
    RecordContributions,
    ReadContributions,
    ManageHolds,
    ReadHolds,
    CreateDisbursements,
    RecordDisbursementOutcomes,
    ReverseEntries,
    /// Ask a pool for help for oneself (if the pool's rules let members).
    RequestForSelf,
    /// Ask on someone's behalf (intake forms).
    RequestOnBehalf,
    ReadRequests,
    /// See a request's private details, contact and payout reference.
    ReadPrivateRequestFields,
    /// Take into review, approve, reject, cancel, pay, internal notes.
    ReviewRequests,
    /// Hand a request owned by one coordinator to another.
    ReassignRequests,
    /// See the issues the collective organises around.
    ReadIssues,
    ManageIssues,
    /// Declare how one is affected by the issues (one's own declarations).
    DeclareAffectedness,
    /// Read and verify other members' declarations.
    ReviewAffectedness,
    ReadRounds,
    /// Draft, open, close, tally, enact, cancel and export rounds.
    ManageRounds,
    /// Cast, replace or withdraw one's own ballot.
    Vote,
    /// Pledge for yourself; read, pause, resume and cancel your own pledges.
    MakePledges,
    /// Pledge on behalf of a member or an outside donor, set a pledge's
    /// grace period, and change anyone's pledge.
    ManagePledges,
    /// Read every pledge of a pool and the pool's pledge report.
    ReadPledges,
    /// Read your own contributions.
    ReadOwnContributions,
    /// Read the collective's events feed (what partner apps also receive
    /// as webhooks), each event filtered by what the reader may see.
    ReadEvents,
    /// Register and manage webhook endpoints (a partner app: only its own)
    /// and read their delivery logs.
    ManageWebhooks,
    /// Issue password-reset links for members (#26).
    IssuePasswordResets,
    /// Erase a member from the collective (#25).
    EraseMembers,
}

impl Permission {
    /// The policy. Changing a line here changes who may do what everywhere.
    pub const fn rule(self) -> Rule {
        use Role::*;
        use Scope::*;
        let (role, scope) = match self {
            Self::ReadCollective => (Some(Member), Some(CollectiveRead)),
            Self::UpdateCollective => (Some(Admin), None),
            Self::ListMembers => (Some(Member), Some(CollectiveRead)),
            Self::ReadMemberContacts => (Some(Coordinator), None),
            Self::InviteMembers => (Some(Coordinator), None),
            Self::ManageMembers => (Some(Admin), None),
            Self::ManageClients => (Some(Admin), None),
            Self::ReadAudit => (Some(Coordinator), None),
            Self::ReadPools => (Some(Member), Some(PoolsRead)),
            Self::ManagePools => (Some(Coordinator), None),
            Self::ReadLedger => (Some(Member), Some(PoolsRead)),
            Self::RecordContributions => (Some(Coordinator), Some(ContributionsWrite)),
            Self::ReadContributions => (Some(Coordinator), Some(ContributionsWrite)),
            Self::ManageHolds => (Some(Coordinator), None),
            Self::ReadHolds => (Some(Coordinator), Some(DisbursementsWrite)),
            Self::CreateDisbursements => (Some(Coordinator), None),
            Self::RecordDisbursementOutcomes => (Some(Coordinator), Some(DisbursementsWrite)),
            Self::ReverseEntries => (Some(Coordinator), None),
            Self::RequestForSelf => (Some(Member), None),
            Self::RequestOnBehalf => (Some(Coordinator), Some(RequestsWrite)),
            Self::ReadRequests => (Some(Member), Some(RequestsRead)),
            Self::ReadPrivateRequestFields => (Some(Coordinator), Some(RequestsReadPrivate)),
            Self::ReviewRequests => (Some(Coordinator), None),
            Self::ReassignRequests => (Some(Admin), None),
            Self::ReadIssues => (Some(Member), None),
            Self::ManageIssues => (Some(Coordinator), None),
            Self::DeclareAffectedness => (Some(Member), None),
            Self::ReviewAffectedness => (Some(Coordinator), None),
            Self::ReadRounds => (Some(Member), Some(RoundsRead)),
            Self::ManageRounds => (Some(Coordinator), None),
            Self::Vote => (Some(Member), None),
            Self::MakePledges => (Some(Member), None),
            Self::ManagePledges => (Some(Coordinator), None),
            Self::ReadPledges => (Some(Coordinator), Some(ContributionsWrite)),
            Self::ReadOwnContributions => (Some(Member), None),
            Self::ReadEvents => (Some(Admin), Some(EventsRead)),
            Self::ManageWebhooks => (Some(Admin), Some(WebhooksManage)),
            Self::IssuePasswordResets => (Some(Admin), None),
            Self::EraseMembers => (Some(Admin), None),
        };
        Rule { role, scope }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_by_power() {
        assert!(Role::Admin > Role::Coordinator && Role::Coordinator > Role::Member);
    }

    #[test]
    fn scope_names_round_trip() {
        for scope in Scope::ALL {
            assert_eq!(Scope::parse(scope.as_str()), Some(*scope));
            assert_eq!(serde_json::to_value(scope).unwrap(), scope.as_str());
        }
        assert_eq!(Scope::parse("admin"), None);
    }
}
