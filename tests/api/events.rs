//! The events feed: every change a partner could care about is an event, in
//! commit order, carrying its object as the API showed it, filtered by what
//! the reader may see.

use std::collections::HashSet;

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{Person, TestApp};

/// Every event the token may read after `after`, following `next_after`
/// page by page (`limit` per page).
async fn read_all(
    app: &TestApp,
    collective: &str,
    token: &str,
    query: &str,
    limit: usize,
) -> Vec<Value> {
    let mut after = 0;
    let mut events = Vec::new();
    loop {
        let page = app
            .get(
                &format!(
                    "/api/v1/collectives/{collective}/events?after={after}&limit={limit}{query}"
                ),
                token,
            )
            .await
            .expect(200)
            .body;
        let items = page["items"].as_array().unwrap().clone();
        assert!(items.len() <= limit);
        events.extend(items);
        after = page["next_after"].as_i64().unwrap();
        if !page["has_more"].as_bool().unwrap() {
            return events;
        }
    }
}

fn types(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

/// The first event of `kind` about the object `id`.
fn find<'a>(events: &'a [Value], kind: &str, id: &str) -> &'a Value {
    events
        .iter()
        .find(|e| e["type"] == kind && (e["data"]["id"] == id || e["data"]["round_id"] == id))
        .unwrap_or_else(|| panic!("no {kind} about {id} in {:?}", types(events)))
}

fn ask(amount: &str) -> Value {
    json!({"amount": amount, "category": "rent", "urgency": "standard",
           "public_summary": "Behind on rent",
           "private_details": "Landlord threatens eviction on the 3rd",
           "payout_reference": "DE89 3704 0044 0532 0130 00"})
}

struct World {
    app: TestApp,
    collective: String,
    admin: Person,
    c1: Person,
    c2: Person,
    member: Person,
    pool: String,
}

async fn world() -> World {
    let app = TestApp::spawn().await;
    let (collective, admin) = app.bootstrap("Northside").await;
    let c1 = app.join(&collective, &admin, "coordinator").await;
    let c2 = app.join(&collective, &admin, "coordinator").await;
    let member = app.join(&collective, &admin, "member").await;
    let pool = app
        .post(
            &format!("/api/v1/collectives/{collective}/pools"),
            &admin.token,
            json!({"name": "Rent relief", "currency": "EUR",
                   "rules": {"max_request": "500.00", "approvals_needed": 2}}),
        )
        .await
        .expect(201)
        .id();
    World {
        app,
        collective,
        admin,
        c1,
        c2,
        member,
        pool,
    }
}

impl World {
    async fn request(&self, amount: &str) -> String {
        self.app
            .post(
                &format!("/api/v1/pools/{}/requests", self.pool),
                &self.member.token,
                ask(amount),
            )
            .await
            .expect(201)
            .id()
    }

    async fn approve_twice(&self, id: &str) {
        self.app
            .post(
                &format!("/api/v1/requests/{id}/review"),
                &self.c1.token,
                json!({}),
            )
            .await
            .expect(200);
        for who in [&self.c1, &self.c2] {
            self.app
                .post_money(
                    &format!("/api/v1/requests/{id}/approvals"),
                    &who.token,
                    json!({}),
                )
                .await
                .expect(200);
        }
    }

    async fn get(&self, path: &str) -> Value {
        self.app.get(path, &self.admin.token).await.expect(200).body
    }

    async fn feed(&self, token: &str, query: &str) -> Vec<Value> {
        read_all(&self.app, &self.collective, token, query, 50).await
    }
}

