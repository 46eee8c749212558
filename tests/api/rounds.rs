//! Participatory budgeting rounds: affectedness, secret ballots, weighted
//! results through the tally engine, and enactment that moves money.

use commonpot_tally::number::integer;
use commonpot_tally::{tally, Ballot, BallotKind, Election, Project, Rule, Voter};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{Person, TestApp};

pub(crate) struct Setup {
    pub(crate) app: TestApp,
    pub(crate) collective: String,
    pub(crate) admin: Person,
    pub(crate) pool: String,
}

/// A collective with a EUR pool holding `funds`.
pub(crate) async fn setup(funds: &str) -> Setup {
    let app = TestApp::spawn().await;
    let (collective, admin) = app.bootstrap("Northside").await;
    let pool = app.pool(&collective, &admin.token, "EUR").await;
    app.contribute(&pool, &admin.token, funds).await.expect(201);
    Setup {
        app,
        collective,
        admin,
        pool,
    }
}

impl Setup {
    pub(crate) async fn member(&self) -> Person {
        self.app.join(&self.collective, &self.admin, "member").await
    }

    /// A request by `who` for `amount`, submitted.
    pub(crate) async fn request(&self, who: &Person, amount: &str) -> String {
        self.app
            .post(
                &format!("/api/v1/pools/{}/requests", self.pool),
                &who.token,
                json!({"amount": amount, "category": "rent", "urgency": "standard",
                       "public_summary": "Help", "private_details": "details"}),
            )
            .await
            .expect(201)
            .id()
    }

    pub(crate) async fn round(&self, body: Value) -> String {
        self.app
            .post(
                &format!("/api/v1/pools/{}/rounds", self.pool),
                &self.admin.token,
                body,
            )
            .await
            .expect(201)
            .id()
    }

    pub(crate) async fn step(&self, round: &str, step: &str) -> crate::helpers::Answer {
        let path = format!("/api/v1/rounds/{round}/{step}");
        if matches!(step, "open" | "enact" | "cancel") {
            self.app
                .post_money(&path, &self.admin.token, json!({}))
                .await
        } else {
            self.app.post(&path, &self.admin.token, json!({})).await
        }
    }

    pub(crate) async fn vote(
        &self,
        who: &Person,
        round: &str,
        choices: Value,
    ) -> crate::helpers::Answer {
        self.app
            .send(
                Method::PUT,
                &format!("/api/v1/rounds/{round}/ballots/me"),
                Some(&who.token),
                Some(choices),
            )
            .await
    }

    pub(crate) async fn request_state(&self, id: &str) -> Value {
        self.app
            .get(&format!("/api/v1/requests/{id}"), &self.admin.token)
            .await
            .expect(200)
            .body
    }

    pub(crate) async fn issue(&self, name: &str) -> String {
        self.app
            .post(
                &format!("/api/v1/collectives/{}/issues", self.collective),
                &self.admin.token,
                json!({"name": name}),
            )
            .await
            .expect(201)
            .id()
    }

    pub(crate) async fn declare(&self, who: &Person, declarations: Value) {
        self.app
            .send(
                Method::PUT,
                &format!("/api/v1/collectives/{}/affectedness/me", self.collective),
                Some(&who.token),
                Some(json!({ "declarations": declarations })),
            )
            .await
            .expect(200);
    }
}

pub(crate) fn approval(candidates: &[&String], budget: &str) -> Value {
    json!({"title": "Winter round", "budget": budget, "candidates": candidates,
           "ballot": {"type": "approval"}})
}

