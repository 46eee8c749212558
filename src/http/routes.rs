//! Every route the service answers, in one table. Registering a handler here
//! also puts it in the OpenAPI document; the permission-matrix test checks
//! every operation listed there.

use utoipa_actix_web::scope;
use utoipa_actix_web::service_config::ServiceConfig;

use super::ops;
use crate::{audit, auth, clients, collectives};

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
                .service(audit::http::list_audit),
        );
}
