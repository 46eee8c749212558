//! Money received, for coordinators: record a contribution (cash, card
//! with its fee; from a member, a named donor or anonymous), a refund or a
//! chargeback (with a dispute fee), and read a pool's statement for a
//! period, as a page or as CSV. Through `ledger::contributions` and
//! `reports::statement`; the forms that move money run once.

use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use chrono::{Datelike, NaiveDate};
use serde::Deserialize;

use super::home::pool_currency;
use super::{db, ok, once, once_key, render, see_other, Chrome, FieldErrors};
use crate::collectives::store::{time_zone, MemberFilter};
use crate::db::DbConnection;
use crate::error::{Error, Result};
use crate::http::AppState;
use crate::ids::{ContributionId, PoolId};
use crate::ledger::contributions::{
    self, Contributor, Method, NewContribution, NewRefund, RefundKind,
};
use crate::pagination::PageRequest;
use crate::reports::statement;
use crate::web::errors::PageError;
use crate::web::extract::{Fields, Form, Session, SignedIn};
use crate::web::format::{datetime, money, words};
use crate::{collectives, pools};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/pools/{pool}/money", web::get().to(money_page))
        .route("/pools/{pool}/contributions", web::post().to(record))
        .route(
            "/pools/{pool}/contributions/{id}/refund",
            web::post().to(refund),
        )
        .route("/pools/{pool}/statement", web::get().to(statement_page))
        .route("/pools/{pool}/statement.csv", web::get().to(statement_csv));
}

pub struct ContributionLine {
    pub id: String,
    pub amount: String,
    pub fee: String,
    pub refunded: Option<String>,
    pub method: String,
    pub from: String,
    pub when: String,
    pub status: String,
}

pub struct MemberChoice {
    pub id: String,
    pub name: String,
}

#[derive(Template)]
#[template(path = "money.html")]
struct MoneyPage {
    chrome: Chrome,
    pool_id: String,
    pool_name: String,
    collective_id: String,
    currency_hint: String,
    available: String,
    held: String,
    deficit: String,
    members: Vec<MemberChoice>,
    contributions: Vec<ContributionLine>,
    errors: FieldErrors,
    /// Which form the messages are for: `contribution` or a contribution id.
    errors_for: String,
    once: String,
    from: String,
    to: String,
}

fn page(
    conn: &mut DbConnection,
    session: &Session,
    pool_id: &str,
    errors: FieldErrors,
    errors_for: &str,
) -> Result<MoneyPage> {
    let principal = session.principal();
    let list = contributions::list(
        conn,
        &principal,
        &PoolId::from(pool_id),
        &PageRequest {
            limit: 100,
            after: None,
        },
    )?;
    let pool = pools::service::get(conn, &principal, pool_id)?;
    let zone = time_zone(conn, &pool.collective_id)?;
    let code = pool.currency.clone();
    let currency = pool_currency(&pool)?;
    let members = collectives::service::list_members(
        conn,
        &principal,
        &pool.collective_id,
        MemberFilter {
            status: Some("active".into()),
            role: None,
        },
        &PageRequest {
            limit: 200,
            after: None,
        },
    )?
    .items;
    let name_of = |id: &str| {
        members
            .iter()
            .find(|m| m.id == id)
            .map(|m| m.display_name.clone())
    };
    let today = crate::calendar::today(zone, crate::clock::now_utc());
    let contributions = list
        .items
        .into_iter()
        .rev()
        .map(|c| ContributionLine {
            amount: money(&c.amount, &code),
            fee: money(&c.fee, &code),
            refunded: (super::home::minor(&c.refunded, currency) > 0)
                .then(|| money(&c.refunded, &code)),
            method: words(&c.method),
            from: if c.anonymous {
                "anonymous".into()
            } else {
                c.member_id
                    .as_deref()
                    .and_then(name_of)
                    .or(c.donor_name.clone())
                    .unwrap_or_else(|| "not named".into())
            },
            when: datetime(c.received_at, zone),
            status: words(c.status.as_str()),
            id: c.id,
        })
        .collect();
    Ok(MoneyPage {
        chrome: Chrome::load(conn, session, "Money received")?,
        available: money(&pool.balances.available, &code),
        held: money(&pool.balances.held, &code),
        deficit: money(&pool.balances.deficit, &code),
        pool_id: pool.id,
        pool_name: pool.name,
        collective_id: pool.collective_id,
        currency_hint: format!("In {code}"),
        members: members
            .into_iter()
            .map(|m| MemberChoice {
                id: m.id,
                name: m.display_name,
            })
            .collect(),
        contributions,
        errors,
        errors_for: errors_for.to_owned(),
        once: once_key(),
        from: today.with_day(1).unwrap_or(today).to_string(),
        to: today.to_string(),
    })
}

