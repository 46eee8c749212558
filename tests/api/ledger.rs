//! The ledger over HTTP: pools, contributions, holds, disbursements,
//! refunds and deficits, reversals, amounts, idempotency — and every refusal
//! leaves the books as they were.

use serde_json::json;

use crate::helpers::{Person, TestApp};

async fn setup() -> (TestApp, String, Person, String) {
    let app = TestApp::spawn().await;
    let (collective, admin) = app.bootstrap("Northside").await;
    let pool = app.pool(&collective, &admin.token, "EUR").await;
    (app, collective, admin, pool)
}

#[actix_rt::test]
async fn pools_have_a_fixed_currency_with_its_real_exponent() {
    let app = TestApp::spawn().await;
    let (collective, admin) = app.bootstrap("Northside").await;
    let path = format!("/api/v1/collectives/{collective}/pools");
    let eur = app
        .post(
            &path,
            &admin.token,
            json!({"name": "Rent", "currency": "EUR", "goal": "5000",
            "rules": {"max_request": "500.00", "approvals_needed": 2, "fast_track_limit": "100"}}),
        )
        .await
        .expect(201);
    assert_eq!(eur.body["exponent"], 2);
    assert_eq!(eur.body["goal"], "5000.00");
    assert_eq!(eur.body["rules"]["max_request"], "500.00");
    assert_eq!(eur.body["balances"]["available"], "0.00");
    assert_eq!(eur.body["goal_progress_percent"], "0.00");
    let jpy = app
        .post(
            &path,
            &admin.token,
            json!({"name": "Yen", "currency": "JPY"}),
        )
        .await
        .expect(201);
    assert_eq!(jpy.body["balances"]["available"], "0");
    let bhd = app
        .post(
            &path,
            &admin.token,
            json!({"name": "Dinar", "currency": "BHD"}),
        )
        .await
        .expect(201);
    assert_eq!(bhd.body["balances"]["available"], "0.000");

    for (body, field) in [
        (json!({"name": "X", "currency": "XYZ"}), "currency"),
        (json!({"name": "X", "currency": "eur"}), "currency"),
        (
            json!({"name": "X", "currency": "JPY", "goal": "10.5"}),
            "goal",
        ),
        (
            json!({"name": "X", "currency": "EUR", "rules": {"approvals_needed": 0}}),
            "rules.approvals_needed",
        ),
        (
            json!({"name": "X", "currency": "EUR", "rules": {"max_request": "-5"}}),
            "rules.max_request",
        ),
        (
            json!({"name": "X", "currency": "EUR", "rules": {"max_request": "10", "fast_track_limit": "20"}}),
            "rules.fast_track_limit",
        ),
    ] {
        let answer = app
            .post(&path, &admin.token, body.clone())
            .await
            .expect_problem(422, "validation_failed");
        assert_eq!(answer.body["field"], field, "{body}");
    }
    let changed = app
        .patch(
            &format!("/api/v1/pools/{}", eur.id()),
            &admin.token,
            json!({"currency": "USD"}),
        )
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(changed.body["field"], "currency");
    assert_eq!(app.count("pools").await, 3);
}

#[actix_rt::test]
async fn a_contribution_credits_the_net_and_balances_equal_the_postings() {
    let (app, _, admin, pool) = setup().await;
    app.patch(
        &format!("/api/v1/pools/{pool}"),
        &admin.token,
        json!({"goal": "200.00"}),
    )
    .await
    .expect(200);
    let answer = app
        .post_money(
            &format!("/api/v1/pools/{pool}/contributions"),
            &admin.token,
            json!({"amount": "50.00", "fee": "1.75", "method": "card", "external_reference": "ch_1",
                   "contributor": {"donor_name": "A Neighbour", "donor_email": "n@example.org"}}),
        )
        .await
        .expect(201);
    assert_eq!(answer.body["net"], "48.25");
    let balances = app.balances(&pool, &admin.token).await;
    assert_eq!(balances["available"], "48.25");
    assert_eq!(balances["received"], "50.00");
    assert_eq!(balances["fees"], "1.75");
    let shown = app
        .get(&format!("/api/v1/pools/{pool}"), &admin.token)
        .await;
    assert_eq!(shown.body["goal_progress_percent"], "24.12");

    let entries = app
        .get(&format!("/api/v1/pools/{pool}/entries"), &admin.token)
        .await
        .expect(200);
    let entry = &entries.body["items"][0];
    assert_eq!(entry["kind"], "contribution");
    let postings = entry["postings"].as_array().unwrap();
    let total: i64 = postings
        .iter()
        .map(|p| (p["amount"].as_str().unwrap().parse::<f64>().unwrap() * 100.0).round() as i64)
        .sum();
    assert_eq!(total, 0, "debits equal credits: {postings:?}");
    assert!(
        !entries.body.to_string().contains("Neighbour"),
        "no personal data in the ledger"
    );
    assert!(!entries.body.to_string().contains("n@example.org"));
    assert!(app.verify().await.is_clean());
}

