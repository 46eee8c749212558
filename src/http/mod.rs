//! The HTTP edge: where a request enters. Handlers live with their business
//! area (`crate::collectives::http` …); this module holds what they share —
//! the route table, extractors, problem+json, OpenAPI, metrics — and builds
//! the application.

pub mod codes;
pub mod extract;
pub mod idempotent;
pub mod metrics;
pub mod openapi;
pub mod ops;
pub mod problem;
pub mod routes;

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::from_fn;
use actix_web::{web, App};
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

use crate::auth::tokens::Keys;
use crate::config::Settings;
use crate::db::Db;

/// What every handler may reach.
pub struct AppState {
    pub db: Db,
    pub settings: Arc<Settings>,
    pub keys: Keys,
    /// Checks webhook URLs against the request-forgery rules.
    pub webhooks: crate::webhooks::ssrf::Guard,
}

/// The OpenAPI document of the routes the application serves.
pub fn openapi_document() -> serde_json::Value {
    let (_, api) = App::new()
        .into_utoipa_app()
        .openapi(openapi::base())
        .configure(routes::configure)
        .split_for_parts();
    openapi::finish(api)
}

/// The whole application, ready for `HttpServer::new`.
pub fn app(
    state: web::Data<AppState>,
    metrics: web::Data<metrics::Metrics>,
    api: web::Data<OpenApiJson>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let (app, _) = App::new()
        .into_utoipa_app()
        .openapi(openapi::base())
        .configure(routes::configure)
        .split_for_parts();
    app.app_data(state)
        .app_data(metrics)
        .app_data(web::PayloadConfig::new(extract::MAX_BODY_BYTES))
        .app_data(web::PathConfig::default().error_handler(extract::path_error))
        .app_data(web::QueryConfig::default().error_handler(extract::query_error))
        .app_data(api)
        // `/docs` is where people type; the UI's relative assets need the slash.
        .service(web::redirect("/docs", "/docs/").permanent())
        .service(SwaggerUi::new("/docs/{_:.*}").config(
            // The validator would load a badge from swagger.io: off.
            utoipa_swagger_ui::Config::from("/api/v1/openapi.json").validator_url("none"),
        ))
        .configure(crate::web::configure)
        .default_service(web::to(not_found))
        .wrap(from_fn(writes_through_the_writer))
        .wrap(from_fn(extract::refuse_nul_in_path))
        .wrap(from_fn(problem::problem_fallback))
        .wrap(from_fn(crate::web::page_middleware))
        .wrap(from_fn(echo_request_id))
        .wrap(from_fn(metrics::record))
        .wrap(tracing_actix_web::TracingLogger::<
            crate::telemetry::RequestSpans,
        >::new())
}

/// A request with a method that may write (anything but GET, HEAD and
/// OPTIONS) has its database work run by the writer on SQLite (see
/// `crate::db::as_write_request`).
async fn writes_through_the_writer(
    req: ServiceRequest,
    next: actix_web::middleware::Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    use actix_web::http::Method;
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        next.call(req).await
    } else {
        crate::db::as_write_request(next.call(req)).await
    }
}

/// Sends the request id that every log line of the request carries back as
/// `x-request-id`, so a caller reporting a problem can name it.
async fn echo_request_id(
    req: ServiceRequest,
    next: actix_web::middleware::Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    use actix_web::HttpMessage;
    let id = req
        .extensions()
        .get::<tracing_actix_web::RequestId>()
        .map(|id| id.to_string());
    let mut response = next.call(req).await?;
    if let Some(value) = id.and_then(|id| actix_web::http::header::HeaderValue::from_str(&id).ok())
    {
        response.headers_mut().insert(
            actix_web::http::header::HeaderName::from_static("x-request-id"),
            value,
        );
    }
    Ok(response)
}

/// Unknown routes are 404; a known route asked with the wrong method is 405.
/// Outside the API and operations endpoints, a page says so.
async fn not_found(req: actix_web::HttpRequest) -> actix_web::HttpResponse {
    use actix_web::http::StatusCode;
    use actix_web::ResponseError;
    if crate::web::is_page_path(req.path()) {
        return crate::web::not_found().await;
    }
    let problem = if req.resource_map().has_resource(req.path()) {
        let allowed = openapi::allowed_methods(openapi_document_cached(), req.path())
            .unwrap_or_default()
            .join(", ");
        problem::Problem::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!(
                "{} is not allowed here; see /api/v1/openapi.json",
                req.method()
            ),
        )
        .with_header(actix_web::http::header::ALLOW, allowed)
    } else {
        problem::Problem::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such route; the API is described at /api/v1/openapi.json",
        )
    };
    problem.error_response()
}

/// The document, made once per process (the 405 answer reads it for `Allow`).
fn openapi_document_cached() -> &'static serde_json::Value {
    static DOCUMENT: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    DOCUMENT.get_or_init(openapi_document)
}

/// The OpenAPI document as served and as committed in `openapi/openapi.json`.
pub struct OpenApiJson(pub String);

impl OpenApiJson {
    pub fn generate() -> Self {
        let mut json = serde_json::to_string_pretty(openapi_document_cached())
            .expect("the OpenAPI document serialises");
        json.push('\n');
        Self(json)
    }
}

async fn openapi_json(doc: web::Data<OpenApiJson>) -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok()
        .content_type("application/json")
        .body(doc.0.clone())
}
