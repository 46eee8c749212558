//! The permission matrix: every operation in the OpenAPI document × every
//! kind of caller. An operation without a row here fails the test, so a new
//! endpoint cannot ship without its rule being stated and checked.

use std::collections::BTreeSet;

use commonpot::auth::tokens::{Claims, Subject};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{Person, TestApp};

/// Who an operation is for, stated independently of the service's policy.
#[derive(Debug, Clone, Copy)]
enum Access {
    /// Any signed-in person, no partner app; every allowed caller gets
    /// exactly this status (an operation that cannot succeed for everyone
    /// of the matrix without undoing it, such as erasing oneself, is called
    /// with input its service refuses after authentication).
    AnyPersonAnswers(u16),
    /// Anyone, no token (health, sign-in …): every caller gets exactly this
    /// status (a public operation may refuse its input alike for everyone,
    /// such as 404 for an unknown invitation — but never a 500).
    Public(u16),
    /// Anyone without a token, or a signed-in person; a token that is sent
    /// must be a valid one of a person (accepting an invitation). Allowed
    /// callers get exactly this status.
    PublicOrPerson(u16),
    /// Any signed-in person, whatever their memberships; no partner app.
    AnyPerson,
    /// Members of the collective with at least this role, and partner apps
    /// of the collective holding these scopes (none listed: no partner app).
    Collective(Role, &'static [&'static str]),
    /// The member a request is for (the matrix's `Member`), or as
    /// `Collective`.
    RequesterOr(Role, &'static [&'static str]),
    /// Only the member a request is for.
    Requester,
    /// A draft: it exists only for its author; to everyone else in the
    /// collective it is not found.
    DraftAuthor,
    /// As `Collective`, but a partner app holding the scopes acts only on
    /// what is its own: another app's (the matrix's) is not found to it.
    OwnOr(Role, &'static [&'static str]),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Role {
    Member,
    Coordinator,
    Admin,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Caller {
    Admin,
    Coordinator,
    Member,
    OtherCollective,
    Suspended,
    PartnerWithScope,
    PartnerWithoutScope,
    Expired,
    Anonymous,
}

const CALLERS: [Caller; 9] = [
    Caller::Admin,
    Caller::Coordinator,
    Caller::Member,
    Caller::OtherCollective,
    Caller::Suspended,
    Caller::PartnerWithScope,
    Caller::PartnerWithoutScope,
    Caller::Expired,
    Caller::Anonymous,
];

struct World {
    collective: String,
    /// Requests of the matrix's `Member`: one to read, one per caller for
    /// one-shot steps, and some in particular states.
    request: String,
    drafts: Vec<String>,
    withdrawable: String,
    approved: String,
    to_review: Vec<String>,
    to_approve: Vec<String>,
    to_reject: Vec<String>,
    to_cancel: Vec<String>,
    pool: String,
    contribution: String,
    hold: String,
    disbursement: String,
    /// A pledge of `member`'s.
    pledge: String,
    /// One per caller, for operations that succeed only once.
    reversible_entries: Vec<String>,
    pending_disbursements: Vec<String>,
    target_membership: String,
    /// A member the admin erases.
    erasable: String,
    issue: String,
    /// Rounds: a draft to read and change, one per caller for each one-shot
    /// step, one open for voting, one tallied for results and export.
    draft_round: String,
    to_open: Vec<String>,
    to_close: Vec<String>,
    to_tally: Vec<String>,
    to_enact: Vec<String>,
    rounds_to_cancel: Vec<String>,
    voting_round: String,
    tallied_round: String,
    client_id: String,
    /// A webhook endpoint of `client_id` (disabled: it sends nothing).
    endpoint: String,
    /// A delivery of that endpoint (queued by a replay).
    delivery: String,
    admin: Person,
    coordinator: Person,
    member: Person,
    other: Person,
    suspended: Person,
    expired: String,
}

/// A request for one operation: method, path and body. `n` makes bodies
/// unique where repeated calls would clash; `c` is the caller's index, for
/// operations that can succeed only once per resource.
type Call = fn(&World, usize, usize) -> (Method, String, Option<Value>);

struct Row {
    operation: &'static str,
    access: Access,
    call: Call,
}

fn rows() -> Vec<Row> {
    use Access::*;
    vec![
        Row {
            operation: "healthz",
            access: Public(200),
            call: |_, _, _| (Method::GET, "/healthz".into(), None),
        },
        Row {
            operation: "readyz",
            access: Public(200),
            call: |_, _, _| (Method::GET, "/readyz".into(), None),
        },
        Row {
            operation: "metrics",
            access: Public(200),
            call: |_, _, _| (Method::GET, "/metrics".into(), None),
        },
        Row {
            operation: "issue_token",
            access: Public(200),
            call: |w, _, _| {
                (
                    Method::POST,
                    "/api/v1/auth/token".into(),
                    Some(
                        json!({"grant_type": "password", "username": w.admin.email, "password": crate::helpers::PASSWORD}),
                    ),
                )
            },
        },
        Row {
            operation: "revoke_token",
            // RFC 7009: an unknown token is revoked alike.
            access: Public(200),
            call: |_, _, _| {
                (
                    Method::POST,
                    "/api/v1/auth/revoke".into(),
                    Some(json!({"token": "cpr_unknown"})),
                )
            },
        },
        Row {
            operation: "accept_invitation",
            // An unknown token: public, so the answer is 404 for everyone alike.
            access: PublicOrPerson(404),
            call: |_, _, _| {
                (
                    Method::POST,
                    "/api/v1/invitations/accept".into(),
                    Some(json!({"invitation_token": "cpi_unknown", "password": "whatever-long"})),
                )
            },
        },
        Row {
            operation: "me",
            access: AnyPerson,
            call: |_, _, _| (Method::GET, "/api/v1/me".into(), None),
        },
        Row {
            operation: "create_collective",
            access: AnyPerson,
            call: |_, _, _| {
                (
                    Method::POST,
                    "/api/v1/collectives".into(),
                    Some(json!({"name": "New", "time_zone": "UTC"})),
                )
            },
        },
        Row {
            operation: "list_collectives",
            access: AnyPerson,
            call: |_, _, _| (Method::GET, "/api/v1/collectives".into(), None),
        },
        Row {
            operation: "get_collective",
            access: Collective(Role::Member, &["collective:read"]),
            call: |w, _, _| {
                (
                    Method::GET,
                    format!("/api/v1/collectives/{}", w.collective),
                    None,
                )
            },
        },
        Row {
            operation: "update_collective",
            access: Collective(Role::Admin, &[]),
            call: |w, _, _| {
                (
                    Method::PATCH,
                    format!("/api/v1/collectives/{}", w.collective),
                    Some(json!({"name": "Renamed"})),
                )
            },
        },
        Row {
            operation: "list_members",
            access: Collective(Role::Member, &["collective:read"]),
            call: |w, _, _| {
                (
                    Method::GET,
                    format!("/api/v1/collectives/{}/members", w.collective),
                    None,
                )
            },
        },
        Row {
            operation: "invite_member",
            access: Collective(Role::Coordinator, &[]),
            call: |w, n, _| {
                (
                    Method::POST,
                    format!("/api/v1/collectives/{}/members", w.collective),
                    Some(
                        json!({"email": format!("invitee{n}@example.org"), "display_name": "Invitee"}),
                    ),
                )
            },
        },
        Row {
            operation: "get_member",
            access: Collective(Role::Member, &["collective:read"]),
            call: |w, _, _| {
                (
                    Method::GET,
                    format!(
                        "/api/v1/collectives/{}/members/{}",
                        w.collective, w.target_membership
                    ),
                    None,
                )
            },
        },
        Row {
            operation: "update_member",
            access: Collective(Role::Admin, &[]),
            call: |w, _, _| {
                (
                    Method::PATCH,
                    format!(
                        "/api/v1/collectives/{}/members/{}",
                        w.collective, w.target_membership
                    ),
                    Some(json!({"role": "member"})),
                )
            },
        },
        Row {
            operation: "register_client",
            access: Collective(Role::Admin, &[]),
            call: |w, _, _| {
                (
                    Method::POST,
                    format!("/api/v1/collectives/{}/clients", w.collective),
                    Some(json!({"name": "App", "scopes": ["pools:read"]})),
                )
            },
        },
        Row {
            operation: "list_clients",
            access: Collective(Role::Admin, &[]),
            call: |w, _, _| {
                (
                    Method::GET,
                    format!("/api/v1/collectives/{}/clients", w.collective),
                    None,
                )
            },
        },
        Row {
            operation: "get_client",
            access: Collective(Role::Admin, &[]),
            call: |w, _, _| {
                (
                    Method::GET,
                    format!(
                        "/api/v1/collectives/{}/clients/{}",
                        w.collective, w.client_id
                    ),
                    None,
                )
            },
        },
        Row {
            operation: "update_client",
            access: Collective(Role::Admin, &[]),
            call: |w, _, _| {
                (
                    Method::PATCH,
                    format!(
                        "/api/v1/collectives/{}/clients/{}",
                        w.collective, w.client_id
                    ),
                    Some(json!({"name": "Renamed app"})),
                )
            },
        },
        Row {
            operation: "rotate_client_secret",
            access: Collective(Role::Admin, &[]),
            call: |w, _, _| {
                (
                    Method::POST,
                    format!(
                        "/api/v1/collectives/{}/clients/{}/rotate-secret",
                        w.collective, w.client_id
                    ),
                    None,
                )
            },
        },
        Row {
            operation: "create_pool",
            access: Collective(Role::Coordinator, &[]),
            call: |w, _, _| {
                (
                    Method::POST,
                    format!("/api/v1/collectives/{}/pools", w.collective),
                    Some(json!({"name": "Another", "currency": "EUR"})),
                )
            },
        },
        Row {
            operation: "list_pools",
            access: Collective(Role::Member, &["pools:read"]),
            call: |w, _, _| {
                (
                    Method::GET,
                    format!("/api/v1/collectives/{}/pools", w.collective),
                    None,
                )
            },
        },
        Row {
            operation: "get_pool",
            access: Collective(Role::Member, &["pools:read"]),
            call: |w, _, _| (Method::GET, format!("/api/v1/pools/{}", w.pool), None),
        },
        Row {
            operation: "update_pool",
            access: Collective(Role::Coordinator, &[]),
            call: |w, _, _| {
                (
                    Method::PATCH,
                    format!("/api/v1/pools/{}", w.pool),
                    Some(json!({"description": "Rent help"})),
                )
            },
        },
        Row {
            operation: "list_entries",
            access: Collective(Role::Member, &["pools:read"]),
            call: |w, _, _| {
                (
                    Method::GET,
                    format!("/api/v1/pools/{}/entries", w.pool),
                    None,
                )
            },
        },
        Row {
            operation: "reverse_entry",
            access: Collective(Role::Coordinator, &[]),
            call: |w, _, c| {
                (
                    Method::POST,
                    format!("/api/v1/entries/{}/reversal", w.reversible_entries[c]),
                    Some(json!({})),
                )
            },
        },
        Row {
            operation: "record_contribution",
            access: Collective(Role::Coordinator, &["contributions:write"]),
            call: |w, _, _| {
                (
                    Method::POST,
                    format!("/api/v1/pools/{}/contributions", w.pool),
                    Some(json!({"amount": "1.00", "method": "cash"})),
                )
            },
        },
        Row {
            operation: "list_contributions",
            access: Collective(Role::Coordinator, &["contributions:write"]),
            call: |w, _, _| {
                (
                    Method::GET,
                    format!("/api/v1/pools/{}/contributions", w.pool),
                    None,
                )
            },
        },
        Row {
            operation: "get_contribution",
            access: Collective(Role::Coordinator, &["contributions:write"]),
            call: |w, _, _| {
                (
                    Method::GET,
                    format!("/api/v1/contributions/{}", w.contribution),
                    None,
                )
            },
        },
        Row {
            operation: "refund_contribution",
            access: Collective(Role::Coordinator, &["contributions:write"]),
            call: |w, _, _| {
                (
                    Method::POST,
                    format!("/api/v1/contributions/{}/refunds", w.contribution),
                    Some(json!({"amount": "0.01", "kind": "refund"})),
                )
            },
        },
        Row {
            operation: "place_hold",
            access: Collective(Role::Coordinator, &[]),
            call: |w, _, _| {
                (
                    Method::POST,
                    format!("/api/v1/pools/{}/holds", w.pool),
                    Some(json!({"amount": "0.01"})),
                )
            },
        },
        Row {
            operation: "list_holds",
            access: Collective(Role::Coordinator, &["disbursements:write"]),
            call: |w, _, _| (Method::GET, format!("/api/v1/pools/{}/holds", w.pool), None),
        },
        Row {
            operation: "get_hold",
            access: Collective(Role::Coordinator, &["disbursements:write"]),
            call: |w, _, _| (Method::GET, format!("/api/v1/holds/{}", w.hold), None),
        },
        Row {
            operation: "split_hold",
            access: Collective(Role::Coordinator, &[]),
            call: |w, _, _| {
                (
                    Method::POST,
                    format!("/api/v1/holds/{}/split", w.hold),
                    Some(json!({"amounts": ["0.01"]})),
                )
            },
        },
        Row {
            operation: "release_hold",
            access: Collective(Role::Coordinator, &[]),
            call: |w, _, _| {
                (
                    Method::POST,
                    format!("/api/v1/holds/{}/release", w.hold),
                    Some(json!({"amount": "0.01"})),
                )
            },
        },
        Row {
            operation: "create_disbursement",
            access: Collective(Role::Coordinator, &[]),
            call: |w, _, _| {
                (
                    Method::POST,
                    format!("/api/v1/holds/{}/disbursements", w.hold),
                    Some(json!({"amount": "0.01"})),
                )
            },
        },
        Row {
            operation: "list_disbursements",
            access: Collective(Role::Coordinator, &["disbursements:write"]),
            call: |w, _, _| {
                (
                    Method::GET,
                    format!("/api/v1/holds/{}/disbursements", w.hold),
                    None,
                )
            },
        },
        Row {
            operation: "get_disbursement",
            access: Collective(Role::Coordinator, &["disbursements:write"]),
            call: |w, _, _| {
                (
                    Method::GET,
                    format!("/api/v1/disbursements/{}", w.disbursement),
                    None,
                )
            },
        },
        Row {
            operation: "record_disbursement_outcome",
            access: Collective(Role::Coordinator, &["disbursements:write"]),
            call: |w, _, c| {
                (
                    Method::POST,
                    format!(
                        "/api/v1/disbursements/{}/outcome",
                        w.pending_disbursements[c]
                    ),
                    Some(json!({"outcome": "paid"})),
                )
            },
        },
        Row {
            operation: "create_request",
            access: Collective(Role::Member, &[]),
            call: |w, _, _| {
                (
                    Method::POST,
                    format!("/api/v1/pools/{}/requests", w.pool),
                    Some(ask("10.00")),
                )
            },
        },
        Row {
            operation: "list_requests",
            access: Collective(Role::Member, &["requests:read"]),
            call: |w, _, _| {
                (
                    Method::GET,
                    format!("/api/v1/collectives/{}/requests", w.collective),
                    None,
                )
            },
        },
        Row {
            operation: "count_requests",
            access: Collective(Role::Coordinator, &[]),
            call: |w, _, _| {
                (
                    Method::GET,
                    format!("/api/v1/collectives/{}/requests/counts", w.collective),
                    None,
                )
            },
        },
        Row {
            operation: "get_request",
            access: Collective(Role::Member, &["requests:read"]),
            call: |w, _, _| (Method::GET, format!("/api/v1/requests/{}", w.request), None),
        },
        Row {
            operation: "amend_request",
            access: Requester,
            call: |w, _, _| {
                (
                    Method::PATCH,
                    format!("/api/v1/requests/{}", w.request),
                    Some(json!({"public_summary": "Updated"})),
                )
            },
        },
        Row {
            operation: "submit_request",
            access: DraftAuthor,
            call: |w, _, c| {
                (
                    Method::POST,
                    format!("/api/v1/requests/{}/submission", w.drafts[c]),
                    None,
                )
            },
        },
        Row {
            operation: "review_request",
            access: Collective(Role::Coordinator, &[]),
            call: |w, _, c| {
                (
                    Method::POST,
                    format!("/api/v1/requests/{}/review", w.to_review[c]),
                    None,
                )
            },
        },
        Row {
            operation: "approve_request",
            access: Collective(Role::Coordinator, &[]),
            call: |w, _, c| {
                (
                    Method::POST,
                    format!("/api/v1/requests/{}/approvals", w.to_approve[c]),
                    Some(json!({})),
                )
            },
        },
        Row {
            operation: "reject_request",
            access: Collective(Role::Coordinator, &[]),
            call: |w, _, c| {
                (
                    Method::POST,
                    format!("/api/v1/requests/{}/rejection", w.to_reject[c]),
                    Some(json!({"reason": "no"})),
                )
            },
        },
        Row {
            operation: "withdraw_request",
            access: Requester,
            call: |w, _, _| {
                (
                    Method::POST,
                    format!("/api/v1/requests/{}/withdrawal", w.withdrawable),
                    None,
                )
            },
        },
        Row {
            operation: "cancel_request",
            access: Collective(Role::Coordinator, &[]),
            call: |w, _, c| {
                (
                    Method::POST,
                    format!("/api/v1/requests/{}/cancellation", w.to_cancel[c]),
                    None,
                )
            },
        },
        Row {
            operation: "declare_conflict",
            access: Collective(Role::Coordinator, &[]),
            call: |w, _, _| {
                (
                    Method::POST,
                    format!("/api/v1/requests/{}/conflicts", w.request),
                    None,
                )
            },
        },
        Row {
            operation: "pay_request",
            access: Collective(Role::Coordinator, &[]),
            call: |w, _, _| {
                (
                    Method::POST,
                    format!("/api/v1/requests/{}/disbursements", w.approved),
                    Some(json!({"amount": "0.01"})),
                )
            },
        },
        Row {
            operation: "list_request_disbursements",
            access: RequesterOr(
                Role::Coordinator,
                &["requests:read_private", "requests:read"],
            ),
            call: |w, _, _| {
                (
                    Method::GET,
                    format!("/api/v1/requests/{}/disbursements", w.approved),
                    None,
                )
            },
        },
        Row {
            operation: "add_comment",
            access: RequesterOr(Role::Coordinator, &[]),
            call: |w, _, _| {
                (
                    Method::POST,
                    format!("/api/v1/requests/{}/comments", w.request),
                    Some(json!({"body": "Hello"})),
                )
            },
        },
        Row {
            operation: "list_comments",
            access: RequesterOr(Role::Coordinator, &[]),
            call: |w, _, _| {
                (
                    Method::GET,
                    format!("/api/v1/requests/{}/comments", w.request),
                    None,
                )
            },
        },
        Row {
            operation: "create_issue",
            access: Collective(Role::Coordinator, &[]),
            call: |w, n, _| {
                (
                    Method::POST,
                    format!("/api/v1/collectives/{}/issues", w.collective),
                    Some(json!({"name": format!("Issue {n}")})),
                )
            },
        },
        Row {
            operation: "list_issues",
            access: Collective(Role::Member, &[]),
            call: |w, _, _| {
                (
                    Method::GET,
                    format!("/api/v1/collectives/{}/issues", w.collective),
                    None,
                )
            },
        },
        Row {
            operation: "declare_affectedness",
            access: Collective(Role::Member, &[]),
            call: |w, _, _| {
                (
                    Method::PUT,
                    format!("/api/v1/collectives/{}/affectedness/me", w.collective),
                    Some(json!({"declarations": [{"issue_id": w.issue, "tier": "supporter"}]})),
                )
            },
        },
        Row {
            operation: "my_affectedness",
            access: Collective(Role::Member, &[]),
            call: |w, _, _| {
                (
                    Method::GET,
                    format!("/api/v1/collectives/{}/affectedness/me", w.collective),
                    None,
                )
            },
        },
        Row {
            operation: "member_affectedness",
            access: Collective(Role::Coordinator, &[]),
            call: |w, _, _| {
                (
                    Method::GET,
                    format!(
                        "/api/v1/collectives/{}/members/{}/affectedness",
                        w.collective, w.target_membership
                    ),
                    None,
                )
            },
        },
        Row {
            operation: "verify_affectedness",
            access: Collective(Role::Coordinator, &[]),
            call: |w, _, _| {
                (
                    Method::POST,
                    format!(
                        "/api/v1/collectives/{}/members/{}/affectedness/{}/verification",
                        w.collective, w.target_membership, w.issue
                    ),
                    None,
                )
            },
        },
        Row {
            operation: "create_round",
            access: Collective(Role::Coordinator, &[]),
            call: |w, _, _| {
                (
                    Method::POST,
                    format!("/api/v1/pools/{}/rounds", w.pool),
                    Some(
                        json!({"title": "Round", "budget": "1.00", "candidates": [w.request],
                                "ballot": {"type": "approval"}}),
                    ),
                )
            },
        },
        Row {
            operation: "list_rounds",
            access: Collective(Role::Member, &["rounds:read"]),
            call: |w, _, _| {
                (
                    Method::GET,
                    format!("/api/v1/collectives/{}/rounds", w.collective),
                    None,
                )
            },
        },
        Row {
            operation: "get_round",
            access: Collective(Role::Member, &["rounds:read"]),
            call: |w, _, _| {
                (
                    Method::GET,
                    format!("/api/v1/rounds/{}", w.draft_round),
                    None,
                )
            },
        },
        Row {
            operation: "update_round",
            access: Collective(Role::Coordinator, &[]),
            call: |w, _, _| {
                (
                    Method::PATCH,
                    format!("/api/v1/rounds/{}", w.draft_round),
                    Some(json!({"title": "Renamed"})),
                )
            },
        },
        Row {
            operation: "open_round",
            access: Collective(Role::Coordinator, &[]),
            call: |w, _, c| {
                (
                    Method::POST,
                    format!("/api/v1/rounds/{}/open", w.to_open[c]),
                    None,
                )
            },
        },
        Row {
            operation: "close_round",
            access: Collective(Role::Coordinator, &[]),
            call: |w, _, c| {
                (
                    Method::POST,
                    format!("/api/v1/rounds/{}/close", w.to_close[c]),
                    None,
                )
            },
        },
        Row {
            operation: "tally_round",
            access: Collective(Role::Coordinator, &[]),
            call: |w, _, c| {
                (
                    Method::POST,
                    format!("/api/v1/rounds/{}/tally", w.to_tally[c]),
                    None,
                )
            },
        },
        Row {
            operation: "round_results",
            access: Collective(Role::Member, &["rounds:read"]),
            call: |w, _, _| {
                (
                    Method::GET,
                    format!("/api/v1/rounds/{}/results", w.tallied_round),
                    None,
                )
            },
        },
        Row {
            operation: "enact_round",
            access: Collective(Role::Coordinator, &[]),
            call: |w, _, c| {
                (
                    Method::POST,
                    format!("/api/v1/rounds/{}/enact", w.to_enact[c]),
                    None,
                )
            },
        },
        Row {
            operation: "cancel_round",
            access: Collective(Role::Coordinator, &[]),
            call: |w, _, c| {
                (
                    Method::POST,
                    format!("/api/v1/rounds/{}/cancel", w.rounds_to_cancel[c]),
                    None,
                )
            },
        },
        // Cast, then read, then withdraw: each caller's own ballot.
        Row {
            operation: "cast_ballot",
            access: Collective(Role::Member, &[]),
            call: |w, _, _| {
                (
                    Method::PUT,
                    format!("/api/v1/rounds/{}/ballots/me", w.voting_round),
                    Some(json!({"approve": []})),
                )
            },
        },
        Row {
            operation: "my_ballot",
            access: Collective(Role::Member, &[]),
            call: |w, _, _| {
                (
                    Method::GET,
                    format!("/api/v1/rounds/{}/ballots/me", w.voting_round),
                    None,
                )
            },
        },
        Row {
            operation: "withdraw_ballot",
            access: Collective(Role::Member, &[]),
            call: |w, _, _| {
                (
                    Method::DELETE,
                    format!("/api/v1/rounds/{}/ballots/me", w.voting_round),
                    None,
                )
            },
        },
        Row {
            operation: "export_round",
            access: Collective(Role::Coordinator, &[]),
            call: |w, _, _| {
                (
                    Method::GET,
                    format!("/api/v1/rounds/{}/export.pb", w.tallied_round),
                    None,
                )
            },
        },
        Row {
            operation: "my_contributions",
            access: Collective(Role::Member, &[]),
            call: |w, _, _| {
                (
                    Method::GET,
                    format!("/api/v1/me/contributions?collective_id={}", w.collective),
                    None,
                )
            },
        },
        Row {
            operation: "create_pledge",
            access: Collective(Role::Member, &[]),
            call: |w, _, _| {
                (
                    Method::POST,
                    format!("/api/v1/pools/{}/pledges", w.pool),
                    Some(json!({"amount": "1.00", "frequency": "once"})),
                )
            },
        },
        Row {
            operation: "list_pledges",
            access: Collective(Role::Coordinator, &["contributions:write"]),
            call: |w, _, _| {
                (
                    Method::GET,
                    format!("/api/v1/pools/{}/pledges", w.pool),
                    None,
                )
            },
        },
        Row {
            operation: "pledge_report",
            access: Collective(Role::Coordinator, &["contributions:write"]),
            call: |w, _, _| {
                (
                    Method::GET,
                    format!("/api/v1/pools/{}/pledges/report", w.pool),
                    None,
                )
            },
        },
        Row {
            // The pledge is the member's own; other members' are not found.
            operation: "get_pledge",
            access: RequesterOr(Role::Coordinator, &["contributions:write"]),
            call: |w, _, _| (Method::GET, format!("/api/v1/pledges/{}", w.pledge), None),
        },
        Row {
            // The pledge is the member's own: they may pause it.
            operation: "update_pledge",
            access: RequesterOr(Role::Coordinator, &[]),
            call: |w, _, _| {
                (
                    Method::PATCH,
                    format!("/api/v1/pledges/{}", w.pledge),
                    Some(json!({"status": "paused"})),
                )
            },
        },
        Row {
            operation: "my_pledges",
            access: Collective(Role::Member, &[]),
            call: |w, _, _| {
                (
                    Method::GET,
                    format!("/api/v1/me/pledges?collective_id={}", w.collective),
                    None,
                )
            },
        },
        Row {
            operation: "pool_statement",
            access: Collective(Role::Member, &["pools:read"]),
            call: |w, _, _| {
                (
                    Method::GET,
                    format!(
                        "/api/v1/pools/{}/statement?from=2026-11-01&to=2026-11-30",
                        w.pool
                    ),
                    None,
                )
            },
        },
        Row {
            // The pool is not public; a public pool's summary is for anyone
            // (tested with the reports).
            operation: "pool_summary",
            access: Collective(Role::Member, &["pools:read"]),
            call: |w, _, _| {
                (
                    Method::GET,
                    format!("/api/v1/pools/{}/summary", w.pool),
                    None,
                )
            },
        },
        Row {
            operation: "list_audit",
            access: Collective(Role::Coordinator, &[]),
            call: |w, _, _| {
                (
                    Method::GET,
                    format!("/api/v1/audit?collective_id={}", w.collective),
                    None,
                )
            },
        },
        Row {
            operation: "list_events",
            access: Collective(Role::Admin, &["events:read"]),
            call: |w, _, _| {
                (
                    Method::GET,
                    format!("/api/v1/collectives/{}/events", w.collective),
                    None,
                )
            },
        },
        Row {
            operation: "register_endpoint",
            access: OwnOr(Role::Admin, &["webhooks:manage"]),
            call: |w, n, _| {
                (
                    Method::POST,
                    format!("/api/v1/collectives/{}/webhooks", w.collective),
                    Some(
                        json!({"client_id": w.client_id, "url": format!("https://127.0.0.1:9/hook/{n}"),
                                "event_types": ["pool.*"], "enabled": false}),
                    ),
                )
            },
        },
        Row {
            operation: "list_endpoints",
            access: Collective(Role::Admin, &["webhooks:manage"]),
            call: |w, _, _| {
                (
                    Method::GET,
                    format!("/api/v1/collectives/{}/webhooks", w.collective),
                    None,
                )
            },
        },
        Row {
            operation: "get_endpoint",
            access: OwnOr(Role::Admin, &["webhooks:manage"]),
            call: |w, _, _| {
                (
                    Method::GET,
                    format!(
                        "/api/v1/collectives/{}/webhooks/{}",
                        w.collective, w.endpoint
                    ),
                    None,
                )
            },
        },
        Row {
            operation: "update_endpoint",
            access: OwnOr(Role::Admin, &["webhooks:manage"]),
            call: |w, n, _| {
                (
                    Method::PATCH,
                    format!(
                        "/api/v1/collectives/{}/webhooks/{}",
                        w.collective, w.endpoint
                    ),
                    Some(json!({"description": format!("changed {n}")})),
                )
            },
        },
        Row {
            operation: "rotate_endpoint_secret",
            access: OwnOr(Role::Admin, &["webhooks:manage"]),
            call: |w, _, _| {
                (
                    Method::POST,
                    format!(
                        "/api/v1/collectives/{}/webhooks/{}/rotate-secret",
                        w.collective, w.endpoint
                    ),
                    None,
                )
            },
        },
        Row {
            operation: "list_deliveries",
            access: OwnOr(Role::Admin, &["webhooks:manage"]),
            call: |w, _, _| {
                (
                    Method::GET,
                    format!(
                        "/api/v1/collectives/{}/webhooks/{}/deliveries",
                        w.collective, w.endpoint
                    ),
                    None,
                )
            },
        },
        Row {
            operation: "retry_delivery",
            access: OwnOr(Role::Admin, &["webhooks:manage"]),
            call: |w, _, _| {
                (
                    Method::POST,
                    format!(
                        "/api/v1/collectives/{}/webhooks/{}/deliveries/{}/retry",
                        w.collective, w.endpoint, w.delivery
                    ),
                    None,
                )
            },
        },
        Row {
            operation: "replay_endpoint",
            access: OwnOr(Role::Admin, &["webhooks:manage"]),
            call: |w, _, _| {
                (
                    Method::POST,
                    format!(
                        "/api/v1/collectives/{}/webhooks/{}/replay",
                        w.collective, w.endpoint
                    ),
                    Some(json!({"since": "2020-01-01T00:00:00Z"})),
                )
            },
        },
        // A person's own account (#26).
        Row {
            operation: "get_profile",
            access: AnyPerson,
            call: |_, _, _| (Method::GET, "/api/v1/me/profile".into(), None),
        },
        Row {
            operation: "update_profile",
            access: AnyPerson,
            call: |_, _, _| {
                (
                    Method::PATCH,
                    "/api/v1/me/profile".into(),
                    Some(json!({"phone": "+49 30 1234567"})),
                )
            },
        },
        Row {
            operation: "request_email_change",
            access: AnyPerson,
            call: |_, n, _| {
                (
                    Method::POST,
                    "/api/v1/me/email".into(),
                    Some(json!({"new_email": format!("moved{n}@example.org"),
                                "current_password": crate::helpers::PASSWORD})),
                )
            },
        },
        Row {
            operation: "confirm_email",
            // An unknown token: public, so the answer is 404 for everyone alike.
            access: Public(404),
            call: |_, _, _| {
                (
                    Method::POST,
                    "/api/v1/email-confirmations".into(),
                    Some(json!({"token": "cpe_unknown"})),
                )
            },
        },
        Row {
            operation: "issue_password_reset",
            access: Collective(Role::Admin, &[]),
            call: |w, _, _| {
                (
                    Method::POST,
                    format!("/api/v1/collectives/{}/password-resets", w.collective),
                    Some(json!({"email": w.member.email})),
                )
            },
        },
        Row {
            operation: "use_password_reset",
            access: Public(404),
            call: |_, _, _| {
                (
                    Method::POST,
                    "/api/v1/auth/password-reset".into(),
                    Some(
                        json!({"token": "cpw_unknown", "new_password": "a long enough passphrase"}),
                    ),
                )
            },
        },
        // A second factor (#26).
        Row {
            operation: "second_factor_status",
            access: AnyPerson,
            call: |_, _, _| (Method::GET, "/api/v1/me/second-factor".into(), None),
        },
        Row {
            operation: "start_second_factor",
            access: AnyPerson,
            call: |_, _, _| (Method::POST, "/api/v1/me/second-factor".into(), None),
        },
        Row {
            operation: "confirm_second_factor",
            // A malformed code: refused (422) once the caller is known.
            access: AnyPersonAnswers(422),
            call: |_, _, _| {
                (
                    Method::POST,
                    "/api/v1/me/second-factor/confirm".into(),
                    Some(json!({"code": "not a code"})),
                )
            },
        },
        Row {
            operation: "disable_second_factor",
            access: AnyPersonAnswers(422),
            call: |_, _, _| {
                (
                    Method::POST,
                    "/api/v1/me/second-factor/disable".into(),
                    Some(json!({"current_password": crate::helpers::PASSWORD, "code": "x"})),
                )
            },
        },
        Row {
            operation: "regenerate_recovery_codes",
            access: AnyPersonAnswers(422),
            call: |_, _, _| {
                (
                    Method::POST,
                    "/api/v1/me/second-factor/recovery-codes".into(),
                    Some(json!({"code": "x"})),
                )
            },
        },
        // A person's data (#25).
        Row {
            operation: "export_personal_data",
            access: AnyPerson,
            call: |_, _, _| (Method::GET, "/api/v1/me/export".into(), None),
        },
        Row {
            operation: "erase_member",
            access: Collective(Role::Admin, &[]),
            call: |w, _, _| {
                (
                    Method::POST,
                    format!(
                        "/api/v1/collectives/{}/members/{}/erasure",
                        w.collective, w.erasable
                    ),
                    None,
                )
            },
        },
        Row {
            operation: "erase_self",
            // An empty password: refused (422) once the caller is known.
            access: AnyPersonAnswers(422),
            call: |_, _, _| {
                (
                    Method::POST,
                    "/api/v1/me/erasure".into(),
                    Some(json!({"current_password": ""})),
                )
            },
        },
        // Last: they change the callers' passwords and end their refresh
        // tokens (access tokens run on).
        Row {
            operation: "change_password",
            access: AnyPerson,
            call: |_, n, _| {
                (
                    Method::POST,
                    "/api/v1/me/password".into(),
                    Some(json!({"current_password": crate::helpers::PASSWORD,
                                "new_password": format!("another good passphrase {n}")})),
                )
            },
        },
        Row {
            operation: "sign_out_everywhere",
            access: AnyPerson,
            call: |_, _, _| (Method::POST, "/api/v1/me/sign-out-everywhere".into(), None),
        },
    ]
}

/// The status a caller must get, as (allowed, or the refusal's status).
fn expected(access: Access, caller: Caller) -> Result<(), u16> {
    match access {
        Access::Public(_) => Ok(()),
        Access::PublicOrPerson(_) => match caller {
            Caller::Expired => Err(401),
            Caller::PartnerWithScope | Caller::PartnerWithoutScope => Err(403),
            _ => Ok(()),
        },
        Access::AnyPerson | Access::AnyPersonAnswers(_) => match caller {
            Caller::Expired | Caller::Anonymous => Err(401),
            Caller::PartnerWithScope | Caller::PartnerWithoutScope => Err(403),
            _ => Ok(()),
        },
        Access::Requester => match caller {
            Caller::Member => Ok(()),
            other => expected(Access::Collective(Role::Admin, &[]), other).and(Err(403)),
        },
        Access::DraftAuthor => match caller {
            Caller::Member => Ok(()),
            Caller::Expired | Caller::Anonymous => Err(401),
            Caller::Suspended => Err(403),
            _ => Err(404),
        },
        Access::OwnOr(least, scopes) => match caller {
            Caller::PartnerWithScope => Err(404),
            other => expected(Access::Collective(least, scopes), other),
        },
        Access::RequesterOr(least, scopes) => match caller {
            Caller::Member => Ok(()),
            other => expected(Access::Collective(least, scopes), other),
        },
        Access::Collective(least, scopes) => match caller {
            Caller::Expired | Caller::Anonymous => Err(401),
            Caller::OtherCollective => Err(404),
            Caller::Suspended => Err(403),
            Caller::PartnerWithScope if !scopes.is_empty() => Ok(()),
            Caller::PartnerWithScope | Caller::PartnerWithoutScope => Err(403),
            Caller::Admin => Ok(()),
            Caller::Coordinator if least <= Role::Coordinator => Ok(()),
            Caller::Member if least <= Role::Member => Ok(()),
            _ => Err(403),
        },
    }
}

fn ask(amount: &str) -> Value {
    json!({"amount": amount, "category": "rent", "urgency": "standard",
           "public_summary": "Help with rent", "private_details": "details"})
}

fn expired_token(app: &TestApp, user_id: &str) -> String {
    let now = chrono::Utc::now().timestamp();
    let claims = Claims {
        iss: app.settings.jwt_issuer.clone(),
        aud: app.settings.jwt_audience.clone(),
        sub: user_id.into(),
        exp: now - 120,
        iat: now - 1000,
        jti: "expired".into(),
        typ: Subject::User,
        cid: None,
        scope: None,
    };
    let secret = app.settings.jwt_secret.as_ref().unwrap();
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

#[actix_rt::test]
async fn every_operation_admits_exactly_the_callers_its_rule_names() {
    // Webhook endpoints of the matrix point at 127.0.0.1 (and are disabled).
    let app =
        TestApp::spawn_configured(|s| s.webhooks_allowed_networks = vec!["127.0.0.1/32".into()])
            .await;
    let (collective, admin) = app.bootstrap("Northside").await;
    let (other_collective, other_admin) = app.bootstrap("Southside").await;
    let _ = other_collective;
    let coordinator = app.join(&collective, &admin, "coordinator").await;
    let member = app.join(&collective, &admin, "member").await;
    let target = app.join(&collective, &admin, "member").await;
    let erasable = app.join(&collective, &admin, "member").await;
    let suspended = app.join(&collective, &admin, "member").await;
    app.patch(
        &format!(
            "/api/v1/collectives/{collective}/members/{}",
            suspended.membership_id
        ),
        &admin.token,
        json!({"status": "suspended"}),
    )
    .await
    .expect(200);
    let (_, client_id, _) = app.partner(&collective, &admin, &["pools:read"]).await;
    let pool = app.pool(&collective, &admin.token, "EUR").await;
    let contribution = app
        .contribute(&pool, &admin.token, "1000.00")
        .await
        .expect(201)
        .id();
    let mut reversible_entries = Vec::new();
    for _ in CALLERS {
        let gift = app
            .contribute(&pool, &admin.token, "1.00")
            .await
            .expect(201);
        reversible_entries.push(gift.body["entry_id"].as_str().unwrap().to_owned());
    }
    let hold_for = |amount: &'static str| {
        let (app, pool, token) = (&app, pool.clone(), admin.token.clone());
        async move {
            app.post_money(
                &format!("/api/v1/pools/{pool}/holds"),
                &token,
                json!({"amount": amount}),
            )
            .await
            .expect(201)
            .id()
        }
    };
    let hold = hold_for("500.00").await;
    let payouts_hold = hold_for("100.00").await;
    let mut pending_disbursements = Vec::new();
    for _ in CALLERS {
        let payout = app
            .post_money(
                &format!("/api/v1/holds/{payouts_hold}/disbursements"),
                &admin.token,
                json!({"amount": "1.00"}),
            )
            .await
            .expect(201);
        pending_disbursements.push(payout.id());
    }
    // Requests of the member, in the states the rows need.
    app.patch(
        &format!("/api/v1/pools/{pool}"),
        &admin.token,
        json!({"rules": {"fast_track_limit": "100.00"}}),
    )
    .await
    .expect(200);
    let requests_path = format!("/api/v1/pools/{pool}/requests");
    let new_request = |body: Value| {
        let (app, path, token) = (&app, requests_path.clone(), member.token.clone());
        async move { app.post(&path, &token, body).await.expect(201).id() }
    };
    let reviewed = |id: String| {
        let (app, token) = (&app, admin.token.clone());
        async move {
            app.post(&format!("/api/v1/requests/{id}/review"), &token, json!({}))
                .await
                .expect(200);
            id
        }
    };
    let request = new_request(ask("20.00")).await;
    let mut draft_body = ask("20.00");
    draft_body["draft"] = json!(true);
    let mut drafts = Vec::new();
    for _ in CALLERS {
        drafts.push(new_request(draft_body.clone()).await);
    }
    let withdrawable = new_request(ask("20.00")).await;
    let mut emergency = ask("90.00");
    emergency["urgency"] = json!("emergency");
    let approved = reviewed(new_request(emergency).await).await;
    app.post_money(
        &format!("/api/v1/requests/{approved}/approvals"),
        &coordinator.token,
        json!({}),
    )
    .await
    .expect(200);
    let (mut to_review, mut to_approve, mut to_reject, mut to_cancel) =
        (vec![], vec![], vec![], vec![]);
    for _ in CALLERS {
        to_review.push(new_request(ask("5.00")).await);
        to_approve.push(reviewed(new_request(ask("5.00")).await).await);
        to_reject.push(reviewed(new_request(ask("5.00")).await).await);
        to_cancel.push(new_request(ask("5.00")).await);
    }
    // Affectedness: an issue the target has declared, for verification.
    let issue = app
        .post(
            &format!("/api/v1/collectives/{collective}/issues"),
            &admin.token,
            json!({"name": "facing eviction"}),
        )
        .await
        .expect(201)
        .id();
    app.send(
        Method::PUT,
        &format!("/api/v1/collectives/{collective}/affectedness/me"),
        Some(&target.token),
        Some(json!({"declarations": [{"issue_id": issue, "tier": "direct"}]})),
    )
    .await
    .expect(200);
    // Rounds of 1.00, each with a candidate of its own, taken to the phase
    // a row needs.
    let round_in = |phase: &'static str| {
        let (app, pool, requests_path) = (&app, pool.clone(), requests_path.clone());
        let (member, admin) = (member.token.clone(), admin.token.clone());
        async move {
            let candidate = app
                .post(&requests_path, &member, ask("1.00"))
                .await
                .expect(201)
                .id();
            let round = app
                .post(
                    &format!("/api/v1/pools/{pool}/rounds"),
                    &admin,
                    json!({"title": "Round", "budget": "1.00", "candidates": [candidate],
                           "ballot": {"type": "approval"}}),
                )
                .await
                .expect(201)
                .id();
            let steps: &[&str] = match phase {
                "draft" => &[],
                "open" => &["open"],
                "closed" => &["open", "close"],
                _ => &["open", "close", "tally"],
            };
            for step in steps {
                app.send_keyed(
                    Method::POST,
                    &format!("/api/v1/rounds/{round}/{step}"),
                    Some(admin.as_str()),
                    None,
                )
                .await
                .expect(200);
            }
            round
        }
    };
    let draft_round = round_in("draft").await;
    let voting_round = round_in("open").await;
    let tallied_round = round_in("tallied").await;
    let (mut to_open, mut to_close, mut to_tally, mut to_enact, mut rounds_to_cancel) =
        (vec![], vec![], vec![], vec![], vec![]);
    for _ in CALLERS {
        to_open.push(round_in("draft").await);
        to_close.push(round_in("open").await);
        to_tally.push(round_in("closed").await);
        to_enact.push(round_in("tallied").await);
        rounds_to_cancel.push(round_in("draft").await);
    }
    let pledge = app
        .post(
            &format!("/api/v1/pools/{pool}/pledges"),
            &member.token,
            json!({"amount": "5.00", "frequency": "monthly", "installments": 12}),
        )
        .await
        .expect(201)
        .id();
    let endpoint = app
        .post(
            &format!("/api/v1/collectives/{collective}/webhooks"),
            &admin.token,
            json!({"client_id": client_id, "url": "https://127.0.0.1:9/hook",
                   "event_types": ["pool.*"], "enabled": false}),
        )
        .await
        .expect(201)
        .id();
    // A delivery to retry: the endpoint is given the pool's events again
    // (it is disabled, so nothing is sent).
    let hook = format!("/api/v1/collectives/{collective}/webhooks/{endpoint}");
    app.post(
        &format!("{hook}/replay"),
        &admin.token,
        json!({"since": "2020-01-01T00:00:00Z"}),
    )
    .await
    .expect(202);
    let delivery = app
        .get(&format!("{hook}/deliveries"), &admin.token)
        .await
        .expect(200)
        .body["items"][0]["id"]
        .as_str()
        .expect("a replayed delivery")
        .to_owned();
    let world = World {
        pledge,
        issue,
        draft_round,
        to_open,
        to_close,
        to_tally,
        to_enact,
        rounds_to_cancel,
        voting_round,
        tallied_round,
        request,
        drafts,
        withdrawable,
        approved,
        to_review,
        to_approve,
        to_reject,
        to_cancel,
        pool,
        contribution,
        hold,
        disbursement: pending_disbursements[0].clone(),
        reversible_entries,
        pending_disbursements,
        collective: collective.clone(),
        target_membership: target.membership_id.clone(),
        erasable: erasable.membership_id.clone(),
        client_id,
        endpoint,
        delivery,
        expired: expired_token(&app, &admin.user_id),
        admin,
        coordinator,
        member,
        other: other_admin,
        suspended,
    };

    // Every operation the service documents has a row, and no row is stale.
    let doc: Value = serde_json::from_str(&commonpot::cli::openapi_json()).unwrap();
    let documented: BTreeSet<String> = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .filter_map(|op| op["operationId"].as_str().map(str::to_owned))
        .collect();
    let rows = rows();
    let listed: BTreeSet<String> = rows.iter().map(|r| r.operation.to_owned()).collect();
    let missing: Vec<_> = documented.difference(&listed).collect();
    assert!(
        missing.is_empty(),
        "operations without a row in the permission matrix: {missing:?}"
    );
    let stale: Vec<_> = listed.difference(&documented).collect();
    assert!(
        stale.is_empty(),
        "rows for operations that do not exist: {stale:?}"
    );

    // Partner apps: one holding every scope but the one an operation needs,
    // one holding just that scope. Tokens are made per scope as needed.
    let all_scopes: Vec<&str> = commonpot::auth::policy::Scope::ALL
        .iter()
        .map(|s| s.as_str())
        .collect();
    let mut failures = Vec::new();
    let mut n = 0;
    for row in &rows {
        let scopes: &[&str] = match row.access {
            Access::Collective(_, scopes)
            | Access::RequesterOr(_, scopes)
            | Access::OwnOr(_, scopes) => scopes,
            _ => &[],
        };
        let with_scope: Vec<&str> = if scopes.is_empty() {
            all_scopes.clone()
        } else {
            scopes.to_vec()
        };
        let without_scope: Vec<&str> = all_scopes
            .iter()
            .copied()
            .filter(|s| scopes.first() != Some(s))
            .collect();
        let (partner_with, _, _) = app
            .partner(&world.collective, &world.admin, &with_scope)
            .await;
        let (partner_without, _, _) = app
            .partner(&world.collective, &world.admin, &without_scope)
            .await;
        for (c, caller) in CALLERS.into_iter().enumerate() {
            n += 1;
            let token: Option<&str> = match caller {
                Caller::Admin => Some(&world.admin.token),
                Caller::Coordinator => Some(&world.coordinator.token),
                Caller::Member => Some(&world.member.token),
                Caller::OtherCollective => Some(&world.other.token),
                Caller::Suspended => Some(&world.suspended.token),
                Caller::PartnerWithScope => Some(&partner_with),
                Caller::PartnerWithoutScope => Some(&partner_without),
                Caller::Expired => Some(&world.expired),
                Caller::Anonymous => None,
            };
            let (method, path, body) = (row.call)(&world, n, c);
            let answer = app.send_keyed(method.clone(), &path, token, body).await;
            let status = answer.status.as_u16();
            let ok = match expected(row.access, caller) {
                // Allowed callers get past authorization: a public
                // operation answers exactly what its row says, any other a
                // success.
                Ok(()) => match row.access {
                    Access::Public(answers)
                    | Access::PublicOrPerson(answers)
                    | Access::AnyPersonAnswers(answers) => status == answers,
                    _ => answer.status.is_success(),
                },
                Err(refusal) => status == refusal,
            };
            if !ok {
                failures.push(format!(
                    "{} {method} {path} as {caller:?}: expected {:?}, got {status} {}",
                    row.operation,
                    expected(row.access, caller),
                    answer.body
                ));
            }
            if status >= 400 {
                assert_eq!(
                    answer.header("content-type"),
                    Some("application/problem+json"),
                    "{}",
                    row.operation
                );
            }
        }
    }
    assert!(
        failures.is_empty(),
        "permission matrix violations:\n{}",
        failures.join("\n")
    );
}
