//! A person's data in the web app (#25): the download of everything held
//! about them, linked from the account page (the same document as
//! `GET /api/v1/me/export`, made by the same service); and an admin erasing
//! a member from their collective, after a page that says what goes and
//! what stays (the same service as
//! `POST /api/v1/collectives/{id}/members/{membership_id}/erasure`). A
//! person erasing themself is on the account page (`account`).

use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;

use super::{db, ok, render, see_other, Chrome};
use crate::auth::access::authorize;
use crate::auth::policy::Permission;
use crate::db::DbConnection;
use crate::error::{Error, Result};
use crate::http::AppState;
use crate::personal_data::{erasure, export};
use crate::web::errors::PageError;
use crate::web::extract::{Form, Session, SignedIn};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/account/export", web::get().to(download))
        .route(
            "/c/{collective}/members/{id}/erasure",
            web::get().to(member_erasure_page),
        )
        .route(
            "/c/{collective}/members/{id}/erasure",
            web::post().to(erase_member),
        );
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

#[derive(Template)]
#[template(path = "member_erasure.html")]
struct MemberErasurePage {
    chrome: Chrome,
    collective_id: String,
    membership_id: String,
    name: String,
    /// Why the erasure was refused, when it was.
    problem: String,
}

/// The page asking an admin to confirm; others are refused (403), as the
/// erasure itself would refuse them.
fn erasure_page(
    conn: &mut DbConnection,
    session: &Session,
    collective_id: &str,
    membership_id: &str,
    problem: String,
) -> Result<MemberErasurePage> {
    let principal = session.principal();
    authorize(
        conn,
        &principal,
        collective_id,
        Permission::EraseMembers,
        "collective",
    )?;
    let member =
        crate::collectives::service::get_member(conn, &principal, collective_id, membership_id)?;
    if member.display_name == erasure::ERASED_NAME {
        return Err(Error::NotFound { what: "membership" });
    }
    Ok(MemberErasurePage {
        chrome: Chrome::load(conn, session, "Erase a member")?,
        collective_id: collective_id.to_owned(),
        membership_id: membership_id.to_owned(),
        name: member.display_name,
        problem,
    })
}

async fn member_erasure_page(
    state: web::Data<AppState>,
    SignedIn(session): SignedIn,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let (collective_id, id) = path.into_inner();
    let page = db(&state, move |conn| {
        erasure_page(conn, &session, &collective_id, &id, String::new())
    })
    .await?;
    ok(&page)
}

async fn erase_member(
    state: web::Data<AppState>,
    form: Form,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let session = form.signed_in()?.clone();
    let (collective_id, id) = path.into_inner();
    let done = format!("/c/{collective_id}/members?done=erased");
    let refused = db(&state, move |conn| {
        match erasure::erase_member(conn, &session.principal(), &collective_id, &id) {
            Ok(_) => Ok(None),
            Err(Error::Conflict {
                code: "last_admin", ..
            }) => {
                let problem = "This is the collective's last active admin: make someone else an admin first. Nothing was erased.";
                erasure_page(conn, &session, &collective_id, &id, problem.into()).map(Some)
            }
            Err(other) => Err(other),
        }
    })
    .await?;
    match refused {
        Some(page) => render(StatusCode::CONFLICT, &page),
        None => {
            erasure::checkpoint(&state.db).await;
            Ok(see_other(&done))
        }
    }
}