#[actix_rt::test]
async fn a_round_runs_from_draft_to_enactment_and_moves_the_money() {
    let s = setup("100.00").await;
    let (ann, bea, cy) = (s.member().await, s.member().await, s.member().await);
    let a = s.request(&ann, "40.00").await;
    let b = s.request(&bea, "30.00").await;
    let c = s.request(&cy, "50.00").await;
    let round = s.round(approval(&[&a, &b, &c], "80.00")).await;
    let opened = s.step(&round, "open").await.expect(200);
    assert_eq!(opened.body["phase"], "open");
    let hold = opened.body["hold_id"].as_str().unwrap().to_owned();
    let balances = s.app.balances(&s.pool, &s.admin.token).await;
    assert_eq!(
        (balances["available"].as_str(), balances["held"].as_str()),
        (Some("20.00"), Some("80.00"))
    );
    assert_eq!(s.request_state(&a).await["state"], "in_vote");

    s.vote(&ann, &round, json!({"approve": [a, b]}))
        .await
        .expect(200);
    s.vote(&bea, &round, json!({"approve": [b]}))
        .await
        .expect(200);
    s.vote(&cy, &round, json!({"approve": [c]}))
        .await
        .expect(200);
    // Replacing a ballot keeps one per member.
    s.vote(&cy, &round, json!({"approve": [c, b]}))
        .await
        .expect(200);
    assert_eq!(s.app.count("ballots").await, 3);

    s.step(&round, "close").await.expect(200);
    s.vote(&ann, &round, json!({"approve": [a]}))
        .await
        .expect_problem(409, "round_not_open");
    let tallied = s.step(&round, "tally").await.expect(200);
    let results = s
        .app
        .get(&format!("/api/v1/rounds/{round}/results"), &ann.token)
        .await
        .expect(200);
    assert_eq!(
        tallied.body, results.body,
        "the stored result is what was tallied"
    );
    let selected: Vec<&str> = results.body["selected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["request_id"].as_str().unwrap())
        .collect();
    assert_eq!(selected.len(), 2, "{}", results.body);
    assert!(selected.contains(&b.as_str()));
    assert_eq!(results.body["voters"], 3);
    let b_line = results.body["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["request_id"] == b.as_str())
        .unwrap()
        .clone();
    assert_eq!(b_line["support"], "3");
    assert_eq!(b_line["verdict"], "selected");
    let spent = results.body["spent"].as_str().unwrap().to_owned();
    let left = results.body["left"].as_str().unwrap().to_owned();

    let key = uuid::Uuid::new_v4().to_string();
    let enact = format!("/api/v1/rounds/{round}/enact");
    let enacted = s
        .app
        .post_keyed(&enact, &s.admin.token, &key, json!({}))
        .await
        .expect(200);
    assert_eq!(enacted.body["phase"], "enacted");
    let replay = s
        .app
        .post_keyed(&enact, &s.admin.token, &key, json!({}))
        .await
        .expect(200);
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(replay.body, enacted.body);
    s.step(&round, "enact")
        .await
        .expect_problem(409, "invalid_transition");

    for id in [&a, &b, &c] {
        let request = s.request_state(id).await;
        if selected.contains(&id.as_str()) {
            assert_eq!(request["state"], "approved");
            assert_eq!(request["amount_approved"], request["amount_requested"]);
            let child = s
                .app
                .get(
                    &format!("/api/v1/holds/{}", request["hold_id"].as_str().unwrap()),
                    &s.admin.token,
                )
                .await
                .expect(200);
            assert_eq!(child.body["parent_hold_id"], hold.as_str());
            assert_eq!(child.body["purpose"], "request");
            assert_eq!(child.body["reference_id"], id.as_str());
        } else {
            assert_eq!(request["state"], "not_funded");
        }
    }
    let balances = s.app.balances(&s.pool, &s.admin.token).await;
    assert_eq!(balances["held"], spent.as_str());
    let available: rust_decimal::Decimal = balances["available"].as_str().unwrap().parse().unwrap();
    let left: rust_decimal::Decimal = left.parse().unwrap();
    assert_eq!(available, left + rust_decimal::Decimal::new(2000, 2));
    let round_hold = s
        .app
        .get(&format!("/api/v1/holds/{hold}"), &s.admin.token)
        .await
        .expect(200);
    assert_eq!(round_hold.body["status"], "closed");
    assert!(s.app.verify().await.is_clean());

    // A funded request is paid through its own hold.
    s.app
        .post_money(
            &format!("/api/v1/requests/{b}/disbursements"),
            &s.admin.token,
            json!({"amount": "30.00"}),
        )
        .await
        .expect(201);
    assert!(s.app.verify().await.is_clean());
}

#[actix_rt::test]
async fn an_open_round_cannot_change_and_draft_changes_are_audited() {
    let s = setup("100.00").await;
    let ann = s.member().await;
    let a = s.request(&ann, "10.00").await;
    let round = s.round(approval(&[&a], "20.00")).await;
    s.app
        .patch(
            &format!("/api/v1/rounds/{round}"),
            &s.admin.token,
            json!({"budget": "15.00", "rule": "greedy"}),
        )
        .await
        .expect(200);
    let trail = s
        .app
        .get(
            &format!(
                "/api/v1/audit?collective_id={}&object_id={round}",
                s.collective
            ),
            &s.admin.token,
        )
        .await
        .expect(200);
    assert!(trail.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["action"] == "round.updated"));
    s.step(&round, "open").await.expect(200);
    s.app
        .patch(
            &format!("/api/v1/rounds/{round}"),
            &s.admin.token,
            json!({"budget": "90.00"}),
        )
        .await
        .expect_problem(409, "round_locked");
    let current = s
        .app
        .get(&format!("/api/v1/rounds/{round}"), &s.admin.token)
        .await
        .expect(200);
    assert_eq!(current.body["budget"], "15.00");
    assert_eq!(current.body["rule"], "greedy");
    // Members read the round; they cannot run it.
    s.app
        .get(&format!("/api/v1/rounds/{round}"), &ann.token)
        .await
        .expect(200);
    s.app
        .post(
            &format!("/api/v1/rounds/{round}/close"),
            &ann.token,
            json!({}),
        )
        .await
        .expect_problem(403, "forbidden");
}

#[actix_rt::test]
async fn nobody_reads_anyone_elses_ballot() {
    let s = setup("100.00").await;
    let ann = s.member().await;
    let coordinator = s.app.join(&s.collective, &s.admin, "coordinator").await;
    let a = s.request(&ann, "10.00").await;
    let round = s.round(approval(&[&a], "20.00")).await;
    s.step(&round, "open").await.expect(200);
    s.vote(&ann, &round, json!({"approve": [a]}))
        .await
        .expect(200);
    let mine = s
        .app
        .get(&format!("/api/v1/rounds/{round}/ballots/me"), &ann.token)
        .await
        .expect(200);
    assert_eq!(mine.body["choices"]["approve"], json!([a]));
    // A coordinator asking gets only their own — and they have none.
    s.app
        .get(
            &format!("/api/v1/rounds/{round}/ballots/me"),
            &coordinator.token,
        )
        .await
        .expect_problem(404, "not_found");
    let (partner, _, _) = s
        .app
        .partner(&s.collective, &s.admin, &["rounds:read"])
        .await;
    s.app
        .get(&format!("/api/v1/rounds/{round}/ballots/me"), &partner)
        .await
        .expect_problem(403, "insufficient_scope");
    // No document of the API has a path to another member's ballot.
    let doc: Value = serde_json::from_str(&commonpot::cli::openapi_json()).unwrap();
    let ballot_paths: Vec<&String> = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|p| p.contains("ballot"))
        .collect();
    assert!(
        ballot_paths.iter().all(|p| p.ends_with("/ballots/me")),
        "{ballot_paths:?}"
    );
    // Results say how many voted, never who or how.
    s.step(&round, "close").await.expect(200);
    let result = s.step(&round, "tally").await.expect(200);
    let text = result.body.to_string();
    assert!(!text.contains(&ann.membership_id) && !text.contains(&ann.user_id));
    let by_partner = s
        .app
        .get(&format!("/api/v1/rounds/{round}/results"), &partner)
        .await
        .expect(200);
    assert_eq!(by_partner.body["voters"], 1);
    // Withdrawing is over once the round has closed.
    s.app
        .send(
            Method::DELETE,
            &format!("/api/v1/rounds/{round}/ballots/me"),
            Some(&ann.token),
            None,
        )
        .await
        .expect_problem(409, "round_not_open");
}