#[actix_rt::test]
async fn a_collectives_money_requests_and_round_arrive_in_order_with_their_snapshots() {
    let w = world().await;
    // Money in.
    let contribution = w
        .app
        .contribute(&w.pool, &w.admin.token, "500.00")
        .await
        .expect(201)
        .id();
    let contribution_then = w
        .get(&format!("/api/v1/contributions/{contribution}"))
        .await;

    // A request, approved by two coordinators, paid.
    let request = w.request("300.00").await;
    w.approve_twice(&request).await;
    let approved_then = w.get(&format!("/api/v1/requests/{request}")).await;
    let payout = w
        .app
        .post_money(
            &format!("/api/v1/requests/{request}/disbursements"),
            &w.c1.token,
            json!({"amount": "300.00"}),
        )
        .await
        .expect(201)
        .id();
    w.app
        .post_money(
            &format!("/api/v1/disbursements/{payout}/outcome"),
            &w.c1.token,
            json!({"outcome": "paid", "external_reference": "bank-42"}),
        )
        .await
        .expect(200);
    let paid_then = w.get(&format!("/api/v1/disbursements/{payout}")).await;

    // A round on a second request: opened, voted, closed, tallied, enacted.
    let candidate = w.request("100.00").await;
    let round = w
        .app
        .post(
            &format!("/api/v1/pools/{}/rounds", w.pool),
            &w.admin.token,
            json!({"title": "Winter round", "budget": "150.00", "candidates": [candidate],
                   "ballot": {"type": "approval"}}),
        )
        .await
        .expect(201)
        .id();
    w.app
        .post_money(
            &format!("/api/v1/rounds/{round}/open"),
            &w.admin.token,
            json!({}),
        )
        .await
        .expect(200);
    w.app
        .send(
            Method::PUT,
            &format!("/api/v1/rounds/{round}/ballots/me"),
            Some(&w.member.token),
            Some(json!({"approve": [candidate]})),
        )
        .await
        .expect(200);
    for step in ["close", "tally"] {
        w.app
            .post(
                &format!("/api/v1/rounds/{round}/{step}"),
                &w.admin.token,
                json!({}),
            )
            .await
            .expect(200);
    }
    let results_then = w.get(&format!("/api/v1/rounds/{round}/results")).await;
    w.app
        .post_money(
            &format!("/api/v1/rounds/{round}/enact"),
            &w.admin.token,
            json!({}),
        )
        .await
        .expect(200);
    let enacted_then = w.get(&format!("/api/v1/rounds/{round}")).await;

    let events = w
        .feed(
            &w.admin.token,
            "&types=contribution.*,request.*,hold.*,disbursement.*,round.*",
        )
        .await;
    assert_eq!(
        types(&events),
        [
            "contribution.recorded",
            "request.submitted",
            "request.taken_into_review",
            "request.approval_given",
            "hold.placed",
            "request.approved",
            "disbursement.created",
            "request.paid",
            "disbursement.paid",
            "request.submitted",
            "round.created",
            "hold.placed",
            "request.in_vote",
            "round.opened",
            "round.closed",
            "round.tallied",
            "hold.split",
            "hold.placed",
            "request.approved",
            "hold.released",
            "round.enacted",
        ]
    );
    // Numbered in order, each once.
    let seqs: Vec<i64> = events.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert!(seqs.windows(2).all(|p| p[0] < p[1]), "{seqs:?}");
    let ids: HashSet<&str> = events.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), events.len());

    // Each carries its object as the API showed it at that moment.
    assert_eq!(
        find(&events, "contribution.recorded", &contribution)["data"],
        contribution_then
    );
    let approved = &find(&events, "request.approved", &request)["data"];
    assert_eq!(*approved, approved_then);
    assert_eq!(approved["state"], "approved");
    assert_eq!(
        approved["private"]["private_details"], "Landlord threatens eviction on the 3rd",
        "an admin reads the private details"
    );
    assert_eq!(
        find(&events, "disbursement.paid", &payout)["data"],
        paid_then
    );
    assert_eq!(find(&events, "round.tallied", &round)["data"], results_then);
    assert_eq!(find(&events, "round.enacted", &round)["data"], enacted_then);
    // What was true then, not now: the snapshot of the first approval still
    // shows nothing paid.
    assert_eq!(approved["paid"], "0.00");
    let paid = find(&events, "request.paid", &request);
    assert_eq!(
        (
            paid["data"]["state"].as_str(),
            paid["data"]["paid"].as_str()
        ),
        (Some("paid"), Some("300.00"))
    );
    let funded = events
        .iter()
        .rfind(|e| e["type"] == "request.approved")
        .unwrap();
    assert_eq!(funded["data"]["id"], candidate.as_str());
}

