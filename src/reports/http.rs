//! Handlers for statements and summaries.

use actix_web::http::header;
use actix_web::{get, web, HttpRequest, HttpResponse};
use chrono::NaiveDate;
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::statement::{self, Statement};
use super::summary::{self, PoolSummary, SummaryView};
use crate::auth::access::Principal;
use crate::auth::http::MaybePrincipal;
use crate::error::Error;
use crate::http::problem::ApiResult;
use crate::http::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StatementQuery {
    /// First day of the period, in the collective's time zone (`YYYY-MM-DD`).
    #[param(example = "2026-11-01")]
    pub from: String,
    /// Last day of the period, included; at most 366 days after `from`.
    #[param(example = "2026-11-30")]
    pub to: String,
    /// `json` (default) or `csv`; `Accept: text/csv` also asks for CSV.
    pub format: Option<String>,
}

fn date(field: &str, text: &str) -> Result<NaiveDate, Error> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| Error::invalid(field, "must be a date such as 2026-11-30"))
}

fn wants_csv(req: &HttpRequest, format: Option<&str>) -> Result<bool, Error> {
    match format {
        Some("csv") => Ok(true),
        Some("json") => Ok(false),
        Some(_) => Err(Error::invalid("format", "must be json or csv")),
        None => Ok(req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|accept| accept.contains("text/csv"))),
    }
}

/// A pool's statement for a period of dates in the collective's time zone:
/// opening position, one line per ledger entry, totals (inflows, outflows,
/// fees, holds placed and released), closing position. The balance is the
/// pool's money, available + held − deficit. JSON, or CSV with
/// `format=csv` or `Accept: text/csv`.
#[utoipa::path(
    tag = "reports",
    params(("id" = Uuid, Path, description = "Pool id"), StatementQuery),
    responses((status = 200, description = "The statement",
               content((Statement = "application/json"), (String = "text/csv")))),
    security(("bearer" = []))
)]
#[get("/pools/{id}/statement")]
pub async fn pool_statement(
    state: web::Data<AppState>,
    req: HttpRequest,
    principal: Principal,
    path: web::Path<Uuid>,
    query: crate::http::extract::Query<StatementQuery>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner().to_string();
    let from = date("from", &query.from)?;
    let to = date("to", &query.to)?;
    let csv = wants_csv(&req, query.format.as_deref())?;
    let statement = state
        .db
        .run(move |conn| statement::statement(conn, &principal, &id, from, to))
        .await?;
    if !csv {
        return Ok(HttpResponse::Ok().json(statement));
    }
    let filename = format!(
        "statement-{}-{}-{}.csv",
        statement.pool_id, statement.from, statement.to
    );
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{filename}\""),
        ))
        .body(statement::to_csv(&statement)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SummaryQuery {
    /// `full` (the default for those who may read the pool's ledger) or
    /// `public` (the default for anyone else: what the public sees).
    #[param(value_type = Option<SummaryView>)]
    pub view: Option<SummaryView>,
}

/// A pool's summary: goal and progress, money in and out per month,
/// payouts per quarter and per request category, requests helped, pledge
/// fulfilment. No names. Those who may read the pool's ledger get every
/// figure (`view: full`); anyone else, without signing in, when the pool is
/// public, gets the public view, where no figure and no difference of
/// figures is drawn from fewer than `min_group` requests.
#[utoipa::path(
    tag = "reports",
    params(("id" = Uuid, Path, description = "Pool id"), SummaryQuery),
    responses((status = 200, body = PoolSummary)),
    security((), ("bearer" = []))
)]
#[get("/pools/{id}/summary")]
pub async fn pool_summary(
    state: web::Data<AppState>,
    principal: MaybePrincipal,
    path: web::Path<Uuid>,
    query: crate::http::extract::Query<SummaryQuery>,
) -> ApiResult<web::Json<PoolSummary>> {
    let id = path.into_inner().to_string();
    let min_group = state.settings.summary_min_group;
    let wanted = query.into_inner().view;
    Ok(web::Json(
        state
            .db
            .run(move |conn| summary::summary(conn, principal.0.as_ref(), &id, min_group, wanted))
            .await?,
    ))
}