#[actix_rt::test]
async fn amounts_are_exact_decimal_strings_or_refused_with_the_field_named() {
    let (app, _, admin, pool) = setup().await;
    let path = format!("/api/v1/pools/{pool}/contributions");
    for amount in [
        json!("12.345"),
        json!("-1.00"),
        json!("0"),
        json!("0.00"),
        json!(12),
        json!(12.5),
        json!("1_000"),
        json!("1e3"),
        json!("abc"),
        json!(""),
        json!("99999999999999999999"),
        json!("10000000000000.01"),
        json!(null),
    ] {
        let answer = app
            .post_money(
                &path,
                &admin.token,
                json!({"amount": amount, "method": "cash"}),
            )
            .await
            .expect_problem(422, "validation_failed");
        assert_eq!(
            answer.body["field"], "amount",
            "for {amount}: {}",
            answer.body
        );
    }
    let fee = app
        .post_money(
            &path,
            &admin.token,
            json!({"amount": "10.00", "fee": "10.00", "method": "cash"}),
        )
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(fee.body["field"], "fee");
    let method = app
        .post_money(
            &path,
            &admin.token,
            json!({"amount": "10.00", "method": "gold"}),
        )
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(method.body["field"], "method");
    assert_eq!(app.count("contributions").await, 0);
    assert_eq!(app.count("ledger_entries").await, 0);
    assert_eq!(app.balances(&pool, &admin.token).await["available"], "0.00");
}

#[actix_rt::test]
async fn a_processor_retry_with_the_same_reference_records_the_money_once() {
    let (app, _, admin, pool) = setup().await;
    let path = format!("/api/v1/pools/{pool}/contributions");
    let body = json!({"amount": "20.00", "method": "card", "external_reference": "pi_42"});
    let first = app
        .post_money(&path, &admin.token, body.clone())
        .await
        .expect(201);
    let again = app
        .post_money(&path, &admin.token, body)
        .await
        .expect_problem(409, "duplicate_contribution");
    assert_eq!(again.body["contribution_id"], first.id().as_str());
    assert_eq!(
        app.balances(&pool, &admin.token).await["available"],
        "20.00"
    );
}

