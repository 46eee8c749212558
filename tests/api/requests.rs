//! Aid requests: intake, states, ownership, N-of-M approval, payment,
//! privacy for each audience, comments, optimistic concurrency, events.

use serde_json::{json, Value};

use crate::helpers::{Person, TestApp};

struct Group {
    app: TestApp,
    collective: String,
    admin: Person,
    c1: Person,
    c2: Person,
    member: Person,
    other: Person,
    pool: String,
}

async fn group(funds: &str) -> Group {
    let app = TestApp::spawn().await;
    let (collective, admin) = app.bootstrap("Northside").await;
    let c1 = app.join(&collective, &admin, "coordinator").await;
    let c2 = app.join(&collective, &admin, "coordinator").await;
    let member = app.join(&collective, &admin, "member").await;
    let other = app.join(&collective, &admin, "member").await;
    let pool = app
        .post(
            &format!("/api/v1/collectives/{collective}/pools"),
            &admin.token,
            json!({"name": "Rent relief", "currency": "EUR",
                   "rules": {"max_request": "500.00", "approvals_needed": 2, "fast_track_limit": "100.00"}}),
        )
        .await
        .expect(201)
        .id();
    if funds != "0" {
        app.contribute(&pool, &admin.token, funds).await.expect(201);
    }
    Group {
        app,
        collective,
        admin,
        c1,
        c2,
        member,
        other,
        pool,
    }
}

fn ask(amount: &str) -> Value {
    json!({"amount": amount, "category": "rent", "urgency": "standard", "needed_by": "2026-12-01",
           "public_summary": "Behind on rent after losing shifts",
           "private_details": "Landlord threatens eviction on the 3rd",
           "payout_reference": "DE89 3704 0044 0532 0130 00"})
}

impl Group {
    async fn request(&self, who: &Person, body: Value) -> String {
        self.app
            .post(
                &format!("/api/v1/pools/{}/requests", self.pool),
                &who.token,
                body,
            )
            .await
            .expect(201)
            .id()
    }

    async fn review(&self, id: &str, who: &Person) -> crate::helpers::Answer {
        self.app
            .post(
                &format!("/api/v1/requests/{id}/review"),
                &who.token,
                json!({}),
            )
            .await
    }

    async fn approve(&self, id: &str, who: &Person, body: Value) -> crate::helpers::Answer {
        self.app
            .post_money(
                &format!("/api/v1/requests/{id}/approvals"),
                &who.token,
                body,
            )
            .await
    }

    async fn state(&self, id: &str) -> Value {
        self.app
            .get(&format!("/api/v1/requests/{id}"), &self.admin.token)
            .await
            .expect(200)
            .body
    }

    async fn pay(&self, id: &str, amount: &str) {
        let payout = self
            .app
            .post_money(
                &format!("/api/v1/requests/{id}/disbursements"),
                &self.c1.token,
                json!({"amount": amount}),
            )
            .await
            .expect(201)
            .id();
        self.app
            .post_money(
                &format!("/api/v1/disbursements/{payout}/outcome"),
                &self.c1.token,
                json!({"outcome": "paid"}),
            )
            .await
            .expect(200);
    }
}

