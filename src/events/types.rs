//! The vocabulary: every event type there is, in one table — its name, the
//! kind of object it is about, the shape of its `data` (the object as its
//! GET shows it), who may read it, and what it means. The feed, the
//! webhooks and the OpenAPI document's `webhooks` are all made from it.
//!
//! What a snapshot keeps apart as private is declared once per shape, by
//! [`Snapshot::PRIVATE`]: those top-level fields are stored in the event's
//! private column and shown only to readers allowed their permission.

use std::borrow::Cow;

use serde::Serialize;
use utoipa::openapi::{RefOr, Schema};
use utoipa::ToSchema;

use crate::auth::policy::Permission;

/// What an event carries about its object.
pub trait Snapshot: Serialize + ToSchema {
    /// The top-level field holding the id of the object the event is about.
    const SUBJECT: &'static str = "id";
    /// Top-level fields that only readers allowed the paired permission
    /// see. They are stored apart from the rest, so they can be filtered
    /// at every read, encrypted and erased.
    const PRIVATE: &'static [(&'static str, Permission)] = &[];
}

impl Snapshot for crate::collectives::Collective {}

impl Snapshot for crate::collectives::Membership {
    const PRIVATE: &'static [(&'static str, Permission)] =
        &[("email", Permission::ReadMemberContacts)];
}

impl Snapshot for crate::clients::Client {}

impl Snapshot for crate::pools::Pool {}

impl Snapshot for crate::ledger::contributions::Contribution {
    // Who gave: personal data, kept apart although the same readers see it.
    const PRIVATE: &'static [(&'static str, Permission)] = &[
        ("member_id", Permission::ReadContributions),
        ("donor_name", Permission::ReadContributions),
        ("donor_email", Permission::ReadContributions),
        ("note", Permission::ReadContributions),
    ];
}

impl Snapshot for crate::ledger::Entry {}

impl Snapshot for crate::ledger::holds::Hold {
    const PRIVATE: &'static [(&'static str, Permission)] = &[("note", Permission::ReadHolds)];
}

impl Snapshot for crate::ledger::holds::Disbursement {
    /// Sealed at rest (#24); readers of disbursement events see it as before.
    const PRIVATE: &'static [(&'static str, Permission)] =
        &[("external_reference", Permission::ReadHolds)];
}

impl Snapshot for crate::requests::AidRequest {
    const PRIVATE: &'static [(&'static str, Permission)] =
        &[("private", Permission::ReadPrivateRequestFields)];
}

impl Snapshot for crate::requests::Comment {
    const SUBJECT: &'static str = "request_id";
    const PRIVATE: &'static [(&'static str, Permission)] = &[("body", Permission::ReviewRequests)];
}

impl Snapshot for crate::rounds::Round {}

impl Snapshot for crate::rounds::RoundResult {
    const SUBJECT: &'static str = "round_id";
}

impl Snapshot for crate::pledges::Pledge {
    const PRIVATE: &'static [(&'static str, Permission)] = &[
        ("member_id", Permission::ReadPledges),
        ("donor_name", Permission::ReadPledges),
        ("donor_email", Permission::ReadPledges),
        ("note", Permission::ReadPledges),
    ];
}

/// A pledge with the one installment an event is about.
#[derive(Debug, Serialize, ToSchema)]
pub struct PledgeInstallment {
    #[serde(flatten)]
    pub pledge: crate::pledges::Pledge,
    /// The installment that fell due or was paid.
    pub installment: crate::pledges::Installment,
}

impl Snapshot for PledgeInstallment {
    const PRIVATE: &'static [(&'static str, Permission)] =
        <crate::pledges::Pledge as Snapshot>::PRIVATE;
}

impl Snapshot for crate::affectedness::Issue {}

impl Snapshot for crate::affectedness::Affectedness {
    const SUBJECT: &'static str = "membership_id";
    const PRIVATE: &'static [(&'static str, Permission)] =
        &[("declarations", Permission::ReviewAffectedness)];
}