#[actix_rt::test]
async fn idempotency_keys_replay_answers_and_refuse_other_bodies() {
    let (app, _, admin, pool) = setup().await;
    let path = format!("/api/v1/pools/{pool}/contributions");
    let body = json!({"amount": "30.00", "method": "cash"});
    let first = app
        .post_keyed(&path, &admin.token, "k-1", body.clone())
        .await
        .expect(201);
    // The same content with keys in another order is the same request.
    let reordered = json!({"method": "cash", "amount": "30.00"});
    let replay = app
        .post_keyed(&path, &admin.token, "k-1", reordered)
        .await
        .expect(201);
    assert_eq!(replay.body, first.body);
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(
        app.balances(&pool, &admin.token).await["available"],
        "30.00",
        "money moved once"
    );

    let other = app
        .post_keyed(
            &path,
            &admin.token,
            "k-1",
            json!({"amount": "31.00", "method": "cash"}),
        )
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(other.body["field"], "Idempotency-Key");

    let missing = app
        .post(&path, &admin.token, body.clone())
        .await
        .expect_problem(400, "idempotency_key_required");
    assert_eq!(missing.body["field"], "Idempotency-Key");

    // A refusal is an answer too: the same key keeps answering it, even
    // after the pool could afford it; a new key tries again.
    let holds = format!("/api/v1/pools/{pool}/holds");
    let short = app
        .post_keyed(&holds, &admin.token, "h-1", json!({"amount": "50.00"}))
        .await;
    short.expect_problem(409, "insufficient_funds");
    app.contribute(&pool, &admin.token, "40.00")
        .await
        .expect(201);
    let still = app
        .post_keyed(&holds, &admin.token, "h-1", json!({"amount": "50.00"}))
        .await;
    assert_eq!(
        still
            .expect_problem(409, "insufficient_funds")
            .header("idempotent-replayed"),
        Some("true")
    );
    app.post_keyed(&holds, &admin.token, "h-2", json!({"amount": "50.00"}))
        .await
        .expect(201);

    // Keys are per caller: another coordinator's "k-1" is their own.
    let collective = app
        .get(&format!("/api/v1/pools/{pool}"), &admin.token)
        .await
        .body["collective_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let other_coordinator = app.join(&collective, &admin, "coordinator").await;
    app.post_keyed(
        &path,
        &other_coordinator.token,
        "k-1",
        json!({"amount": "1.00", "method": "cash"}),
    )
    .await
    .expect(201);
    assert_eq!(app.count("contributions").await, 3);
}

#[actix_rt::test]
async fn concurrent_retries_with_one_key_execute_once() {
    let (app, _, admin, pool) = setup().await;
    let path = format!("/api/v1/pools/{pool}/contributions");
    let tries = (0..8).map(|_| {
        app.post_keyed(
            &path,
            &admin.token,
            "same-key",
            json!({"amount": "5.00", "method": "cash"}),
        )
    });
    let answers = futures::future::join_all(tries).await;
    let ids: std::collections::BTreeSet<String> = answers
        .iter()
        .filter(|a| a.status == 201)
        .map(|a| a.body["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        ids.len(),
        1,
        "every success is the same contribution: {answers:?}"
    );
    assert_eq!(app.count("contributions").await, 1);
    assert_eq!(app.balances(&pool, &admin.token).await["available"], "5.00");
}

#[actix_rt::test]
async fn holds_and_disbursements_never_exceed_what_was_reserved() {
    let (app, _, admin, pool) = setup().await;
    app.contribute(&pool, &admin.token, "100.00")
        .await
        .expect(201);
    let hold = app
        .post_money(
            &format!("/api/v1/pools/{pool}/holds"),
            &admin.token,
            json!({"amount": "30.00"}),
        )
        .await
        .expect(201);
    let hold_id = hold.id();
    let balances = app.balances(&pool, &admin.token).await;
    assert_eq!(
        (balances["available"].as_str(), balances["held"].as_str()),
        (Some("70.00"), Some("30.00"))
    );

    let disburse = format!("/api/v1/holds/{hold_id}/disbursements");
    let first = app
        .post_money(&disburse, &admin.token, json!({"amount": "20.00"}))
        .await
        .expect(201);
    assert_eq!(first.body["status"], "pending");
    let over = app
        .post_money(&disburse, &admin.token, json!({"amount": "15.00"}))
        .await;
    assert_eq!(
        over.expect_problem(409, "hold_exceeded").body["remaining"],
        "10.00"
    );

    let outcome = |id: String| format!("/api/v1/disbursements/{id}/outcome");
    app.post_money(
        &outcome(first.id()),
        &admin.token,
        json!({"outcome": "failed", "reason": "bank refused"}),
    )
    .await
    .expect(200);
    let hold_now = app
        .get(&format!("/api/v1/holds/{hold_id}"), &admin.token)
        .await
        .expect(200);
    assert_eq!(
        hold_now.body["remaining"], "30.00",
        "a failed payout returns to the hold"
    );
    assert_eq!(app.balances(&pool, &admin.token).await["held"], "30.00");

    let second = app
        .post_money(&disburse, &admin.token, json!({"amount": "30.00"}))
        .await
        .expect(201);
    app.post_money(
        &outcome(second.id()),
        &admin.token,
        json!({"outcome": "paid", "external_reference": "tr_9"}),
    )
    .await
    .expect(200);
    let resolved_twice = app
        .post_money(
            &outcome(second.id()),
            &admin.token,
            json!({"outcome": "failed"}),
        )
        .await;
    assert_eq!(
        resolved_twice
            .expect_problem(409, "disbursement_resolved")
            .body["current_status"],
        "paid"
    );
    let balances = app.balances(&pool, &admin.token).await;
    assert_eq!(balances["held"], "0.00");
    assert_eq!(balances["paid"], "30.00");
    assert_eq!(balances["available"], "70.00");
    let closed = app
        .get(&format!("/api/v1/holds/{hold_id}"), &admin.token)
        .await;
    assert_eq!(closed.body["status"], "closed");
    assert!(app.verify().await.is_clean());
}

#[actix_rt::test]
async fn holds_split_and_release_without_creating_money() {
    let (app, _, admin, pool) = setup().await;
    app.contribute(&pool, &admin.token, "100.00")
        .await
        .expect(201);
    let hold = app
        .post_money(
            &format!("/api/v1/pools/{pool}/holds"),
            &admin.token,
            json!({"amount": "100.00"}),
        )
        .await
        .expect(201)
        .id();
    let children = app
        .post_money(
            &format!("/api/v1/holds/{hold}/split"),
            &admin.token,
            json!({"amounts": ["40.00", "30.00"]}),
        )
        .await
        .expect(201);
    assert_eq!(children.body.as_array().unwrap().len(), 2);
    let parent = app
        .get(&format!("/api/v1/holds/{hold}"), &admin.token)
        .await;
    assert_eq!(
        (
            parent.body["remaining"].as_str(),
            parent.body["split"].as_str()
        ),
        (Some("30.00"), Some("70.00"))
    );
    app.post_money(
        &format!("/api/v1/holds/{hold}/split"),
        &admin.token,
        json!({"amounts": ["31.00"]}),
    )
    .await
    .expect_problem(409, "hold_exceeded");
    app.post_money(
        &format!("/api/v1/holds/{hold}/release"),
        &admin.token,
        json!({}),
    )
    .await
    .expect(200);
    let child = children.body[0]["id"].as_str().unwrap();
    app.post_money(
        &format!("/api/v1/holds/{child}/release"),
        &admin.token,
        json!({"amount": "15.00"}),
    )
    .await
    .expect(200);
    app.post_money(
        &format!("/api/v1/holds/{child}/release"),
        &admin.token,
        json!({"amount": "25.01"}),
    )
    .await
    .expect_problem(409, "hold_exceeded");
    let balances = app.balances(&pool, &admin.token).await;
    assert_eq!(
        (balances["available"].as_str(), balances["held"].as_str()),
        (Some("45.00"), Some("55.00"))
    );
    assert!(app.verify().await.is_clean());
}

#[actix_rt::test]
async fn a_short_pool_refuses_a_hold_and_says_what_is_available() {
    let (app, _, admin, pool) = setup().await;
    app.contribute(&pool, &admin.token, "25.00")
        .await
        .expect(201);
    let refused = app
        .post_money(
            &format!("/api/v1/pools/{pool}/holds"),
            &admin.token,
            json!({"amount": "25.01"}),
        )
        .await
        .expect_problem(409, "insufficient_funds");
    assert_eq!(refused.body["available"], "25.00");
    assert_eq!(app.count("holds").await, 0);
    assert_eq!(
        app.balances(&pool, &admin.token).await["available"],
        "25.00"
    );
}

#[actix_rt::test]
async fn refunds_of_spent_money_become_a_deficit_that_blocks_holds_until_covered() {
    let (app, _, admin, pool) = setup().await;
    let contribution = app
        .contribute(&pool, &admin.token, "100.00")
        .await
        .expect(201)
        .id();
    app.post_money(
        &format!("/api/v1/pools/{pool}/holds"),
        &admin.token,
        json!({"amount": "80.00"}),
    )
    .await
    .expect(201);
    let refunds = format!("/api/v1/contributions/{contribution}/refunds");
    app.post_money(
        &refunds,
        &admin.token,
        json!({"amount": "50.00", "kind": "chargeback", "reason": "disputed"}),
    )
    .await
    .expect(201);
    let balances = app.balances(&pool, &admin.token).await;
    assert_eq!(
        balances["available"], "0.00",
        "the pool never goes negative"
    );
    assert_eq!(balances["deficit"], "30.00");
    assert_eq!(balances["refunded"], "50.00");
    let blocked = app
        .post_money(
            &format!("/api/v1/pools/{pool}/holds"),
            &admin.token,
            json!({"amount": "0.01"}),
        )
        .await
        .expect_problem(409, "pool_in_deficit");
    assert_eq!(blocked.body["deficit"], "30.00");
    let too_much = app
        .post_money(
            &refunds,
            &admin.token,
            json!({"amount": "50.01", "kind": "refund"}),
        )
        .await;
    assert_eq!(
        too_much
            .expect_problem(409, "refund_exceeds_contribution")
            .body["refundable"],
        "50.00"
    );

    app.contribute(&pool, &admin.token, "40.00")
        .await
        .expect(201);
    let balances = app.balances(&pool, &admin.token).await;
    assert_eq!(
        (balances["deficit"].as_str(), balances["available"].as_str()),
        (Some("0.00"), Some("10.00"))
    );
    app.post_money(
        &format!("/api/v1/pools/{pool}/holds"),
        &admin.token,
        json!({"amount": "10.00"}),
    )
    .await
    .expect(201);
    assert!(app.verify().await.is_clean());
}

#[actix_rt::test]
async fn a_mistaken_contribution_is_reversed_once_by_a_new_entry() {
    let (app, _, admin, pool) = setup().await;
    let contribution = app
        .contribute(&pool, &admin.token, "12.00")
        .await
        .expect(201);
    let entry = contribution.body["entry_id"].as_str().unwrap().to_owned();
    let reversal = app
        .post_money(
            &format!("/api/v1/entries/{entry}/reversal"),
            &admin.token,
            json!({"reason": "typo"}),
        )
        .await
        .expect(201);
    assert_eq!(reversal.body["reverses_entry_id"], entry.as_str());
    assert_eq!(reversal.body["kind"], "reversal");
    app.post_money(
        &format!("/api/v1/entries/{entry}/reversal"),
        &admin.token,
        json!({}),
    )
    .await
    .expect_problem(409, "already_reversed");
    assert_eq!(app.balances(&pool, &admin.token).await["available"], "0.00");
    let reversed = app
        .get(
            &format!("/api/v1/contributions/{}", contribution.id()),
            &admin.token,
        )
        .await;
    assert_eq!(reversed.body["status"], "reversed");

    app.contribute(&pool, &admin.token, "5.00")
        .await
        .expect(201);
    let hold = app
        .post_money(
            &format!("/api/v1/pools/{pool}/holds"),
            &admin.token,
            json!({"amount": "5.00"}),
        )
        .await
        .expect(201);
    let entries = app
        .get(&format!("/api/v1/pools/{pool}/entries"), &admin.token)
        .await;
    let hold_entry = entries.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["reference_id"] == hold.id().as_str())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.post_money(
        &format!("/api/v1/entries/{hold_entry}/reversal"),
        &admin.token,
        json!({}),
    )
    .await
    .expect_problem(409, "not_reversible");
    assert!(app.verify().await.is_clean());
}

#[actix_rt::test]
async fn the_journal_cannot_be_edited_or_deleted() {
    let (app, _, admin, pool) = setup().await;
    app.contribute(&pool, &admin.token, "10.00")
        .await
        .expect(201);
    let db = app.db.clone();
    let outcomes = tokio::task::spawn_blocking(move || {
        use diesel::RunQueryDsl;
        let mut conn = db.get().unwrap();
        [
            "UPDATE ledger_postings SET amount_minor = amount_minor * 2",
            "DELETE FROM ledger_postings",
            "UPDATE ledger_entries SET kind = 'refund'",
            "DELETE FROM ledger_entries",
        ]
        .map(|sql| diesel::sql_query(sql).execute(&mut **conn).is_err())
    })
    .await
    .unwrap();
    assert_eq!(outcomes, [true; 4], "every edit of the journal is refused");
    assert_eq!(
        app.count("ledger_postings").await,
        2,
        "cash in, available credited"
    );
}

#[actix_rt::test]
async fn money_never_crosses_collectives_and_members_see_no_donors() {
    let (app, collective, admin, pool) = setup().await;
    let contribution = app
        .post_money(
            &format!("/api/v1/pools/{pool}/contributions"),
            &admin.token,
            json!({"amount": "10.00", "method": "cash", "contributor": {"donor_name": "Private Person"}}),
        )
        .await
        .expect(201)
        .id();
    let (_, stranger) = app.bootstrap("Elsewhere").await;
    app.get(&format!("/api/v1/pools/{pool}"), &stranger.token)
        .await
        .expect_problem(404, "not_found");
    app.get(
        &format!("/api/v1/contributions/{contribution}"),
        &stranger.token,
    )
    .await
    .expect_problem(404, "not_found");
    app.post_money(
        &format!("/api/v1/pools/{pool}/holds"),
        &stranger.token,
        json!({"amount": "1.00"}),
    )
    .await
    .expect_problem(404, "not_found");

    let member = app.join(&collective, &admin, "member").await;
    app.get(&format!("/api/v1/pools/{pool}"), &member.token)
        .await
        .expect(200);
    app.get(&format!("/api/v1/pools/{pool}/entries"), &member.token)
        .await
        .expect(200);
    let refused = app
        .get(
            &format!("/api/v1/pools/{pool}/contributions"),
            &member.token,
        )
        .await;
    refused.expect_problem(403, "forbidden");
    app.post_money(
        &format!("/api/v1/pools/{pool}/holds"),
        &member.token,
        json!({"amount": "1.00"}),
    )
    .await
    .expect_problem(403, "forbidden");
}

#[actix_rt::test]
async fn payment_partners_record_contributions_and_payout_outcomes_with_their_scopes() {
    let (app, collective, admin, pool) = setup().await;
    let (processor, _, _) = app
        .partner(&collective, &admin, &["contributions:write"])
        .await;
    let (bank, _, _) = app
        .partner(&collective, &admin, &["disbursements:write"])
        .await;
    app.post_money(
        &format!("/api/v1/pools/{pool}/contributions"),
        &processor,
        json!({"amount": "60.00", "fee": "2.00", "method": "card", "external_reference": "evt_1"}),
    )
    .await
    .expect(201);
    app.post_money(
        &format!("/api/v1/pools/{pool}/holds"),
        &processor,
        json!({"amount": "1.00"}),
    )
    .await
    .expect_problem(403, "insufficient_scope");
    let hold = app
        .post_money(
            &format!("/api/v1/pools/{pool}/holds"),
            &admin.token,
            json!({"amount": "50.00"}),
        )
        .await
        .expect(201)
        .id();
    let payout = app
        .post_money(
            &format!("/api/v1/holds/{hold}/disbursements"),
            &admin.token,
            json!({"amount": "50.00"}),
        )
        .await
        .expect(201)
        .id();
    app.post_money(
        &format!("/api/v1/disbursements/{payout}/outcome"),
        &processor,
        json!({"outcome": "paid"}),
    )
    .await
    .expect_problem(403, "insufficient_scope");
    app.post_money(
        &format!("/api/v1/disbursements/{payout}/outcome"),
        &bank,
        json!({"outcome": "paid"}),
    )
    .await
    .expect(200);
    let trail = app
        .get(
            &format!("/api/v1/audit?collective_id={collective}&action=disbursement.paid"),
            &admin.token,
        )
        .await
        .expect(200);
    assert_eq!(trail.body["items"][0]["actor_kind"], "client");
    assert_eq!(app.balances(&pool, &admin.token).await["paid"], "50.00");
}

fn commonpot(args: &[&str], database_url: &str) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_commonpot"))
        .args(args)
        .env("DATABASE_URL", database_url)
        .output()
        .expect("the binary runs")
}

