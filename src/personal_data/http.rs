//! The API of a person's data: export it.

use super::export::{self, PersonalData};
use crate::auth::access::Principal;
use crate::http::problem::{ApiResult, ProblemDocument};
use crate::http::AppState;
use actix_web::http::header;
use actix_web::{get, web, HttpResponse};

/// Download everything held about you: your account, and in each
/// collective your requests (with their private fields), pledges,
/// contributions, declarations of affectedness, ballots and the comments
/// you may read; and your own audit trail. Made on each request and never
/// stored; nothing of anyone else.
#[utoipa::path(
    tag = "personal_data",
    responses(
        (status = 200, body = PersonalData),
        (status = 403, description = "`users_only`: a partner app's token", body = ProblemDocument, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/me/export")]
pub async fn export_personal_data(
    state: web::Data<AppState>,
    principal: Principal,
) -> ApiResult<HttpResponse> {
    let user_id = principal.require_user()?.to_owned();
    let document = state.db.run(move |conn| export::of(conn, &user_id)).await?;
    Ok(HttpResponse::Ok()
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"commonpot-personal-data.json\"",
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(document))
}