async fn money_page(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let session = signed_in.0;
    let pool_id = path.into_inner();
    let page = db(&state, move |conn| {
        page(conn, &session, &pool_id, FieldErrors::default(), "")
    })
    .await?;
    ok(&page)
}

fn method(text: &str) -> Result<Method> {
    Ok(match text {
        "cash" => Method::Cash,
        "card" => Method::Card,
        "bank_transfer" => Method::BankTransfer,
        "mobile_money" => Method::MobileMoney,
        "other" => Method::Other,
        _ => return Err(Error::invalid("method", "choose how the money came")),
    })
}

fn contributor(fields: &Fields) -> Option<Contributor> {
    match fields.get("from") {
        "member" => Some(Contributor {
            member_id: fields.opt("member_id"),
            donor_name: None,
            donor_email: None,
            anonymous: false,
        }),
        "donor" => Some(Contributor {
            member_id: None,
            donor_name: fields.opt("donor_name"),
            donor_email: None,
            anonymous: false,
        }),
        "anonymous" => Some(Contributor {
            member_id: None,
            donor_name: None,
            donor_email: None,
            anonymous: true,
        }),
        _ => None,
    }
}

async fn finish_money(
    state: web::Data<AppState>,
    form: Form,
    pool_id: String,
    errors_for: String,
    work: impl FnOnce(&mut DbConnection, &Session, &Fields) -> Result<()> + Send + 'static,
) -> Result<HttpResponse, PageError> {
    let session = form.signed_in()?.clone();
    let fields = form.fields.clone();
    let outcome = db(&state, move |conn| match work(conn, &session, &fields) {
        Ok(()) => Ok(Ok(format!("/pools/{pool_id}/money"))),
        Err(error) => {
            let errors = FieldErrors::from_error(error)?;
            Ok(Err(page(conn, &session, &pool_id, errors, &errors_for)?))
        }
    })
    .await?;
    match outcome {
        Ok(location) => Ok(see_other(&location)),
        Err(page) => render(StatusCode::UNPROCESSABLE_ENTITY, &page),
    }
}

async fn record(
    state: web::Data<AppState>,
    form: Form,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let pool_id = path.into_inner();
    let pool = pool_id.clone();
    finish_money(
        state,
        form,
        pool_id,
        "contribution".into(),
        move |conn, s, f| {
            let amount = f.get("amount").trim().to_owned();
            if amount.is_empty() {
                return Err(Error::invalid("amount", "enter the amount received"));
            }
            let input = NewContribution {
                amount,
                fee: f.opt("fee"),
                method: method(f.get("method"))?,
                external_reference: f.opt("external_reference"),
                contributor: contributor(f),
                note: f.opt("note"),
                received_at: None,
                pledge_id: None,
            };
            once(conn, s, &format!("contribute {pool}"), f, |conn| {
                let pool = PoolId::from(pool.as_str());
                crate::flows::record_contribution(conn, &s.principal(), &pool, input).map(drop)
            })
        },
    )
    .await
}

async fn refund(
    state: web::Data<AppState>,
    form: Form,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let (pool_id, id) = path.into_inner();
    let for_this = id.clone();
    finish_money(state, form, pool_id, for_this, move |conn, s, f| {
        let amount = f.get("refund_amount").trim().to_owned();
        if amount.is_empty() {
            return Err(Error::invalid(
                "refund_amount",
                "enter the amount that went back",
            ));
        }
        let kind = match f.get("kind") {
            "chargeback" => RefundKind::Chargeback,
            _ => RefundKind::Refund,
        };
        let input = NewRefund {
            amount,
            kind,
            reason: f.opt("reason"),
            dispute_fee: f.opt("dispute_fee"),
        };
        once(conn, s, &format!("refund {id}"), f, |conn| {
            crate::flows::refund(
                conn,
                &s.principal(),
                &ContributionId::from(id.as_str()),
                input,
            )
            .map(drop)
            .map_err(|e| match e {
                Error::Invalid { field, message } if field == "amount" => Error::Invalid {
                    field: "refund_amount".into(),
                    message,
                },
                other => other,
            })
        })
    })
    .await
}

