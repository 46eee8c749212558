//! Statements and public summaries over HTTP.

use chrono::{NaiveDate, NaiveDateTime, TimeDelta};
use chrono_tz::Tz;
use commonpot::ledger::{Account, EntryKind};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{Person, TestApp};

const ZONE: &str = "Europe/Berlin";

fn today() -> NaiveDate {
    chrono::Utc::now()
        .with_timezone(&ZONE.parse::<Tz>().unwrap())
        .date_naive()
}

/// Noon of a local day in the collective's zone, as a stored UTC instant.
fn noon(date: NaiveDate) -> NaiveDateTime {
    commonpot::calendar::start_of_day(ZONE.parse().unwrap(), date) + TimeDelta::hours(12)
}

/// The journal has no back door for dates: entries are written now. To
/// have history on earlier days, this fixture writes a contribution's entry
/// as the ledger would have written it then (balances included, so
/// `verify` stays clean).
async fn contribution_on(app: &TestApp, pool_id: &str, minor: i64, at: NaiveDateTime) -> String {
    let db = app.db.clone();
    let pool_id = pool_id.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut conn = db.get().unwrap();
        let pool = commonpot::pools::store::find(&mut conn, &pool_id)
            .unwrap()
            .unwrap();
        commonpot::ledger::record_at(
            &mut conn,
            &pool,
            EntryKind::Contribution,
            ("contribution", &commonpot::ids::new_id()),
            None,
            &[
                (Account::ContributionsIn, -minor),
                (Account::Available, minor),
            ],
            at,
        )
        .unwrap()
    })
    .await
    .unwrap()
}