#[actix_rt::test]
async fn partner_apps_read_only_what_their_scopes_allow_and_lose_it_at_once() {
    let w = world().await;
    w.app
        .contribute(&w.pool, &w.admin.token, "500.00")
        .await
        .expect(201);
    let request = w.request("200.00").await;
    w.approve_twice(&request).await;
    w.app
        .post(
            &format!("/api/v1/requests/{request}/comments"),
            &w.c1.token,
            json!({"body": "Called the landlord", "visibility": "internal"}),
        )
        .await
        .expect(201);

    let (public_reader, _, _) = w
        .app
        .partner(&w.collective, &w.admin, &["events:read", "requests:read"])
        .await;
    let (private_reader, private_id, _) = w
        .app
        .partner(
            &w.collective,
            &w.admin,
            &["events:read", "requests:read", "requests:read_private"],
        )
        .await;
    let (events_only, _, _) = w
        .app
        .partner(&w.collective, &w.admin, &["events:read"])
        .await;
    let every_scope: Vec<&str> = commonpot::auth::policy::Scope::ALL
        .iter()
        .map(|s| s.as_str())
        .collect();
    let (everything, _, _) = w.app.partner(&w.collective, &w.admin, &every_scope).await;

    // Without requests:read_private: the request's events, never its
    // private details; nothing about money it may not read.
    let seen = w.feed(&public_reader, "").await;
    assert!(
        types(&seen).contains(&"request.approved"),
        "{:?}",
        types(&seen)
    );
    for event in &seen {
        assert!(event["type"].as_str().unwrap().starts_with("request."));
        assert!(event["data"].get("private").is_none(), "{event}");
        assert!(!event.to_string().contains("Landlord"), "{event}");
        assert!(!event.to_string().contains("DE89"), "{event}");
    }
    // With it: the details.
    let seen = w.feed(&private_reader, "&types=request.approved").await;
    assert_eq!(
        seen[0]["data"]["private"]["payout_reference"],
        "DE89 3704 0044 0532 0130 00"
    );
    // Only events:read: none of the requests' events.
    assert!(w.feed(&events_only, "&types=request.*").await.is_empty());
    // Internal notes and affectedness never leave coordinators, whatever
    // the scopes; an admin reads the note.
    let all = w.feed(&everything, "").await;
    assert!(!types(&all).contains(&"request.commented"));
    assert!(!json!(all).to_string().contains("Called the landlord"));
    let admin_view = w.feed(&w.admin.token, "&types=request.commented").await;
    assert_eq!(admin_view[0]["data"]["body"], "Called the landlord");

    // A scope taken away counts on the next read, with the same token.
    w.app
        .patch(
            &format!("/api/v1/collectives/{}/clients/{private_id}", w.collective),
            &w.admin.token,
            json!({"scopes": ["events:read", "requests:read"]}),
        )
        .await
        .expect(200);
    let seen = w.feed(&private_reader, "&types=request.approved").await;
    assert_eq!(seen.len(), 1);
    assert!(seen[0]["data"].get("private").is_none(), "{}", seen[0]);

    // The feed is for admins and partner apps with events:read.
    let path = format!("/api/v1/collectives/{}/events", w.collective);
    for person in [&w.c1, &w.member] {
        w.app
            .get(&path, &person.token)
            .await
            .expect_problem(403, "forbidden");
    }
    let (no_events, _, _) = w
        .app
        .partner(&w.collective, &w.admin, &["requests:read"])
        .await;
    w.app
        .get(&path, &no_events)
        .await
        .expect_problem(403, "insufficient_scope");
}

