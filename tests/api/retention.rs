//! Retention (#25): a closed request keeps its private fields as long as
//! its collective says (365 days unless an admin sets 1–36500), then the
//! sweep redacts them, and every copy, on the clock the services read.
//! Open requests and those closed recently are untouched; amounts, states,
//! dates, balances and statements are unchanged; `verify` passes; a second
//! sweep changes nothing and two at once redact each request once.

use chrono::{DateTime, TimeDelta, Utc};
use commonpot::clock::Clock;
use commonpot::personal_data::retention::{self, Swept};
use diesel::sql_types::BigInt;
use diesel::RunQueryDsl;
use serde_json::{json, Value};

use crate::erasure::everything;
use crate::export::secret;
use crate::helpers::{Person, TestApp};

const TOMBSTONE: &str = "[erased]";

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

/// A collective on a settable clock, with a funded pool that needs one
/// approval, a coordinator and two members.
struct World {
    app: TestApp,
    collective: String,
    admin: Person,
    cleo: Person,
    mo: Person,
    zed: Person,
    pool: String,
}

async fn world(name: &str) -> World {
    let app = TestApp::spawn_at(Clock::settable(at("2026-01-05T10:00:00Z"))).await;
    let (collective, admin) = app.bootstrap(name).await;
    let cleo = app.join(&collective, &admin, "coordinator").await;
    let mo = app.join(&collective, &admin, "member").await;
    let zed = app.join(&collective, &admin, "member").await;
    let pool = app
        .post(
            &format!("/api/v1/collectives/{collective}/pools"),
            &admin.token,
            json!({"name": "Rent relief", "currency": "EUR",
                   "rules": {"max_request": "500.00", "approvals_needed": 1}}),
        )
        .await
        .expect(201)
        .id();
    app.contribute(&pool, &admin.token, "1000.00")
        .await
        .expect(201);
    World {
        app,
        collective,
        admin,
        cleo,
        mo,
        zed,
        pool,
    }
}

/// A request's private texts, each a marker.
struct Asked {
    id: String,
    details: String,
    payout: String,
}

impl World {
    /// `who` asks for `amount` with private details and a payout reference
    /// (with an `Idempotency-Key`, so its answer is stored too).
    async fn ask(&self, who: &Person, amount: &str) -> Asked {
        let (details, payout) = (secret("details"), secret("payout"));
        let id = self
            .app
            .send_keyed(
                reqwest::Method::POST,
                &format!("/api/v1/pools/{}/requests", self.pool),
                Some(&who.token),
                Some(
                    json!({"amount": amount, "category": "rent", "urgency": "standard",
                            "public_summary": "Rent", "private_details": details,
                            "payout_reference": payout}),
                ),
            )
            .await
            .expect(201)
            .id();
        Asked {
            id,
            details,
            payout,
        }
    }

    async fn review(&self, id: &str) {
        self.app
            .post(
                &format!("/api/v1/requests/{id}/review"),
                &self.cleo.token,
                json!({}),
            )
            .await
            .expect(200);
    }

    async fn approve(&self, id: &str) {
        self.review(id).await;
        self.app
            .post_money(
                &format!("/api/v1/requests/{id}/approvals"),
                &self.cleo.token,
                json!({}),
            )
            .await
            .expect(200);
    }

    async fn comment(&self, id: &str, who: &Person, body: &str) {
        self.app
            .post(
                &format!("/api/v1/requests/{id}/comments"),
                &who.token,
                json!({"body": body, "visibility": "requester"}),
            )
            .await
            .expect(201);
    }

    async fn withdraw(&self, id: &str, who: &Person, reason: &str) {
        self.app
            .post_money(
                &format!("/api/v1/requests/{id}/withdrawal"),
                &who.token,
                json!({"reason": reason}),
            )
            .await
            .expect(200);
    }

    async fn request(&self, id: &str) -> Value {
        self.app
            .get(&format!("/api/v1/requests/{id}"), &self.admin.token)
            .await
            .expect(200)
            .body
    }

