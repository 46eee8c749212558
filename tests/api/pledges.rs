//! Pledges over HTTP: promising, paying in parts, lapsing (the same on read
//! as in the scheduled sweep), pausing and cancelling — and pledged money
//! never touching a pool's balances.

use chrono::NaiveDate;
use chrono_tz::Tz;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{Person, TestApp};

/// Samoa's neighbour and Kiribati's Line Islands: 25 hours apart, so a
/// collective that moves from one to the other lives through a day at once.
const BEHIND: &str = "Pacific/Pago_Pago";
const AHEAD: &str = "Pacific/Kiritimati";

fn today_in(zone: &str) -> NaiveDate {
    chrono::Utc::now()
        .with_timezone(&zone.parse::<Tz>().unwrap())
        .date_naive()
}

async fn setup() -> (TestApp, String, Person, String, Person) {
    let app = TestApp::spawn().await;
    let (collective, admin) = app.bootstrap("Northside").await;
    let pool = app.pool(&collective, &admin.token, "EUR").await;
    let member = app.join(&collective, &admin, "member").await;
    (app, collective, admin, pool, member)
}

async fn move_collective(app: &TestApp, collective: &str, admin: &Person, zone: &str) {
    app.patch(
        &format!("/api/v1/collectives/{collective}"),
        &admin.token,
        json!({"time_zone": zone}),
    )
    .await
    .expect(200);
}

async fn pledge(app: &TestApp, pool: &str, who: &Person, body: Value) -> Value {
    app.post(&format!("/api/v1/pools/{pool}/pledges"), &who.token, body)
        .await
        .expect(201)
        .body
}

async fn pay(app: &TestApp, pool: &str, token: &str, amount: &str, pledge_id: &str) -> Value {
    app.post_money(
        &format!("/api/v1/pools/{pool}/contributions"),
        token,
        json!({"amount": amount, "method": "bank_transfer", "pledge_id": pledge_id}),
    )
    .await
    .expect(201)
    .body
}

async fn audit_actions(app: &TestApp, collective: &str, admin: &Person, query: &str) -> Vec<Value> {
    app.get(
        &format!("/api/v1/audit?collective_id={collective}&{query}"),
        &admin.token,
    )
    .await
    .expect(200)
    .body["items"]
        .as_array()
        .unwrap()
        .clone()
}

/// The status the database holds for a pledge (what the sweep writes).
async fn stored_status(app: &TestApp, pledge_id: &str) -> String {
    use diesel::prelude::*;
    use diesel::sql_types::Text;
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        status: String,
    }
    let db = app.db.clone();
    let id = pledge_id.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut conn = db.get().unwrap();
        diesel::sql_query(format!("SELECT status FROM pledges WHERE id = '{id}'"))
            .get_result::<Row>(&mut **conn)
            .unwrap()
            .status
    })
    .await
    .unwrap()
}

/// The status each status-change event about a pledge showed, in order.
async fn status_events(app: &TestApp, pledge_id: &str) -> Vec<String> {
    const STATUS_CHANGES: [&str; 6] = [
        "pledge.paused",
        "pledge.resumed",
        "pledge.cancelled",
        "pledge.lapsed",
        "pledge.fulfilled",
        "pledge.reinstated",
    ];
    app.events_about(pledge_id)
        .await
        .into_iter()
        .filter(|(kind, _)| STATUS_CHANGES.contains(&kind.as_str()))
        .map(|(_, data)| data["status"].as_str().unwrap().to_owned())
        .collect()
}

async fn sweep(app: &TestApp) -> commonpot::pledges::lapses::Sweep {
    let db = app.db.clone();
    tokio::task::spawn_blocking(move || {
        let mut conn = db.get().unwrap();
        commonpot::pledges::lapses::sweep(&mut conn, chrono::Utc::now()).unwrap()
    })
    .await
    .unwrap()
}

