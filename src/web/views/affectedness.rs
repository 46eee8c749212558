//! A member declares how the collective's issues affect them. Private: the
//! page says so; only they and coordinators read it (`affectedness::service`).

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{db, ok, render, see_other, Chrome, FieldErrors};
use crate::affectedness::{service, Declaration, Declarations, Tier};
use crate::db::DbConnection;
use crate::error::Result;
use crate::http::AppState;
use crate::web::errors::PageError;
use crate::web::extract::{Form, Session, SignedIn};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/c/{collective}/affectedness", web::get().to(page))
        .route("/c/{collective}/affectedness", web::post().to(declare));
}

pub struct IssueLine {
    pub id: String,
    pub name: String,
    pub description: String,
    /// `none`, `supporter`, `indirect` or `direct`.
    pub tier: String,
    pub verified: bool,
}

#[derive(Template)]
#[template(path = "affectedness.html")]
struct AffectednessPage {
    chrome: Chrome,
    collective_id: String,
    issues: Vec<IssueLine>,
    saved: bool,
    errors: FieldErrors,
}

/// The choices, most affected first, with the words people read.
pub const TIERS: [(&str, &str); 4] = [
    ("direct", "It affects me directly"),
    ("indirect", "It affects me through someone close to me"),
    (
        "supporter",
        "It does not affect me, but I support those it does",
    ),
    ("none", "I would rather not say, or it does not apply"),
];

fn load(
    conn: &mut DbConnection,
    session: &Session,
    collective_id: &str,
    saved: bool,
    errors: FieldErrors,
    chosen: Option<&[(String, String)]>,
) -> Result<AffectednessPage> {
    let principal = session.principal();
    let issues = service::list_issues(conn, &principal, collective_id)?;
    let mine = service::mine(conn, &principal, collective_id)?;
    let lines = issues
        .into_iter()
        .map(|issue| {
            let declared = mine.declarations.iter().find(|d| d.issue_id == issue.id);
            let tier = match chosen {
                Some(chosen) => chosen
                    .iter()
                    .find(|(id, _)| *id == issue.id)
                    .map(|(_, t)| t.clone())
                    .unwrap_or_else(|| "none".into()),
                None => declared
                    .map(|d| d.tier.as_str().to_owned())
                    .unwrap_or_else(|| "none".into()),
            };
            IssueLine {
                verified: declared.is_some_and(|d| d.verified && d.tier.as_str() == tier),
                tier,
                id: issue.id,
                name: issue.name,
                description: issue.description,
            }
        })
        .collect();
    Ok(AffectednessPage {
        chrome: Chrome::load(conn, session, "How you are affected")?,
        collective_id: collective_id.to_owned(),
        issues: lines,
        saved,
        errors,
    })
}

#[derive(Deserialize)]
struct Saved {
    saved: Option<String>,
}

async fn page(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    path: web::Path<String>,
    query: crate::http::extract::Query<Saved>,
) -> Result<HttpResponse, PageError> {
    let session = signed_in.0;
    let collective_id = path.into_inner();
    let saved = query.saved.is_some();
    let page = db(&state, move |conn| {
        load(
            conn,
            &session,
            &collective_id,
            saved,
            FieldErrors::default(),
            None,
        )
    })
    .await?;
    ok(&page)
}

async fn declare(
    state: web::Data<AppState>,
    form: Form,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let session = form.signed_in()?.clone();
    let collective_id = path.into_inner();
    // One radio group per issue: `tier_<issue id>`.
    let chosen: Vec<(String, String)> = form
        .fields
        .0
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("tier_").map(|id| (id.to_owned(), v.clone())))
        .collect();
    let outcome = db(&state, move |conn| {
        let mut errors = FieldErrors::default();
        let mut declarations = Vec::new();
        for (issue_id, tier) in &chosen {
            match (tier.as_str(), Tier::parse(tier)) {
                ("none", _) => {}
                (_, Some(tier)) => declarations.push(Declaration {
                    issue_id: issue_id.clone(),
                    tier,
                }),
                _ => errors.add(&format!("tier_{issue_id}"), "Choose one of the answers."),
            }
        }
        if errors.is_empty() {
            match service::declare(
                conn,
                &session.principal(),
                &collective_id,
                Declarations { declarations },
            ) {
                Ok(_) => return Ok(Ok(format!("/c/{collective_id}/affectedness?saved=1"))),
                Err(error) => errors = FieldErrors::from_error(error)?,
            }
        }
        Ok(Err(load(
            conn,
            &session,
            &collective_id,
            false,
            errors,
            Some(&chosen),
        )?))
    })
    .await?;
    match outcome {
        Ok(location) => Ok(see_other(&location)),
        Err(page) => render(StatusCode::UNPROCESSABLE_ENTITY, &page),
    }
}