async fn statement(
    app: &TestApp,
    pool: &str,
    token: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Value {
    app.get(
        &format!("/api/v1/pools/{pool}/statement?from={from}&to={to}"),
        token,
    )
    .await
    .expect(200)
    .body
}

#[actix_rt::test]
async fn a_statement_closes_where_the_next_period_opens() {
    let app = TestApp::spawn().await;
    let (collective, admin) = app.bootstrap("Northside").await;
    let pool = app.pool(&collective, &admin.token, "EUR").await;
    let member = app.join(&collective, &admin, "member").await;
    let day = today();
    let (two_ago, yesterday) = (day - TimeDelta::days(2), day - TimeDelta::days(1));
    contribution_on(&app, &pool, 10_000, noon(two_ago)).await;
    contribution_on(&app, &pool, 5_000, noon(yesterday)).await;
    // Today: 30 with a fee of 1, a hold of 20, 5 of it released, 10 paid out.
    app.post_money(
        &format!("/api/v1/pools/{pool}/contributions"),
        &admin.token,
        json!({"amount": "30.00", "fee": "1.00", "method": "card"}),
    )
    .await
    .expect(201);
    let hold = app
        .post_money(
            &format!("/api/v1/pools/{pool}/holds"),
            &admin.token,
            json!({"amount": "20.00"}),
        )
        .await
        .expect(201)
        .id();
    app.post_money(
        &format!("/api/v1/holds/{hold}/release"),
        &admin.token,
        json!({"amount": "5.00"}),
    )
    .await
    .expect(200);
    let payout = app
        .post_money(
            &format!("/api/v1/holds/{hold}/disbursements"),
            &admin.token,
            json!({"amount": "10.00"}),
        )
        .await
        .expect(201)
        .id();
    app.post_money(
        &format!("/api/v1/disbursements/{payout}/outcome"),
        &admin.token,
        json!({"outcome": "paid"}),
    )
    .await
    .expect(200);

    // The day before yesterday, alone.
    let first = statement(&app, &pool, &member.token, two_ago, two_ago).await;
    assert_eq!(first["opening"]["balance"], "0.00");
    assert_eq!(first["lines"].as_array().unwrap().len(), 1);
    assert_eq!(first["closing"]["balance"], "100.00");
    assert_eq!(first["time_zone"], ZONE);

    // Yesterday and today: it opens where the first period closed.
    let second = statement(&app, &pool, &member.token, yesterday, day).await;
    assert_eq!(second["opening"], first["closing"]);
    assert_eq!(second["starts_at"], first["ends_at"]);
    let lines = second["lines"].as_array().unwrap();
    let kinds: Vec<&str> = lines.iter().map(|l| l["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "contribution",
            "contribution",
            "hold",
            "release",
            "disbursement"
        ]
    );
    assert_eq!(lines[0]["date"], yesterday.to_string());
    assert_eq!(lines[1]["date"], day.to_string());
    assert_eq!(lines[1]["inflow"], "30.00");
    assert_eq!(lines[1]["fees"], "1.00");
    assert_eq!(lines[1]["change"], "29.00");
    assert_eq!(lines[2]["held"], "20.00");
    assert_eq!(
        lines[2]["change"], "0.00",
        "a hold moves money inside the pool"
    );
    assert_eq!(lines[4]["outflow"], "10.00");
    let totals = &second["totals"];
    assert_eq!(totals["inflows"], "80.00");
    assert_eq!(totals["fees"], "1.00");
    assert_eq!(totals["outflows"], "10.00");
    assert_eq!(totals["paid_out"], "10.00");
    assert_eq!(totals["holds_placed"], "20.00");
    assert_eq!(totals["holds_released"], "5.00");
    assert_eq!(totals["holds_paid_out"], "10.00");
    assert_eq!(totals["net_change"], "69.00");
    assert_eq!(second["closing"]["balance"], "169.00");
    assert_eq!(second["closing"]["held"], "5.00");
    assert_eq!(lines[4]["balance"], second["closing"]["balance"]);

    // The closing position is the pool's money now, and what the next
    // period opens with.
    let balances = app.balances(&pool, &admin.token).await;
    assert_eq!(second["closing"]["available"], balances["available"]);
    assert_eq!(second["closing"]["held"], balances["held"]);
    let whole = statement(&app, &pool, &member.token, two_ago, day).await;
    assert_eq!(whole["closing"], second["closing"]);
    let tomorrow = day + TimeDelta::days(1);
    let next = statement(&app, &pool, &member.token, tomorrow, tomorrow).await;
    assert_eq!(next["opening"], second["closing"]);
    assert_eq!(next["lines"], json!([]));

    // Every line is a journal entry.
    let entries = app
        .get(&format!("/api/v1/pools/{pool}/entries"), &member.token)
        .await
        .expect(200);
    let ids: Vec<&Value> = entries.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["id"])
        .collect();
    let lined: Vec<&Value> = whole["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| &l["entry_id"])
        .collect();
    assert_eq!(ids, lined);

    // The same statement as CSV, by parameter or by Accept header.
    let path = format!("/api/v1/pools/{pool}/statement?from={yesterday}&to={day}");
    for request in [
        app.raw(Method::GET, &format!("{path}&format=csv")),
        app.raw(Method::GET, &path).header("Accept", "text/csv"),
    ] {
        let response = request.bearer_auth(&member.token).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"],
            "text/csv; charset=utf-8"
        );
        assert!(response.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains(".csv"));
        let text = response.text().await.unwrap();
        let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split(',').collect()).collect();
        assert_eq!(
            rows[0].join(","),
            "date,at,entry_id,kind,reference_kind,reference_id,inflow,outflow,fees,held,change,balance"
        );
        assert_eq!(rows.len(), 1 + 1 + lines.len() + 1);
        assert_eq!(rows[1][3], "opening_balance");
        assert_eq!(rows[1][11], "100.00");
        assert_eq!(rows[2][2], lines[0]["entry_id"].as_str().unwrap());
        assert_eq!(rows[3][6], "30.00");
        let last = rows.last().unwrap();
        assert_eq!((last[3], last[11]), ("closing_balance", "169.00"));
        assert!(rows.iter().all(|r| r.len() == 12));
    }
    assert!(app.verify().await.is_clean());
}

