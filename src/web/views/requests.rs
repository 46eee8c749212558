//! Asking for help, and one request's page: its public and private fields
//! (private ones only for the requester and coordinators, as the service
//! decides), its timeline, messages, and the requester's amend and
//! withdraw. Coordinators' actions on the same page are in `queue`.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use chrono::NaiveDate;

use super::{db, ok, render, see_other, Chrome, FieldErrors};
use crate::auth::access::Principal;
use crate::collectives::store::time_zone;
use crate::db::DbConnection;
use crate::error::{Error, Result};
use crate::http::AppState;
use crate::ids::HoldId;
use crate::pagination::PageRequest;
use crate::requests::state::Event;
use crate::requests::{service, timeline, NewComment, NewRequest, RequestPatch, Urgency};
use crate::web::errors::PageError;
use crate::web::extract::{Fields, Form, Session, SignedIn};
use crate::web::format::{date, datetime, money, words};
use crate::{pools, requests};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/pools/{pool}/ask", web::get().to(ask_page))
        .route("/pools/{pool}/ask", web::post().to(ask))
        .route("/requests/{id}", web::get().to(request_page))
        .route("/requests/{id}/amend", web::get().to(amend_page))
        .route("/requests/{id}/amend", web::post().to(amend))
        .route("/requests/{id}/withdraw", web::post().to(withdraw))
        .route("/requests/{id}/comments", web::post().to(comment));
}

/// What the ask-for-help and amend forms hold, as typed.
#[derive(Debug, Clone, Default)]
pub struct RequestForm {
    pub amount: String,
    pub category: String,
    pub emergency: bool,
    pub needed_by: String,
    pub public_summary: String,
    pub private_details: String,
    pub payout_reference: String,
}

impl RequestForm {
    fn from_fields(fields: &Fields) -> Self {
        Self {
            amount: fields.get("amount").trim().to_owned(),
            category: fields.get("category").trim().to_owned(),
            emergency: fields.get("urgency") == "emergency",
            needed_by: fields.get("needed_by").trim().to_owned(),
            public_summary: fields.get("public_summary").to_owned(),
            private_details: fields.get("private_details").to_owned(),
            payout_reference: fields.get("payout_reference").trim().to_owned(),
        }
    }

    /// The date, or the message for its field.
    fn needed_by(&self, errors: &mut FieldErrors) -> Option<NaiveDate> {
        if self.needed_by.is_empty() {
            return None;
        }
        match NaiveDate::parse_from_str(&self.needed_by, "%Y-%m-%d") {
            Ok(d) => Some(d),
            Err(_) => {
                errors.add("needed_by", "Give a date like 2026-12-24.");
                None
            }
        }
    }

    /// Checks what a person can miss before the service checks the rest.
    fn check_blanks(&self, errors: &mut FieldErrors) {
        if self.amount.is_empty() {
            errors.add("amount", "Enter the amount you need.");
        }
        if self.category.is_empty() {
            errors.add(
                "category",
                "Say what it is for, in a word or two (rent, food, medicine …).",
            );
        }
        if self.public_summary.trim().is_empty() {
            errors.add(
                "public_summary",
                "Write a short summary the collective can read.",
            );
        }
    }

    fn urgency(&self) -> Urgency {
        if self.emergency {
            Urgency::Emergency
        } else {
            Urgency::Standard
        }
    }
}

pub struct PoolInfo {
    pub id: String,
    pub name: String,
    pub currency: String,
    pub largest: Option<String>,
    /// "In EUR, like 250.00" (whole numbers for currencies without cents).
    pub amount_hint: String,
}

pub fn pool_info(
    conn: &mut DbConnection,
    principal: &Principal,
    pool_id: &str,
) -> Result<PoolInfo> {
    let pool = pools::service::get(conn, principal, pool_id)?;
    let example = match pool.exponent {
        0 => "250".to_owned(),
        n => format!("250.{}", "0".repeat(n as usize)),
    };
    Ok(PoolInfo {
        amount_hint: format!("In {}, like {example}", pool.currency),
        largest: pool
            .rules
            .max_request
            .as_deref()
            .map(|m| money(m, &pool.currency)),
        id: pool.id,
        name: pool.name,
        currency: pool.currency,
    })
}

#[derive(Template)]
#[template(path = "ask.html")]
struct AskPage {
    chrome: Chrome,
    pool: PoolInfo,
    form: RequestForm,
    errors: FieldErrors,
    /// The form's action: asking anew or amending.
    action: String,
    amending: bool,
}

