//! A member's home: for each collective they are active in, its pools
//! (balances, goal, what is held), their requests, pledges and
//! contributions, and the rounds open for their vote.

use actix_web::{web, HttpResponse};
use askama::Template;
use chrono_tz::Tz;

use super::{db, ok, Chrome};
use crate::auth::access::Principal;
use crate::auth::policy::{MembershipStatus, Permission, Role};
use crate::db::DbConnection;
use crate::error::Result;
use crate::http::AppState;
use crate::money::{format_minor, Currency, Money};
use crate::pagination::PageRequest;
use crate::web::errors::PageError;
use crate::web::extract::SignedIn;
use crate::web::format::{date, datetime, money, words};
use crate::{collectives, ledger, pledges, pools, requests, rounds};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(home))
        .route("/c/{collective}", web::get().to(collective_home));
}

pub struct PoolCard {
    pub id: String,
    pub name: String,
    pub description: String,
    pub available: String,
    pub held: String,
    pub deficit: Option<String>,
    pub goal: Option<String>,
    pub raised: String,
    /// Whole percent for the progress bar (0–100) and the exact figure.
    pub progress: u32,
    pub progress_text: String,
    pub may_ask: bool,
}

pub struct RequestLine {
    pub id: String,
    pub summary: String,
    pub amount: String,
    pub state: String,
    pub when: String,
}

pub struct PledgeLine {
    pub id: String,
    pub amount: String,
    pub frequency: String,
    pub status: String,
    pub next_due: String,
    pub due_now: Option<String>,
}

pub struct ContributionLine {
    pub amount: String,
    pub when: String,
}

pub struct RoundLine {
    pub id: String,
    pub title: String,
    pub phase: String,
    pub budget: String,
}

pub struct CollectiveSection {
    pub id: String,
    pub name: String,
    pub time_zone: String,
    pub coordinator: bool,
    pub pools: Vec<PoolCard>,
    pub requests: Vec<RequestLine>,
    pub pledges: Vec<PledgeLine>,
    pub contributions: Vec<ContributionLine>,
    pub open_rounds: Vec<RoundLine>,
    pub decided_rounds: Vec<RoundLine>,
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    chrome: Chrome,
    sections: Vec<CollectiveSection>,
    suspended: Vec<String>,
    invited: Vec<String>,
}

/// An amount the services showed, back in minor units (0 if unreadable).
pub fn minor(decimal: &str, currency: Currency) -> i64 {
    Money::parse("amount", decimal, currency)
        .map(|m| m.minor)
        .unwrap_or(0)
}

pub fn pool_currency(pool: &pools::Pool) -> Result<Currency> {
    Currency::from_code(&pool.currency)
        .ok_or_else(|| crate::error::Error::Internal(format!("pool {} currency", pool.id)))
}

fn first_page(limit: i64) -> PageRequest {
    PageRequest { limit, after: None }
}

