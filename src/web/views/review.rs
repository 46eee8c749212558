//! What coordinators do on a request's page: take it into review, approve
//! (possibly for less), reject with a reason the requester reads, declare
//! a conflict of interest, cancel, pay in parts and record each payment's
//! outcome. Each action calls the service the API calls; the forms that
//! move money run at most once (`views::once`).

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};

use super::requests::request_again;
use super::{db, once, render, see_other, FieldErrors};
use crate::db::DbConnection;
use crate::error::{Error, Result};
use crate::http::AppState;
use crate::ids::DisbursementId;
use crate::ledger::holds::{DisbursementOutcome, NewDisbursement, Outcome};
use crate::requests::{service, NewApproval, OptionalReason, Reason, TakeOwnership};
use crate::web::errors::PageError;
use crate::web::extract::{Fields, Form, Session};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/requests/{id}/review", web::post().to(take))
        .route("/requests/{id}/approve", web::post().to(approve))
        .route("/requests/{id}/reject", web::post().to(reject))
        .route("/requests/{id}/conflict", web::post().to(conflict))
        .route("/requests/{id}/cancel", web::post().to(cancel))
        .route("/requests/{id}/pay", web::post().to(pay))
        .route("/requests/{id}/payments/{payment}", web::post().to(outcome));
}

fn optional(fields: &Fields, name: &str) -> Option<String> {
    fields.opt(name)
}

/// Runs one action; a refusal of a field re-renders the request page with
/// the message beside it (422), other refusals are error pages.
async fn act(
    state: web::Data<AppState>,
    form: Form,
    id: String,
    action: impl FnOnce(&mut DbConnection, &Session, &str, &Fields) -> Result<()> + Send + 'static,
) -> Result<HttpResponse, PageError> {
    let session = form.signed_in()?.clone();
    let fields = form.fields.clone();
    let outcome = db(&state, move |conn| {
        match action(conn, &session, &id, &fields) {
            Ok(()) => Ok(Ok(format!("/requests/{id}"))),
            Err(error) => {
                let errors = FieldErrors::from_error(error)?;
                Ok(Err(request_again(
                    conn,
                    &session,
                    &id,
                    errors,
                    String::new(),
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

async fn take(
    state: web::Data<AppState>,
    form: Form,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    act(state, form, path.into_inner(), |conn, s, id, _| {
        service::take(conn, &s.principal(), id, TakeOwnership::default(), None).map(drop)
    })
    .await
}

async fn approve(
    state: web::Data<AppState>,
    form: Form,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    act(state, form, path.into_inner(), |conn, s, id, f| {
        once(conn, s, &format!("approve {id}"), f, |conn| {
            let input = NewApproval {
                amount: optional(f, "amount"),
            };
            service::approve(conn, &s.principal(), id, input, None).map(drop)
        })
    })
    .await
}

async fn reject(
    state: web::Data<AppState>,
    form: Form,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    act(state, form, path.into_inner(), |conn, s, id, f| {
        let reason = f.get("reason").trim().to_owned();
        if reason.is_empty() {
            return Err(Error::invalid("reason", "say why: the requester reads it"));
        }
        service::reject(conn, &s.principal(), id, Reason { reason }, None).map(drop)
    })
    .await
}

async fn conflict(
    state: web::Data<AppState>,
    form: Form,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    act(state, form, path.into_inner(), |conn, s, id, f| {
        let input = OptionalReason {
            reason: optional(f, "note"),
        };
        service::declare_conflict(conn, &s.principal(), id, input).map(drop)
    })
    .await
}

async fn cancel(
    state: web::Data<AppState>,
    form: Form,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    act(state, form, path.into_inner(), |conn, s, id, f| {
        once(conn, s, &format!("cancel {id}"), f, |conn| {
            let input = OptionalReason {
                reason: optional(f, "cancel_reason"),
            };
            service::cancel(conn, &s.principal(), id, input, None).map(drop)
        })
    })
    .await
}

async fn pay(
    state: web::Data<AppState>,
    form: Form,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    act(state, form, path.into_inner(), |conn, s, id, f| {
        let amount = f.get("pay_amount").trim().to_owned();
        if amount.is_empty() {
            return Err(Error::invalid("pay_amount", "enter the amount to pay now"));
        }
        once(conn, s, &format!("pay {id}"), f, |conn| {
            let input = NewDisbursement {
                amount,
                external_reference: optional(f, "external_reference"),
            };
            service::disburse(conn, &s.principal(), id, input)
                .map(drop)
                .map_err(|e| match e {
                    Error::Invalid { field, message } if field == "amount" => Error::Invalid {
                        field: "pay_amount".into(),
                        message,
                    },
                    other => other,
                })
        })
    })
    .await
}

async fn outcome(
    state: web::Data<AppState>,
    form: Form,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let (id, payment) = path.into_inner();
    act(state, form, id, move |conn, s, id, f| {
        let outcome = match f.get("outcome") {
            "paid" => Outcome::Paid,
            "failed" => Outcome::Failed,
            _ => return Err(Error::invalid("outcome", "choose paid or failed")),
        };
        // The payment must be this request's: the service checks the
        // caller's rights, the page checks it shows the right request.
        let belongs = service::list_disbursements(conn, &s.principal(), id)?
            .iter()
            .any(|d| d.id == payment);
        if !belongs {
            return Err(Error::NotFound { what: "payment" });
        }
        once(conn, s, &format!("outcome {payment}"), f, |conn| {
            let input = DisbursementOutcome {
                outcome,
                external_reference: optional(f, "external_reference"),
                reason: optional(f, "reason"),
            };
            let payment = DisbursementId::from(payment.as_str());
            crate::flows::resolve_manual(conn, &s.principal(), &payment, input).map(drop)
        })
    })
    .await
}