#[actix_rt::test]
async fn a_member_pledges_monthly_and_sees_what_is_due_without_touching_the_balances() {
    let (app, collective, admin, pool, member) = setup().await;
    app.contribute(&pool, &admin.token, "100.00")
        .await
        .expect(201);
    let answer = app
        .post(
            &format!("/api/v1/pools/{pool}/pledges"),
            &member.token,
            json!({"amount": "25.00", "frequency": "monthly", "installments": 3}),
        )
        .await
        .expect(201);
    assert!(answer.header("etag").is_some());
    let p = answer.body;
    assert_eq!(p["status"], "active");
    assert_eq!(p["member_id"], member.membership_id.as_str());
    assert_eq!(p["total"], "75.00");
    assert_eq!(p["outstanding"], "75.00");
    assert_eq!(p["due_now"], "25.00", "the first installment is due today");
    let schedule = p["schedule"].as_array().unwrap();
    assert_eq!(schedule.len(), 3);
    assert_eq!(schedule[0]["state"], "due");
    assert_eq!(schedule[1]["state"], "upcoming");
    assert_eq!(p["next_due_on"], schedule[1]["due_on"]);
    assert_eq!(p["ends_on"], schedule[2]["due_on"]);

    // A promise is not money: nothing in the ledger, balances unchanged.
    let balances = app.balances(&pool, &admin.token).await;
    assert_eq!(balances["available"], "100.00");
    assert_eq!(balances["held"], "0.00");
    assert_eq!(app.count("ledger_entries").await, 1);
    assert!(app.verify().await.is_clean());

    // The member sees their own pledges and what is due.
    let mine = app
        .get(
            &format!("/api/v1/me/pledges?collective_id={collective}"),
            &member.token,
        )
        .await
        .expect(200);
    assert_eq!(mine.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(mine.body["items"][0]["due_now"], "25.00");
    assert!(mine.body["items"][0].get("schedule").is_none());

    // Coordinators see every pledge of the pool; members only their own.
    let list = format!("/api/v1/pools/{pool}/pledges");
    app.get(&list, &member.token)
        .await
        .expect_problem(403, "forbidden");
    let all = app.get(&list, &admin.token).await.expect(200);
    assert_eq!(all.body["items"].as_array().unwrap().len(), 1);
    let other = app.join(&collective, &admin, "member").await;
    let id = p["id"].as_str().unwrap();
    app.get(&format!("/api/v1/pledges/{id}"), &other.token)
        .await
        .expect_problem(404, "not_found");
    let theirs = app
        .get(
            &format!("/api/v1/me/pledges?collective_id={collective}"),
            &other.token,
        )
        .await
        .expect(200);
    assert_eq!(theirs.body["items"], json!([]));

    // The pool reports what is pledged.
    let report = app
        .get(
            &format!("/api/v1/pools/{pool}/pledges/report"),
            &admin.token,
        )
        .await
        .expect(200);
    assert_eq!(report.body["outstanding"], "75.00");
    assert_eq!(report.body["due_this_month"], "25.00");
    assert_eq!(report.body["overdue"], "0.00");
    assert_eq!(report.body["fulfilment_rate_percent"], "0.00");
    assert_eq!(report.body["active"], 1);
}

#[actix_rt::test]
async fn a_pledge_paid_in_parts_fills_the_oldest_installment_first() {
    let (app, collective, admin, pool, member) = setup().await;
    let p = pledge(
        &app,
        &pool,
        &admin,
        json!({"amount": "10.00", "frequency": "weekly", "installments": 2,
               "pledger": {"member_id": member.membership_id}}),
    )
    .await;
    let id = p["id"].as_str().unwrap().to_owned();
    let pledge_path = format!("/api/v1/pledges/{id}");
    let show = || app.get(&pledge_path, &admin.token);

    // 6 of the first 10.
    let first = pay(&app, &pool, &admin.token, "6.00", &id).await;
    assert_eq!(first["pledge_id"], id.as_str());
    assert_eq!(first["applied_to_pledge"], "6.00");
    assert_eq!(
        first["member_id"],
        member.membership_id.as_str(),
        "the pledger is the contributor"
    );
    let now = show().await.expect(200).body;
    assert_eq!(now["paid"], "6.00");
    assert_eq!(now["due_now"], "4.00");
    assert_eq!(now["schedule"][0]["paid"], "6.00");
    assert_eq!(now["schedule"][0]["state"], "due");
    assert_eq!(now["schedule"][1]["paid"], "0.00");

    // 9 gross (fee 1): the gross counts, 4 to finish the first, 5 ahead.
    let second = app
        .post_money(
            &format!("/api/v1/pools/{pool}/contributions"),
            &admin.token,
            json!({"amount": "9.00", "fee": "1.00", "method": "card", "pledge_id": id}),
        )
        .await
        .expect(201)
        .body;
    assert_eq!(second["applied_to_pledge"], "9.00");
    let now = show().await.expect(200).body;
    assert_eq!(now["schedule"][0]["state"], "paid");
    assert_eq!(now["schedule"][1]["paid"], "5.00");
    assert_eq!(now["outstanding"], "5.00");
    assert_eq!(now["due_now"], "0.00");
    assert_eq!(now["status"], "active");

    // 20 more: 5 finishes the pledge, the rest is an ordinary contribution.
    let third = pay(&app, &pool, &admin.token, "20.00", &id).await;
    assert_eq!(third["applied_to_pledge"], "5.00");
    let now = show().await.expect(200).body;
    assert_eq!(now["status"], "fulfilled");
    assert_eq!(now["paid"], "20.00");
    assert_eq!(now["outstanding"], "0.00");
    // All the money is the pool's, pledged or not: 6 + 8 + 20.
    assert_eq!(
        app.balances(&pool, &admin.token).await["available"],
        "34.00"
    );

    // The member sees their contributions and the pledge they fulfil.
    let mine = app
        .get(
            &format!("/api/v1/me/contributions?collective_id={collective}"),
            &member.token,
        )
        .await
        .expect(200);
    let items = mine.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert!(items.iter().all(|c| c["pledge_id"] == id.as_str()));

    // Refunding the last contribution takes back what it paid.
    app.post_money(
        &format!(
            "/api/v1/contributions/{}/refunds",
            third["id"].as_str().unwrap()
        ),
        &admin.token,
        json!({"amount": "20.00", "kind": "refund"}),
    )
    .await
    .expect(201);
    let now = show().await.expect(200).body;
    assert_eq!(now["status"], "active");
    assert_eq!(now["outstanding"], "5.00");
    let refunded = app
        .get(
            &format!("/api/v1/contributions/{}", third["id"].as_str().unwrap()),
            &admin.token,
        )
        .await
        .expect(200);
    assert_eq!(refunded.body["applied_to_pledge"], "0.00");

    let actions: Vec<String> = audit_actions(&app, &collective, &admin, &format!("object_id={id}"))
        .await
        .iter()
        .map(|r| r["action"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        actions,
        [
            "pledge.created",
            "pledge.payment_applied",
            "pledge.payment_applied",
            "pledge.payment_applied",
            "pledge.fulfilled",
            "pledge.payment_taken_back",
            "pledge.reinstated",
        ]
    );
    assert!(app.verify().await.is_clean());
}

#[actix_rt::test]
async fn an_outside_donor_pledge_is_paid_by_that_donor() {
    let (app, _, admin, pool, member) = setup().await;
    let p = pledge(
        &app,
        &pool,
        &admin,
        json!({"amount": "50.00", "frequency": "once",
               "pledger": {"donor_name": "A Neighbour", "donor_email": "N@Example.org"}}),
    )
    .await;
    assert_eq!(p["member_id"], Value::Null);
    assert_eq!(p["donor_email"], "n@example.org");
    let paid = pay(
        &app,
        &pool,
        &admin.token,
        "50.00",
        p["id"].as_str().unwrap(),
    )
    .await;
    assert_eq!(paid["donor_name"], "A Neighbour");
    // The pledge is someone else's: a member cannot be named as its payer.
    let other = pledge(
        &app,
        &pool,
        &admin,
        json!({"amount": "5.00", "frequency": "once", "pledger": {"donor_name": "B"}}),
    )
    .await;
    let refused = app
        .post_money(
            &format!("/api/v1/pools/{pool}/contributions"),
            &admin.token,
            json!({"amount": "5.00", "method": "cash", "pledge_id": other["id"],
                   "contributor": {"member_id": member.membership_id}}),
        )
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(refused.body["field"], "pledge_id");
}

#[actix_rt::test]
async fn a_pledge_lapses_after_its_grace_period_the_same_on_read_as_in_the_sweep() {
    let (app, collective, admin, pool, member) = setup().await;
    move_collective(&app, &collective, &admin, BEHIND).await;
    let for_member = |grace: u32| {
        json!({"amount": "5.00", "frequency": "monthly", "installments": 2, "grace_days": grace,
               "pledger": {"member_id": member.membership_id}})
    };
    let lapsing = pledge(&app, &pool, &admin, for_member(0)).await;
    let steady = pledge(&app, &pool, &admin, for_member(3)).await;
    assert_eq!(lapsing["status"], "active", "due today: not late yet");
    let (lapsing, steady) = (
        lapsing["id"].as_str().unwrap().to_owned(),
        steady["id"].as_str().unwrap().to_owned(),
    );

    // The collective moves across the date line: for it, a day has passed.
    move_collective(&app, &collective, &admin, AHEAD).await;
    assert!(today_in(AHEAD) > today_in(BEHIND));
    let status = |id: String| {
        let app = &app;
        let token = admin.token.clone();
        async move {
            app.get(&format!("/api/v1/pledges/{id}"), &token)
                .await
                .expect(200)
                .body["status"]
                .clone()
        }
    };
    // On read, at once: one day late with no grace is lapsed.
    assert_eq!(status(lapsing.clone()).await, "lapsed");
    assert_eq!(status(steady.clone()).await, "active");
    let filtered = app
        .get(
            &format!("/api/v1/pools/{pool}/pledges?status=lapsed"),
            &admin.token,
        )
        .await
        .expect(200);
    assert_eq!(filtered.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(filtered.body["items"][0]["id"], lapsing.as_str());
    // Not stored yet, and not in the audit trail.
    assert_eq!(stored_status(&app, &lapsing).await, "active");
    assert!(
        audit_actions(&app, &collective, &admin, "action=pledge.lapsed")
            .await
            .is_empty()
    );

    // Two replicas sweep at once: the lapse is stored and audited once.
    let (a, b) = futures::join!(sweep(&app), sweep(&app));
    assert_eq!(a.lapsed + b.lapsed, 1);
    assert_eq!(stored_status(&app, &lapsing).await, "lapsed");
    assert_eq!(stored_status(&app, &steady).await, "active");
    let lapses = audit_actions(&app, &collective, &admin, "action=pledge.lapsed").await;
    assert_eq!(lapses.len(), 1);
    assert_eq!(lapses[0]["actor_kind"], "system");
    assert_eq!(lapses[0]["object_id"], lapsing.as_str());
    assert_eq!(status_events(&app, &lapsing).await, ["lapsed"]);
    // The read and the sweep agree; sweeping again changes nothing.
    assert_eq!(status(lapsing.clone()).await, "lapsed");
    assert_eq!(status(steady.clone()).await, "active");
    assert_eq!(sweep(&app).await.lapsed, 0);

    // A lapsed pledge cannot simply be resumed; paying what is overdue
    // reinstates it.
    app.patch(
        &format!("/api/v1/pledges/{lapsing}"),
        &admin.token,
        json!({"status": "active"}),
    )
    .await
    .expect_problem(409, "pledge_lapsed");
    pay(&app, &pool, &admin.token, "5.00", &lapsing).await;
    assert_eq!(status(lapsing.clone()).await, "active");
    assert_eq!(status_events(&app, &lapsing).await, ["lapsed", "active"]);
    assert_eq!(stored_status(&app, &lapsing).await, "active");
    let system_only = audit_actions(&app, &collective, &admin, "actor_kind=system").await;
    assert_eq!(system_only.len(), 1);
    let pledge_actions = audit_actions(
        &app,
        &collective,
        &admin,
        &format!("action=pledge.*&object_id={lapsing}"),
    )
    .await;
    let actions: Vec<&str> = pledge_actions
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "pledge.created",
            "pledge.lapsed",
            "pledge.payment_applied",
            "pledge.reinstated"
        ]
    );
}

#[actix_rt::test]
async fn pausing_forgives_what_falls_due_while_paused_and_cancelling_what_is_left() {
    let (app, collective, admin, pool, member) = setup().await;
    move_collective(&app, &collective, &admin, BEHIND).await;
    let created = app
        .post(
            &format!("/api/v1/pools/{pool}/pledges"),
            &member.token,
            json!({"amount": "3.00", "frequency": "weekly", "installments": 4}),
        )
        .await
        .expect(201);
    let id = created.id();
    let path = format!("/api/v1/pledges/{id}");
    let etag = created.header("etag").unwrap().to_owned();

    let pause = |tag: &str| {
        app.raw(Method::PATCH, &path)
            .bearer_auth(&member.token)
            .header("If-Match", tag)
            .json(&json!({"status": "paused"}))
            .send()
    };
    let paused = TestApp::answer(pause(&etag).await.unwrap())
        .await
        .expect(200);
    assert_eq!(paused.body["status"], "paused");
    assert_eq!(paused.body["paused_on"], today_in(BEHIND).to_string());
    assert_eq!(paused.body["due_now"], "0.00");
    assert_eq!(paused.body["schedule"][0]["state"], "suspended");
    // The version it was read at is stale now.
    TestApp::answer(pause(&etag).await.unwrap())
        .await
        .expect_problem(412, "precondition_failed");

    // A day later the member resumes: what fell due meanwhile is forgiven.
    move_collective(&app, &collective, &admin, AHEAD).await;
    let resumed = app
        .patch(&path, &member.token, json!({"status": "active"}))
        .await
        .expect(200);
    assert_eq!(resumed.body["status"], "active");
    assert_eq!(resumed.body["schedule"][0]["state"], "waived");
    assert_eq!(resumed.body["waived"], "3.00");
    assert_eq!(resumed.body["outstanding"], "9.00");

    app.patch(&path, &member.token, json!({"status": "fulfilled"}))
        .await
        .expect_problem(422, "validation_failed");
    let other = app.join(&collective, &admin, "member").await;
    app.patch(&path, &other.token, json!({"status": "cancelled"}))
        .await
        .expect_problem(404, "not_found");

    // Cancelled: nothing more falls due.
    let cancelled = app
        .patch(&path, &admin.token, json!({"status": "cancelled"}))
        .await
        .expect(200);
    assert_eq!(cancelled.body["status"], "cancelled");
    assert_eq!(cancelled.body["outstanding"], "0.00");
    assert_eq!(cancelled.body["schedule"][3]["state"], "waived");
    app.patch(&path, &admin.token, json!({"status": "active"}))
        .await
        .expect_problem(409, "pledge_closed");
    app.post_money(
        &format!("/api/v1/pools/{pool}/contributions"),
        &admin.token,
        json!({"amount": "3.00", "method": "cash", "pledge_id": id}),
    )
    .await
    .expect_problem(409, "pledge_closed");

    assert_eq!(
        status_events(&app, &id).await,
        ["paused", "active", "cancelled"],
        "partner apps hear of each change"
    );
    let actions: Vec<String> = audit_actions(&app, &collective, &admin, &format!("object_id={id}"))
        .await
        .iter()
        .map(|r| {
            format!(
                "{} by {}",
                r["action"].as_str().unwrap(),
                r["actor_id"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            format!("pledge.created by {}", member.user_id),
            format!("pledge.paused by {}", member.user_id),
            format!("pledge.resumed by {}", member.user_id),
            format!("pledge.cancelled by {}", admin.user_id),
        ]
    );
}

#[actix_rt::test]
async fn bad_pledges_are_refused_with_the_field_named_and_nothing_is_stored() {
    let (app, collective, admin, pool, member) = setup().await;
    let path = format!("/api/v1/pools/{pool}/pledges");
    let yesterday = today_in("Europe/Berlin").pred_opt().unwrap().to_string();
    for (who, body, field) in [
        (
            &member,
            json!({"amount": "1.234", "frequency": "once"}),
            "amount",
        ),
        (
            &member,
            json!({"amount": "5", "frequency": "monthly"}),
            "installments",
        ),
        (
            &member,
            json!({"amount": "5", "frequency": "monthly", "installments": 121}),
            "installments",
        ),
        (
            &member,
            json!({"amount": "5", "frequency": "monthly", "installments": -1}),
            "installments",
        ),
        (
            &member,
            json!({"amount": "5", "frequency": "weekly", "ends_on": "2099-01-01"}),
            "ends_on",
        ),
        (
            &member,
            json!({"amount": "5", "frequency": "weekly", "installments": 2, "ends_on": "2099-01-01"}),
            "ends_on",
        ),
        (
            &member,
            json!({"amount": "5", "frequency": "monthly", "ends_on": yesterday}),
            "ends_on",
        ),
        (
            &member,
            json!({"amount": "5", "frequency": "once", "installments": 2}),
            "installments",
        ),
        (
            &member,
            json!({"amount": "5", "frequency": "yearly"}),
            "frequency",
        ),
        (
            &member,
            json!({"amount": "5", "frequency": "once", "starts_on": "2001-01-01"}),
            "starts_on",
        ),
        (
            &member,
            json!({"amount": "5", "frequency": "once", "starts_on": "tomorrow"}),
            "starts_on",
        ),
        (
            &admin,
            json!({"amount": "5", "frequency": "once", "pledger": {"member_id": "nobody"}}),
            "pledger.member_id",
        ),
        (
            &admin,
            json!({"amount": "5", "frequency": "once", "pledger": {}}),
            "pledger.donor_name",
        ),
        (
            &admin,
            json!({"amount": "5", "frequency": "once", "grace_days": 91}),
            "grace_days",
        ),
    ] {
        let answer = app
            .post(&path, &who.token, body.clone())
            .await
            .expect_problem(422, "validation_failed");
        assert_eq!(answer.body["field"], field, "{body}");
    }
    // Members pledge for themselves and the group sets the grace period.
    let other = app.join(&collective, &admin, "member").await;
    app.post(
        &path,
        &member.token,
        json!({"amount": "5", "frequency": "once", "pledger": {"member_id": other.membership_id}}),
    )
    .await
    .expect_problem(403, "forbidden");
    app.post(
        &path,
        &member.token,
        json!({"amount": "5", "frequency": "once", "grace_days": 30}),
    )
    .await
    .expect_problem(403, "forbidden");
    assert_eq!(app.count("pledges").await, 0);
    assert_eq!(app.count("pledge_installments").await, 0);

    // A contribution can only fulfil a pledge to its own pool.
    let contributions = format!("/api/v1/pools/{pool}/contributions");
    let unknown = app
        .post_money(
            &contributions,
            &admin.token,
            json!({"amount": "5.00", "method": "cash", "pledge_id": "0196d7a0-0000-7000-8000-000000000000"}),
        )
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(unknown.body["field"], "pledge_id");
    let elsewhere = app.pool(&collective, &admin.token, "EUR").await;
    let p = pledge(
        &app,
        &elsewhere,
        &member,
        json!({"amount": "5", "frequency": "once"}),
    )
    .await;
    let wrong_pool = app
        .post_money(
            &contributions,
            &admin.token,
            json!({"amount": "5.00", "method": "cash", "pledge_id": p["id"]}),
        )
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(wrong_pool.body["field"], "pledge_id");
    assert_eq!(app.count("contributions").await, 0);
    assert_eq!(app.count("ledger_entries").await, 0);
}

#[actix_rt::test]
async fn pausing_a_lapsed_pledge_is_refused_and_the_lapse_stays_counted() {
    let (app, collective, admin, pool, member) = setup().await;
    move_collective(&app, &collective, &admin, BEHIND).await;
    let p = pledge(
        &app,
        &pool,
        &admin,
        json!({"amount": "5.00", "frequency": "monthly", "installments": 2, "grace_days": 0,
               "pledger": {"member_id": member.membership_id}}),
    )
    .await;
    let id = p["id"].as_str().unwrap().to_owned();
    // A day passes for the collective: the first installment is late.
    move_collective(&app, &collective, &admin, AHEAD).await;
    let path = format!("/api/v1/pledges/{id}");
    assert_eq!(
        app.get(&path, &member.token).await.expect(200).body["status"],
        "lapsed"
    );
    for who in [&member, &admin] {
        let refused = app
            .patch(&path, &who.token, json!({"status": "paused"}))
            .await
            .expect_problem(409, "pledge_lapsed");
        assert_eq!(refused.body["current_status"], "lapsed");
    }
    // The lapse stays where people look for it.
    assert_eq!(
        app.get(&path, &member.token).await.expect(200).body["status"],
        "lapsed"
    );
    let lapsed = app
        .get(
            &format!("/api/v1/pools/{pool}/pledges?status=lapsed"),
            &admin.token,
        )
        .await
        .expect(200);
    assert_eq!(lapsed.body["items"][0]["id"], id.as_str());
    let report = app
        .get(
            &format!("/api/v1/pools/{pool}/pledges/report"),
            &admin.token,
        )
        .await
        .expect(200);
    assert_eq!(report.body["lapsed"], 1);
    assert_eq!(report.body["paused"], 0);
    assert!(
        audit_actions(&app, &collective, &admin, "action=pledge.paused")
            .await
            .is_empty()
    );
}

#[actix_rt::test]
async fn a_partial_refund_of_an_overpayment_gives_back_the_unapplied_part_first() {
    let (app, _, admin, pool, member) = setup().await;
    let p = pledge(
        &app,
        &pool,
        &admin,
        json!({"amount": "23.00", "frequency": "once",
               "pledger": {"member_id": member.membership_id}}),
    )
    .await;
    let id = p["id"].as_str().unwrap().to_owned();
    let pledge_path = format!("/api/v1/pledges/{id}");
    let paid = pay(&app, &pool, &admin.token, "100.00", &id).await;
    assert_eq!(paid["applied_to_pledge"], "23.00");
    let contribution = format!("/api/v1/contributions/{}", paid["id"].as_str().unwrap());
    let refund = |amount: &'static str| {
        let app = &app;
        let (path, token) = (format!("{contribution}/refunds"), admin.token.clone());
        async move {
            app.post_money(&path, &token, json!({"amount": amount, "kind": "refund"}))
                .await
                .expect(201)
                .body
        }
    };
    let pledge_now = || async { app.get(&pledge_path, &admin.token).await.expect(200).body };

    // 20.00 back of the 77.00 that paid no installment: the pledge keeps
    // its 23.00.
    assert_eq!(refund("20.00").await["applied_to_pledge"], "23.00");
    let now = pledge_now().await;
    assert_eq!(
        (now["status"].as_str(), now["paid"].as_str()),
        (Some("fulfilled"), Some("23.00"))
    );

    // 60.00 more: 80.00 given back, 20.00 kept — all of it on the pledge.
    assert_eq!(refund("60.00").await["applied_to_pledge"], "20.00");
    let now = pledge_now().await;
    assert_eq!(
        (
            now["status"].as_str(),
            now["paid"].as_str(),
            now["outstanding"].as_str()
        ),
        (Some("active"), Some("20.00"), Some("3.00"))
    );

    // The last 20.00: nothing kept, nothing applied.
    let last = refund("20.00").await;
    assert_eq!(last["applied_to_pledge"], "0.00");
    assert_eq!(last["status"], "refunded");
    assert_eq!(pledge_now().await["outstanding"], "23.00");
    let report = app.verify().await;
    assert!(report.is_clean(), "{report}");
}

#[actix_rt::test]
async fn paying_a_fulfilled_pledge_is_an_ordinary_contribution_and_a_cancelled_one_refuses() {
    let (app, collective, admin, pool, member) = setup().await;
    let p = pledge(
        &app,
        &pool,
        &admin,
        json!({"amount": "10.00", "frequency": "once",
               "pledger": {"member_id": member.membership_id}}),
    )
    .await;
    let id = p["id"].as_str().unwrap().to_owned();
    pay(&app, &pool, &admin.token, "10.00", &id).await;
    let path = format!("/api/v1/pledges/{id}");
    assert_eq!(
        app.get(&path, &admin.token).await.expect(200).body["status"],
        "fulfilled"
    );

    // More money from the pledger: recorded, nothing applied, still theirs.
    let extra = pay(&app, &pool, &admin.token, "5.00", &id).await;
    assert_eq!(extra["applied_to_pledge"], "0.00");
    assert_eq!(extra["pledge_id"], id.as_str());
    assert_eq!(extra["member_id"], member.membership_id.as_str());
    let now = app.get(&path, &admin.token).await.expect(200).body;
    assert_eq!(
        (now["status"].as_str(), now["paid"].as_str()),
        (Some("fulfilled"), Some("10.00"))
    );
    assert_eq!(
        app.balances(&pool, &admin.token).await["available"],
        "15.00"
    );
    // Refunding it takes nothing off the pledge.
    app.post_money(
        &format!(
            "/api/v1/contributions/{}/refunds",
            extra["id"].as_str().unwrap()
        ),
        &admin.token,
        json!({"amount": "5.00", "kind": "refund"}),
    )
    .await
    .expect(201);
    assert_eq!(
        app.get(&path, &admin.token).await.expect(200).body["status"],
        "fulfilled"
    );
    assert!(audit_actions(
        &app,
        &collective,
        &admin,
        "action=pledge.payment_taken_back"
    )
    .await
    .is_empty());

    // A cancelled pledge takes no payment; nothing is recorded.
    let other = pledge(
        &app,
        &pool,
        &admin,
        json!({"amount": "10.00", "frequency": "monthly", "installments": 3,
               "starts_on": (today_in("Europe/Berlin") + chrono::Days::new(7)).to_string(),
               "pledger": {"member_id": member.membership_id}}),
    )
    .await;
    let other = other["id"].as_str().unwrap().to_owned();
    app.patch(
        &format!("/api/v1/pledges/{other}"),
        &admin.token,
        json!({"status": "cancelled"}),
    )
    .await
    .expect(200);
    let before = app.count("contributions").await;
    app.post_money(
        &format!("/api/v1/pools/{pool}/contributions"),
        &admin.token,
        json!({"amount": "1.00", "method": "cash", "pledge_id": other}),
    )
    .await
    .expect_problem(409, "pledge_closed");
    assert_eq!(app.count("contributions").await, before);
    assert!(app.verify().await.is_clean());
}