#[actix_rt::test]
async fn late_joiners_cannot_vote_and_suspended_members_ballots_are_set_aside() {
    let s = setup("100.00").await;
    let (ann, bea) = (s.member().await, s.member().await);
    let a = s.request(&ann, "10.00").await;
    let b = s.request(&ann, "20.00").await;
    let round = s.round(approval(&[&a, &b], "20.00")).await;
    s.step(&round, "open").await.expect(200);
    let late = s.member().await;
    s.vote(&late, &round, json!({"approve": [a]}))
        .await
        .expect_problem(403, "not_eligible");
    s.vote(&ann, &round, json!({"approve": [a]}))
        .await
        .expect(200);
    s.vote(&bea, &round, json!({"approve": [b]}))
        .await
        .expect(200);
    s.app
        .patch(
            &format!(
                "/api/v1/collectives/{}/members/{}",
                s.collective, bea.membership_id
            ),
            &s.admin.token,
            json!({"status": "suspended"}),
        )
        .await
        .expect(200);
    s.step(&round, "close").await.expect(200);
    let result = s.step(&round, "tally").await.expect(200);
    assert_eq!(result.body["voters"], 1);
    assert_eq!(result.body["set_aside"], 1);
    let selected: Vec<&Value> = result.body["selected"].as_array().unwrap().iter().collect();
    assert_eq!(selected.len(), 1);
    assert_eq!(selected[0]["request_id"], a.as_str());
}

