//! The OpenAPI document. Paths and schemas come from the handlers themselves
//! (utoipa-actix-web collects them as routes are registered in
//! `http::routes`), so the document and the router cannot drift; this module
//! adds what is common to every operation.

use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{Content, OpenApi, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi as _};

use super::problem::{ProblemDocument, PROBLEM_JSON};

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "commonpot",
        description = "A mutual aid ledger: pooled money, aid requests and participatory budgeting. \
Errors are RFC 9457 problem documents (`application/problem+json`) with a stable `code`.",
        license(name = "AGPL-3.0-or-later")
    ),
    components(schemas(ProblemDocument)),
    modifiers(&Security),
    tags(
        (name = "operations", description = "Health, readiness and metrics"),
    )
)]
struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut bearer = Http::new(HttpAuthScheme::Bearer);
        bearer.bearer_format = Some("JWT".into());
        bearer.description = Some(
            "An access token from `POST /api/v1/auth/token` (password, refresh or client-credentials grant)."
                .into(),
        );
        components.add_security_scheme("bearer", SecurityScheme::Http(bearer));
    }
}

/// The base document that routes are added to.
pub fn base() -> OpenApi {
    ApiDoc::openapi()
}

/// Error responses every API operation may give, added where the handler did
/// not describe them itself.
pub fn finish(mut openapi: OpenApi) -> OpenApi {
    let common: [(&str, &str); 5] = [
        (
            "400",
            "Malformed request: body, path or query could not be parsed",
        ),
        ("404", "Not found, or not visible to the caller"),
        ("422", "A field breaks a rule; `field` names it"),
        ("500", "A bug: reported with the request id, no detail"),
        ("503", "The database is briefly unavailable"),
    ];
    for (path, item) in openapi.paths.paths.iter_mut() {
        if !path.starts_with("/api/") {
            continue;
        }
        for operation in operations(item) {
            let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
            let extra: &[(&str, &str)] = if secured {
                &[
                    ("401", "No valid access token"),
                    ("403", "The caller may not do this"),
                ]
            } else {
                &[]
            };
            for (status, description) in common.iter().chain(extra) {
                operation
                    .responses
                    .responses
                    .entry((*status).to_owned())
                    .or_insert_with(|| RefOr::T(problem_response(description)));
            }
        }
    }
    // OpenAPI 3.1's top-level `webhooks`, which utoipa does not model: the
    // events partner apps receive, made from their vocabulary.
    let components = openapi.components.get_or_insert_with(Default::default);
    let webhooks = crate::events::openapi::webhooks(components);
    openapi
        .extensions
        .get_or_insert_with(Default::default)
        .insert("webhooks".into(), webhooks);
    openapi
}

fn operations(item: &mut utoipa::openapi::PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.patch.as_mut(),
    ]
    .into_iter()
    .flatten()
}

fn problem_response(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            PROBLEM_JSON,
            Content::new(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                "Problem",
            )))),
        )
        .build()
}
