//! A budgeting round as members see it: the ballot while it is open
//! (approval with a running total against the limits, cumulative points,
//! or a ranking), changeable until it closes; then the results with the
//! reason each request was funded or not. Ballots are cast through
//! `rounds::voting`, results read from `rounds::service` — no rule here.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;

use super::home::minor;
use super::{db, ok, render, see_other, Chrome, FieldErrors};
use crate::db::DbConnection;
use crate::error::{Error, Result};
use crate::http::AppState;
use crate::money::{format_minor, Currency};
use crate::rounds::{service, voting, BallotChoices, BallotType, Phase};
use crate::web::errors::PageError;
use crate::web::extract::{Fields, Form, Session, SignedIn};
use crate::web::format::{money, words};
use crate::{affectedness, requests};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/rounds/{id}", web::get().to(round_page))
        .route("/rounds/{id}/ballot", web::post().to(cast))
        .route("/rounds/{id}/ballot/withdraw", web::post().to(withdraw));
}

pub struct CandidateLine {
    pub id: String,
    pub summary: String,
    pub category: String,
    pub cost: String,
    pub cost_minor: i64,
    /// The ballot as saved (or as just sent back with a message).
    pub approved: bool,
    pub points: String,
    pub rank: String,
}

pub struct ResultLine {
    pub summary: String,
    pub cost: String,
    pub support: String,
    pub selected: bool,
    pub why: String,
}

pub struct TierLine {
    pub tier: String,
    pub weight_each: String,
    pub voters: i64,
    pub total_weight: i64,
}

pub struct ResultView {
    pub rule: String,
    pub spent: String,
    pub left: String,
    pub voters: i64,
    pub total_weight: i64,
    pub set_aside: i64,
    pub lines: Vec<ResultLine>,
    pub tiers: Vec<TierLine>,
    pub count_unverified: bool,
}

/// One tier's turnout so far, for those who run an open round.
pub struct TurnoutLine {
    pub tier: String,
    pub weight_each: u32,
    pub eligible: i64,
    pub voted: i64,
    /// Whole per cent of the tier's eligible members who voted.
    pub percent: i64,
}

/// The tier's name as members read it.
fn tier_words(tier: &str) -> String {
    match affectedness::Tier::parse(tier) {
        Some(affectedness::Tier::Direct) => "Directly affected".into(),
        Some(affectedness::Tier::Indirect) => "Indirectly affected".into(),
        Some(affectedness::Tier::Supporter) => "Supporters".into(),
        None => "No declaration".into(),
    }
}

#[derive(Template)]
#[template(path = "round.html")]
struct RoundPage {
    chrome: Chrome,
    id: String,
    title: String,
    phase: String,
    budget: String,
    /// `approval`, `cumulative` or `ranked`.
    kind: String,
    limits: String,
    max_count: u32,
    max_cost_minor: i64,
    points: u32,
    exponent: u8,
    symbol: String,
    running_total: String,
    over: bool,
    open: bool,
    has_ballot: bool,
    candidates: Vec<CandidateLine>,
    result: Option<ResultView>,
    errors: FieldErrors,
    saved: bool,
    /// Coordinators run the round from here.
    manager: bool,
    /// While it is open, for coordinators: who has voted so far, per tier.
    turnout: Vec<TurnoutLine>,
    once: String,
}

/// What each verdict means, in words a member can check against the numbers.
fn why(verdict: &str, rule: &str) -> String {
    match (verdict, rule) {
        ("selected", "greedy") => {
            "Funded: among the most supported (by weight) for its cost, and it fit the budget left."
                .into()
        }
        ("selected", _) => {
            "Funded: its supporters’ equal shares of the budget could pay for it.".into()
        }
        ("unaffordable", _) => {
            "Not funded: its supporters’ shares of the budget ran out before they could pay for it."
                .into()
        }
        ("did_not_fit", _) => {
            "Not funded: when its turn came, less budget was left than it costs.".into()
        }
        ("no_support", _) => "Not funded: nobody voted for it.".into(),
        (other, _) => words(other),
    }
}

fn rule_words(rule: &str) -> String {
    match rule {
        "mes-add1" => "Method of Equal Shares (with completion): every voter gets an equal share of the budget, weighted; requests are funded when their supporters can pay for them together.".into(),
        "mes" => "Method of Equal Shares: every voter gets an equal share of the budget, weighted; requests are funded when their supporters can pay for them together.".into(),
        "greedy" => "Most support first: requests are funded in order of weighted support for their cost, while the budget lasts.".into(),
        other => other.into(),
    }
}

fn symbol(code: &str) -> String {
    let sample = money("0", code);
    sample.trim_end_matches('0').trim_end().to_owned()
}

struct Draft<'a> {
    choices: Option<&'a BallotChoices>,
}