    async fn sweep(&self) -> Swept {
        self.app
            .db
            .run(|conn| retention::sweep(conn, commonpot::ids::now()))
            .await
            .expect("a sweep")
    }

    /// Balances and this year's statement: what retention must not change.
    async fn figures(&self) -> Value {
        let statement = self
            .app
            .get(
                &format!(
                    "/api/v1/pools/{}/statement?from=2026-01-01&to=2026-12-31",
                    self.pool
                ),
                &self.admin.token,
            )
            .await
            .expect(200)
            .body;
        json!({"balances": self.app.balances(&self.pool, &self.admin.token).await,
               "statement": statement})
    }

    fn clock(&self) -> &Clock {
        self.app.db.clock()
    }

    /// Sets the collective's retention period (an admin's setting).
    async fn keep_for(&self, days: i32) {
        self.app
            .patch(
                &format!("/api/v1/collectives/{}", self.collective),
                &self.admin.token,
                json!({"retention_days": days}),
            )
            .await
            .expect(200);
    }
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// How many audit records and events say a request was redacted.
async fn redactions_recorded(app: &TestApp) -> (i64, i64) {
    let db = app.db.clone();
    tokio::task::spawn_blocking(move || {
        let mut conn = db.get().expect("a connection");
        let mut count = |sql: &str| {
            diesel::sql_query(sql)
                .get_result::<Count>(&mut **conn)
                .expect("count")
                .n
        };
        (
            count("SELECT COUNT(*) AS n FROM audit_records WHERE action = 'request.redacted'"),
            count("SELECT COUNT(*) AS n FROM events WHERE kind = 'request.redacted'"),
        )
    })
    .await
    .unwrap()
}

#[actix_rt::test]
async fn closed_requests_past_the_period_lose_their_private_fields_and_nothing_else() {
    let w = world("Retention").await;
    let app = &w.app;
    w.keep_for(30).await;

    // Closed on the first day, each way a request can close.
    let paid = w.ask(&w.mo, "100.00").await;
    let (note, mo_says, reference) = (secret("note"), secret("mo-says"), secret("reference"));
    w.comment(&paid.id, &w.cleo, &note).await;
    w.comment(&paid.id, &w.mo, &mo_says).await;
    w.approve(&paid.id).await;
    let payout = app
        .post_money(
            &format!("/api/v1/requests/{}/disbursements", paid.id),
            &w.cleo.token,
            json!({"amount": "100.00", "external_reference": reference}),
        )
        .await
        .expect(201)
        .id();
    app.post_money(
        &format!("/api/v1/disbursements/{payout}/outcome"),
        &w.cleo.token,
        json!({"outcome": "paid"}),
    )
    .await
    .expect(200);

    let rejected = w.ask(&w.mo, "20.00").await;
    let rejection = secret("rejection");
    w.review(&rejected.id).await;
    app.post(
        &format!("/api/v1/requests/{}/rejection", rejected.id),
        &w.cleo.token,
        json!({"reason": rejection}),
    )
    .await
    .expect(200);

    let withdrawn = w.ask(&w.mo, "30.00").await;
    let withdrawal = secret("withdrawal");
    w.withdraw(&withdrawn.id, &w.mo, &withdrawal).await;

    let cancelled = w.ask(&w.mo, "40.00").await;
    let cancellation = secret("cancellation");
    w.approve(&cancelled.id).await;
    app.post_money(
        &format!("/api/v1/requests/{}/cancellation", cancelled.id),
        &w.cleo.token,
        json!({"reason": cancellation}),
    )
    .await
    .expect(200);

    // Asked for someone who is not a member, and put to a round that
    // could not fund it.
    let (beneficiary, contact, for_them) =
        (secret("beneficiary"), secret("contact"), secret("for-them"));
    let not_funded = app
        .post(
            &format!("/api/v1/pools/{}/requests", w.pool),
            &w.cleo.token,
            json!({"amount": "50.00", "category": "food", "urgency": "standard",
                   "public_summary": "Food", "private_details": for_them,
                   "beneficiary": {"name": beneficiary, "contact": contact}}),
        )
        .await
        .expect(201)
        .id();
    let round = app
        .post(
            &format!("/api/v1/pools/{}/rounds", w.pool),
            &w.admin.token,
            json!({"title": "Winter round", "budget": "10.00", "candidates": [not_funded],
                   "ballot": {"type": "approval"}}),
        )
        .await
        .expect(201)
        .id();
    let step = |step: &str| format!("/api/v1/rounds/{round}/{step}");
    app.post_money(&step("open"), &w.admin.token, json!({}))
        .await
        .expect(200);
    app.send(
        reqwest::Method::PUT,
        &step("ballots/me"),
        Some(&w.zed.token),
        Some(json!({"approve": [not_funded]})),
    )
    .await
    .expect(200);
    for next in ["close", "tally"] {
        app.post(&step(next), &w.admin.token, json!({}))
            .await
            .expect(200);
    }
    app.post_money(&step("enact"), &w.admin.token, json!({}))
        .await
        .expect(200);

    // Still open, and closed too recently: these keep everything.
    let open = w.ask(&w.zed, "60.00").await;
    w.review(&open.id).await;
    w.clock().advance(TimeDelta::days(31));
    let recent = w.ask(&w.zed, "70.00").await;
    let recent_reason = secret("recent-reason");
    w.withdraw(&recent.id, &w.zed, &recent_reason).await;

    let closed = [
        (&paid.id, "paid"),
        (&rejected.id, "rejected"),
        (&withdrawn.id, "withdrawn"),
        (&cancelled.id, "cancelled"),
        (&not_funded, "not_funded"),
    ];
    let mut before = Vec::new();
    for (id, state) in closed {
        let request = w.request(id).await;
        assert_eq!(request["state"], state, "{request}");
        assert_eq!(request["closed_at"], "2026-01-05T10:00:00Z", "{request}");
        assert_eq!(request["redacted_at"], Value::Null);
        before.push(request);
    }
    assert_eq!(w.request(&open.id).await["closed_at"], Value::Null);
    let gone = [
        &paid.details,
        &paid.payout,
        &note,
        &mo_says,
        &reference,
        &rejected.details,
        &rejection,
        &withdrawn.details,
        &withdrawal,
        &cancelled.details,
        &cancellation,
        &beneficiary,
        &contact,
        &for_them,
    ];
    let kept = [
        &open.details,
        &open.payout,
        &recent.details,
        &recent.payout,
        &recent_reason,
    ];
    let stored = everything(app).await;
    for text in gone.iter().chain(&kept) {
        assert!(stored.contains(text.as_str()), "{text} was never stored");
    }
    let figures = w.figures().await;

    let swept = w.sweep().await;
    assert_eq!(
        swept,
        Swept {
            redacted: 5,
            failed: 0
        }
    );

    let stored = everything(app).await;
    for text in gone {
        assert!(!stored.contains(text.as_str()), "{text} is still stored");
    }
    for text in kept {
        assert!(stored.contains(text.as_str()), "{text} went too");
    }
    assert_eq!(w.figures().await, figures);
    assert!(app.verify().await.is_clean());

    // Each reads as a tombstone, with its figures, states and dates.
    for ((id, _), was) in closed.iter().zip(&before) {
        let now = w.request(id).await;
        let private = &now["private"];
        assert_eq!(private["private_details"], TOMBSTONE, "{now}");
        assert_eq!(private["payout_reference"], Value::Null, "{now}");
        assert_eq!(private["beneficiary"], Value::Null, "{now}");
        assert_eq!(now["redacted_at"], "2026-02-05T10:00:00Z");
        for field in [
            "state",
            "amount_requested",
            "amount_approved",
            "paid",
            "category",
            "public_summary",
            "closed_at",
            "submitted_at",
            "created_at",
            "updated_at",
        ] {
            assert_eq!(now[field], was[field], "{field} of {now}");
        }
        assert_ne!(now["version"], was["version"], "a new ETag");
    }
    let withdrawn_now = w.request(&withdrawn.id).await;
    assert_eq!(withdrawn_now["private"]["withdrawal_reason"], TOMBSTONE);
    assert_eq!(w.request(&rejected.id).await["rejection_reason"], TOMBSTONE);
    let comments = app
        .get(
            &format!("/api/v1/requests/{}/comments", paid.id),
            &w.cleo.token,
        )
        .await
        .expect(200)
        .body;
    let bodies: Vec<&Value> = comments["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["body"])
        .collect();
    assert_eq!(bodies, [TOMBSTONE, TOMBSTONE], "{comments}");
    let payouts = app
        .get(
            &format!("/api/v1/requests/{}/disbursements", paid.id),
            &w.cleo.token,
        )
        .await
        .expect(200)
        .body;
    assert_eq!(payouts.as_array().unwrap().len(), 1, "{payouts}");
    assert_eq!(payouts[0]["external_reference"], Value::Null);
    assert_eq!(
        (&payouts[0]["amount"], &payouts[0]["status"]),
        (&json!("100.00"), &json!("paid"))
    );

    // The others are as they were.
    let open_now = w.request(&open.id).await;
    assert_eq!(
        open_now["private"]["private_details"],
        open.details.as_str()
    );
    assert_eq!(open_now["redacted_at"], Value::Null);
    let recent_now = w.request(&recent.id).await;
    assert_eq!(
        recent_now["private"]["payout_reference"],
        recent.payout.as_str()
    );

    // Audited by the system and announced, naming none of what went.
    let audit = app
        .get(
            &format!(
                "/api/v1/audit?collective_id={}&object_id={}",
                w.collective, paid.id
            ),
            &w.admin.token,
        )
        .await
        .expect(200)
        .body;
    let record = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["action"] == "request.redacted")
        .unwrap_or_else(|| panic!("no request.redacted in {audit}"));
    assert_eq!(record["actor_kind"], "system");
    assert_eq!(
        record["details"],
        json!({"closed_at": "2026-01-05T10:00:00Z", "retention_days": 30})
    );
    let events = app.events_about(&paid.id).await;
    let (kind, data) = events.last().unwrap();
    assert_eq!(kind, "request.redacted");
    assert_eq!(data["state"], "paid");
    assert!(data.get("private").is_none(), "kept apart: {data}");
    assert_eq!(redactions_recorded(app).await, (5, 5));

    // Once more: nothing left to do, and nothing changes.
    let versions: Vec<Value> = versions_of(&w, &closed).await;
    assert_eq!(w.sweep().await, Swept::default());
    w.clock().advance(TimeDelta::days(400));
    // The recently closed one's turn comes; the rest stay as they are.
    assert_eq!(w.sweep().await.redacted, 1);
    assert_eq!(versions_of(&w, &closed).await, versions);
    assert_eq!(redactions_recorded(app).await, (6, 6));
    assert!(!everything(app).await.contains(&recent_reason));
    assert_eq!(
        w.request(&open.id).await["private"]["private_details"],
        open.details.as_str()
    );
    assert_eq!(w.figures().await, figures);
}

async fn versions_of(w: &World, closed: &[(&String, &str)]) -> Vec<Value> {
    let mut versions = Vec::new();
    for (id, _) in closed {
        versions.push(w.request(id).await["version"].clone());
    }
    versions
}

#[actix_rt::test]
async fn the_default_period_is_365_days_and_two_sweeps_at_once_redact_each_request_once() {
    let w = world("Two sweeps").await;
    let app = &w.app;
    // More than a batch.
    let mut asked = Vec::new();
    for _ in 0..23 {
        let a = w.ask(&w.mo, "5.00").await;
        w.withdraw(&a.id, &w.mo, "no longer needed").await;
        asked.push(a);
    }
    w.clock().advance(TimeDelta::days(365));
    assert_eq!(w.sweep().await, Swept::default(), "365 days are not over");
    w.clock().advance(TimeDelta::seconds(1));

    let (a, b) = (app.db.clone(), app.db.clone());
    let (one, two) = tokio::join!(
        a.run(|conn| retention::sweep(conn, commonpot::ids::now())),
        b.run(|conn| retention::sweep(conn, commonpot::ids::now())),
    );
    let (one, two) = (one.expect("a sweep"), two.expect("a sweep"));
    assert_eq!((one.failed, two.failed), (0, 0));
    assert_eq!(one.redacted + two.redacted, asked.len(), "{one:?} {two:?}");
    assert_eq!(
        redactions_recorded(app).await,
        (asked.len() as i64, asked.len() as i64)
    );
    let stored = everything(app).await;
    for a in &asked {
        assert!(!stored.contains(&a.details) && !stored.contains(&a.payout));
    }
    assert!(app.verify().await.is_clean());
}

#[actix_rt::test]
async fn the_retention_period_is_an_admins_setting_from_1_to_36500_days() {
    let w = world("Setting").await;
    let app = &w.app;
    let path = format!("/api/v1/collectives/{}", w.collective);
    let collective = app.get(&path, &w.mo.token).await.expect(200).body;
    assert_eq!(collective["retention_days"], 365);

    for who in [&w.cleo, &w.mo] {
        app.patch(&path, &who.token, json!({"retention_days": 30}))
            .await
            .expect_problem(403, "forbidden");
    }
    for wrong in [
        json!(0),
        json!(-1),
        json!(36_501),
        json!(10_000_000_000_i64),
    ] {
        let refused = app
            .patch(&path, &w.admin.token, json!({"retention_days": wrong}))
            .await
            .expect_problem(422, "validation_failed");
        assert_eq!(refused.body["field"], "retention_days", "{}", refused.body);
    }
    assert_eq!(
        app.get(&path, &w.admin.token).await.expect(200).body["retention_days"],
        365,
        "a refusal changes nothing"
    );
    for days in [1, 36_500, 90] {
        let changed = app
            .patch(&path, &w.admin.token, json!({"retention_days": days}))
            .await
            .expect(200);
        assert_eq!(changed.body["retention_days"], days);
    }
    assert_eq!(
        app.get(&path, &w.mo.token).await.expect(200).body["retention_days"],
        90
    );
    let events = app.events_about(&w.collective).await;
    assert_eq!(events.last().unwrap().1["retention_days"], 90);
}

/// Nothing redacts a request twice, so a comment added after its redaction
/// would be kept for good: refused (409 `request_redacted`), for the
/// requester and coordinators alike, and nothing is written. A request
/// closed too recently still takes comments.
#[actix_rt::test]
async fn a_redacted_request_takes_no_more_comments() {
    let w = world("No comments after").await;
    let app = &w.app;
    w.keep_for(30).await;
    let old = w.ask(&w.mo, "30.00").await;
    w.withdraw(&old.id, &w.mo, &secret("withdrawal")).await;
    w.clock().advance(TimeDelta::days(31));
    let recent = w.ask(&w.zed, "40.00").await;
    w.withdraw(&recent.id, &w.zed, &secret("recent")).await;
    assert_eq!(w.sweep().await.redacted, 1);
    assert_ne!(w.request(&old.id).await["redacted_at"], Value::Null);

    let comments = format!("/api/v1/requests/{}/comments", old.id);
    let before = app.get(&comments, &w.admin.token).await.expect(200).body;
    for (who, visibility) in [(&w.mo, "requester"), (&w.cleo, "internal")] {
        app.post(
            &comments,
            &who.token,
            json!({"body": secret("too-late"), "visibility": visibility}),
        )
        .await
        .expect_problem(409, "request_redacted");
    }
    assert_eq!(
        app.get(&comments, &w.admin.token).await.expect(200).body,
        before
    );

    w.comment(&recent.id, &w.zed, "still open to comments")
        .await;
}