#[actix_rt::test]
async fn invalid_ballots_are_refused_naming_the_limit() {
    let s = setup("500.00").await;
    let ann = s.member().await;
    let a = s.request(&ann, "10.00").await;
    let b = s.request(&ann, "20.00").await;
    let c = s.request(&ann, "30.00").await;
    let approval_round = s
        .round(json!({"title": "A", "budget": "50.00", "candidates": [a, b],
                      "ballot": {"type": "approval", "min_count": 1, "max_count": 1, "max_cost": "15.00"}}))
        .await;
    s.step(&approval_round, "open").await.expect(200);
    let refused = |answer: crate::helpers::Answer, field: &str, limit: &str| {
        let answer = answer.expect(422);
        assert_eq!(answer.body["field"], field, "{}", answer.body);
        assert!(
            answer.body["detail"].as_str().unwrap().contains(limit),
            "{}",
            answer.body
        );
    };
    refused(
        s.vote(&ann, &approval_round, json!({"approve": [a, b]}))
            .await,
        "approve",
        "max_count",
    );
    refused(
        s.vote(&ann, &approval_round, json!({"approve": [b]})).await,
        "approve",
        "max_cost",
    );
    refused(
        s.vote(&ann, &approval_round, json!({"approve": []})).await,
        "approve",
        "min_count",
    );
    refused(
        s.vote(&ann, &approval_round, json!({"approve": [c]})).await,
        "approve[0]",
        "not a candidate",
    );
    s.vote(&ann, &approval_round, json!({"approve": [a]}))
        .await
        .expect(200);

    let points_round = s
        .round(json!({"title": "P", "budget": "20.00", "candidates": [c],
                      "ballot": {"type": "cumulative", "points": 10}}))
        .await;
    s.step(&points_round, "open").await.expect(200);
    refused(
        s.vote(&ann, &points_round, json!({"points": {c.clone(): 11}}))
            .await,
        "points",
        "points",
    );
    refused(
        s.vote(&ann, &points_round, json!({"approve": [c]})).await,
        "approve",
        "ballot type",
    );
    s.vote(&ann, &points_round, json!({"points": {c.clone(): 10}}))
        .await
        .expect(200);
    assert_eq!(s.app.count("ballots").await, 2);
}