async fn ask_page(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let session = signed_in.0;
    let pool_id = path.into_inner();
    let page = db(&state, move |conn| {
        let pool = pool_info(conn, &session.principal(), &pool_id)?;
        Ok(AskPage {
            chrome: Chrome::load(conn, &session, "Ask for help")?,
            action: format!("/pools/{}/ask", pool.id),
            pool,
            form: RequestForm::default(),
            errors: FieldErrors::default(),
            amending: false,
        })
    })
    .await?;
    ok(&page)
}

/// Sends the form back with its messages (422), or answers the error.
fn form_again(
    conn: &mut DbConnection,
    session: &Session,
    pool: PoolInfo,
    form: RequestForm,
    errors: FieldErrors,
    amending: Option<&str>,
) -> Result<AskPage> {
    Ok(AskPage {
        chrome: Chrome::load(
            conn,
            session,
            if amending.is_some() {
                "Change your request"
            } else {
                "Ask for help"
            },
        )?,
        action: match amending {
            Some(id) => format!("/requests/{id}/amend"),
            None => format!("/pools/{}/ask", pool.id),
        },
        amending: amending.is_some(),
        pool,
        form,
        errors,
    })
}

enum Outcome {
    Done(String),
    Again(Box<AskPage>),
}

fn finish(outcome: Outcome) -> std::result::Result<HttpResponse, PageError> {
    match outcome {
        Outcome::Done(location) => Ok(see_other(&location)),
        Outcome::Again(page) => render(StatusCode::UNPROCESSABLE_ENTITY, &*page),
    }
}

async fn ask(
    state: web::Data<AppState>,
    form: Form,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let session = form.signed_in()?.clone();
    let pool_id = path.into_inner();
    let input = RequestForm::from_fields(&form.fields);
    let outcome = db(&state, move |conn| {
        let principal = session.principal();
        let pool = pool_info(conn, &principal, &pool_id)?;
        let mut errors = FieldErrors::default();
        input.check_blanks(&mut errors);
        let needed_by = input.needed_by(&mut errors);
        if !errors.is_empty() {
            return Ok(Outcome::Again(Box::new(form_again(
                conn, &session, pool, input, errors, None,
            )?)));
        }
        let request = NewRequest {
            amount: input.amount.clone(),
            category: input.category.clone(),
            urgency: input.urgency(),
            needed_by,
            public_summary: input.public_summary.clone(),
            private_details: input.private_details.clone(),
            payout_reference: Some(input.payout_reference.clone()).filter(|p| !p.is_empty()),
            on_behalf_of_member: None,
            beneficiary: None,
            shared_project: false,
            draft: false,
        };
        match service::create(conn, &principal, &pool_id, request) {
            Ok(created) => Ok(Outcome::Done(format!("/requests/{}", created.id))),
            Err(error) => {
                let errors = FieldErrors::from_error(error)?;
                Ok(Outcome::Again(Box::new(form_again(
                    conn, &session, pool, input, errors, None,
                )?)))
            }
        }
    })
    .await?;
    finish(outcome)
}

pub struct StepLine {
    pub when: String,
    pub what: String,
    pub amount: Option<String>,
}

pub struct CommentLine {
    pub when: String,
    pub body: String,
    pub internal: bool,
    pub from_requester: bool,
}

pub struct PaymentLine {
    pub id: String,
    pub amount: String,
    pub status: String,
    pub pending: bool,
    pub when: String,
}

/// One request as its page shows it.
pub struct RequestView {
    pub id: String,
    pub pool_id: String,
    pub pool_name: String,
    pub state: String,
    pub amount: String,
    pub approved: Option<String>,
    pub paid: String,
    pub category: String,
    pub emergency: bool,
    pub needed_by: Option<String>,
    pub summary: String,
    pub rejection_reason: Option<String>,
    pub approvals: i64,
    pub approvals_needed: i32,
    pub owner_user_id: Option<String>,
    pub private_details: Option<String>,
    pub payout_reference: Option<String>,
    pub beneficiary: Option<String>,
    pub withdrawal_reason: Option<String>,
    pub submitted: String,
    pub version: i64,
    /// What the reader may see and do.
    pub sees_private: bool,
    pub is_requester: bool,
    pub may_amend: bool,
    pub may_withdraw: bool,
    pub timeline: Vec<StepLine>,
    pub comments: Vec<CommentLine>,
    pub payments: Vec<PaymentLine>,
    /// Coordinators: what they may do now, and the request's hold.
    pub coordinator: bool,
    pub owner: String,
    pub may_take: bool,
    pub may_decide: bool,
    pub may_pay: bool,
    pub may_cancel: bool,
    pub held: Option<String>,
    pub pending: Option<String>,
    /// The key the page's money forms carry (`views::once`).
    pub once: String,
}

