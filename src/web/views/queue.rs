//! The coordinators' queue: requests by state, urgency, needed-by date,
//! pool, category and owner, with counts per state; urgent ones first,
//! oldest first within each; "mine" and "unowned" views. Read through
//! `requests::service` (which refuses members: `ReviewRequests` for the
//! counts), so a member gets a 403 page and none of the queue.

use actix_web::{web, HttpResponse};
use askama::Template;
use chrono::NaiveDate;
use serde::Deserialize;

use super::{db, ok, Chrome};
use crate::collectives::store::time_zone;
use crate::error::Error;
use crate::http::AppState;
use crate::pagination::PageRequest;
use crate::pools;
use crate::requests::service::{self, Query};
use crate::requests::{State, Urgency};
use crate::web::errors::PageError;
use crate::web::extract::SignedIn;
use crate::web::format::{date, datetime, money, words};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/c/{collective}/queue", web::get().to(queue));
}

/// The states a coordinator works on, in the order of the work.
const OPEN: [State; 5] = [
    State::Submitted,
    State::InReview,
    State::InVote,
    State::Approved,
    State::PartiallyPaid,
];

#[derive(Debug, Default, Deserialize)]
pub struct QueueFilter {
    pub state: Option<String>,
    pub urgency: Option<String>,
    pub pool: Option<String>,
    pub category: Option<String>,
    /// `mine`, `unowned`, or empty for everyone's.
    pub owner: Option<String>,
    pub needed_before: Option<String>,
    pub cursor: Option<String>,
}

pub struct QueueLine {
    pub id: String,
    pub summary: String,
    pub amount: String,
    pub state: String,
    pub emergency: bool,
    pub needed_by: String,
    pub category: String,
    pub pool: String,
    pub owner: String,
    pub approvals: String,
    pub submitted: String,
}

pub struct StateCount {
    pub state: String,
    pub label: String,
    pub count: i64,
}

pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "queue.html")]
struct QueuePage {
    chrome: Chrome,
    collective_id: String,
    counts: Vec<StateCount>,
    urgent: Vec<QueueLine>,
    others: Vec<QueueLine>,
    next: Option<String>,
    states: Vec<Choice>,
    pools: Vec<Choice>,
    owners: Vec<Choice>,
    urgency: String,
    category: String,
    needed_before: String,
    problem: String,
}

const PAGE: i64 = 50;