#[actix_rt::test]
async fn opening_on_a_short_pool_is_refused_and_changes_nothing() {
    let s = setup("50.00").await;
    let ann = s.member().await;
    let a = s.request(&ann, "40.00").await;
    let round = s.round(approval(&[&a], "80.00")).await;
    let refused = s
        .step(&round, "open")
        .await
        .expect_problem(409, "insufficient_funds");
    assert_eq!(refused.body["available"], "50.00");
    let current = s
        .app
        .get(&format!("/api/v1/rounds/{round}"), &s.admin.token)
        .await
        .expect(200);
    assert_eq!(current.body["phase"], "draft");
    assert_eq!(s.request_state(&a).await["state"], "submitted");
    assert_eq!(
        s.app.balances(&s.pool, &s.admin.token).await["held"],
        "0.00"
    );
}

#[actix_rt::test]
async fn cancelling_releases_the_budget_and_returns_candidates_to_review() {
    let s = setup("100.00").await;
    let ann = s.member().await;
    let a = s.request(&ann, "40.00").await;
    let round = s.round(approval(&[&a], "60.00")).await;
    s.step(&round, "open").await.expect(200);
    s.vote(&ann, &round, json!({"approve": [a]}))
        .await
        .expect(200);
    s.step(&round, "close").await.expect(200);
    let cancelled = s.step(&round, "cancel").await.expect(200);
    assert_eq!(cancelled.body["phase"], "cancelled");
    assert_eq!(s.request_state(&a).await["state"], "in_review");
    let balances = s.app.balances(&s.pool, &s.admin.token).await;
    assert_eq!(
        (balances["available"].as_str(), balances["held"].as_str()),
        (Some("100.00"), Some("0.00"))
    );
    s.step(&round, "cancel")
        .await
        .expect_problem(409, "invalid_transition");
    assert!(s.app.verify().await.is_clean());
}

#[actix_rt::test]
async fn affectedness_is_seen_only_by_the_member_and_coordinators() {
    let s = setup("1.00").await;
    let (ann, bea) = (s.member().await, s.member().await);
    let eviction = s.issue("facing eviction").await;
    s.app
        .post(
            &format!("/api/v1/collectives/{}/issues", s.collective),
            &ann.token,
            json!({"name": "something"}),
        )
        .await
        .expect_problem(403, "forbidden");
    let issues = s
        .app
        .get(
            &format!("/api/v1/collectives/{}/issues", s.collective),
            &ann.token,
        )
        .await
        .expect(200);
    assert_eq!(issues.body[0]["name"], "facing eviction");
    s.declare(&ann, json!([{"issue_id": eviction, "tier": "direct"}]))
        .await;
    let mine = s
        .app
        .get(
            &format!("/api/v1/collectives/{}/affectedness/me", s.collective),
            &ann.token,
        )
        .await
        .expect(200);
    assert_eq!(mine.body["declarations"][0]["tier"], "direct");
    assert_eq!(mine.body["declarations"][0]["verified"], false);
    let of_ann = format!(
        "/api/v1/collectives/{}/members/{}/affectedness",
        s.collective, ann.membership_id
    );
    s.app
        .get(&of_ann, &bea.token)
        .await
        .expect_problem(403, "forbidden");
    let seen = s.app.get(&of_ann, &s.admin.token).await.expect(200);
    assert_eq!(seen.body["declarations"][0]["tier"], "direct");
    let verified = s
        .app
        .post(
            &format!("{of_ann}/{eviction}/verification"),
            &s.admin.token,
            json!({}),
        )
        .await
        .expect(200);
    assert_eq!(verified.body["declarations"][0]["verified"], true);
    // Declaring the same again keeps the verification; a new tier loses it.
    s.declare(&ann, json!([{"issue_id": eviction, "tier": "direct"}]))
        .await;
    assert_eq!(
        s.app.get(&of_ann, &s.admin.token).await.body["declarations"][0]["verified"],
        true
    );
    s.declare(&ann, json!([{"issue_id": eviction, "tier": "indirect"}]))
        .await;
    assert_eq!(
        s.app.get(&of_ann, &s.admin.token).await.body["declarations"][0]["verified"],
        false
    );
    let trail = s
        .app
        .get(
            &format!(
                "/api/v1/audit?collective_id={}&object_id={}",
                s.collective, ann.membership_id
            ),
            &s.admin.token,
        )
        .await
        .expect(200);
    let actions: Vec<&str> = trail.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions
            .iter()
            .filter(|a| **a == "affectedness.declared")
            .count(),
        3
    );
    assert!(actions.contains(&"affectedness.verified"));
    let (partner, _, _) = s
        .app
        .partner(&s.collective, &s.admin, &["rounds:read", "collective:read"])
        .await;
    s.app.get(&of_ann, &partner).await.expect(403);
}