/// Describes a timeline step for people.
fn step_words(what: &str) -> String {
    match what {
        "created" => "Asked for help".into(),
        "submitted" => "Submitted".into(),
        "amended" => "Changed by the requester".into(),
        "taken_into_review" => "A coordinator took it into review".into(),
        "reassigned" => "Handed to another coordinator".into(),
        "approval_given" => "A coordinator approved".into(),
        "approved" => "Approved".into(),
        "rejected" => "Not approved".into(),
        "in_vote" => "Put to the members' vote".into(),
        "vote_cancelled" => "The vote was cancelled; back in review".into(),
        "not_funded" => "Not funded by the vote".into(),
        "partially_paid" => "Part paid".into(),
        "paid" => "Paid in full".into(),
        "withdrawn" => "Withdrawn".into(),
        "cancelled" => "Cancelled by the coordinators".into(),
        "conflict_declared" => "A coordinator declared a conflict of interest".into(),
        other => words(other),
    }
}

/// Reads a request for `principal` through the services: private fields,
/// timeline, messages and payments only where the service shows them.
pub fn request_view(
    conn: &mut DbConnection,
    principal: &Principal,
    id: &str,
) -> Result<RequestView> {
    let r = service::get(conn, principal, id)?;
    let zone = time_zone(conn, &r.collective_id)?;
    let pool = pools::service::get(conn, principal, &r.pool_id)?;
    let code = r.currency.clone();
    let sees_private = r.private.is_some();
    let user = match principal {
        Principal::User { user_id } => Some(user_id.as_str()),
        _ => None,
    };
    let is_requester = r
        .private
        .as_ref()
        .is_some_and(|p| Some(p.submitted_by.as_str()) == user)
        || r.private.as_ref().is_some_and(|p| {
            p.requester_membership_id.as_deref().is_some_and(|m| {
                crate::collectives::store::find_membership(conn, m)
                    .ok()
                    .flatten()
                    .is_some_and(|(_, u)| Some(u.id.as_str()) == user)
            })
        });
    let (timeline, comments, payments) = if sees_private {
        let steps = timeline::timeline(conn, principal, id)?
            .into_iter()
            .map(|s| StepLine {
                when: datetime(s.at, zone),
                what: step_words(&s.what),
                amount: s.amount.map(|a| money(&a, &code)),
            })
            .collect();
        let comments = service::comments(
            conn,
            principal,
            id,
            &PageRequest {
                limit: 200,
                after: None,
            },
        )?
        .items
        .into_iter()
        .map(|c| CommentLine {
            when: datetime(c.created_at, zone),
            internal: c.visibility == requests::Visibility::Internal,
            from_requester: r
                .private
                .as_ref()
                .is_some_and(|p| p.submitted_by == c.author_id),
            body: c.body,
        })
        .collect();
        let payments = service::list_disbursements(conn, principal, id)?
            .into_iter()
            .map(|d| PaymentLine {
                amount: money(&d.amount, &code),
                pending: d.status == crate::ledger::holds::DisbursementStatus::Pending,
                status: d.status.as_str().to_owned(),
                when: datetime(d.created_at, zone),
                id: d.id,
            })
            .collect();
        (steps, comments, payments)
    } else {
        (Vec::new(), Vec::new(), Vec::new())
    };
    let coordinator = crate::auth::access::authorize(
        conn,
        principal,
        &r.collective_id,
        crate::auth::policy::Permission::ReviewRequests,
        "request",
    )
    .is_ok();
    let (held, pending) = match (&r.hold_id, coordinator) {
        (Some(hold_id), true) => {
            let hold =
                crate::ledger::holds::get_hold(conn, principal, &HoldId::from(hold_id.as_str()))?;
            (
                Some(money(&hold.remaining, &code)),
                Some(money(&hold.pending, &code)),
            )
        }
        _ => (None, None),
    };
    let owner = match (r.owner_user_id.as_deref(), user) {
        (None, _) => "nobody yet".to_owned(),
        (Some(o), Some(u)) if o == u => "you".to_owned(),
        (Some(o), _) => crate::collectives::store::find_user(conn, o)?
            .map(|u| u.display_name)
            .unwrap_or_else(|| "another coordinator".into()),
    };
    let mine = r.owner_user_id.as_deref() == user && user.is_some();
    Ok(RequestView {
        coordinator,
        may_take: coordinator && !is_requester && r.state.after(Event::TakeIntoReview).is_some()
            || coordinator && !is_requester && r.state == requests::State::InReview && !mine,
        may_decide: coordinator && !is_requester && r.state == requests::State::InReview,
        may_pay: coordinator
            && matches!(
                r.state,
                requests::State::Approved | requests::State::PartiallyPaid
            ),
        may_cancel: coordinator && r.state.after(Event::Cancel).is_some(),
        held,
        pending,
        owner,
        once: super::once_key(),
        may_amend: is_requester && r.state.after(Event::Amend).is_some(),
        may_withdraw: is_requester && r.state.after(Event::Withdraw).is_some(),
        amount: money(&r.amount_requested, &code),
        approved: r.amount_approved.as_deref().map(|a| money(a, &code)),
        paid: money(&r.paid, &code),
        state: words(r.state.as_str()),
        emergency: r.urgency == Urgency::Emergency,
        needed_by: r.needed_by.map(date),
        submitted: datetime(r.submitted_at.unwrap_or(r.created_at), zone),
        private_details: r.private.as_ref().map(|p| p.private_details.clone()),
        payout_reference: r.private.as_ref().and_then(|p| p.payout_reference.clone()),
        withdrawal_reason: r.private.as_ref().and_then(|p| p.withdrawal_reason.clone()),
        beneficiary: r
            .private
            .as_ref()
            .and_then(|p| p.beneficiary.as_ref().map(|b| b.name.clone())),
        id: r.id,
        pool_id: r.pool_id,
        pool_name: pool.name,
        category: r.category,
        summary: r.public_summary,
        rejection_reason: r.rejection_reason,
        approvals: r.approvals,
        approvals_needed: r.approvals_needed,
        owner_user_id: r.owner_user_id,
        version: r.version,
        sees_private,
        is_requester,
        timeline,
        comments,
        payments,
    })
}

