//! Coordinators verify members' declarations of affectedness — visible only
//! here and to the member (`affectedness::service::of_member` and `verify`
//! refuse everyone else).

use actix_web::{web, HttpResponse};
use askama::Template;

use super::{db, ok, see_other, Chrome};
use crate::affectedness::service;
use crate::collectives;
use crate::collectives::store::MemberFilter;
use crate::http::AppState;
use crate::pagination::PageRequest;
use crate::web::errors::PageError;
use crate::web::extract::{Form, SignedIn};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/c/{collective}/affectedness/review", web::get().to(page))
        .route(
            "/c/{collective}/affectedness/review/{member}/{issue}",
            web::post().to(verify),
        );
}

pub struct DeclarationLine {
    pub issue_id: String,
    pub issue: String,
    pub tier: String,
    pub verified: bool,
}

pub struct MemberDeclarations {
    pub membership_id: String,
    pub name: String,
    pub declarations: Vec<DeclarationLine>,
}

#[derive(Template)]
#[template(path = "affectedness_review.html")]
struct ReviewPage {
    chrome: Chrome,
    collective_id: String,
    members: Vec<MemberDeclarations>,
}

async fn page(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let session = signed_in.0;
    let collective_id = path.into_inner();
    let page = db(&state, move |conn| {
        let principal = session.principal();
        let issues = service::list_issues(conn, &principal, &collective_id)?;
        let list = collectives::service::list_members(
            conn,
            &principal,
            &collective_id,
            MemberFilter {
                status: Some("active".into()),
                role: None,
            },
            &PageRequest {
                limit: 200,
                after: None,
            },
        )?;
        let mut members = Vec::new();
        for m in list.items {
            // Coordinators only: the service refuses anyone else here.
            let declared = service::of_member(conn, &principal, &collective_id, &m.id)?;
            if declared.declarations.is_empty() {
                continue;
            }
            members.push(MemberDeclarations {
                declarations: declared
                    .declarations
                    .into_iter()
                    .map(|d| DeclarationLine {
                        issue: issues
                            .iter()
                            .find(|i| i.id == d.issue_id)
                            .map(|i| i.name.clone())
                            .unwrap_or_default(),
                        tier: d.tier.as_str().to_owned(),
                        verified: d.verified,
                        issue_id: d.issue_id,
                    })
                    .collect(),
                membership_id: m.id,
                name: m.display_name,
            });
        }
        Ok(ReviewPage {
            chrome: Chrome::load(conn, &session, "Affectedness")?,
            collective_id,
            members,
        })
    })
    .await?;
    ok(&page)
}

async fn verify(
    state: web::Data<AppState>,
    form: Form,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, PageError> {
    let session = form.signed_in()?.clone();
    let (collective_id, member, issue) = path.into_inner();
    let back = format!("/c/{collective_id}/affectedness/review");
    db(&state, move |conn| {
        service::verify(conn, &session.principal(), &collective_id, &member, &issue).map(drop)
    })
    .await?;
    Ok(see_other(&back))
}