#[actix_rt::test]
async fn a_statement_needs_a_real_period() {
    let app = TestApp::spawn().await;
    let (collective, admin) = app.bootstrap("Northside").await;
    let pool = app.pool(&collective, &admin.token, "EUR").await;
    let path = format!("/api/v1/pools/{pool}/statement");
    for (query, field) in [
        ("from=2026-03-01&to=2026-02-28", "to"),
        ("from=2026-02-30&to=2026-03-01", "from"),
        ("from=2026-01-01&to=1st of March", "to"),
        ("from=2025-01-01&to=2026-01-02", "to"),
        ("from=2026-01-01&to=2026-01-31&format=xml", "format"),
    ] {
        let answer = app
            .get(&format!("{path}?{query}"), &admin.token)
            .await
            .expect_problem(422, "validation_failed");
        assert_eq!(answer.body["field"], field, "{query}");
    }
    let missing = app
        .get(&format!("{path}?to=2026-01-31"), &admin.token)
        .await
        .expect_problem(400, "invalid_query");
    assert_eq!(missing.body["field"], "from");
    // A year, leap day included, is fine.
    app.get(
        &format!("{path}?from=2028-01-01&to=2028-12-31"),
        &admin.token,
    )
    .await
    .expect(200);
}

/// An aid request in `category`, asked by `member`, approved by `admin`
/// (the pool needs one approval) and paid in full.
async fn help_request(
    app: &TestApp,
    pool: &str,
    admin: &Person,
    member: &Person,
    category: &str,
    amount: &str,
) {
    let id = app
        .post(
            &format!("/api/v1/pools/{pool}/requests"),
            &member.token,
            json!({"amount": amount, "category": category, "urgency": "standard",
                   "public_summary": "Help", "private_details": "Only for coordinators"}),
        )
        .await
        .expect(201)
        .id();
    app.post(
        &format!("/api/v1/requests/{id}/review"),
        &admin.token,
        json!({}),
    )
    .await
    .expect(200);
    app.post_money(
        &format!("/api/v1/requests/{id}/approvals"),
        &admin.token,
        json!({}),
    )
    .await
    .expect(200);
    let payout = app
        .post_money(
            &format!("/api/v1/requests/{id}/disbursements"),
            &admin.token,
            json!({"amount": amount}),
        )
        .await
        .expect(201)
        .id();
    app.post_money(
        &format!("/api/v1/disbursements/{payout}/outcome"),
        &admin.token,
        json!({"outcome": "paid"}),
    )
    .await
    .expect(200);
}

async fn anonymous_summary(app: &TestApp, pool: &str) -> crate::helpers::Answer {
    anonymous_summary_query(app, pool, "").await
}

async fn anonymous_summary_query(app: &TestApp, pool: &str, query: &str) -> crate::helpers::Answer {
    app.send(
        Method::GET,
        &format!("/api/v1/pools/{pool}/summary{query}"),
        None,
        None,
    )
    .await
}

async fn pledger(app: &TestApp, pool: &str, person: &Person) {
    app.post(
        &format!("/api/v1/pools/{pool}/pledges"),
        &person.token,
        json!({"amount": "10.00", "frequency": "monthly", "installments": 6}),
    )
    .await
    .expect(201);
}

