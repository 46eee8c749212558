//! A public pool's summary, for anyone, without signing in: goal and
//! progress, money in and out by month, requests helped by category.
//! Drawn by `reports::summary::summary`, the API's public summary, so the
//! same rules decide what may be shown (nothing that identifies anyone).

use actix_web::{web, HttpResponse};
use askama::Template;

use super::{db, ok, Chrome};
use crate::http::AppState;
use crate::reports::summary;
use crate::web::errors::PageError;
use crate::web::format::{date, money};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/public/pools/{id}", web::get().to(summary_page));
}

pub struct MonthLine {
    pub month: String,
    pub received: String,
    pub paid_out: String,
}

pub struct CategoryLine {
    pub category: String,
    pub requests: u32,
    pub paid_out: String,
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
    available: String,
    paid_out: String,
    requests_helped: u32,
    months: Vec<MonthLine>,
    categories: Vec<CategoryLine>,
    min_group: u32,
}

async fn summary_page(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    let min_group = state.settings.summary_min_group;
    // Without a session: the service decides whether the pool is public.
    let s = db(&state, move |conn| {
        summary::summary(conn, None, &id, min_group)
    })
    .await?;
    let code = s.currency.clone();
    let m = |v: &str| money(v, &code);
    let page = SummaryPage {
        chrome: Chrome::bare(&s.name),
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
        available: m(&s.available),
        paid_out: m(&s.paid_out),
        requests_helped: s.requests_helped,
        months: s
            .months
            .iter()
            .map(|x| MonthLine {
                month: x.month.clone(),
                received: m(&x.received),
                paid_out: m(&x.paid_out),
            })
            .collect(),
        categories: s
            .categories
            .iter()
            .map(|c| CategoryLine {
                category: c.category.clone(),
                requests: c.requests,
                paid_out: m(&c.paid_out),
            })
            .collect(),
        min_group: s.min_group,
        name: s.name,
    };
    ok(&page)
}