#[actix_rt::test]
async fn a_member_asks_two_coordinators_approve_and_it_is_paid_in_two_parts() {
    let g = group("1000.00").await;
    let id = g.request(&g.member, ask("300.00")).await;
    assert_eq!(g.state(&id).await["state"], "submitted");
    let reviewed = g.review(&id, &g.c1).await.expect(200);
    assert_eq!(reviewed.body["state"], "in_review");
    assert_eq!(reviewed.body["owner_user_id"], g.c1.user_id.as_str());

    let first = g
        .approve(&id, &g.c1, json!({"amount": "250.00"}))
        .await
        .expect(200);
    assert_eq!(
        (
            first.body["state"].as_str(),
            first.body["approvals"].as_i64()
        ),
        (Some("in_review"), Some(1))
    );
    let second = g.approve(&id, &g.c2, json!({})).await.expect(200);
    assert_eq!(second.body["state"], "approved");
    assert_eq!(
        second.body["amount_approved"], "250.00",
        "the lowest approval stands"
    );
    let balances = g.app.balances(&g.pool, &g.admin.token).await;
    assert_eq!(
        (balances["available"].as_str(), balances["held"].as_str()),
        (Some("750.00"), Some("250.00"))
    );

    g.pay(&id, "100.00").await;
    assert_eq!(g.state(&id).await["state"], "partially_paid");
    g.pay(&id, "150.00").await;
    let paid = g.state(&id).await;
    assert_eq!(
        (paid["state"].as_str(), paid["paid"].as_str()),
        (Some("paid"), Some("250.00"))
    );
    let balances = g.app.balances(&g.pool, &g.admin.token).await;
    assert_eq!(
        (balances["held"].as_str(), balances["paid"].as_str()),
        (Some("0.00"), Some("250.00"))
    );
    g.app
        .post_money(
            &format!("/api/v1/requests/{id}/disbursements"),
            &g.c1.token,
            json!({"amount": "0.01"}),
        )
        .await
        .expect_problem(409, "invalid_transition");
    assert!(g.app.verify().await.is_clean());

    let trail = g
        .app
        .get(
            &format!(
                "/api/v1/audit?collective_id={}&object_id={id}",
                g.collective
            ),
            &g.admin.token,
        )
        .await;
    let actions: Vec<&str> = trail.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    for expected in [
        "request.created",
        "request.taken_into_review",
        "request.approval_given",
        "request.approved",
        "request.partially_paid",
        "request.paid",
    ] {
        assert!(
            actions.contains(&expected),
            "{expected} missing from {actions:?}"
        );
    }
    let announced: Vec<String> = g
        .app
        .events_about(&id)
        .await
        .into_iter()
        .map(|(kind, _)| kind)
        .collect();
    assert_eq!(
        announced,
        [
            "request.submitted",
            "request.taken_into_review",
            "request.approval_given",
            "request.approved",
            "request.partially_paid",
            "request.paid",
        ],
        "each transition is an event, in order"
    );
}

#[actix_rt::test]
async fn nobody_approves_their_own_request_or_twice_or_with_a_conflict() {
    let g = group("1000.00").await;
    // A coordinator asking for themselves cannot approve it.
    let own = g.request(&g.c1, ask("200.00")).await;
    g.review(&own, &g.c2).await.expect(200);
    g.approve(&own, &g.c1, json!({}))
        .await
        .expect_problem(403, "own_request");
    // Nor can whoever asked on a member's behalf.
    let mut behalf = ask("200.00");
    behalf["on_behalf_of_member"] = json!(g.member.membership_id);
    let proxy = g.request(&g.c2, behalf).await;
    g.review(&proxy, &g.c1).await.expect(200);
    g.approve(&proxy, &g.c2, json!({}))
        .await
        .expect_problem(403, "own_request");

    let id = g.request(&g.member, ask("200.00")).await;
    g.review(&id, &g.c1).await.expect(200);
    g.approve(&id, &g.c1, json!({})).await.expect(200);
    g.approve(&id, &g.c1, json!({}))
        .await
        .expect_problem(409, "already_approved");
    g.app
        .post(
            &format!("/api/v1/requests/{id}/conflicts"),
            &g.c2.token,
            json!({"reason": "my cousin"}),
        )
        .await
        .expect(200);
    g.approve(&id, &g.c2, json!({}))
        .await
        .expect_problem(403, "conflict_of_interest");
    g.app
        .post(
            &format!("/api/v1/requests/{id}/rejection"),
            &g.c2.token,
            json!({"reason": "no"}),
        )
        .await
        .expect_problem(403, "conflict_of_interest");
    g.approve(&id, &g.admin, json!({})).await.expect(200);
    assert_eq!(g.state(&id).await["state"], "approved");
    g.approve(&id, &g.member, json!({}))
        .await
        .expect_problem(403, "forbidden");
}

#[actix_rt::test]
async fn emergencies_under_the_fast_track_limit_need_one_approval() {
    let g = group("1000.00").await;
    let mut emergency = ask("80.00");
    emergency["urgency"] = json!("emergency");
    let id = g.request(&g.member, emergency).await;
    g.review(&id, &g.c1).await.expect(200);
    assert_eq!(
        g.approve(&id, &g.c1, json!({})).await.expect(200).body["state"],
        "approved"
    );
    let mut big = ask("150.00");
    big["urgency"] = json!("emergency");
    let id = g.request(&g.member, big).await;
    g.review(&id, &g.c1).await.expect(200);
    assert_eq!(
        g.approve(&id, &g.c1, json!({})).await.expect(200).body["state"],
        "in_review"
    );
}