/// The engine's tally of an election in which each voter's ballot is
/// written `weight` times, each copy of weight 1.
fn repeated(
    budget: i64,
    costs: &[(&str, i64)],
    voters: &[(u32, Vec<usize>)],
    rule: Rule,
) -> commonpot_tally::Tally {
    let mut copies = Vec::new();
    for (v, (weight, approved)) in voters.iter().enumerate() {
        for copy in 0..*weight {
            copies.push(Voter {
                id: format!("{v}-{copy}"),
                weight: integer(1),
                ballot: Ballot::Approval(approved.clone()),
                extra: Vec::new(),
            });
        }
    }
    let election = Election {
        meta: Vec::new(),
        budget: integer(budget),
        kind: BallotKind::Approval,
        projects: costs
            .iter()
            .map(|(id, cost)| Project {
                id: (*id).to_owned(),
                cost: integer(*cost),
                extra: Vec::new(),
            })
            .collect(),
        voters: copies,
    };
    tally(&election, rule, &mut |_| {}).unwrap()
}

#[actix_rt::test]
async fn weights_change_the_outcome_exactly_as_repeated_ballots_would() {
    let s = setup("1000.00").await;
    let eviction = s.issue("facing eviction").await;
    let income = s.issue("lost income").await;
    let direct = s.member().await;
    let indirect = s.member().await;
    let supporters = [s.member().await, s.member().await];
    let unverified = s.member().await;
    let asker = s.member().await;
    s.declare(&direct, json!([{"issue_id": eviction, "tier": "direct"}, {"issue_id": income, "tier": "supporter"}])).await;
    s.declare(
        &indirect,
        json!([{"issue_id": eviction, "tier": "indirect"}]),
    )
    .await;
    for supporter in &supporters {
        s.declare(
            supporter,
            json!([{"issue_id": eviction, "tier": "supporter"}]),
        )
        .await;
    }
    // Declared but never verified: counts as no declaration under this policy.
    s.declare(
        &unverified,
        json!([{"issue_id": eviction, "tier": "direct"}]),
    )
    .await;
    for who in [&direct, &indirect, &supporters[0], &supporters[1]] {
        s.app
            .post(
                &format!(
                    "/api/v1/collectives/{}/members/{}/affectedness/{eviction}/verification",
                    s.collective, who.membership_id
                ),
                &s.admin.token,
                json!({}),
            )
            .await
            .expect(200);
    }
    let x = s.request(&asker, "60.00").await;
    let y = s.request(&asker, "50.00").await;
    let z = s.request(&asker, "40.00").await;
    let policy = json!({"direct": 5, "indirect": 3, "supporter": 1, "count_unverified": false,
                        "issues": [eviction], "cap": 4, "no_declaration": 1});
    let costs = [(x.as_str(), 60), (y.as_str(), 50), (z.as_str(), 40)];
    for rule in [Rule::MesAdd1, Rule::Mes, Rule::Greedy] {
        let round = s
            .round(
                json!({"title": "Weighted", "budget": "100.00", "candidates": [x, y, z],
                          "ballot": {"type": "approval"}, "rule": rule.name(), "policy": policy}),
            )
            .await;
        s.step(&round, "open").await.expect(200);
        s.vote(&direct, &round, json!({"approve": [y, z]}))
            .await
            .expect(200);
        s.vote(&indirect, &round, json!({"approve": [z]}))
            .await
            .expect(200);
        for supporter in &supporters {
            s.vote(supporter, &round, json!({"approve": [x]}))
                .await
                .expect(200);
        }
        s.vote(&unverified, &round, json!({"approve": [x]}))
            .await
            .expect(200);
        s.step(&round, "close").await.expect(200);
        let result = s.step(&round, "tally").await.expect(200).body;

        // direct: 5 capped to 4; indirect 3; supporters 1 each; unverified 1.
        let voters = [
            (4, vec![1, 2]),
            (3, vec![2]),
            (1, vec![0]),
            (1, vec![0]),
            (1, vec![0]),
        ];
        let expected = repeated(100, &costs, &voters, rule);
        let selected: Vec<String> = result["selected"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["request_id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(selected, expected.selected, "{rule}: {result}");
        for (line, report) in result["candidates"]
            .as_array()
            .unwrap()
            .iter()
            .zip(&expected.projects)
        {
            assert_eq!(line["request_id"], report.id.as_str());
            assert_eq!(line["support"], report.support.to_string());
            assert_eq!(
                line["verdict"],
                serde_json::to_value(report.verdict).unwrap()
            );
        }
        assert_eq!(result["total_weight"], 10);
        let tiers: Vec<(String, i64, i64)> = result["participation"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["tier"].as_str().unwrap().to_owned(),
                    t["voters"].as_i64().unwrap(),
                    t["total_weight"].as_i64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            tiers,
            [
                ("direct", 1, 4),
                ("indirect", 1, 3),
                ("supporter", 2, 2),
                ("none", 1, 1)
            ]
            .map(|(t, v, w)| (t.to_owned(), v, w))
        );
        if rule == Rule::Greedy {
            // Without weights the supporters' favourite would win instead.
            let unweighted = repeated(100, &costs, &voters.clone().map(|(_, b)| (1, b)), rule);
            assert_eq!(unweighted.selected, [x.clone(), z.clone()]);
            assert_eq!(expected.selected, [z.clone(), y.clone()]);
        }
        s.step(&round, "cancel").await.expect(200);
    }
    assert!(s.app.verify().await.is_clean());
}

#[actix_rt::test]
async fn the_export_tallies_to_the_same_result_anywhere() {
    let s = setup("1000.00").await;
    let issue = s.issue("disabled").await;
    let (ann, bea, cy) = (s.member().await, s.member().await, s.member().await);
    s.declare(&ann, json!([{"issue_id": issue, "tier": "direct"}]))
        .await;
    let a = s.request(&cy, "60.00").await;
    let b = s.request(&cy, "50.00").await;
    let round = s
        .round(
            json!({"title": "Export", "budget": "100.00", "candidates": [a, b],
                      "ballot": {"type": "approval"}, "policy": {"direct": 3}}),
        )
        .await;
    s.step(&round, "open").await.expect(200);
    s.vote(&ann, &round, json!({"approve": [a]}))
        .await
        .expect(200);
    s.vote(&bea, &round, json!({"approve": [b]}))
        .await
        .expect(200);
    s.vote(&cy, &round, json!({"approve": [b]}))
        .await
        .expect(200);
    s.app
        .get(&format!("/api/v1/rounds/{round}/export.pb"), &s.admin.token)
        .await
        .expect_problem(409, "round_not_closed");
    s.step(&round, "close").await.expect(200);
    let result = s.step(&round, "tally").await.expect(200).body;
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
        assert!(!text.contains(&ann.membership_id));
        let election = commonpot_tally::pabulib::parse(&text).unwrap();
        assert_eq!(election.voters.len(), if mode == "repeat" { 5 } else { 3 });
        let again = tally(&election, Rule::default_for(&election), &mut |_| {}).unwrap();
        let selected: Vec<&str> = result["selected"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["request_id"].as_str().unwrap())
            .collect();
        assert_eq!(again.selected, selected, "{mode}: {text}");
    }
    s.app
        .get(&format!("/api/v1/rounds/{round}/export.pb"), &ann.token)
        .await
        .expect_problem(403, "forbidden");
}
