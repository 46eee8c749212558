//! Pledging: once, weekly or monthly; a pledge's installments and what is
//! due; pausing, resuming and cancelling — through `pledges::service`.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use chrono::NaiveDate;

use super::requests::PoolInfo;
use super::{db, ok, render, see_other, Chrome, FieldErrors};
use crate::auth::access::Principal;
use crate::db::DbConnection;
use crate::error::Result;
use crate::http::AppState;
use crate::pledges::{service, Frequency, NewPledge, PledgePatch, PledgeStatus};
use crate::web::errors::PageError;
use crate::web::extract::{Form, Session, SignedIn};
use crate::web::format::{date, money};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/pools/{pool}/pledge", web::get().to(pledge_page))
        .route("/pools/{pool}/pledge", web::post().to(pledge))
        .route("/pledges/{id}", web::get().to(pledge_detail))
        .route("/pledges/{id}/status", web::post().to(change_status));
}

#[derive(Debug, Clone, Default)]
pub struct PledgeForm {
    pub amount: String,
    pub frequency: String,
    pub starts_on: String,
    pub installments: String,
    pub note: String,
}

#[derive(Template)]
#[template(path = "pledge_new.html")]
struct PledgeNewPage {
    chrome: Chrome,
    pool: PoolInfo,
    form: PledgeForm,
    errors: FieldErrors,
}

fn new_page(
    conn: &mut DbConnection,
    session: &Session,
    pool_id: &str,
    form: PledgeForm,
    errors: FieldErrors,
) -> Result<PledgeNewPage> {
    Ok(PledgeNewPage {
        chrome: Chrome::load(conn, session, "Pledge")?,
        pool: super::requests::pool_info(conn, &session.principal(), pool_id)?,
        form,
        errors,
    })
}

async fn pledge_page(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let session = signed_in.0;
    let pool_id = path.into_inner();
    let page = db(&state, move |conn| {
        let form = PledgeForm {
            frequency: "monthly".into(),
            installments: "12".into(),
            ..Default::default()
        };
        new_page(conn, &session, &pool_id, form, FieldErrors::default())
    })
    .await?;
    ok(&page)
}

async fn pledge(
    state: web::Data<AppState>,
    form: Form,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let session = form.signed_in()?.clone();
    let pool_id = path.into_inner();
    let f = &form.fields;
    let input = PledgeForm {
        amount: f.get("amount").trim().to_owned(),
        frequency: f.get("frequency").to_owned(),
        starts_on: f.get("starts_on").trim().to_owned(),
        installments: f.get("installments").trim().to_owned(),
        note: f.get("note").trim().to_owned(),
    };
    let grace = state.settings.pledge_grace_days;
    let outcome = db(&state, move |conn| {
        let mut errors = FieldErrors::default();
        if input.amount.is_empty() {
            errors.add("amount", "Enter how much you pledge each time.");
        }
        let frequency = Frequency::parse(&input.frequency);
        if frequency.is_none() {
            errors.add("frequency", "Choose once, weekly or monthly.");
        }
        let starts_on = if input.starts_on.is_empty() {
            None
        } else {
            match NaiveDate::parse_from_str(&input.starts_on, "%Y-%m-%d") {
                Ok(d) => Some(d),
                Err(_) => {
                    errors.add("starts_on", "Give a date like 2026-12-01.");
                    None
                }
            }
        };
        let installments = match (frequency, input.installments.as_str()) {
            (Some(Frequency::Once), _) => None,
            (_, "") => {
                errors.add("installments", "Say how many times you will give.");
                None
            }
            (_, text) => match text.parse::<u32>() {
                Ok(n) => Some(n),
                Err(_) => {
                    errors.add("installments", "Give a whole number, like 12.");
                    None
                }
            },
        };
        if !errors.is_empty() {
            return Ok(Err(new_page(conn, &session, &pool_id, input, errors)?));
        }
        let pledge = NewPledge {
            amount: input.amount.clone(),
            frequency: frequency.unwrap_or(Frequency::Once),
            starts_on,
            installments,
            ends_on: None,
            pledger: None,
            grace_days: None,
            note: Some(input.note.clone()).filter(|n| !n.is_empty()),
        };
        match service::create(conn, &session.principal(), &pool_id, pledge, grace) {
            Ok(p) => Ok(Ok(format!("/pledges/{}", p.id))),
            Err(error) => {
                let errors = FieldErrors::from_error(error)?;
                Ok(Err(new_page(conn, &session, &pool_id, input, errors)?))
            }
        }
    })
    .await?;
    match outcome {
        Ok(location) => Ok(see_other(&location)),
        Err(page) => render(StatusCode::UNPROCESSABLE_ENTITY, &page),
    }
}

