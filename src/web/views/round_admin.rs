//! Coordinators run budgeting rounds: create one (budget, candidates from
//! the requests waiting in the pool, ballot type and limits, rule,
//! weighting policy), then open, close, tally, enact or cancel it from the
//! round's page. Each step is the API's `rounds::service` call; opening,
//! enacting and cancelling move money, so their forms run once.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;

use super::{db, ok, once, render, see_other, Chrome, FieldErrors};
use crate::db::DbConnection;
use crate::error::{Error, Result};
use crate::http::AppState;
use crate::pagination::PageRequest;
use crate::requests::service::Query;
use crate::requests::State;
use crate::rounds::{service, BallotType, NewRound, WeightingPolicy};
use crate::web::errors::PageError;
use crate::web::extract::{Fields, Form, Session, SignedIn};
use crate::web::format::money;
use crate::{pools, requests};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/pools/{pool}/rounds/new", web::get().to(new_page))
        .route("/pools/{pool}/rounds", web::post().to(create))
        .route("/rounds/{id}/manage", web::post().to(manage));
}

pub struct CandidateChoice {
    pub id: String,
    pub summary: String,
    pub amount: String,
    pub chosen: bool,
}

#[derive(Template)]
#[template(path = "round_new.html")]
struct NewRoundPage {
    chrome: Chrome,
    pool_id: String,
    pool_name: String,
    currency: String,
    candidates: Vec<CandidateChoice>,
    form: Fields,
    errors: FieldErrors,
}

fn new_round(
    conn: &mut DbConnection,
    session: &Session,
    pool_id: &str,
    form: Fields,
    errors: FieldErrors,
) -> Result<NewRoundPage> {
    let principal = session.principal();
    let pool = pools::service::get(conn, &principal, pool_id)?;
    let waiting = Query {
        states: vec![State::Submitted, State::InReview],
        pool_id: Some(pool.id.clone()),
        ..Default::default()
    };
    let chosen = form.all("candidate");
    let candidates = requests::service::list(
        conn,
        &principal,
        &pool.collective_id,
        waiting,
        &PageRequest {
            limit: 200,
            after: None,
        },
    )?
    .items
    .into_iter()
    .map(|r| CandidateChoice {
        chosen: chosen.contains(&r.id),
        amount: money(&r.amount_requested, &r.currency),
        summary: r.public_summary,
        id: r.id,
    })
    .collect();
    Ok(NewRoundPage {
        chrome: Chrome::load(conn, session, "Start a round")?,
        pool_id: pool.id,
        pool_name: pool.name,
        currency: pool.currency,
        candidates,
        form,
        errors,
    })
}

async fn new_page(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let session = signed_in.0;
    let pool_id = path.into_inner();
    let page = db(&state, move |conn| {
        // Only those who may run rounds see the form.
        let pool = pools::service::get(conn, &session.principal(), &pool_id)?;
        crate::auth::access::authorize(
            conn,
            &session.principal(),
            &pool.collective_id,
            crate::auth::policy::Permission::ManageRounds,
            "pool",
        )?;
        new_round(
            conn,
            &session,
            &pool_id,
            Fields::default(),
            FieldErrors::default(),
        )
    })
    .await?;
    ok(&page)
}

fn number(f: &Fields, name: &str) -> Result<Option<u32>> {
    f.opt(name)
        .map(|v| {
            v.parse::<u32>()
                .map_err(|_| Error::invalid(name, "give a whole number"))
        })
        .transpose()
}

fn weight(f: &Fields, name: &str, default: u32) -> Result<u32> {
    Ok(number(f, name)?.unwrap_or(default))
}

fn round_input(f: &Fields) -> Result<NewRound> {
    let ballot = match f.get("ballot") {
        "cumulative" => BallotType::Cumulative {
            points: number(f, "points")?.unwrap_or(10),
        },
        "ranked" => BallotType::Ranked {
            max_ranked: number(f, "max_ranked")?,
        },
        _ => BallotType::Approval {
            min_count: 0,
            max_count: number(f, "max_count")?,
            max_cost: f.opt("max_cost"),
        },
    };
    Ok(NewRound {
        title: f.get("title").to_owned(),
        budget: f.get("budget").trim().to_owned(),
        candidates: f.all("candidate"),
        ballot,
        rule: f.opt("rule"),
        policy: Some(WeightingPolicy {
            direct: weight(f, "direct", 3)?,
            indirect: weight(f, "indirect", 2)?,
            supporter: weight(f, "supporter", 1)?,
            count_unverified: !f.checked("verified_only"),
            issues: None,
            cap: None,
            no_declaration: weight(f, "no_declaration", 1)?,
        }),
        min_support: None,
    })
}

async fn create(
    state: web::Data<AppState>,
    form: Form,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let session = form.signed_in()?.clone();
    let pool_id = path.into_inner();
    let f = form.fields.clone();
    let outcome = db(&state, move |conn| {
        let created = round_input(&f)
            .and_then(|input| service::create(conn, &session.principal(), &pool_id, input));
        match created {
            Ok(round) => Ok(Ok(format!("/rounds/{}", round.id))),
            Err(error) => {
                let errors = FieldErrors::from_error(error)?;
                Ok(Err(new_round(conn, &session, &pool_id, f, errors)?))
            }
        }
    })
    .await?;
    match outcome {
        Ok(location) => Ok(see_other(&location)),
        Err(page) => render(StatusCode::UNPROCESSABLE_ENTITY, &page),
    }
}

async fn manage(
    state: web::Data<AppState>,
    form: Form,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let session = form.signed_in()?.clone();
    let id = path.into_inner();
    let back = format!("/rounds/{id}");
    let action = form.fields.get("action").to_owned();
    if action == "tally" {
        // The tally runs outside any transaction (the service's design).
        service::tally(&state.db, session.principal(), id, None).await?;
        return Ok(see_other(&back));
    }
    let f = form.fields.clone();
    db(&state, move |conn| {
        let principal = session.principal();
        match action.as_str() {
            "open" => once(conn, &session, &format!("open {id}"), &f, |conn| {
                service::open(conn, &principal, &id, None).map(drop)
            }),
            "close" => service::close(conn, &principal, &id, None).map(drop),
            "enact" => once(conn, &session, &format!("enact {id}"), &f, |conn| {
                service::enact(conn, &principal, &id, None).map(drop)
            }),
            "cancel" => once(conn, &session, &format!("cancel round {id}"), &f, |conn| {
                service::cancel(conn, &principal, &id, None).map(drop)
            }),
            _ => Err(Error::invalid(
                "action",
                "choose open, close, tally, enact or cancel",
            )),
        }
    })
    .await?;
    Ok(see_other(&back))
}