#[actix_rt::test]
async fn a_final_approval_on_a_short_pool_is_refused_and_can_be_given_later() {
    let g = group("100.00").await;
    let id = g.request(&g.member, ask("300.00")).await;
    g.review(&id, &g.c1).await.expect(200);
    g.approve(&id, &g.c1, json!({})).await.expect(200);
    let refused = g
        .approve(&id, &g.c2, json!({}))
        .await
        .expect_problem(409, "insufficient_funds");
    assert_eq!(refused.body["available"], "100.00");
    let now = g.state(&id).await;
    assert_eq!(
        (now["state"].as_str(), now["approvals"].as_i64()),
        (Some("in_review"), Some(1)),
        "earlier approvals stay"
    );
    g.app
        .contribute(&g.pool, &g.admin.token, "250.00")
        .await
        .expect(201);
    assert_eq!(
        g.approve(&id, &g.c2, json!({})).await.expect(200).body["state"],
        "approved"
    );
}

#[actix_rt::test]
async fn illegal_transitions_answer_409_with_the_current_state() {
    let g = group("1000.00").await;
    let mut draft = ask("50.00");
    draft["draft"] = json!(true);
    let id = g.request(&g.member, draft).await;
    g.review(&id, &g.c1).await.expect_problem(404, "not_found");
    g.app
        .post(
            &format!("/api/v1/requests/{id}/submission"),
            &g.member.token,
            json!({}),
        )
        .await
        .expect(200);
    let refused = g
        .approve(&id, &g.c1, json!({}))
        .await
        .expect_problem(409, "invalid_transition");
    assert_eq!(refused.body["current_state"], "submitted");
    g.review(&id, &g.c1).await.expect(200);
    g.app
        .post(
            &format!("/api/v1/requests/{id}/rejection"),
            &g.c1.token,
            json!({"reason": "covered by another fund"}),
        )
        .await
        .expect(200);
    let seen = g
        .app
        .get(&format!("/api/v1/requests/{id}"), &g.member.token)
        .await;
    assert_eq!(
        seen.body["rejection_reason"], "covered by another fund",
        "the requester sees why"
    );
    g.approve(&id, &g.c2, json!({}))
        .await
        .expect_problem(409, "invalid_transition");
    g.app
        .post_money(
            &format!("/api/v1/requests/{id}/withdrawal"),
            &g.member.token,
            json!({}),
        )
        .await
        .expect_problem(409, "invalid_transition");
    let big = g
        .app
        .post(
            &format!("/api/v1/pools/{}/requests", g.pool),
            &g.member.token,
            ask("500.01"),
        )
        .await;
    assert_eq!(
        big.expect_problem(422, "validation_failed").body["field"],
        "amount"
    );
}

#[actix_rt::test]
async fn one_owner_at_a_time_and_admins_reassign_on_the_record() {
    let g = group("0").await;
    let id = g.request(&g.member, ask("100.00")).await;
    g.review(&id, &g.c1).await.expect(200);
    g.review(&id, &g.c2)
        .await
        .expect_problem(409, "already_owned");
    let reassigned = g
        .app
        .post(
            &format!("/api/v1/requests/{id}/review"),
            &g.admin.token,
            json!({"assign_to": g.c2.user_id}),
        )
        .await
        .expect(200);
    assert_eq!(reassigned.body["owner_user_id"], g.c2.user_id.as_str());
    let trail = g
        .app
        .get(
            &format!(
                "/api/v1/audit?collective_id={}&action=request.reassigned",
                g.collective
            ),
            &g.admin.token,
        )
        .await;
    assert_eq!(trail.body["items"].as_array().unwrap().len(), 1);
    g.app
        .post(
            &format!("/api/v1/requests/{id}/review"),
            &g.c1.token,
            json!({"assign_to": g.c1.user_id}),
        )
        .await
        .expect_problem(403, "forbidden");
}

