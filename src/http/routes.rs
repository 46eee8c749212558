//! Every route the service answers, in one table. Registering a handler here
//! also puts it in the OpenAPI document; the permission-matrix test checks
//! every operation listed there.

use utoipa_actix_web::scope;
use utoipa_actix_web::service_config::ServiceConfig;

use super::ops;
use crate::{
    affectedness, audit, auth, clients, collectives, events, flows, ledger, pledges, pools,
    reports, requests, rounds, webhooks,
};

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(ops::healthz)
        .service(ops::readyz)
        .service(ops::metrics)
        .service(
            scope::scope("/api/v1")
                // The document itself is not an operation of the API.
                .route(
                    "/openapi.json",
                    actix_web::web::get().to(super::openapi_json),
                )
                .service(auth::http::issue_token)
                .service(auth::http::revoke_token)
                .service(collectives::http::me)
                .service(collectives::http::accept_invitation)
                .service(collectives::http::create_collective)
                .service(collectives::http::list_collectives)
                .service(collectives::http::get_collective)
                .service(collectives::http::update_collective)
                .service(collectives::http::list_members)
                .service(collectives::http::invite_member)
                .service(collectives::http::get_member)
                .service(collectives::http::update_member)
                .service(clients::http::register_client)
                .service(clients::http::list_clients)
                .service(clients::http::get_client)
                .service(clients::http::update_client)
                .service(clients::http::rotate_client_secret)
                .service(audit::http::list_audit)
                .service(events::http::list_events)
                .service(webhooks::http::register_endpoint)
                .service(webhooks::http::list_endpoints)
                .service(webhooks::http::get_endpoint)
                .service(webhooks::http::update_endpoint)
                .service(webhooks::http::rotate_endpoint_secret)
                .service(pools::http::create_pool)
                .service(pools::http::list_pools)
                .service(pools::http::get_pool)
                .service(pools::http::update_pool)
                .service(ledger::http::list_entries)
                .service(flows::http::reverse_entry)
                .service(flows::http::record_contribution)
                .service(ledger::http::list_contributions)
                .service(ledger::http::get_contribution)
                .service(flows::http::refund_contribution)
                .service(ledger::http::place_hold)
                .service(ledger::http::list_holds)
                .service(ledger::http::get_hold)
                .service(ledger::http::split_hold)
                .service(ledger::http::release_hold)
                .service(ledger::http::create_disbursement)
                .service(ledger::http::list_disbursements)
                .service(ledger::http::get_disbursement)
                .service(flows::http::record_disbursement_outcome)
                .service(requests::http::create_request)
                .service(requests::http::count_requests)
                .service(requests::http::list_requests)
                .service(requests::http::get_request)
                .service(requests::http::amend_request)
                .service(requests::http::submit_request)
                .service(requests::http::review_request)
                .service(requests::http::approve_request)
                .service(requests::http::reject_request)
                .service(requests::http::withdraw_request)
                .service(requests::http::cancel_request)
                .service(requests::http::declare_conflict)
                .service(requests::http::pay_request)
                .service(requests::http::list_request_disbursements)
                .service(requests::http::add_comment)
                .service(requests::http::list_comments)
                .service(affectedness::http::create_issue)
                .service(affectedness::http::list_issues)
                .service(affectedness::http::declare_affectedness)
                .service(affectedness::http::my_affectedness)
                .service(affectedness::http::member_affectedness)
                .service(affectedness::http::verify_affectedness)
                .service(rounds::http::create_round)
                .service(rounds::http::list_rounds)
                .service(rounds::http::get_round)
                .service(rounds::http::update_round)
                .service(rounds::http::open_round)
                .service(rounds::http::close_round)
                .service(rounds::http::tally_round)
                .service(rounds::http::round_results)
                .service(rounds::http::enact_round)
                .service(rounds::http::cancel_round)
                .service(rounds::http::cast_ballot)
                .service(rounds::http::my_ballot)
                .service(rounds::http::withdraw_ballot)
                .service(rounds::http::export_round)
                .service(ledger::http::my_contributions)
                .service(pledges::http::create_pledge)
                .service(pledges::http::list_pledges)
                .service(pledges::http::pledge_report)
                .service(pledges::http::get_pledge)
                .service(pledges::http::update_pledge)
                .service(pledges::http::my_pledges)
                .service(reports::http::pool_statement)
                .service(reports::http::pool_summary),
        );
}
