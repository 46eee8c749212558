//! A public pool's summary, for anyone, without signing in: goal and
//! progress, money in and out by month, requests helped by category.
//! Drawn by `reports::summary::summary`, the API's public summary, so the
//! same rules decide what may be shown (nothing that identifies anyone).

use actix_web::{web, HttpResponse};
use askama::Template;

use super::{db, ok, Chrome};
use crate::http::AppState;
use crate::reports::summary::{self, SummaryView};
use crate::web::errors::PageError;
use crate::web::format::{date, money};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/public/pools/{id}", web::get().to(summary_page));
}

pub struct MonthLine {
    pub month: String,
    pub received: String,
}

/// A period or category: its requests and what they were paid, or "fewer
/// than N requests" (`figure`), without an amount.
pub struct FlowLine {
    pub label: String,
    pub figure: String,
}

#[derive(Template)]
#[template(path = "public_pool.html")]
struct SummaryPage {
    chrome: Chrome,
    name: String,
    as_of: String,
    goal: Option<String>,
    raised: String,
    progress: u32,
    progress_text: String,
    available: Option<String>,
    paid_out: Option<String>,
    requests_helped: Option<u32>,
    months: Vec<MonthLine>,
    periods: Vec<FlowLine>,
    categories: Vec<FlowLine>,
    min_group: u32,
}

async fn summary_page(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    let min_group = state.settings.summary_min_group;
    // Without a session, the public view: the service decides whether the
    // pool is public.
    let s = db(&state, move |conn| {
        summary::summary(conn, None, &id, min_group, Some(SummaryView::Public))
    })
    .await?;
    let code = s.currency.clone();
    let m = |v: &str| money(v, &code);
    let page = SummaryPage {
        chrome: Chrome {
            demo: s.demo,
            ..Chrome::bare(&s.name)
        },
        as_of: date(s.as_of),
        goal: s.goal.as_deref().map(m),
        raised: m(&s.raised),
        progress: s
            .goal_progress_percent
            .as_deref()
            .and_then(|p| p.split('.').next())
            .and_then(|p| p.parse::<u32>().ok())
            .unwrap_or(0)
            .min(100),
        progress_text: s
            .goal_progress_percent
            .clone()
            .map(|p| format!("{p} %"))
            .unwrap_or_default(),
        available: s.available.as_deref().map(m),
        paid_out: s.paid_out.as_deref().map(m),
        requests_helped: s.requests_helped,
        months: s
            .months
            .iter()
            .map(|x| MonthLine {
                month: x.month.clone(),
                received: m(&x.received),
            })
            .collect(),
        periods: s
            .periods
            .iter()
            .map(|p| FlowLine {
                label: p.period.clone(),
                figure: figure(p.requests, p.paid_out.as_deref(), p.fewer_than, &m),
            })
            .collect(),
        categories: s
            .categories
            .iter()
            .map(|c| FlowLine {
                label: c.category.clone(),
                figure: figure(c.requests, c.paid_out.as_deref(), c.fewer_than, &m),
            })
            .collect(),
        min_group: s.min_group,
        name: s.name,
    };
    ok(&page)
}

/// "3 requests, €120.00", or "fewer than 3 requests" with no amount.
fn figure(
    requests: Option<u32>,
    paid_out: Option<&str>,
    fewer_than: Option<u32>,
    money: &dyn Fn(&str) -> String,
) -> String {
    match (requests, paid_out, fewer_than) {
        (Some(1), Some(paid), _) => format!("1 request, {}", money(paid)),
        (Some(n), Some(paid), _) => format!("{n} requests, {}", money(paid)),
        (_, _, Some(n)) => format!("fewer than {n} requests"),
        _ => String::new(),
    }
}
