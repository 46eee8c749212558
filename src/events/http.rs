//! `GET /collectives/{id}/events`: the feed, for admins and partner apps
//! with `events:read`.

use actix_web::{get, web};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::feed::{self, EventPage, FeedQuery};
use super::types::TypePattern;
use crate::auth::access::Principal;
use crate::error::Error;
use crate::http::problem::ApiResult;
use crate::http::AppState;
use crate::pagination::{DEFAULT_LIMIT, MAX_LIMIT};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// The `seq` of the last event you have (`next_after` of the previous
    /// page). Without it, the feed starts at the oldest event kept.
    pub after: Option<i64>,
    /// Comma-separated event types, each exact or a prefix ending in `*`:
    /// `request.*,disbursement.paid`. Default: every type you may read.
    pub types: Option<String>,
    /// Events per page, 1 to 200 (default 50).
    pub limit: Option<i64>,
}

/// The collective's events after a cursor, oldest first, in commit order:
/// a reader that always passes the last `next_after` sees every event once.
/// Each event's `data` is its object as the API showed it then, without
/// what the reader's role or scopes may not see; event types the reader may
/// not read are left out. Admins, and partner apps with `events:read`.
#[utoipa::path(
    tag = "events",
    params(("id" = Uuid, Path, description = "Collective id"), EventsQuery),
    responses(
        (status = 200, body = EventPage),
        (status = 409, description = "`cursor_expired`: events after `after` were purged"),
    ),
    security(("bearer" = []))
)]
#[get("/collectives/{id}/events")]
pub async fn list_events(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
    query: crate::http::extract::Query<EventsQuery>,
) -> ApiResult<web::Json<EventPage>> {
    let collective_id = path.into_inner().to_string();
    let query = query.into_inner();
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(Error::invalid("limit", format!("must be between 1 and {MAX_LIMIT}")).into());
    }
    if query.after.is_some_and(|a| a < 0) {
        return Err(Error::invalid("after", "is a `seq` of the feed, 0 or more").into());
    }
    let types = match query.types.as_deref() {
        Some(text) => TypePattern::parse_list("types", text)?,
        None => Vec::new(),
    };
    let query = FeedQuery {
        after: query.after,
        types,
        limit,
    };
    Ok(web::Json(
        state
            .db
            .run(move |conn| feed::read(conn, &principal, &collective_id, &query))
            .await?,
    ))
}