fn load(
    conn: &mut DbConnection,
    session: &Session,
    id: &str,
    draft: Draft<'_>,
    errors: FieldErrors,
    saved: bool,
) -> Result<RoundPage> {
    let principal = session.principal();
    let round = service::get(conn, &principal, id)?;
    let currency = Currency::from_code(&round.currency)
        .ok_or_else(|| Error::Internal(format!("round {} currency", round.id)))?;
    let code = round.currency.clone();
    let open = round.phase == Phase::Open;
    let saved_ballot = if open {
        match voting::mine(conn, &principal, id) {
            Ok(b) => Some(b.choices),
            Err(Error::NotFound { .. }) | Err(Error::Forbidden { .. }) => None,
            Err(other) => return Err(other),
        }
    } else {
        None
    };
    let has_ballot = saved_ballot.is_some();
    let choices = draft.choices.cloned().or(saved_ballot).unwrap_or_default();
    let mut candidates = Vec::new();
    let mut summaries = BTreeMap::new();
    for request_id in &round.candidates {
        let r = requests::service::get(conn, &principal, request_id)?;
        let cost_minor = minor(&r.amount_requested, currency);
        summaries.insert(
            r.id.clone(),
            (r.public_summary.clone(), money(&r.amount_requested, &code)),
        );
        candidates.push(CandidateLine {
            approved: choices.approve.contains(&r.id),
            points: choices
                .points
                .get(&r.id)
                .map(|p| p.to_string())
                .unwrap_or_default(),
            rank: choices
                .ranking
                .iter()
                .position(|x| *x == r.id)
                .map(|p| (p + 1).to_string())
                .unwrap_or_default(),
            cost: money(&r.amount_requested, &code),
            cost_minor,
            summary: r.public_summary,
            category: r.category,
            id: r.id,
        });
    }
    let (kind, limits, max_count, max_cost_minor, points) = match &round.ballot {
        BallotType::Approval { min_count, max_count, max_cost } => {
            let mut parts = Vec::new();
            if *min_count > 0 {
                parts.push(format!("at least {min_count}"));
            }
            if let Some(max) = max_count {
                parts.push(format!("at most {max} requests"));
            }
            if let Some(cost) = max_cost {
                parts.push(format!("costing at most {} together", money(cost, &code)));
            }
            let text = if parts.is_empty() {
                "Approve as many requests as you support.".to_owned()
            } else {
                format!("Approve the requests you support: {}.", parts.join(", "))
            };
            (
                "approval",
                text,
                max_count.unwrap_or(0),
                max_cost.as_deref().map(|c| minor(c, currency)).unwrap_or(0),
                0,
            )
        }
        BallotType::Cumulative { points } => (
            "cumulative",
            format!("Share up to {points} points among the requests you support: more points for what matters more to you."),
            0,
            0,
            *points,
        ),
        BallotType::Ranked { max_ranked } => (
            "ranked",
            match max_ranked {
                Some(max) => format!("Rank up to {max} requests: 1 for the one you want most."),
                None => "Rank the requests you support: 1 for the one you want most.".into(),
            },
            0,
            0,
            0,
        ),
    };
    let chosen_count = choices.approve.len() as u32;
    let chosen_cost: i64 = candidates
        .iter()
        .filter(|c| c.approved)
        .map(|c| c.cost_minor)
        .sum();
    let used_points: u64 = choices.points.values().map(|p| u64::from(*p)).sum();
    let (running_total, over) = match kind {
        "approval" => (
            format!(
                "{chosen_count} chosen, {}{}",
                money(&format_minor(chosen_cost, currency), &code),
                if max_cost_minor > 0 {
                    format!(
                        " of {}",
                        money(&format_minor(max_cost_minor, currency), &code)
                    )
                } else {
                    String::new()
                }
            ),
            (max_count > 0 && chosen_count > max_count)
                || (max_cost_minor > 0 && chosen_cost > max_cost_minor),
        ),
        "cumulative" => (
            format!("{used_points} of {points} points used"),
            used_points > u64::from(points),
        ),
        _ => (String::new(), false),
    };
    let result = if matches!(round.phase, Phase::Tallied | Phase::Enacted) {
        let r = service::results(conn, &principal, id)?;
        let weight_of = |tier: &str| match tier {
            "direct" => r.policy.direct.to_string(),
            "indirect" => r.policy.indirect.to_string(),
            "supporter" => r.policy.supporter.to_string(),
            _ => r.policy.no_declaration.to_string(),
        };
        let mut lines: Vec<ResultLine> = r
            .candidates
            .iter()
            .map(|c| {
                let (summary, _) = summaries.get(&c.request_id).cloned().unwrap_or_default();
                ResultLine {
                    summary,
                    cost: money(&c.cost, &code),
                    support: c.support.clone(),
                    selected: c.selected,
                    why: why(&c.verdict, &r.rule),
                }
            })
            .collect();
        lines.sort_by_key(|l| !l.selected);
        Some(ResultView {
            rule: rule_words(&r.rule),
            spent: money(&r.spent, &code),
            left: money(&r.left, &code),
            voters: r.voters,
            total_weight: r.total_weight,
            set_aside: r.set_aside,
            tiers: r
                .participation
                .iter()
                .map(|t| TierLine {
                    weight_each: weight_of(&t.tier),
                    tier: tier_words(&t.tier),
                    voters: t.voters,
                    total_weight: t.total_weight,
                })
                .collect(),
            count_unverified: r.policy.count_unverified,
            lines,
        })
    } else {
        None
    };
    let manager = crate::auth::access::authorize(
        conn,
        &principal,
        &round.collective_id,
        crate::auth::policy::Permission::ManageRounds,
        "round",
    )
    .is_ok();
    let turnout = if manager && open {
        service::participation(conn, &principal, id)?
            .into_iter()
            .map(|t| TurnoutLine {
                tier: tier_words(t.tier),
                weight_each: t.weight,
                percent: (t.voted * 100).checked_div(t.eligible).unwrap_or(0),
                eligible: t.eligible,
                voted: t.voted,
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(RoundPage {
        manager,
        turnout,
        once: super::once_key(),
        chrome: Chrome::load(conn, session, &round.title)?,
        id: round.id,
        title: round.title,
        phase: round.phase.as_str().to_owned(),
        budget: money(&round.budget, &code),
        kind: kind.to_owned(),
        limits,
        max_count,
        max_cost_minor,
        points,
        exponent: currency.exponent,
        symbol: symbol(&code),
        running_total,
        over,
        open,
        has_ballot,
        candidates,
        result,
        errors,
        saved,
    })
}

#[derive(serde::Deserialize)]
struct Saved {
    saved: Option<String>,
}

async fn round_page(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    path: web::Path<String>,
    query: crate::http::extract::Query<Saved>,
) -> Result<HttpResponse, PageError> {
    let session = signed_in.0;
    let id = path.into_inner();
    let saved = query.saved.is_some();
    let page = db(&state, move |conn| {
        load(
            conn,
            &session,
            &id,
            Draft { choices: None },
            FieldErrors::default(),
            saved,
        )
    })
    .await?;
    ok(&page)
}

/// The ballot as the form sent it: `approve` checkboxes, `points_<id>`
/// numbers, or `rank_<id>` positions. Unreadable numbers are named.
fn choices_of(fields: &Fields, errors: &mut FieldErrors) -> BallotChoices {
    let mut choices = BallotChoices {
        approve: fields.all("approve"),
        ..Default::default()
    };
    let mut ranked: Vec<(u32, String)> = Vec::new();
    for (name, value) in &fields.0 {
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        if let Some(id) = name.strip_prefix("points_") {
            match value.parse::<u32>() {
                Ok(0) => {}
                Ok(n) => {
                    choices.points.insert(id.to_owned(), n);
                }
                Err(_) => errors.add("points", "Give points as whole numbers, like 3."),
            }
        } else if let Some(id) = name.strip_prefix("rank_") {
            match value.parse::<u32>() {
                Ok(n) if n >= 1 => ranked.push((n, id.to_owned())),
                _ => errors.add("ranking", "Give ranks as whole numbers from 1."),
            }
        }
    }
    ranked.sort();
    if ranked.windows(2).any(|w| w[0].0 == w[1].0) {
        errors.add("ranking", "Give each request a different rank.");
    }
    choices.ranking = ranked.into_iter().map(|(_, id)| id).collect();
    choices
}

async fn cast(
    state: web::Data<AppState>,
    form: Form,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let session = form.signed_in()?.clone();
    let id = path.into_inner();
    let fields = form.fields.clone();
    let outcome = db(&state, move |conn| {
        let mut errors = FieldErrors::default();
        let choices = choices_of(&fields, &mut errors);
        if errors.is_empty() {
            match voting::cast(conn, &session.principal(), &id, choices.clone()) {
                Ok(_) => return Ok(Ok(format!("/rounds/{id}?saved=1"))),
                Err(error) => errors = FieldErrors::from_error(error)?,
            }
        }
        Ok(Err(load(
            conn,
            &session,
            &id,
            Draft {
                choices: Some(&choices),
            },
            errors,
            false,
        )?))
    })
    .await?;
    match outcome {
        Ok(location) => Ok(see_other(&location)),
        Err(page) => render(StatusCode::UNPROCESSABLE_ENTITY, &page),
    }
}

async fn withdraw(
    state: web::Data<AppState>,
    form: Form,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let session = form.signed_in()?.clone();
    let id = path.into_inner();
    let target = format!("/rounds/{id}");
    db(&state, move |conn| {
        voting::withdraw(conn, &session.principal(), &id)
    })
    .await?;
    Ok(see_other(&target))
}