#[derive(Template)]
#[template(path = "request.html")]
pub struct RequestPage {
    chrome: Chrome,
    r: RequestView,
    errors: FieldErrors,
    comment: String,
    reason: String,
}

async fn request_page(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let session = signed_in.0;
    let id = path.into_inner();
    let page = db(&state, move |conn| {
        let r = request_view(conn, &session.principal(), &id)?;
        Ok(RequestPage {
            chrome: Chrome::load(conn, &session, "Request")?,
            r,
            errors: FieldErrors::default(),
            comment: String::new(),
            reason: String::new(),
        })
    })
    .await?;
    ok(&page)
}

async fn amend_page(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let session = signed_in.0;
    let id = path.into_inner();
    let page = db(&state, move |conn| {
        let principal = session.principal();
        let r = service::get(conn, &principal, &id)?;
        let view = request_view(conn, &principal, &id)?;
        if !view.may_amend {
            return Err(Error::forbidden(
                "only the requester may change a request, before it is decided",
            ));
        }
        let pool = pool_info(conn, &principal, &r.pool_id)?;
        let private = r.private.clone();
        let form = RequestForm {
            amount: r.amount_requested.clone(),
            category: r.category.clone(),
            emergency: r.urgency == Urgency::Emergency,
            needed_by: r.needed_by.map(|d| d.to_string()).unwrap_or_default(),
            public_summary: r.public_summary.clone(),
            private_details: private
                .as_ref()
                .map(|p| p.private_details.clone())
                .unwrap_or_default(),
            payout_reference: private.and_then(|p| p.payout_reference).unwrap_or_default(),
        };
        form_again(
            conn,
            &session,
            pool,
            form,
            FieldErrors::default(),
            Some(&id),
        )
    })
    .await?;
    ok(&page)
}