#[actix_rt::test]
async fn drafts_and_refused_changes_write_no_events() {
    let w = world().await;
    let before = w.app.count("events").await;
    let draft = w
        .app
        .post(
            &format!("/api/v1/pools/{}/requests", w.pool),
            &w.member.token,
            json!({"amount": "50.00", "category": "food", "urgency": "standard",
                   "public_summary": "Groceries", "draft": true}),
        )
        .await
        .expect(201)
        .id();
    w.app
        .patch(
            &format!("/api/v1/requests/{draft}"),
            &w.member.token,
            json!({"amount": "60.00"}),
        )
        .await
        .expect(200);
    assert_eq!(
        w.app.count("events").await,
        before,
        "drafts are not announced"
    );
    w.app
        .post(
            &format!("/api/v1/requests/{draft}/submission"),
            &w.member.token,
            json!({}),
        )
        .await
        .expect(200);
    let told = w.app.events_about(&draft).await;
    assert_eq!(told.len(), 1);
    assert_eq!(told[0].0, "request.submitted");
    assert_eq!(told[0].1["amount_requested"], "60.00");

    // A refused approval (the pool is empty) and a refused review change
    // nothing, events included.
    let before = w.app.count("events").await;
    w.app
        .post(
            &format!("/api/v1/requests/{draft}/review"),
            &w.c1.token,
            json!({}),
        )
        .await
        .expect(200);
    let after_review = w.app.count("events").await;
    assert_eq!(after_review, before + 1);
    w.app
        .post_money(
            &format!("/api/v1/requests/{draft}/approvals"),
            &w.c1.token,
            json!({}),
        )
        .await
        .expect(200);
    w.app
        .post_money(
            &format!("/api/v1/requests/{draft}/approvals"),
            &w.c2.token,
            json!({}),
        )
        .await
        .expect_problem(409, "insufficient_funds");
    w.app
        .post(
            &format!("/api/v1/requests/{draft}/review"),
            &w.member.token,
            json!({}),
        )
        .await
        .expect_problem(403, "forbidden");
    assert_eq!(
        w.app.count("events").await,
        after_review + 1,
        "only the first approval was announced"
    );
}

#[actix_rt::test]
async fn the_feed_pages_filters_and_refuses_bad_queries() {
    let w = world().await;
    for amount in ["1.00", "2.00", "3.00", "4.00", "5.00"] {
        w.app
            .contribute(&w.pool, &w.admin.token, amount)
            .await
            .expect(201);
    }
    let everything = w.feed(&w.admin.token, "").await;
    // Two per page: the same events, each once.
    let paged = read_all(&w.app, &w.collective, &w.admin.token, "", 2).await;
    assert_eq!(paged, everything);
    assert!(types(&everything).starts_with(&[
        "membership.invited",
        "membership.joined",
        "membership.invited",
        "membership.joined",
        "membership.invited",
        "membership.joined",
        "pool.created",
    ]));
    let money = w.feed(&w.admin.token, "&types=contribution.*").await;
    assert_eq!(money.len(), 5);
    assert_eq!(money[4]["data"]["amount"], "5.00");
    let some = w
        .feed(&w.admin.token, "&types=pool.created,contribution.recorded")
        .await;
    assert_eq!(some.len(), 6);

    // Caught up: nothing more, and the cursor stays.
    let last = everything.last().unwrap()["seq"].as_i64().unwrap();
    let page = w
        .get(&format!(
            "/api/v1/collectives/{}/events?after={last}",
            w.collective
        ))
        .await;
    assert_eq!(page["items"], json!([]));
    assert_eq!(page["next_after"], last);
    assert_eq!(page["has_more"], false);

    let path = format!("/api/v1/collectives/{}/events", w.collective);
    for (query, field) in [
        ("types=contribution.made", "types"),
        ("types=nothing.*", "types"),
        ("types=,", "types"),
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("after=-1", "after"),
    ] {
        let answer = w
            .app
            .get(&format!("{path}?{query}"), &w.admin.token)
            .await
            .expect_problem(422, "validation_failed");
        assert_eq!(answer.body["field"], field, "{query}");
    }
    w.app
        .get(&format!("{path}?after=soon"), &w.admin.token)
        .await
        .expect_problem(400, "invalid_query");
    w.app
        .get(&format!("{path}?since=yesterday"), &w.admin.token)
        .await
        .expect_problem(400, "invalid_query");
}