#[actix_rt::test]
async fn amending_clears_approvals_and_stale_if_match_is_refused() {
    let g = group("1000.00").await;
    let id = g.request(&g.member, ask("200.00")).await;
    g.review(&id, &g.c1).await.expect(200);
    g.approve(&id, &g.c1, json!({})).await.expect(200);
    let read = g
        .app
        .get(&format!("/api/v1/requests/{id}"), &g.member.token)
        .await;
    let etag = read.header("etag").unwrap().to_owned();
    let amend = g
        .app
        .raw(reqwest::Method::PATCH, &format!("/api/v1/requests/{id}"))
        .bearer_auth(&g.member.token)
        .header("if-match", &etag)
        .json(&json!({"amount": "180.00"}))
        .send()
        .await
        .unwrap();
    let amended = TestApp::answer(amend).await.expect(200);
    assert_eq!(
        amended.body["approvals"], 0,
        "amending clears the approvals"
    );
    let stale = g
        .app
        .raw(reqwest::Method::PATCH, &format!("/api/v1/requests/{id}"))
        .bearer_auth(&g.member.token)
        .header("if-match", &etag)
        .json(&json!({"amount": "170.00"}))
        .send()
        .await
        .unwrap();
    TestApp::answer(stale)
        .await
        .expect_problem(412, "precondition_failed");
    g.app
        .patch(
            &format!("/api/v1/requests/{id}"),
            &g.other.token,
            json!({"amount": "1.00"}),
        )
        .await
        .expect_problem(403, "forbidden");
}

#[actix_rt::test]
async fn two_final_approvals_at_once_place_one_hold() {
    let g = group("1000.00").await;
    let id = g.request(&g.member, ask("300.00")).await;
    g.review(&id, &g.c1).await.expect(200);
    g.approve(&id, &g.c1, json!({})).await.expect(200);
    let (a, b) = futures::join!(
        g.approve(&id, &g.c2, json!({})),
        g.approve(&id, &g.admin, json!({}))
    );
    let wins = [&a, &b].iter().filter(|x| x.status == 200).count();
    assert_eq!(wins, 1, "{a:?} {b:?}");
    let balances = g.app.balances(&g.pool, &g.admin.token).await;
    assert_eq!(balances["held"], "300.00", "one hold, not two");
    assert_eq!(g.app.count("holds").await, 1);
}

#[actix_rt::test]
async fn cancelling_and_withdrawing_release_the_hold() {
    let g = group("1000.00").await;
    let mut quick = ask("90.00");
    quick["urgency"] = json!("emergency");
    let cancelled = g.request(&g.member, quick.clone()).await;
    g.review(&cancelled, &g.c1).await.expect(200);
    g.approve(&cancelled, &g.c1, json!({})).await.expect(200);
    g.pay(&cancelled, "40.00").await;
    g.app
        .post_money(
            &format!("/api/v1/requests/{cancelled}/cancellation"),
            &g.c1.token,
            json!({"reason": "moved away"}),
        )
        .await
        .expect(200);
    let withdrawn = g.request(&g.member, quick).await;
    g.review(&withdrawn, &g.c1).await.expect(200);
    g.approve(&withdrawn, &g.c1, json!({})).await.expect(200);
    g.app
        .post_money(
            &format!("/api/v1/requests/{withdrawn}/withdrawal"),
            &g.other.token,
            json!({}),
        )
        .await
        .expect_problem(403, "forbidden");
    g.app
        .post_money(
            &format!("/api/v1/requests/{withdrawn}/withdrawal"),
            &g.member.token,
            json!({}),
        )
        .await
        .expect(200);
    let balances = g.app.balances(&g.pool, &g.admin.token).await;
    assert_eq!(
        (balances["held"].as_str(), balances["available"].as_str()),
        (Some("0.00"), Some("960.00"))
    );
    assert!(g.app.verify().await.is_clean());
}

