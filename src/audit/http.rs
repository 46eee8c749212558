//! `GET /audit`: the trail, for coordinators.

use actix_web::{get, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::{AuditFilter, AuditRecord};
use crate::auth::access::{authorize, Principal};
use crate::auth::policy::Permission;
use crate::http::problem::ApiResult;
use crate::http::AppState;
use crate::pagination::{Page, PageQuery};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// The collective whose trail to read.
    pub collective_id: Uuid,
    /// e.g. `membership`, `client`, `pool`.
    pub object_kind: Option<String>,
    pub object_id: Option<String>,
    pub actor_id: Option<String>,
    /// `user`, `client` or `system` (the service itself, e.g. a pledge
    /// lapsing).
    pub actor_kind: Option<String>,
    /// e.g. `membership.suspended`; a trailing `*` matches a prefix, e.g.
    /// `pledge.*`.
    pub action: Option<String>,
    /// Only records at or after this time (RFC 3339).
    pub since: Option<DateTime<Utc>>,
    /// Only records before this time (RFC 3339).
    pub until: Option<DateTime<Utc>>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// Who did what, when, to which object; oldest first. Coordinators.
#[utoipa::path(
    tag = "audit",
    params(AuditQuery),
    responses((status = 200, body = Page<AuditRecord>)),
    security(("bearer" = []))
)]
#[get("/audit")]
pub async fn list_audit(
    state: web::Data<AppState>,
    principal: Principal,
    query: crate::http::extract::Query<AuditQuery>,
) -> ApiResult<web::Json<Page<AuditRecord>>> {
    let query = query.into_inner();
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor,
    }
    .check()?;
    let collective_id = query.collective_id.to_string();
    let filter = AuditFilter {
        object_kind: query.object_kind,
        object_id: query.object_id,
        actor_id: query.actor_id,
        actor_kind: query.actor_kind,
        action: query.action,
        since: query.since.map(|t| t.naive_utc()),
        until: query.until.map(|t| t.naive_utc()),
    };
    Ok(web::Json(
        state
            .db
            .run(move |conn| {
                authorize(
                    conn,
                    &principal,
                    &collective_id,
                    Permission::ReadAudit,
                    "collective",
                )?;
                super::list(conn, &collective_id, &filter, &page)
            })
            .await?,
    ))
}