#[actix_rt::test]
async fn verify_passes_on_a_sound_ledger_and_reports_a_tampered_one() {
    let (app, _, admin, pool) = setup().await;
    app.contribute(&pool, &admin.token, "10.00")
        .await
        .expect(201);
    let url = app.settings.database_url.clone();
    let sound = commonpot(&["verify"], &url);
    assert!(
        sound.status.success(),
        "{}",
        String::from_utf8_lossy(&sound.stdout)
    );
    assert!(String::from_utf8_lossy(&sound.stdout).contains("all ledger invariants hold"));

    let db = app.db.clone();
    tokio::task::spawn_blocking(move || {
        use diesel::RunQueryDsl;
        let mut conn = db.get().unwrap();
        diesel::sql_query("UPDATE pools SET available_minor = available_minor + 1")
            .execute(&mut **conn)
            .unwrap();
    })
    .await
    .unwrap();
    let tampered = commonpot(&["verify"], &url);
    assert!(!tampered.status.success());
    let report = String::from_utf8_lossy(&tampered.stdout);
    assert!(
        report.contains("available shows 1001 but its postings sum to 1000"),
        "{report}"
    );
}

/// Today in the collective's time zone (the harness bootstraps in Berlin).
fn today_in_berlin() -> chrono::NaiveDate {
    chrono::Utc::now()
        .with_timezone(&chrono_tz::Europe::Berlin)
        .date_naive()
}