#[actix_rt::test]
async fn purged_events_expire_older_cursors() {
    let w = world().await;
    w.app
        .contribute(&w.pool, &w.admin.token, "10.00")
        .await
        .expect(201);
    let before = w.feed(&w.admin.token, "").await;
    let newest = before.last().unwrap()["seq"].as_i64().unwrap();
    // Everything so far is past its retention.
    let db = w.app.db.clone();
    let purged = tokio::task::spawn_blocking(move || {
        let mut conn = db.get().unwrap();
        let cutoff = chrono::Utc::now().naive_utc() + chrono::TimeDelta::seconds(1);
        commonpot::events::purge_before(&mut conn, cutoff).unwrap()
    })
    .await
    .unwrap();
    assert_eq!(purged, before.len());
    w.app
        .contribute(&w.pool, &w.admin.token, "20.00")
        .await
        .expect(201);
    let path = format!("/api/v1/collectives/{}/events", w.collective);
    let expired = w
        .app
        .get(&format!("{path}?after=1"), &w.admin.token)
        .await
        .expect_problem(409, "cursor_expired");
    assert_eq!(expired.body["purged_through"], newest);
    // A reader that had everything reads on; a new one starts at the oldest kept.
    for query in [format!("?after={newest}"), String::new()] {
        let page = w
            .app
            .get(&format!("{path}{query}"), &w.admin.token)
            .await
            .expect(200);
        assert_eq!(
            types(page.body["items"].as_array().unwrap()),
            ["contribution.recorded"]
        );
        assert_eq!(page.body["items"][0]["seq"], newest + 1);
    }
}

#[actix_rt::test]
async fn an_installment_falling_due_is_announced_once() {
    let w = world().await;
    let pledge = w
        .app
        .post(
            &format!("/api/v1/pools/{}/pledges", w.pool),
            &w.member.token,
            json!({"amount": "20.00", "frequency": "monthly", "installments": 3}),
        )
        .await
        .expect(201)
        .id();
    let sweep = |app: &TestApp| {
        let db = app.db.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                let mut conn = db.get().unwrap();
                commonpot::pledges::lapses::sweep(&mut conn, chrono::Utc::now()).unwrap()
            })
            .await
            .unwrap()
        }
    };
    // Two replicas sweep at once: one announcement.
    let (a, b) = futures::join!(sweep(&w.app), sweep(&w.app));
    assert_eq!(a.announced + b.announced, 1);
    assert_eq!(sweep(&w.app).await.announced, 0);
    let due = w.feed(&w.admin.token, "&types=pledge.*").await;
    assert_eq!(types(&due), ["pledge.created", "pledge.installment_due"]);
    assert_eq!(due[1]["data"]["id"], pledge.as_str());
    assert_eq!(due[1]["data"]["installment"]["seq"], 1);
    assert_eq!(due[1]["data"]["installment"]["state"], "due");
    assert_eq!(due[1]["data"]["due_now"], "20.00");
    // Paying it is announced too; a partner app that reads contributions
    // sees whose pledge it was, one without that scope does not see pledges.
    w.app
        .post_money(
            &format!("/api/v1/pools/{}/contributions", w.pool),
            &w.admin.token,
            json!({"amount": "20.00", "method": "cash", "pledge_id": pledge}),
        )
        .await
        .expect(201);
    let (payments, _, _) = w
        .app
        .partner(
            &w.collective,
            &w.admin,
            &["events:read", "contributions:write"],
        )
        .await;
    let seen = w.feed(&payments, "&types=pledge.*").await;
    assert_eq!(
        types(&seen),
        [
            "pledge.created",
            "pledge.installment_due",
            "pledge.payment_applied"
        ]
    );
    assert_eq!(
        seen[2]["data"]["member_id"],
        w.member.membership_id.as_str()
    );
    assert_eq!(seen[2]["data"]["due_now"], "0.00");
    let (reader, _, _) = w
        .app
        .partner(&w.collective, &w.admin, &["events:read", "pools:read"])
        .await;
    assert!(w.feed(&reader, "&types=pledge.*").await.is_empty());
}