async fn queue(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    path: web::Path<String>,
    query: crate::http::extract::Query<QueueFilter>,
) -> Result<HttpResponse, PageError> {
    let session = signed_in.0;
    let collective_id = path.into_inner();
    let filter = query.into_inner();
    let page = db(&state, move |conn| {
        let principal = session.principal();
        // Coordinators only: the counts are theirs, and so is this page.
        let counts = service::counts(conn, &principal, &collective_id)?;
        let zone = time_zone(conn, &collective_id)?;
        let mut problem = String::new();
        let states: Vec<State> = match filter.state.as_deref().filter(|s| !s.is_empty()) {
            None => OPEN.to_vec(),
            Some("all") => Vec::new(),
            Some(name) => match State::parse(name) {
                Some(s) => vec![s],
                None => {
                    problem = format!("{name:?} is not a state; showing the open ones.");
                    OPEN.to_vec()
                }
            },
        };
        let needed_by_before = match filter.needed_before.as_deref().filter(|s| !s.is_empty()) {
            None => None,
            Some(text) => match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
                Ok(d) => Some(d),
                Err(_) => {
                    problem = "Give the needed-by date like 2026-12-24.".into();
                    None
                }
            },
        };
        let owner = filter.owner.clone().unwrap_or_default();
        let base = Query {
            states: states.clone(),
            pool_id: filter.pool.clone().filter(|p| !p.is_empty()),
            category: filter.category.clone().filter(|c| !c.trim().is_empty()),
            urgency: None,
            owner: (owner == "mine").then(|| "me".to_owned()),
            unowned: owner == "unowned",
            needed_by_before,
            ..Default::default()
        };
        let pools = pools::service::list(
            conn,
            &principal,
            &collective_id,
            &PageRequest {
                limit: 200,
                after: None,
            },
        )?
        .items;
        let pool_name = |id: &str| {
            pools
                .iter()
                .find(|p| p.id == id)
                .map(|p| p.name.clone())
                .unwrap_or_default()
        };
        let my_id = session.user_id.clone();
        let line = |r: crate::requests::AidRequest| QueueLine {
            amount: money(&r.amount_requested, &r.currency),
            state: words(r.state.as_str()),
            emergency: r.urgency == Urgency::Emergency,
            needed_by: r.needed_by.map(date).unwrap_or_default(),
            pool: pool_name(&r.pool_id),
            owner: match r.owner_user_id.as_deref() {
                None => "nobody yet".into(),
                Some(o) if o == my_id => "you".into(),
                Some(_) => "another coordinator".into(),
            },
            approvals: format!("{} of {}", r.approvals, r.approvals_needed),
            submitted: datetime(r.submitted_at.unwrap_or(r.created_at), zone),
            category: r.category,
            summary: r.public_summary,
            id: r.id,
        };
        let want_urgent = filter.urgency.as_deref() != Some("standard");
        let want_standard = filter.urgency.as_deref() != Some("emergency");
        // Urgent ones first, all of them (oldest first), then the others a page at a time.
        let urgent = if want_urgent && filter.cursor.is_none() {
            let q = Query {
                urgency: Some(Urgency::Emergency),
                ..base.clone()
            };
            service::list(
                conn,
                &principal,
                &collective_id,
                q,
                &PageRequest {
                    limit: 200,
                    after: None,
                },
            )?
            .items
            .into_iter()
            .map(line)
            .collect()
        } else {
            Vec::new()
        };
        let (others, next) = if want_standard {
            let q = Query {
                urgency: Some(Urgency::Standard),
                ..base.clone()
            };
            let page = service::list(
                conn,
                &principal,
                &collective_id,
                q,
                &PageRequest {
                    limit: PAGE,
                    after: filter.cursor.clone(),
                },
            )
            .map_err(|e| match e {
                Error::Invalid { .. } => Error::NotFound { what: "page" },
                other => other,
            })?;
            let next = page.next_cursor.map(|cursor| {
                let params = [
                    ("state", filter.state.clone().unwrap_or_default()),
                    ("owner", owner.clone()),
                    ("pool", filter.pool.clone().unwrap_or_default()),
                    ("urgency", filter.urgency.clone().unwrap_or_default()),
                    ("category", filter.category.clone().unwrap_or_default()),
                    (
                        "needed_before",
                        filter.needed_before.clone().unwrap_or_default(),
                    ),
                    ("cursor", cursor),
                ];
                format!(
                    "/c/{collective_id}/queue?{}",
                    serde_urlencoded::to_string(params).unwrap_or_default()
                )
            });
            (page.items.into_iter().map(line).collect(), next)
        } else {
            (Vec::new(), None)
        };
        let chosen_state = filter.state.clone().unwrap_or_default();
        let mut state_options = vec![
            Choice {
                value: String::new(),
                label: "Open (to work on)".into(),
                selected: chosen_state.is_empty(),
            },
            Choice {
                value: "all".into(),
                label: "All".into(),
                selected: chosen_state == "all",
            },
        ];
        for s in State::ALL {
            state_options.push(Choice {
                value: s.as_str().into(),
                label: words(s.as_str()),
                selected: chosen_state == s.as_str(),
            });
        }
        let chosen_pool = filter.pool.clone().unwrap_or_default();
        let mut pool_options = vec![Choice {
            value: String::new(),
            label: "All pools".into(),
            selected: chosen_pool.is_empty(),
        }];
        for p in &pools {
            pool_options.push(Choice {
                value: p.id.clone(),
                label: p.name.clone(),
                selected: chosen_pool == p.id,
            });
        }
        let owners = [
            ("", "Everyone's"),
            ("mine", "Mine"),
            ("unowned", "Nobody's yet"),
        ]
        .into_iter()
        .map(|(v, l)| Choice {
            value: v.into(),
            label: l.into(),
            selected: owner == v,
        })
        .collect();
        Ok(QueuePage {
            chrome: Chrome::load(conn, &session, "Queue")?,
            counts: counts
                .counts
                .into_iter()
                .filter(|(_, n)| *n > 0)
                .map(|(s, count)| StateCount {
                    label: words(&s),
                    state: s,
                    count,
                })
                .collect(),
            collective_id,
            urgent,
            others,
            next,
            states: state_options,
            pools: pool_options,
            owners,
            urgency: filter.urgency.unwrap_or_default(),
            category: filter.category.unwrap_or_default(),
            needed_before: filter.needed_before.unwrap_or_default(),
            problem,
        })
    })
    .await?;
    ok(&page)
}