/// Today's statement of a pool.
async fn statement_today(app: &TestApp, pool: &str, token: &str) -> serde_json::Value {
    let day = today_in_berlin();
    app.get(
        &format!("/api/v1/pools/{pool}/statement?from={day}&to={day}"),
        token,
    )
    .await
    .expect(200)
    .body
}

#[actix_rt::test]
async fn a_chargeback_takes_back_the_gross_and_the_pool_bears_the_fees() {
    let (app, _, admin, pool) = setup().await;
    let card = app
        .post_money(
            &format!("/api/v1/pools/{pool}/contributions"),
            &admin.token,
            json!({"amount": "100.00", "fee": "2.50", "method": "card"}),
        )
        .await
        .expect(201);
    assert_eq!(card.body["net"], "97.50");
    let refunds = format!("/api/v1/contributions/{}/refunds", card.id());

    // A dispute fee belongs to a chargeback only; nothing moves.
    let refused = app
        .post_money(
            &refunds,
            &admin.token,
            json!({"amount": "10.00", "kind": "refund", "dispute_fee": "15.00"}),
        )
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(refused.body["field"], "dispute_fee");
    assert_eq!(app.balances(&pool, &admin.token).await["refunded"], "0.00");

    // Part refunded, then the rest charged back: the gross, 100.00, leaves,
    // with a dispute fee of 15.00 on top.
    let part = app
        .post_money(
            &refunds,
            &admin.token,
            json!({"amount": "60.00", "kind": "refund"}),
        )
        .await
        .expect(201);
    assert_eq!(part.body["status"], "partially_refunded");
    let charged_back = app
        .post_money(
            &refunds,
            &admin.token,
            json!({"amount": "40.00", "kind": "chargeback", "dispute_fee": "15.00",
                   "reason": "cardholder dispute"}),
        )
        .await
        .expect(201);
    assert_eq!(charged_back.body["status"], "refunded");
    assert_eq!(charged_back.body["refunded"], "100.00");
    assert_eq!(charged_back.body["dispute_fees"], "15.00");
    let more = app
        .post_money(
            &refunds,
            &admin.token,
            json!({"amount": "0.01", "kind": "chargeback"}),
        )
        .await
        .expect_problem(409, "refund_exceeds_contribution");
    assert_eq!(more.body["refundable"], "0.00");

    // The pool bears the processor fee it never received and the dispute
    // fee: 17.50 it does not have, owed as deficit, never below zero.
    let balances = app.balances(&pool, &admin.token).await;
    assert_eq!(balances["available"], "0.00");
    assert_eq!(balances["deficit"], "17.50");
    assert_eq!(balances["received"], "100.00");
    assert_eq!(balances["refunded"], "100.00");
    assert_eq!(balances["fees"], "17.50");

    // The statement says the same, line by line.
    let statement = statement_today(&app, &pool, &admin.token).await;
    let chargeback = statement["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["kind"] == "chargeback")
        .unwrap()
        .clone();
    assert_eq!(chargeback["outflow"], "40.00");
    assert_eq!(chargeback["fees"], "15.00");
    assert_eq!(chargeback["change"], "-55.00");
    assert_eq!(statement["closing"]["available"], "0.00");
    assert_eq!(statement["closing"]["deficit"], "17.50");
    assert_eq!(statement["closing"]["balance"], "-17.50");
    assert_eq!(statement["totals"]["returned"], "100.00");
    assert_eq!(statement["totals"]["fees"], "17.50");
    // And the summary: nothing to spend, nothing raised.
    let summary = app
        .get(&format!("/api/v1/pools/{pool}/summary"), &admin.token)
        .await
        .expect(200);
    assert_eq!(summary.body["available"], "0.00");
    assert_eq!(summary.body["raised"], "-17.50");

    // A new contribution covers the deficit first.
    app.contribute(&pool, &admin.token, "20.00")
        .await
        .expect(201);
    let balances = app.balances(&pool, &admin.token).await;
    assert_eq!(
        (balances["deficit"].as_str(), balances["available"].as_str()),
        (Some("0.00"), Some("2.50"))
    );
    let report = app.verify().await;
    assert!(report.is_clean(), "{report}");
}

#[actix_rt::test]
async fn money_coming_back_covers_the_deficit_before_it_can_be_spent() {
    let (app, _, admin, pool) = setup().await;
    let gift = app
        .contribute(&pool, &admin.token, "200.00")
        .await
        .expect(201)
        .id();
    let hold = app
        .post_money(
            &format!("/api/v1/pools/{pool}/holds"),
            &admin.token,
            json!({"amount": "150.00"}),
        )
        .await
        .expect(201)
        .id();
    app.post_money(
        &format!("/api/v1/contributions/{gift}/refunds"),
        &admin.token,
        json!({"amount": "200.00", "kind": "chargeback"}),
    )
    .await
    .expect(201);
    let balances = app.balances(&pool, &admin.token).await;
    assert_eq!(
        (
            balances["available"].as_str(),
            balances["held"].as_str(),
            balances["deficit"].as_str()
        ),
        (Some("0.00"), Some("150.00"), Some("150.00"))
    );

    // Releasing 100.00 of the hold pays off the deficit; nothing becomes
    // spendable while the pool's money is 0.00.
    app.post_money(
        &format!("/api/v1/holds/{hold}/release"),
        &admin.token,
        json!({"amount": "100.00"}),
    )
    .await
    .expect(200);
    let balances = app.balances(&pool, &admin.token).await;
    assert_eq!(
        (
            balances["available"].as_str(),
            balances["held"].as_str(),
            balances["deficit"].as_str()
        ),
        (Some("0.00"), Some("50.00"), Some("50.00"))
    );
    let summary = app
        .get(&format!("/api/v1/pools/{pool}/summary"), &admin.token)
        .await
        .expect(200);
    assert_eq!(summary.body["available"], "0.00");
    assert_eq!(summary.body["held"], "50.00");
    let statement = statement_today(&app, &pool, &admin.token).await;
    assert_eq!(statement["closing"]["available"], "0.00");
    assert_eq!(statement["closing"]["deficit"], "50.00");
    assert_eq!(statement["closing"]["balance"], "0.00");
    let release = statement["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["kind"] == "release")
        .unwrap()
        .clone();
    assert_eq!(
        (release["held"].as_str(), release["change"].as_str()),
        (Some("-100.00"), Some("0.00"))
    );

    // The rest of the hold clears the deficit; still nothing to spend.
    app.post_money(
        &format!("/api/v1/holds/{hold}/release"),
        &admin.token,
        json!({}),
    )
    .await
    .expect(200);
    let balances = app.balances(&pool, &admin.token).await;
    assert_eq!(
        (
            balances["available"].as_str(),
            balances["held"].as_str(),
            balances["deficit"].as_str()
        ),
        (Some("0.00"), Some("0.00"), Some("0.00"))
    );
    app.post_money(
        &format!("/api/v1/pools/{pool}/holds"),
        &admin.token,
        json!({"amount": "0.01"}),
    )
    .await
    .expect_problem(409, "insufficient_funds");
    let report = app.verify().await;
    assert!(report.is_clean(), "{report}");
}

#[actix_rt::test]
async fn a_total_beyond_what_any_pool_can_hold_is_refused_never_overflowed() {
    let (app, _, admin, pool) = setup().await;
    // The largest amount there is, ten times: the most a pool can hold.
    let largest = "10000000000000.00";
    for _ in 0..10 {
        app.contribute(&pool, &admin.token, largest)
            .await
            .expect(201);
    }
    let refused = app
        .contribute(&pool, &admin.token, "0.01")
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(refused.body["field"], "amount");
    assert_eq!(app.count("contributions").await, 10);
    let balances = app.balances(&pool, &admin.token).await;
    assert_eq!(balances["received"], "100000000000000.00");
    assert_eq!(balances["available"], "100000000000000.00");
    let report = app.verify().await;
    assert!(report.is_clean(), "{report}");
}