/// Many writers in several pools at once, and a reader following the
/// cursor meanwhile: the reader sees every committed event exactly once, in
/// order. (Numbered by ids made before commit, a transaction that commits
/// late would be skipped by a reader already past its id.)
#[actix_rt::test]
async fn a_reader_following_the_cursor_sees_every_event_of_concurrent_writers_once() {
    const POOLS: usize = 4;
    const WRITERS: usize = 8;
    const EACH: usize = 12;
    let w = world().await;
    let mut pools = vec![w.pool.clone()];
    for _ in 1..POOLS {
        pools.push(w.app.pool(&w.collective, &w.admin.token, "EUR").await);
    }
    let start = w.feed(&w.admin.token, "").await;
    let start_after = start.last().unwrap()["seq"].as_i64().unwrap();

    let done = std::sync::atomic::AtomicBool::new(false);
    let writers = async {
        let writers = (0..WRITERS).map(|n| {
            let (app, pools, token) = (&w.app, &pools, &w.admin.token);
            async move {
                for i in 0..EACH {
                    let pool = &pools[(n + i) % POOLS];
                    app.contribute(pool, token, "1.00").await.expect(201);
                }
            }
        });
        futures::future::join_all(writers).await;
        done.store(true, std::sync::atomic::Ordering::SeqCst);
    };
    let reader = async {
        let mut after = start_after;
        let mut seen: Vec<Value> = Vec::new();
        let mut reads_while_writing = 0;
        loop {
            let finished = done.load(std::sync::atomic::Ordering::SeqCst);
            let page = w
                .app
                .get(
                    &format!(
                        "/api/v1/collectives/{}/events?after={after}&limit=7",
                        w.collective
                    ),
                    &w.admin.token,
                )
                .await
                .expect(200)
                .body;
            let items = page["items"].as_array().unwrap();
            if !finished && !items.is_empty() {
                reads_while_writing += 1;
            }
            if items.is_empty() {
                actix_rt::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            seen.extend(items.iter().cloned());
            after = page["next_after"].as_i64().unwrap();
            if finished && !page["has_more"].as_bool().unwrap() {
                return (seen, reads_while_writing);
            }
        }
    };
    let ((), (seen, reads_while_writing)) = futures::join!(writers, reader);
    assert!(
        reads_while_writing > 1,
        "the reader read while the writers wrote"
    );

    let all = w.feed(&w.admin.token, "").await;
    let committed: Vec<&str> = all
        .iter()
        .filter(|e| e["seq"].as_i64().unwrap() > start_after)
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(committed.len(), WRITERS * EACH);
    assert_eq!(w.app.count("events").await as usize, all.len());
    let followed: Vec<&str> = seen.iter().map(|e| e["id"].as_str().unwrap()).collect();
    let missed = committed.iter().filter(|id| !followed.contains(id)).count();
    assert_eq!(missed, 0, "the follower missed {missed} committed events");
    assert_eq!(
        followed, committed,
        "the follower saw every event once, in the same order"
    );
    // Commit order leaves no holes in the numbering.
    let seqs: Vec<i64> = all.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, (1..=all.len() as i64).collect::<Vec<_>>());
}
