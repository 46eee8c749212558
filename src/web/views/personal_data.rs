//! A person's data in the web app (#25): the download of everything held
//! about them, linked from the account page. The same document as
//! `GET /api/v1/me/export`, made by the same service.

use actix_web::http::header;
use actix_web::{web, HttpResponse};

use super::db;
use crate::http::AppState;
use crate::personal_data::export;
use crate::web::errors::PageError;
use crate::web::extract::SignedIn;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/account/export", web::get().to(download));
}

async fn download(
    state: web::Data<AppState>,
    SignedIn(session): SignedIn,
) -> Result<HttpResponse, PageError> {
    let user_id = session.user_id.clone();
    let document = db(&state, move |conn| export::of(conn, &user_id)).await?;
    Ok(HttpResponse::Ok()
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"commonpot-personal-data.json\"",
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(document))
}