async fn amend(
    state: web::Data<AppState>,
    form: Form,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let session = form.signed_in()?.clone();
    let id = path.into_inner();
    let input = RequestForm::from_fields(&form.fields);
    let outcome = db(&state, move |conn| {
        let principal = session.principal();
        let r = service::get(conn, &principal, &id)?;
        let pool = pool_info(conn, &principal, &r.pool_id)?;
        let mut errors = FieldErrors::default();
        input.check_blanks(&mut errors);
        let needed_by = input.needed_by(&mut errors);
        if !errors.is_empty() {
            return Ok(Outcome::Again(Box::new(form_again(
                conn,
                &session,
                pool,
                input,
                errors,
                Some(&id),
            )?)));
        }
        let patch = RequestPatch {
            amount: Some(input.amount.clone()),
            category: Some(input.category.clone()),
            urgency: Some(input.urgency()),
            needed_by,
            public_summary: Some(input.public_summary.clone()),
            private_details: Some(input.private_details.clone()),
            // An empty field keeps the reference given before.
            payout_reference: Some(input.payout_reference.clone()).filter(|p| !p.is_empty()),
        };
        match service::amend(conn, &principal, &id, patch, None) {
            Ok(_) => Ok(Outcome::Done(format!("/requests/{id}"))),
            Err(error) => {
                let errors = FieldErrors::from_error(error)?;
                Ok(Outcome::Again(Box::new(form_again(
                    conn,
                    &session,
                    pool,
                    input,
                    errors,
                    Some(&id),
                )?)))
            }
        }
    })
    .await?;
    finish(outcome)
}

/// The request page again, with a message by the field at fault (422).
pub fn request_again(
    conn: &mut DbConnection,
    session: &Session,
    id: &str,
    errors: FieldErrors,
    comment: String,
    reason: String,
) -> Result<RequestPage> {
    Ok(RequestPage {
        r: request_view(conn, &session.principal(), id)?,
        chrome: Chrome::load(conn, session, "Request")?,
        errors,
        comment,
        reason,
    })
}

async fn withdraw(
    state: web::Data<AppState>,
    form: Form,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let session = form.signed_in()?.clone();
    let id = path.into_inner();
    let reason = form.fields.get("reason").trim().to_owned();
    let outcome = db(&state, move |conn| {
        if reason.is_empty() {
            let mut errors = FieldErrors::default();
            errors.add(
                "reason",
                "Say briefly why you withdraw it; the coordinators read this.",
            );
            return Ok(Err(request_again(
                conn,
                &session,
                &id,
                errors,
                String::new(),
                reason,
            )?));
        }
        let input = requests::OptionalReason {
            reason: Some(reason.clone()),
        };
        match service::withdraw(conn, &session.principal(), &id, input, None) {
            Ok(_) => Ok(Ok(format!("/requests/{id}"))),
            Err(error) => {
                let errors = FieldErrors::from_error(error)?;
                Ok(Err(request_again(
                    conn,
                    &session,
                    &id,
                    errors,
                    String::new(),
                    reason,
                )?))
            }
        }
    })
    .await?;
    match outcome {
        Ok(location) => Ok(see_other(&location)),
        Err(page) => render(StatusCode::UNPROCESSABLE_ENTITY, &page),
    }
}

async fn comment(
    state: web::Data<AppState>,
    form: Form,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let session = form.signed_in()?.clone();
    let id = path.into_inner();
    let body = form.fields.get("body").to_owned();
    let visibility = match form.fields.get("visibility") {
        "internal" => Some(requests::Visibility::Internal),
        "requester" => Some(requests::Visibility::Requester),
        _ => None,
    };
    let outcome = db(&state, move |conn| {
        if body.trim().is_empty() {
            let mut errors = FieldErrors::default();
            errors.add("body", "Write your message first.");
            return Ok(Err(request_again(
                conn,
                &session,
                &id,
                errors,
                body,
                String::new(),
            )?));
        }
        let input = NewComment {
            body: body.clone(),
            visibility,
        };
        match service::comment(conn, &session.principal(), &id, input) {
            Ok(_) => Ok(Ok(format!("/requests/{id}#messages"))),
            Err(error) => {
                let errors = FieldErrors::from_error(error)?;
                Ok(Err(request_again(
                    conn,
                    &session,
                    &id,
                    errors,
                    body,
                    String::new(),
                )?))
            }
        }
    })
    .await?;
    match outcome {
        Ok(location) => Ok(see_other(&location)),
        Err(page) => render(StatusCode::UNPROCESSABLE_ENTITY, &page),
    }
}