macro_rules! vocabulary {
    ($($variant:ident => $name:literal, $object:literal, $shape:ty, $reader:ident, $doc:literal;)*) => {
        /// A kind of event. Its name is what partners see as `type`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum EventType {
            $(#[doc = $doc] $variant,)*
        }

        impl EventType {
            pub const ALL: &'static [EventType] = &[$(EventType::$variant,)*];

            pub fn name(self) -> &'static str {
                match self { $(Self::$variant => $name,)* }
            }

            pub fn parse(text: &str) -> Option<Self> {
                match text { $($name => Some(Self::$variant),)* _ => None }
            }

            /// The kind of object the event is about.
            pub fn object_kind(self) -> &'static str {
                match self { $(Self::$variant => $object,)* }
            }

            /// What a reader must be allowed to see the event at all.
            pub fn reader(self) -> Permission {
                match self { $(Self::$variant => Permission::$reader,)* }
            }

            pub fn description(self) -> &'static str {
                match self { $(Self::$variant => $doc,)* }
            }

            /// The private fields of its `data`, and who may see each.
            pub fn private_fields(self) -> &'static [(&'static str, Permission)] {
                match self { $(Self::$variant => <$shape as Snapshot>::PRIVATE,)* }
            }

            /// The schema name of its `data`.
            pub fn shape(self) -> Cow<'static, str> {
                match self { $(Self::$variant => <$shape as ToSchema>::name(),)* }
            }

            /// The schema of its `data` and every schema that one refers to.
            pub fn schemas(self, out: &mut Vec<(String, RefOr<Schema>)>) {
                match self {
                    $(Self::$variant => {
                        out.push((
                            <$shape as ToSchema>::name().into_owned(),
                            <$shape as utoipa::PartialSchema>::schema(),
                        ));
                        <$shape as ToSchema>::schemas(out);
                    })*
                }
            }
        }
    };
}