#[actix_rt::test]
async fn the_public_summary_hides_a_category_with_one_request_and_names_no_one() {
    let app = TestApp::spawn().await;
    let (collective, admin) = app.bootstrap("Northside").await;
    let pool = app
        .post(
            &format!("/api/v1/collectives/{collective}/pools"),
            &admin.token,
            json!({"name": "Rent relief", "currency": "EUR", "goal": "1000.00", "public": true,
                   "rules": {"approvals_needed": 1}}),
        )
        .await
        .expect(201)
        .id();
    app.post_money(
        &format!("/api/v1/pools/{pool}/contributions"),
        &admin.token,
        json!({"amount": "500.00", "method": "bank_transfer",
               "contributor": {"donor_name": "Wanda Wealthy", "donor_email": "wanda@example.org"}}),
    )
    .await
    .expect(201);
    let members = [
        app.join(&collective, &admin, "member").await,
        app.join(&collective, &admin, "member").await,
        app.join(&collective, &admin, "member").await,
    ];
    for (member, amount) in members.iter().zip(["100.00", "30.00", "45.50"]) {
        help_request(&app, &pool, &admin, member, "rent", amount).await;
    }
    // One person's circumstances: the only request in its category.
    help_request(
        &app,
        &pool,
        &admin,
        &members[0],
        "escaping violence",
        "120.00",
    )
    .await;

    // Public: anyone may read it, without signing in.
    let summary = anonymous_summary(&app, &pool).await.expect(200).body;
    assert_eq!(summary["goal"], "1000.00");
    assert_eq!(summary["raised"], "500.00");
    assert_eq!(summary["goal_progress_percent"], "50.00");
    assert_eq!(summary["paid_out"], "295.50");
    assert_eq!(summary["requests_helped"], 4);
    assert_eq!(summary["min_group"], 3);
    assert_eq!(summary["view"], "public");
    // The category with one request is merged into other, and other, still
    // too small, takes the smallest category with it: rent.
    assert_eq!(
        summary["categories"],
        json!([
            {"category": "other", "requests": 4, "paid_out": "295.50", "fewer_than": null},
        ])
    );
    let months = summary["months"].as_array().unwrap();
    assert_eq!(months.len(), 12);
    let this_month = months.last().unwrap();
    assert_eq!(this_month["month"], today().format("%Y-%m").to_string());
    assert_eq!(this_month["received"], "500.00");
    // Payouts are shown by quarter, not by month.
    assert_eq!(this_month["paid_out"], Value::Null);
    let periods = summary["periods"].as_array().unwrap();
    let this_quarter = periods.last().unwrap();
    assert_eq!(this_quarter["requests"], 4);
    assert_eq!(this_quarter["paid_out"], "295.50");
    assert!(this_quarter["to_month"].as_str().unwrap() >= this_month["month"].as_str().unwrap());
    // Members, who may read the ledger, keep every figure.
    let full = app
        .get(&format!("/api/v1/pools/{pool}/summary"), &members[1].token)
        .await
        .expect(200)
        .body;
    assert_eq!(full["view"], "full");
    assert_eq!(
        full["categories"],
        json!([
            {"category": "escaping violence", "requests": 1, "paid_out": "120.00", "fewer_than": null},
            {"category": "rent", "requests": 3, "paid_out": "175.50", "fewer_than": null},
        ])
    );
    assert_eq!(full["months"][11]["paid_out"], "295.50");
    // And may see what the public sees.
    let as_public = app
        .get(
            &format!("/api/v1/pools/{pool}/summary?view=public"),
            &members[1].token,
        )
        .await
        .expect(200)
        .body;
    assert_eq!(as_public, summary);
    // Nobody else gets the full view.
    anonymous_summary_query(&app, &pool, "?view=full")
        .await
        .expect_problem(403, "forbidden");
    let text = summary.to_string();
    for personal in [
        "violence",
        "Wanda",
        "wanda@example.org",
        "Ada",
        "Only for coordinators",
        &admin.user_id,
        &members[0].user_id,
        &members[0].membership_id,
    ] {
        assert!(!text.contains(personal), "{personal} in {text}");
    }

    // Pledge figures appear only once three people pledge.
    pledger(&app, &pool, &members[0]).await;
    pledger(&app, &pool, &members[1]).await;
    let summary = anonymous_summary(&app, &pool).await.expect(200).body;
    assert_eq!(summary["pledges"], Value::Null);
    pledger(&app, &pool, &members[2]).await;
    let summary = anonymous_summary(&app, &pool).await.expect(200).body;
    assert_eq!(summary["pledges"]["pledgers"], 3);
    assert_eq!(summary["pledges"]["outstanding"], "180.00");
    assert_eq!(summary["pledges"]["fulfilment_rate_percent"], "0.00");

    // Not public: members only.
    app.patch(
        &format!("/api/v1/pools/{pool}"),
        &admin.token,
        json!({"public": false}),
    )
    .await
    .expect(200);
    anonymous_summary(&app, &pool)
        .await
        .expect_problem(401, "unauthenticated");
    app.get(&format!("/api/v1/pools/{pool}/summary"), &members[0].token)
        .await
        .expect(200);
    let (_, outsider) = app.bootstrap("Southside").await;
    app.get(&format!("/api/v1/pools/{pool}/summary"), &outsider.token)
        .await
        .expect_problem(404, "not_found");
    // A token that is sent must be valid, public pool or not.
    app.send(
        Method::GET,
        &format!("/api/v1/pools/{pool}/summary"),
        Some("not-a-token"),
        None,
    )
    .await
    .expect_problem(401, "invalid_token");
}