#[actix_rt::test]
async fn private_fields_reach_only_the_requester_coordinators_and_private_readers() {
    let g = group("1000.00").await;
    let id = g.request(&g.member, ask("120.00")).await;
    let path = format!("/api/v1/requests/{id}");
    let secret = "Landlord threatens eviction";
    let iban = "DE89 3704";
    for who in [&g.member, &g.c1, &g.admin] {
        let seen = g.app.get(&path, &who.token).await.expect(200);
        assert!(seen.body["private"]["private_details"]
            .as_str()
            .unwrap()
            .contains(secret));
    }
    let (reader, _, _) = g
        .app
        .partner(&g.collective, &g.admin, &["requests:read"])
        .await;
    let (private_reader, _, _) = g
        .app
        .partner(
            &g.collective,
            &g.admin,
            &["requests:read", "requests:read_private"],
        )
        .await;
    for token in [g.other.token.as_str(), reader.as_str()] {
        let seen = g.app.get(&path, token).await.expect(200);
        assert!(seen.body.get("private").is_none(), "{}", seen.body);
        assert_eq!(
            seen.body["public_summary"],
            "Behind on rent after losing shifts"
        );
        assert_eq!(seen.body["amount_requested"], "120.00");
        let listed = g
            .app
            .get(
                &format!("/api/v1/collectives/{}/requests", g.collective),
                token,
            )
            .await
            .expect(200);
        let filtered = g
            .app
            .get(
                &format!(
                    "/api/v1/collectives/{}/requests?category=rent&state=submitted",
                    g.collective
                ),
                token,
            )
            .await
            .expect(200);
        for text in [listed.body.to_string(), filtered.body.to_string()] {
            assert!(
                !text.contains(secret) && !text.contains(iban),
                "a list leaks a private field: {text}"
            );
        }
    }
    let seen = g.app.get(&path, &private_reader).await.expect(200);
    assert!(seen.body["private"]["payout_reference"]
        .as_str()
        .unwrap()
        .starts_with(iban));
    // An error about the request says nothing private either.
    let refused = g
        .app
        .patch(&path, &g.other.token, json!({"amount": "1.00"}))
        .await;
    assert!(!refused.body.to_string().contains(secret));
}

