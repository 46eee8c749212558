//! What a round funds: only candidates with (enough) weighted support,
//! under every rule and ballot type; the export holds exactly the election
//! the round tallies; and the tally, run outside any transaction, is
//! stored once however many ask for it at the same time.

use commonpot::auth::access::Principal;
use commonpot::error::Error;
use commonpot_tally::{pabulib, tally, Rule};
use reqwest::Method;
use serde_json::{json, Value};

use crate::rounds::{approval, setup, Setup};

fn selected(result: &Value) -> Vec<String> {
    result["selected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["request_id"].as_str().unwrap().to_owned())
        .collect()
}

fn line<'a>(result: &'a Value, request: &str) -> &'a Value {
    result["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["request_id"] == request)
        .unwrap_or_else(|| panic!("no line for {request}: {result}"))
}

/// Closes and tallies an open round, returning the result.
async fn close_and_tally(s: &Setup, round: &str) -> Value {
    s.step(round, "close").await.expect(200);
    s.step(round, "tally").await.expect(200).body
}

/// The round's export, in both weight encodings, re-tallied by the engine
/// as a stranger would: the projects it holds, and what each tally selects.
async fn exported(s: &Setup, round: &str) -> Vec<(Vec<String>, Vec<String>)> {
    let mut out = Vec::new();
    for mode in ["column", "repeat"] {
        let response = s
            .app
            .raw(
                Method::GET,
                &format!("/api/v1/rounds/{round}/export.pb?weights={mode}"),
            )
            .bearer_auth(&s.admin.token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let text = response.text().await.unwrap();
        let election = pabulib::parse(&text).unwrap();
        let again = tally(&election, Rule::default_for(&election), &mut |_| {}).unwrap();
        out.push((
            election.projects.iter().map(|p| p.id.clone()).collect(),
            again.selected,
        ));
    }
    out
}

#[actix_rt::test]
async fn a_candidate_nobody_supports_is_never_funded_under_any_rule() {
    let s = setup("1000.00").await;
    let (ann, bea) = (s.member().await, s.member().await);
    for rule in ["greedy", "mes", "mes-add1"] {
        let a = s.request(&ann, "40.00").await;
        let nobodys = s.request(&ann, "30.00").await;
        let mut body = approval(&[&a, &nobodys], "100.00");
        body["rule"] = json!(rule);
        let round = s.round(body).await;
        s.step(&round, "open").await.expect(200);
        for who in [&ann, &bea] {
            s.vote(who, &round, json!({"approve": [a]}))
                .await
                .expect(200);
        }
        let result = close_and_tally(&s, &round).await;
        assert_eq!(
            selected(&result),
            std::slice::from_ref(&a),
            "{rule}: {result}"
        );
        let unsupported = line(&result, &nobodys);
        assert_eq!(unsupported["verdict"], "no_support", "{rule}: {result}");
        assert_eq!(unsupported["selected"], false);
        assert_eq!(unsupported["support"], "0");
        assert_eq!(result["spent"], "40.00");
        for (projects, again) in exported(&s, &round).await {
            assert_eq!(
                projects,
                std::slice::from_ref(&a),
                "{rule}: only the supported one"
            );
            assert_eq!(again, std::slice::from_ref(&a), "{rule}");
        }
        s.step(&round, "enact").await.expect(200);
        assert_eq!(s.request_state(&nobodys).await["state"], "not_funded");
        assert_eq!(s.request_state(&a).await["state"], "approved");
    }
    let balances = s.app.balances(&s.pool, &s.admin.token).await;
    assert_eq!(balances["held"], "120.00", "three times 40.00, never 30.00");
    assert!(s.app.verify().await.is_clean());
}

#[actix_rt::test]
async fn points_and_rankings_that_give_a_candidate_nothing_do_not_fund_it() {
    let s = setup("1000.00").await;
    let (ann, bea) = (s.member().await, s.member().await);
    let a = s.request(&ann, "40.00").await;
    let b = s.request(&ann, "30.00").await;
    let c = s.request(&ann, "20.00").await;
    // Cumulative: c gets no points from anyone.
    let cumulative = s
        .round(
            json!({"title": "Points", "budget": "100.00", "candidates": [a, b, c],
                      "ballot": {"type": "cumulative", "points": 10}, "rule": "greedy"}),
        )
        .await;
    s.step(&cumulative, "open").await.expect(200);
    s.vote(
        &ann,
        &cumulative,
        json!({"points": {a.clone(): 6, b.clone(): 4}}),
    )
    .await
    .expect(200);
    s.vote(&bea, &cumulative, json!({"points": {b.clone(): 10}}))
        .await
        .expect(200);
    let result = close_and_tally(&s, &cumulative).await;
    assert_eq!(line(&result, &c)["verdict"], "no_support", "{result}");
    assert!(!selected(&result).contains(&c), "{result}");
    assert_eq!(selected(&result).len(), 2);
    for (projects, again) in exported(&s, &cumulative).await {
        assert_eq!(projects, [a.clone(), b.clone()]);
        assert_eq!(again, selected(&result));
    }
    s.step(&cumulative, "cancel").await.expect(200);

    // Ranked (Borda, as pabutools scores it): a candidate everyone ranks
    // last scores nothing, and the others keep the scores their whole
    // ranking gave them.
    let ranked = s
        .round(
            json!({"title": "Ranks", "budget": "100.00", "candidates": [a, b, c],
                      "ballot": {"type": "ranked"}, "rule": "greedy"}),
        )
        .await;
    s.step(&ranked, "open").await.expect(200);
    s.vote(&ann, &ranked, json!({"ranking": [a, b, c]}))
        .await
        .expect(200);
    s.vote(&bea, &ranked, json!({"ranking": [b, a, c]}))
        .await
        .expect(200);
    let result = close_and_tally(&s, &ranked).await;
    assert_eq!(line(&result, &c)["verdict"], "no_support", "{result}");
    assert_eq!(line(&result, &a)["satisfaction"], "3", "2 + 1: {result}");
    assert_eq!(line(&result, &b)["satisfaction"], "3", "1 + 2: {result}");
    assert_eq!(selected(&result), [b.clone(), a.clone()], "{result}");
    for (projects, again) in exported(&s, &ranked).await {
        assert_eq!(projects, [a.clone(), b.clone()]);
        assert_eq!(again, selected(&result));
    }
    s.step(&ranked, "enact").await.expect(200);
    assert_eq!(s.request_state(&c).await["state"], "not_funded");
    assert!(s.app.verify().await.is_clean());
}

#[actix_rt::test]
async fn a_round_may_ask_a_minimum_weighted_support() {
    let s = setup("1000.00").await;
    let eviction = s.issue("facing eviction").await;
    let (ann, bea, cy) = (s.member().await, s.member().await, s.member().await);
    s.declare(&ann, json!([{"issue_id": eviction, "tier": "direct"}]))
        .await;
    let a = s.request(&cy, "40.00").await;
    let b = s.request(&cy, "30.00").await;
    let c = s.request(&cy, "20.00").await;
    let mut body = approval(&[&a, &b, &c], "100.00");
    body["rule"] = json!("greedy");
    body["policy"] = json!({"direct": 3});
    for bad in [json!(0), json!(-1), json!(1_000_000_001), json!("3")] {
        let mut wrong = body.clone();
        wrong["min_support"] = bad;
        let refused = s
            .app
            .post(
                &format!("/api/v1/pools/{}/rounds", s.pool),
                &s.admin.token,
                wrong,
            )
            .await;
        assert_eq!(refused.status, 422, "{}", refused.body);
        assert_eq!(refused.body["field"], "min_support", "{}", refused.body);
    }
    body["min_support"] = json!(2);
    let round = s.round(body).await;
    let patched = s
        .app
        .patch(
            &format!("/api/v1/rounds/{round}"),
            &s.admin.token,
            json!({"min_support": 0}),
        )
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(patched.body["field"], "min_support");
    let round_now = s
        .app
        .patch(
            &format!("/api/v1/rounds/{round}"),
            &s.admin.token,
            json!({"min_support": 3}),
        )
        .await
        .expect(200);
    assert_eq!(round_now.body["min_support"], 3);
    s.step(&round, "open").await.expect(200);
    // a: ann alone, weight 3. b: bea and cy, weight 2. c: nobody.
    s.vote(&ann, &round, json!({"approve": [a]}))
        .await
        .expect(200);
    for who in [&bea, &cy] {
        s.vote(who, &round, json!({"approve": [b]}))
            .await
            .expect(200);
    }
    let result = close_and_tally(&s, &round).await;
    assert_eq!(result["min_support"], 3);
    assert_eq!(selected(&result), std::slice::from_ref(&a), "{result}");
    assert_eq!(line(&result, &a)["support"], "3");
    assert_eq!(line(&result, &b)["support"], "2");
    assert_eq!(line(&result, &b)["verdict"], "below_min_support");
    assert_eq!(line(&result, &c)["verdict"], "no_support");
    // Everyone who voted still counts; the total weight is unchanged.
    assert_eq!(
        (result["voters"].as_i64(), result["total_weight"].as_i64()),
        (Some(3), Some(5))
    );
    for (projects, again) in exported(&s, &round).await {
        assert_eq!(projects, std::slice::from_ref(&a));
        assert_eq!(again, std::slice::from_ref(&a));
    }
    s.step(&round, "enact").await.expect(200);
    assert_eq!(s.request_state(&b).await["state"], "not_funded");
    assert!(s.app.verify().await.is_clean());
}

/// A closed round with two voters, ready to tally.
async fn closed_round(s: &Setup) -> String {
    let (ann, bea) = (s.member().await, s.member().await);
    let a = s.request(&ann, "40.00").await;
    let b = s.request(&bea, "30.00").await;
    let round = s.round(approval(&[&a, &b], "100.00")).await;
    s.step(&round, "open").await.expect(200);
    s.vote(&ann, &round, json!({"approve": [a]}))
        .await
        .expect(200);
    s.vote(&bea, &round, json!({"approve": [a, b]}))
        .await
        .expect(200);
    s.step(&round, "close").await.expect(200);
    round
}

async fn tallied_records(s: &Setup, round: &str) -> usize {
    s.app
        .get(
            &format!(
                "/api/v1/audit?collective_id={}&object_id={round}&action=round.tallied",
                s.collective
            ),
            &s.admin.token,
        )
        .await
        .expect(200)
        .body["items"]
        .as_array()
        .unwrap()
        .len()
}

#[actix_rt::test]
async fn two_tallies_read_before_either_stores_store_the_result_once() {
    let s = setup("1000.00").await;
    let round = closed_round(&s).await;
    let admin = Principal::User {
        user_id: s.admin.user_id.clone(),
    };
    let db = s.app.db.clone();
    let id = round.clone();
    let (first, second) = tokio::task::spawn_blocking(move || {
        use commonpot::rounds::service::{read_for_tally, store_tally};
        let mut conn = db.get().unwrap();
        // Both read the closed round and tally it before either stores.
        let one = read_for_tally(&mut conn, &admin, &id, None).unwrap();
        let two = read_for_tally(&mut conn, &admin, &id, None).unwrap();
        let (r1, r2) = (one.tally().unwrap(), two.tally().unwrap());
        (
            store_tally(&mut conn, &admin, &one, r1),
            store_tally(&mut conn, &admin, &two, r2),
        )
    })
    .await
    .unwrap();
    let first = first.expect("the first tally is stored");
    match second {
        Err(Error::Conflict {
            code: "invalid_transition",
            ..
        }) => {}
        other => panic!("the second tally must store nothing: {other:?}"),
    }
    assert_eq!(tallied_records(&s, &round).await, 1);
    let stored = s
        .app
        .get(&format!("/api/v1/rounds/{round}/results"), &s.admin.token)
        .await
        .expect(200);
    assert_eq!(stored.body, serde_json::to_value(&first).unwrap());
    let current = s
        .app
        .get(&format!("/api/v1/rounds/{round}"), &s.admin.token)
        .await
        .expect(200);
    assert_eq!(current.body["phase"], "tallied");
    assert_eq!(
        current.body["version"], 4,
        "draft 1, open 2, closed 3, tallied 4"
    );
}

#[actix_rt::test]
async fn a_round_cancelled_while_it_is_tallied_keeps_no_result() {
    let s = setup("1000.00").await;
    let round = closed_round(&s).await;
    let admin = Principal::User {
        user_id: s.admin.user_id.clone(),
    };
    let (db, id) = (s.app.db.clone(), round.clone());
    let closed = tokio::task::spawn_blocking(move || {
        let mut conn = db.get().unwrap();
        commonpot::rounds::service::read_for_tally(&mut conn, &admin, &id, None).unwrap()
    })
    .await
    .unwrap();
    // Nothing is locked while it is tallied: the round can be cancelled,
    // and money can move in the pool.
    s.step(&round, "cancel").await.expect(200);
    s.app
        .contribute(&s.pool, &s.admin.token, "5.00")
        .await
        .expect(201);
    let admin = Principal::User {
        user_id: s.admin.user_id.clone(),
    };
    let db = s.app.db.clone();
    let stored = tokio::task::spawn_blocking(move || {
        let mut conn = db.get().unwrap();
        let result = closed.tally().unwrap();
        commonpot::rounds::service::store_tally(&mut conn, &admin, &closed, result)
    })
    .await
    .unwrap();
    assert!(
        matches!(
            stored,
            Err(Error::Conflict {
                code: "invalid_transition",
                ..
            })
        ),
        "{stored:?}"
    );
    assert_eq!(tallied_records(&s, &round).await, 0);
    s.app
        .get(&format!("/api/v1/rounds/{round}/results"), &s.admin.token)
        .await
        .expect_problem(409, "round_not_tallied");
    assert!(s.app.verify().await.is_clean());
}

#[actix_rt::test]
async fn concurrent_tally_requests_store_once_and_answer_the_other_with_409() {
    let s = setup("1000.00").await;
    let round = closed_round(&s).await;
    let path = format!("/api/v1/rounds/{round}/tally");
    let (one, two) = tokio::join!(
        s.app.post(&path, &s.admin.token, json!({})),
        s.app.post(&path, &s.admin.token, json!({}))
    );
    let mut statuses = [one.status.as_u16(), two.status.as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 409], "{} / {}", one.body, two.body);
    let refused = if one.status == 409 { &one } else { &two };
    assert_eq!(refused.body["code"], "invalid_transition");
    assert_eq!(tallied_records(&s, &round).await, 1);
}