#[derive(Deserialize)]
struct Period {
    from: Option<String>,
    to: Option<String>,
}

fn period(query: &Period, today: NaiveDate) -> Result<(NaiveDate, NaiveDate)> {
    let parse = |field: &str, text: Option<&String>, default: NaiveDate| match text
        .map(|t| t.trim())
        .filter(|t| !t.is_empty())
    {
        None => Ok(default),
        Some(t) => NaiveDate::parse_from_str(t, "%Y-%m-%d")
            .map_err(|_| Error::invalid(field, "give a date like 2026-11-01")),
    };
    Ok((
        parse(
            "from",
            query.from.as_ref(),
            today.with_day(1).unwrap_or(today),
        )?,
        parse("to", query.to.as_ref(), today)?,
    ))
}

pub struct StatementLineView {
    pub date: String,
    pub kind: String,
    pub inflow: String,
    pub outflow: String,
    pub fees: String,
    pub balance: String,
}

#[derive(Template)]
#[template(path = "statement.html")]
struct StatementPage {
    chrome: Chrome,
    pool_id: String,
    pool_name: String,
    from: String,
    to: String,
    opening: String,
    closing: String,
    closing_available: String,
    closing_held: String,
    inflows: String,
    outflows: String,
    fees: String,
    net: String,
    lines: Vec<StatementLineView>,
    csv: String,
}

async fn load_statement(
    state: &web::Data<AppState>,
    session: Session,
    pool_id: String,
    query: Period,
) -> Result<(statement::Statement, String), PageError> {
    db(state, move |conn| {
        let principal = session.principal();
        let pool = pools::service::get(conn, &principal, &pool_id)?;
        let zone = time_zone(conn, &pool.collective_id)?;
        let (from, to) = period(
            &query,
            crate::calendar::today(zone, crate::clock::now_utc()),
        )?;
        Ok((
            statement::statement(conn, &principal, &pool_id, from, to)?,
            pool.name,
        ))
    })
    .await
}

async fn statement_page(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    path: web::Path<String>,
    query: crate::http::extract::Query<Period>,
) -> Result<HttpResponse, PageError> {
    let session = signed_in.0;
    let pool_id = path.into_inner();
    let (s, pool_name) =
        load_statement(&state, session.clone(), pool_id.clone(), query.into_inner()).await?;
    let code = s.currency.clone();
    let m = |v: &str| money(v, &code);
    let chrome = db(&state, move |conn| {
        Chrome::load(conn, &session, "Statement")
    })
    .await?;
    let csv = format!(
        "/pools/{pool_id}/statement.csv?{}",
        serde_urlencoded::to_string([("from", s.from.to_string()), ("to", s.to.to_string())])
            .unwrap_or_default()
    );
    let page = StatementPage {
        chrome,
        pool_name,
        from: s.from.to_string(),
        to: s.to.to_string(),
        opening: m(&s.opening.balance),
        closing: m(&s.closing.balance),
        closing_available: m(&s.closing.available),
        closing_held: m(&s.closing.held),
        inflows: m(&s.totals.inflows),
        outflows: m(&s.totals.outflows),
        fees: m(&s.totals.fees),
        net: m(&s.totals.net_change),
        lines: s
            .lines
            .iter()
            .map(|l| StatementLineView {
                date: crate::web::format::date(l.date),
                kind: words(&l.kind),
                inflow: m(&l.inflow),
                outflow: m(&l.outflow),
                fees: m(&l.fees),
                balance: m(&l.balance),
            })
            .collect(),
        csv,
        pool_id,
    };
    ok(&page)
}

async fn statement_csv(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    path: web::Path<String>,
    query: crate::http::extract::Query<Period>,
) -> Result<HttpResponse, PageError> {
    let (s, _) = load_statement(&state, signed_in.0, path.into_inner(), query.into_inner()).await?;
    let filename = format!("statement-{}-{}-{}.csv", s.pool_id, s.from, s.to);
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{filename}\""),
        ))
        .body(statement::to_csv(&s)))
}