vocabulary! {
    CollectiveUpdated => "collective.updated", "collective", crate::collectives::Collective, ReadCollective,
        "The collective's name or time zone changed.";
    MembershipInvited => "membership.invited", "membership", crate::collectives::Membership, ReadMemberContacts,
        "Someone was invited to the collective.";
    MembershipJoined => "membership.joined", "membership", crate::collectives::Membership, ListMembers,
        "An invitation was accepted: the person is an active member.";
    MembershipRoleChanged => "membership.role_changed", "membership", crate::collectives::Membership, ListMembers,
        "A member's role changed.";
    MembershipSuspended => "membership.suspended", "membership", crate::collectives::Membership, ReadMemberContacts,
        "A member was suspended.";
    MembershipReinstated => "membership.reinstated", "membership", crate::collectives::Membership, ListMembers,
        "A suspended member was reinstated.";
    ClientRegistered => "client.registered", "client", crate::clients::Client, ManageClients,
        "A partner app was registered.";
    ClientUpdated => "client.updated", "client", crate::clients::Client, ManageClients,
        "A partner app's name, scopes or status changed.";
    ClientSecretRotated => "client.secret_rotated", "client", crate::clients::Client, ManageClients,
        "A partner app's secret was replaced.";
    PoolCreated => "pool.created", "pool", crate::pools::Pool, ReadPools,
        "A pool was created.";
    PoolUpdated => "pool.updated", "pool", crate::pools::Pool, ReadPools,
        "A pool's name, description, goal, rules or visibility changed.";
    ContributionRecorded => "contribution.recorded", "contribution", crate::ledger::contributions::Contribution, ReadContributions,
        "Money was received into a pool.";
    ContributionRefunded => "contribution.refunded", "contribution", crate::ledger::contributions::Contribution, ReadContributions,
        "Part or all of a contribution was refunded.";
    ContributionChargedBack => "contribution.charged_back", "contribution", crate::ledger::contributions::Contribution, ReadContributions,
        "Part or all of a contribution was charged back by the payer's bank.";
    ContributionReversed => "contribution.reversed", "contribution", crate::ledger::contributions::Contribution, ReadContributions,
        "A contribution recorded by mistake was reversed.";
    EntryReversed => "entry.reversed", "entry", crate::ledger::Entry, ReadLedger,
        "A journal entry was reversed; `data` is the reversing entry.";
    HoldPlaced => "hold.placed", "hold", crate::ledger::holds::Hold, ReadHolds,
        "Money was reserved: for an approved request, a round's budget, or by hand.";
    HoldSplit => "hold.split", "hold", crate::ledger::holds::Hold, ReadHolds,
        "Part of a hold was split into smaller holds (each also announced as hold.placed).";
    HoldReleased => "hold.released", "hold", crate::ledger::holds::Hold, ReadHolds,
        "Part or all of what remained of a hold went back to the pool's available money.";
    DisbursementCreated => "disbursement.created", "disbursement", crate::ledger::holds::Disbursement, ReadHolds,
        "A payout was started: it is pending until its outcome is recorded.";
    DisbursementPaid => "disbursement.paid", "disbursement", crate::ledger::holds::Disbursement, ReadHolds,
        "A payout was paid: the money left the pool.";
    DisbursementFailed => "disbursement.failed", "disbursement", crate::ledger::holds::Disbursement, ReadHolds,
        "A payout failed: its amount went back to the hold.";
    RequestSubmitted => "request.submitted", "request", crate::requests::AidRequest, ReadRequests,
        "An aid request was submitted (created, or a draft sent in). Drafts are never announced.";
    RequestAmended => "request.amended", "request", crate::requests::AidRequest, ReadRequests,
        "The requester changed a submitted request; approvals given so far no longer count.";
    RequestTakenIntoReview => "request.taken_into_review", "request", crate::requests::AidRequest, ReadRequests,
        "A coordinator took the request into review and owns it.";
    RequestReassigned => "request.reassigned", "request", crate::requests::AidRequest, ReadRequests,
        "An admin handed the request to another coordinator.";
    RequestApprovalGiven => "request.approval_given", "request", crate::requests::AidRequest, ReadRequests,
        "A coordinator approved the request; more approvals are needed.";
    RequestApproved => "request.approved", "request", crate::requests::AidRequest, ReadRequests,
        "The request was approved (by its last approval, or by a round) and its money held.";
    RequestRejected => "request.rejected", "request", crate::requests::AidRequest, ReadRequests,
        "The request was rejected.";
    RequestWithdrawn => "request.withdrawn", "request", crate::requests::AidRequest, ReadRequests,
        "The requester withdrew the request.";
    RequestCancelled => "request.cancelled", "request", crate::requests::AidRequest, ReadRequests,
        "Coordinators cancelled the request; what was held for it was released.";
    RequestConflictDeclared => "request.conflict_declared", "request", crate::requests::AidRequest, ReviewRequests,
        "A coordinator declared a conflict of interest and stepped back from the request.";
    RequestPartiallyPaid => "request.partially_paid", "request", crate::requests::AidRequest, ReadRequests,
        "A payout for the request was paid; more remains to be paid.";
    RequestPaid => "request.paid", "request", crate::requests::AidRequest, ReadRequests,
        "The approved amount has been paid in full.";
    RequestInVote => "request.in_vote", "request", crate::requests::AidRequest, ReadRequests,
        "The request is a candidate of a budgeting round that opened.";
    RequestVoteCancelled => "request.vote_cancelled", "request", crate::requests::AidRequest, ReadRequests,
        "Its round was cancelled: the request is back in review.";
    RequestNotFunded => "request.not_funded", "request", crate::requests::AidRequest, ReadRequests,
        "Its round was enacted without funding it.";
    RequestRedacted => "request.redacted", "request", crate::requests::AidRequest, ReadRequests,
        "The request's private fields were redacted: it had been closed longer than the collective keeps them (`retention_days`). Amounts, states and dates are unchanged.";
    RequestCommented => "request.commented", "request", crate::requests::Comment, ReviewRequests,
        "A comment was added to a request (an internal note, or a message the requester reads).";
    RoundCreated => "round.created", "round", crate::rounds::Round, ReadRounds,
        "A budgeting round was drafted.";
    RoundUpdated => "round.updated", "round", crate::rounds::Round, ReadRounds,
        "A draft round's rules changed.";
    RoundOpened => "round.opened", "round", crate::rounds::Round, ReadRounds,
        "A round opened for voting; its budget is held.";
    RoundClosed => "round.closed", "round", crate::rounds::Round, ReadRounds,
        "Voting closed; ballots are weighed.";
    RoundTallied => "round.tallied", "round", crate::rounds::RoundResult, ReadRounds,
        "A round was tallied; `data` is its results.";
    RoundEnacted => "round.enacted", "round", crate::rounds::Round, ReadRounds,
        "A round's results were enacted: funded requests approved, the rest released.";
    RoundCancelled => "round.cancelled", "round", crate::rounds::Round, ReadRounds,
        "A round was cancelled; its budget was released.";
    PledgeCreated => "pledge.created", "pledge", crate::pledges::Pledge, ReadPledges,
        "Someone pledged to a pool.";
    PledgeInstallmentDue => "pledge.installment_due", "pledge", PledgeInstallment, ReadPledges,
        "An installment of a pledge fell due, unpaid.";
    PledgePaymentApplied => "pledge.payment_applied", "pledge", crate::pledges::Pledge, ReadPledges,
        "A contribution paid installments of the pledge.";
    PledgePaymentTakenBack => "pledge.payment_taken_back", "pledge", crate::pledges::Pledge, ReadPledges,
        "A refund or reversal took back what a contribution had paid on the pledge.";
    PledgePaused => "pledge.paused", "pledge", crate::pledges::Pledge, ReadPledges,
        "The pledge was paused.";
    PledgeResumed => "pledge.resumed", "pledge", crate::pledges::Pledge, ReadPledges,
        "A paused pledge was resumed.";
    PledgeCancelled => "pledge.cancelled", "pledge", crate::pledges::Pledge, ReadPledges,
        "The pledge was cancelled.";
    PledgeLapsed => "pledge.lapsed", "pledge", crate::pledges::Pledge, ReadPledges,
        "An installment stayed unpaid past the grace period: the pledge lapsed.";
    PledgeFulfilled => "pledge.fulfilled", "pledge", crate::pledges::Pledge, ReadPledges,
        "Every installment is paid or waived.";
    PledgeReinstated => "pledge.reinstated", "pledge", crate::pledges::Pledge, ReadPledges,
        "A lapsed or fulfilled pledge is active again (a late payment, or a refund).";
    IssueCreated => "issue.created", "issue", crate::affectedness::Issue, ReadIssues,
        "The collective named an issue it organises around.";
    AffectednessDeclared => "affectedness.declared", "membership", crate::affectedness::Affectedness, ReviewAffectedness,
        "A member declared how they are affected. Coordinators only: never sent to partner apps.";
    AffectednessVerified => "affectedness.verified", "membership", crate::affectedness::Affectedness, ReviewAffectedness,
        "A coordinator verified a member's declaration. Coordinators only: never sent to partner apps.";
    WebhookEndpointCreated => "webhook_endpoint.created", "webhook_endpoint", crate::webhooks::Endpoint, ManageClients,
        "A webhook endpoint was registered for a partner app. Admins only: never sent to partner apps (it names the app's URL).";
    WebhookEndpointUpdated => "webhook_endpoint.updated", "webhook_endpoint", crate::webhooks::Endpoint, ManageClients,
        "A webhook endpoint's URL, event types or description changed, or it was enabled. Admins only.";
    WebhookEndpointSecretRotated => "webhook_endpoint.secret_rotated", "webhook_endpoint", crate::webhooks::Endpoint, ManageClients,
        "A webhook endpoint's signing secret was rotated; the previous one signs beside it until `previous_secret_expires_at`. Admins only.";
    WebhookEndpointDisabled => "webhook_endpoint.disabled", "webhook_endpoint", crate::webhooks::Endpoint, ManageClients,
        "A webhook endpoint was disabled, by hand or because its deliveries kept failing (`disabled_reason`). Admins only.";
}