#[actix_rt::test]
async fn internal_notes_and_messages_to_the_requester_are_kept_apart() {
    let g = group("0").await;
    let id = g.request(&g.member, ask("60.00")).await;
    let path = format!("/api/v1/requests/{id}/comments");
    g.app
        .post(&path, &g.c1.token, json!({"body": "Checked the lease"}))
        .await
        .expect(201);
    g.app
        .post(
            &path,
            &g.c1.token,
            json!({"body": "Can you send the letter?", "visibility": "requester"}),
        )
        .await
        .expect(201);
    g.app
        .post(&path, &g.member.token, json!({"body": "Sent it"}))
        .await
        .expect(201);
    g.app
        .post(
            &path,
            &g.member.token,
            json!({"body": "sneaky", "visibility": "internal"}),
        )
        .await
        .expect_problem(403, "forbidden");
    let for_requester = g.app.get(&path, &g.member.token).await.expect(200);
    let bodies: Vec<&str> = for_requester.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["Can you send the letter?", "Sent it"]);
    assert_eq!(
        g.app.get(&path, &g.c2.token).await.expect(200).body["items"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    g.app
        .get(&path, &g.other.token)
        .await
        .expect_problem(403, "forbidden");
}

#[actix_rt::test]
async fn queues_filter_count_and_show_what_awaits_my_approval() {
    let g = group("1000.00").await;
    let a = g.request(&g.member, ask("50.00")).await;
    let b = g.request(&g.member, ask("60.00")).await;
    let mut other = ask("70.00");
    other["category"] = json!("medicine");
    other["urgency"] = json!("emergency");
    let c = g.request(&g.other, other).await;
    g.review(&a, &g.c1).await.expect(200);
    g.review(&b, &g.c1).await.expect(200);
    g.approve(&b, &g.c2, json!({})).await.expect(200);
    let queue = |q: &str| format!("/api/v1/collectives/{}/requests?{q}", g.collective);
    let ids = |body: &Value| -> Vec<String> {
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let waiting = g
        .app
        .get(&queue("awaiting_my_approval=true"), &g.c2.token)
        .await
        .expect(200);
    assert_eq!(
        ids(&waiting.body),
        [a],
        "b is approved by c2 already; c is not in review"
    );
    let medicine = g
        .app
        .get(&queue("category=medicine&urgency=emergency"), &g.c1.token)
        .await
        .expect(200);
    assert_eq!(ids(&medicine.body), [c]);
    let mine = g
        .app
        .get(&queue("owner=me&state=in_review"), &g.c1.token)
        .await
        .expect(200);
    assert_eq!(ids(&mine.body).len(), 2);
    g.app
        .get(&queue("state=flying"), &g.c1.token)
        .await
        .expect_problem(422, "validation_failed");
    let counts = g
        .app
        .get(
            &format!("/api/v1/collectives/{}/requests/counts", g.collective),
            &g.c1.token,
        )
        .await
        .expect(200);
    assert_eq!(counts.body["counts"]["in_review"], 2);
    assert_eq!(counts.body["counts"]["submitted"], 1);
    g.app
        .get(
            &format!("/api/v1/collectives/{}/requests/counts", g.collective),
            &g.member.token,
        )
        .await
        .expect_problem(403, "forbidden");
}

#[actix_rt::test]
async fn pools_that_let_only_coordinators_ask_refuse_members() {
    let g = group("0").await;
    g.app
        .patch(
            &format!("/api/v1/pools/{}", g.pool),
            &g.admin.token,
            json!({"rules": {"requesters": "coordinators"}}),
        )
        .await
        .expect(200);
    g.app
        .post(
            &format!("/api/v1/pools/{}/requests", g.pool),
            &g.member.token,
            ask("10.00"),
        )
        .await
        .expect_problem(403, "requests_by_coordinators_only");
    let mut outsider = ask("10.00");
    outsider["beneficiary"] = json!({"name": "A neighbour", "contact": "+49 170 0000000"});
    let id = g.request(&g.c1, outsider).await;
    let seen = g
        .app
        .get(&format!("/api/v1/requests/{id}"), &g.other.token)
        .await
        .expect(200);
    assert!(
        !seen.body.to_string().contains("neighbour"),
        "the beneficiary stays private"
    );
}

#[actix_rt::test]
async fn a_withdrawal_keeps_its_reason_for_coordinators_only() {
    let g = group("1000.00").await;
    let id = g.request(&g.member, ask("90.00")).await;
    let path = format!("/api/v1/requests/{id}/withdrawal");
    let too_long = "x".repeat(2001);
    let refused = g
        .app
        .post_money(&path, &g.member.token, json!({"reason": too_long}))
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(refused.body["field"], "reason");
    assert_eq!(g.state(&id).await["state"], "submitted", "nothing changed");

    let reason = "My sister lent me the money";
    g.app
        .post_money(&path, &g.member.token, json!({"reason": reason}))
        .await
        .expect(200);
    let request = format!("/api/v1/requests/{id}");
    for who in [&g.c1, &g.admin, &g.member] {
        let seen = g.app.get(&request, &who.token).await.expect(200);
        assert_eq!(seen.body["state"], "withdrawn");
        assert_eq!(seen.body["private"]["withdrawal_reason"], reason);
    }
    let other = g.app.get(&request, &g.other.token).await.expect(200);
    assert!(
        !other.body.to_string().contains(reason),
        "other members do not read it: {}",
        other.body
    );
    // The trail says a reason was given, not what it says.
    let trail = g
        .app
        .get(
            &format!(
                "/api/v1/audit?collective_id={}&object_id={id}&action=request.withdrawn",
                g.collective
            ),
            &g.admin.token,
        )
        .await
        .expect(200);
    assert_eq!(trail.body["items"][0]["details"]["reason_given"], true);
    assert!(!trail.body.to_string().contains(reason));

    // Without a body, or without a reason, a withdrawal keeps none.
    let plain = g.request(&g.member, ask("10.00")).await;
    g.app
        .post_money(
            &format!("/api/v1/requests/{plain}/withdrawal"),
            &g.member.token,
            json!({}),
        )
        .await
        .expect(200);
    assert_eq!(
        g.state(&plain).await["private"]["withdrawal_reason"],
        Value::Null
    );
}

#[test]
fn the_openapi_document_describes_the_withdrawal_body() {
    let doc: Value = serde_json::from_str(&commonpot::cli::openapi_json()).unwrap();
    let body = &doc["paths"]["/api/v1/requests/{id}/withdrawal"]["post"]["requestBody"];
    assert_eq!(
        body["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/OptionalReason",
        "{body}"
    );
}