pub struct InstallmentLine {
    pub due: String,
    pub amount: String,
    pub paid: String,
    pub state: String,
}

#[derive(Template)]
#[template(path = "pledge.html")]
struct PledgePage {
    chrome: Chrome,
    id: String,
    amount: String,
    frequency: String,
    status: String,
    total: String,
    paid: String,
    outstanding: String,
    due_now: String,
    next_due: String,
    installments: Vec<InstallmentLine>,
    may_pause: bool,
    may_resume: bool,
    may_cancel: bool,
    errors: FieldErrors,
}

fn detail(
    conn: &mut DbConnection,
    session: &Session,
    id: &str,
    errors: FieldErrors,
) -> Result<PledgePage> {
    let principal: Principal = session.principal();
    let p = service::get(conn, &principal, id)?;
    let code = p.currency.clone();
    let show = |m: &str| money(m, &code);
    Ok(PledgePage {
        chrome: Chrome::load(conn, session, "Your pledge")?,
        amount: show(&p.amount),
        frequency: p.frequency.as_str().to_owned(),
        status: p.status.as_str().to_owned(),
        total: show(&p.total),
        paid: show(&p.paid),
        outstanding: show(&p.outstanding),
        due_now: show(&p.due_now),
        next_due: p
            .next_due_on
            .map(|d| {
                format!(
                    "{} ({})",
                    date(d),
                    p.next_due_amount.as_deref().map(show).unwrap_or_default()
                )
            })
            .unwrap_or_default(),
        installments: p
            .schedule
            .unwrap_or_default()
            .into_iter()
            .map(|i| InstallmentLine {
                due: date(i.due_on),
                amount: show(&i.amount),
                paid: show(&i.paid),
                state: i.state,
            })
            .collect(),
        may_pause: p.status == PledgeStatus::Active && p.frequency != Frequency::Once,
        may_resume: p.status == PledgeStatus::Paused,
        may_cancel: matches!(
            p.status,
            PledgeStatus::Active | PledgeStatus::Paused | PledgeStatus::Lapsed
        ),
        id: p.id,
        errors,
    })
}

async fn pledge_detail(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let session = signed_in.0;
    let id = path.into_inner();
    let page = db(&state, move |conn| {
        detail(conn, &session, &id, FieldErrors::default())
    })
    .await?;
    ok(&page)
}

async fn change_status(
    state: web::Data<AppState>,
    form: Form,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let session = form.signed_in()?.clone();
    let id = path.into_inner();
    let wanted = PledgeStatus::parse(form.fields.get("status"));
    let outcome = db(&state, move |conn| {
        let Some(status) = wanted else {
            let mut errors = FieldErrors::default();
            errors.add("status", "Choose pause, resume or cancel.");
            return Ok(Err(detail(conn, &session, &id, errors)?));
        };
        match service::update(
            conn,
            &session.principal(),
            &id,
            PledgePatch { status },
            None,
        ) {
            Ok(_) => Ok(Ok(format!("/pledges/{id}"))),
            Err(error) => {
                let errors = FieldErrors::from_error(error)?;
                Ok(Err(detail(conn, &session, &id, errors)?))
            }
        }
    })
    .await?;
    match outcome {
        Ok(location) => Ok(see_other(&location)),
        Err(page) => render(StatusCode::UNPROCESSABLE_ENTITY, &page),
    }
}