/// A `types` filter: an event type, or a prefix ending in `*`
/// (`request.*`, or `*` for all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypePattern(String);

impl TypePattern {
    /// Parses a comma-separated list; every entry must match some type.
    pub fn parse_list(field: &str, text: &str) -> crate::error::Result<Vec<TypePattern>> {
        let mut patterns = Vec::new();
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let pattern = TypePattern(entry.to_owned());
            if !EventType::ALL.iter().any(|t| pattern.matches(*t)) {
                return Err(crate::error::Error::invalid(
                    field,
                    format!("{entry:?} matches no event type; see the README or the OpenAPI document's webhooks"),
                ));
            }
            patterns.push(pattern);
        }
        if patterns.is_empty() {
            return Err(crate::error::Error::invalid(
                field,
                "name at least one event type or pattern",
            ));
        }
        Ok(patterns)
    }

    pub fn matches(&self, event: EventType) -> bool {
        match self.0.strip_suffix('*') {
            Some(prefix) => event.name().starts_with(prefix),
            None => event.name() == self.0,
        }
    }
}

/// Whether any of `patterns` matches (no patterns: every type).
pub fn wanted(patterns: &[TypePattern], event: EventType) -> bool {
    patterns.is_empty() || patterns.iter().any(|p| p.matches(event))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for event in EventType::ALL {
            assert!(seen.insert(event.name()), "{} twice", event.name());
            assert_eq!(EventType::parse(event.name()), Some(*event));
            let (object, verb) = event.name().split_once('.').expect("object.verb");
            assert!(!object.is_empty() && !verb.is_empty());
        }
    }

    #[test]
    fn the_readme_lists_every_event_type() {
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
            .expect("README.md");
        for event in EventType::ALL {
            assert!(
                readme.contains(&format!("| `{}` |", event.name())),
                "README.md's event table lacks {}",
                event.name()
            );
        }
    }

    #[test]
    fn patterns_take_wildcards_and_refuse_unknown_types() {
        let patterns = TypePattern::parse_list("types", "request.*, hold.placed").unwrap();
        assert!(wanted(&patterns, EventType::RequestApproved));
        assert!(wanted(&patterns, EventType::HoldPlaced));
        assert!(!wanted(&patterns, EventType::HoldReleased));
        assert!(TypePattern::parse_list("types", "*").unwrap()[0].matches(EventType::PoolCreated));
        assert!(TypePattern::parse_list("types", "request.approve").is_err());
        assert!(TypePattern::parse_list("types", "nothing.*").is_err());
        assert!(TypePattern::parse_list("types", " , ").is_err());
    }
}