/// Everything the home shows of one collective, read through the services
/// with the person as the caller.
pub fn section(
    conn: &mut DbConnection,
    principal: &Principal,
    collective_id: &str,
) -> Result<CollectiveSection> {
    let collective = collectives::service::get(conn, principal, collective_id)?;
    let actor = crate::auth::access::authorize(
        conn,
        principal,
        collective_id,
        Permission::ReadCollective,
        "collective",
    )?;
    let zone: Tz = crate::calendar::zone(&collective.time_zone)?;
    let role = actor.role().unwrap_or(Role::Member);
    let mut pools = Vec::new();
    for pool in pools::service::list(conn, principal, collective_id, &first_page(200))?.items {
        let code = pool.currency.as_str();
        let currency = pool_currency(&pool)?;
        let raised = format_minor(
            minor(&pool.balances.received, currency)
                - minor(&pool.balances.refunded, currency)
                - minor(&pool.balances.fees, currency),
            currency,
        );
        let percent = pool.goal_progress_percent.clone();
        pools.push(PoolCard {
            available: money(&pool.balances.available, code),
            held: money(&pool.balances.held, code),
            deficit: (minor(&pool.balances.deficit, currency) > 0)
                .then(|| money(&pool.balances.deficit, code)),
            goal: pool.goal.as_deref().map(|g| money(g, code)),
            raised: money(&raised, code),
            progress: percent
                .as_deref()
                .and_then(|p| p.split('.').next())
                .and_then(|p| p.parse::<u32>().ok())
                .unwrap_or(0)
                .min(100),
            progress_text: percent.map(|p| format!("{p} %")).unwrap_or_default(),
            may_ask: role >= Role::Coordinator
                || pool.rules.requesters != Some(pools::Requesters::Coordinators),
            id: pool.id,
            name: pool.name,
            description: pool.description,
        });
    }
    let mine = requests::service::Query {
        mine: true,
        ..Default::default()
    };
    let requests = requests::service::list(conn, principal, collective_id, mine, &first_page(200))?
        .items
        .into_iter()
        .rev()
        .map(|r| RequestLine {
            amount: money(&r.amount_requested, &r.currency),
            state: words(r.state.as_str()),
            when: datetime(r.submitted_at.unwrap_or(r.created_at), zone),
            id: r.id,
            summary: r.public_summary,
        })
        .collect();
    let pledges =
        pledges::service::list_mine(conn, principal, collective_id, None, &first_page(200))?
            .items
            .into_iter()
            .map(|p| PledgeLine {
                amount: money(&p.amount, &p.currency),
                frequency: p.frequency.as_str().to_owned(),
                status: p.status.as_str().to_owned(),
                next_due: p.next_due_on.map(date).unwrap_or_default(),
                due_now: Currency::from_code(&p.currency)
                    .is_some_and(|c| minor(&p.due_now, c) > 0)
                    .then(|| money(&p.due_now, &p.currency)),
                id: p.id,
            })
            .collect();
    let contributions =
        ledger::contributions::list_mine(conn, principal, collective_id, &first_page(20))?
            .items
            .into_iter()
            .rev()
            .map(|c| ContributionLine {
                amount: money(&c.amount, &c.currency),
                when: datetime(c.received_at, zone),
            })
            .collect();
    let mut open_rounds = Vec::new();
    let mut decided_rounds = Vec::new();
    for round in rounds::service::list(conn, principal, collective_id)? {
        let line = RoundLine {
            budget: money(&round.budget, &round.currency),
            phase: round.phase.as_str().to_owned(),
            id: round.id,
            title: round.title,
        };
        match round.phase {
            rounds::Phase::Open => open_rounds.push(line),
            rounds::Phase::Tallied | rounds::Phase::Enacted => decided_rounds.push(line),
            _ => {}
        }
    }
    Ok(CollectiveSection {
        id: collective.id,
        name: collective.name,
        time_zone: collective.time_zone,
        coordinator: role >= Role::Coordinator,
        pools,
        requests,
        pledges,
        contributions,
        open_rounds,
        decided_rounds,
    })
}

async fn home(state: web::Data<AppState>, signed_in: SignedIn) -> Result<HttpResponse, PageError> {
    let session = signed_in.0;
    let page = db(&state, move |conn| {
        let principal = session.principal();
        let chrome = Chrome::load(conn, &session, "Home")?;
        let profile = collectives::service::profile(conn, &principal)?;
        let mut sections = Vec::new();
        let mut suspended = Vec::new();
        let mut invited = Vec::new();
        for m in profile.memberships {
            let name = collectives::store::find_collective(conn, &m.collective_id)?
                .map(|c| c.name)
                .unwrap_or_default();
            match m.status {
                MembershipStatus::Active => {
                    sections.push(section(conn, &principal, &m.collective_id)?)
                }
                MembershipStatus::Suspended => suspended.push(name),
                MembershipStatus::Invited => invited.push(name),
            }
        }
        Ok(HomePage {
            chrome,
            sections,
            suspended,
            invited,
        })
    })
    .await?;
    ok(&page)
}

/// One collective's home (a suspended member is refused here, by the same
/// check the API makes).
async fn collective_home(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let session = signed_in.0;
    let collective_id = path.into_inner();
    let page = db(&state, move |conn| {
        let section = section(conn, &session.principal(), &collective_id)?;
        let chrome = Chrome::load(conn, &session, &section.name)?;
        Ok(HomePage {
            chrome,
            sections: vec![section],
            suspended: Vec::new(),
            invited: Vec::new(),
        })
    })
    .await?;
    ok(&page)
}
