//! What a second look from outside found (#28): If-Match compares strongly,
//! bad `limit`s name their field, one scope refusal code, paging partner
//! apps, concurrent invitations, impossible ballot limits, audit diffs.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{Answer, Person, TestApp};

async fn patch_if_match(
    app: &TestApp,
    path: &str,
    token: &str,
    if_match: &str,
    body: Value,
) -> Answer {
    let request = app
        .raw(Method::PATCH, path)
        .bearer_auth(token)
        .header("If-Match", if_match)
        .json(&body);
    TestApp::answer(request.send().await.unwrap()).await
}

/// A collective with a pool and a submitted request by a member.
struct World {
    app: TestApp,
    collective: String,
    admin: Person,
    member: Person,
    pool: String,
    request: String,
}

async fn world() -> World {
    let app = TestApp::spawn().await;
    let (collective, admin) = app.bootstrap("Northside").await;
    let member = app.join(&collective, &admin, "member").await;
    let pool = app.pool(&collective, &admin.token, "EUR").await;
    let request = app
        .post(
            &format!("/api/v1/pools/{pool}/requests"),
            &member.token,
            json!({"amount": "10.00", "category": "rent", "urgency": "standard",
                   "public_summary": "Rent", "private_details": "Details"}),
        )
        .await
        .expect(201)
        .id();
    World {
        app,
        collective,
        admin,
        member,
        pool,
        request,
    }
}

/// Item 7: RFC 9110 §13.1.1 — If-Match uses the strong comparison, so a
/// weak tag never matches, even of the current version.
#[actix_rt::test]
async fn weak_etags_never_match_if_match() {
    let w = world().await;
    let (_, client, _) = w
        .app
        .partner(&w.collective, &w.admin, &["pools:read"])
        .await;
    let cases: Vec<(String, &str, Value)> = vec![
        (
            format!("/api/v1/collectives/{}", w.collective),
            w.admin.token.as_str(),
            json!({"name": "Northside Mutual Aid"}),
        ),
        (
            format!(
                "/api/v1/collectives/{}/members/{}",
                w.collective, w.member.membership_id
            ),
            w.admin.token.as_str(),
            json!({"role": "coordinator"}),
        ),
        (
            format!("/api/v1/collectives/{}/clients/{client}", w.collective),
            w.admin.token.as_str(),
            json!({"name": "Intake form"}),
        ),
        (
            format!("/api/v1/pools/{}", w.pool),
            w.admin.token.as_str(),
            json!({"name": "Rent relief"}),
        ),
        (
            format!("/api/v1/requests/{}", w.request),
            w.member.token.as_str(),
            json!({"public_summary": "Rent, amended"}),
        ),
    ];
    for (path, token, body) in cases {
        let read = w.app.get(&path, token).await.expect(200);
        let etag = read.header("etag").expect("an ETag").to_owned();
        assert!(etag.starts_with('"'), "{path}: ETags are strong: {etag}");
        let weak = format!("W/{etag}");
        let refused = patch_if_match(&w.app, &path, token, &weak, body.clone())
            .await
            .expect_problem(412, "precondition_failed");
        assert_eq!(refused.header("etag"), Some(etag.as_str()), "{path}");
        // Nothing changed: the same tag, strongly compared, still matches.
        let again = w.app.get(&path, token).await.expect(200);
        assert_eq!(again.header("etag"), Some(etag.as_str()), "{path}");
        patch_if_match(&w.app, &path, token, &format!("{weak}, {etag}"), body)
            .await
            .expect(200);
    }
}

/// Item 8: every unreadable `limit` is a 400 `invalid_query` naming it.
#[actix_rt::test]
async fn unreadable_limits_name_their_field() {
    let w = world().await;
    let lists = [
        "/api/v1/collectives?".to_owned(),
        format!("/api/v1/collectives/{}/members?", w.collective),
        format!("/api/v1/collectives/{}/requests?", w.collective),
        format!("/api/v1/pools/{}/contributions?", w.pool),
        format!("/api/v1/audit?collective_id={}&", w.collective),
    ];
    for list in &lists {
        for limit in ["abc", "1.5", "", "12345678901234567890", "-"] {
            let path = format!("{list}limit={limit}");
            let answer = w
                .app
                .get(&path, &w.admin.token)
                .await
                .expect_problem(400, "invalid_query");
            assert_eq!(answer.body["field"], "limit", "{path}: {}", answer.body);
            assert!(
                answer.body["detail"].as_str().unwrap().starts_with("limit"),
                "{path}: {}",
                answer.body
            );
        }
    }
    // Other unreadable parameters are named too.
    let answer = w
        .app
        .get(
            &format!(
                "/api/v1/collectives/{}/requests?awaiting_my_approval=perhaps",
                w.collective
            ),
            &w.admin.token,
        )
        .await
        .expect_problem(400, "invalid_query");
    assert_eq!(answer.body["field"], "awaiting_my_approval");
}

/// Item 9: an app with only `requests:read` that comments, reads comments,
/// amends or reads a request's payments is refused for its scope, as every
/// other scope refusal is; a member to whom the request is not open is
/// still `forbidden`.
#[actix_rt::test]
async fn a_read_only_app_is_refused_for_its_scope_everywhere() {
    let w = world().await;
    let (app_token, _, _) = w
        .app
        .partner(&w.collective, &w.admin, &["requests:read"])
        .await;
    let other = w.app.join(&w.collective, &w.admin, "member").await;
    let comments = format!("/api/v1/requests/{}/comments", w.request);
    let payments = format!("/api/v1/requests/{}/disbursements", w.request);
    let request = format!("/api/v1/requests/{}", w.request);
    for (token, code) in [
        (app_token.as_str(), "insufficient_scope"),
        (other.token.as_str(), "forbidden"),
    ] {
        w.app
            .post(&comments, token, json!({"body": "Hello"}))
            .await
            .expect_problem(403, code);
        w.app.get(&comments, token).await.expect_problem(403, code);
        w.app
            .patch(&request, token, json!({"public_summary": "Changed"}))
            .await
            .expect_problem(403, code);
        w.app.get(&payments, token).await.expect_problem(403, code);
    }
    // The app may still read what its scope covers.
    w.app.get(&request, &app_token).await.expect(200);
}

/// Walks a list with `limit` items a page; returns every item's id, in
/// order, and the number of pages.
async fn walk(app: &TestApp, list: &str, token: &str, limit: u32) -> (Vec<String>, usize) {
    let join = if list.contains('?') { '&' } else { '?' };
    let (mut ids, mut pages) = (Vec::new(), 0);
    let mut next: Option<String> = None;
    loop {
        let path = match &next {
            None => format!("{list}{join}limit={limit}"),
            Some(position) => format!("{list}{join}limit={limit}&{position}"),
        };
        let page = app.get(&path, token).await.expect(200).body;
        pages += 1;
        let items = page["items"].as_array().expect("a page of items");
        assert!(items.len() <= limit as usize, "{path}");
        for item in items {
            let id = item["id"]
                .as_str()
                .map(str::to_owned)
                .or_else(|| item["seq"].as_i64().map(|s| s.to_string()))
                .expect("an id or seq");
            ids.push(id);
        }
        // The events feed pages by `after`; every other list by `cursor`.
        next = if page.get("next_after").is_some() {
            page["has_more"]
                .as_bool()
                .unwrap()
                .then(|| format!("after={}", page["next_after"]))
        } else {
            page["next_cursor"]
                .as_str()
                .map(|c| format!("cursor={}", urlencode(c)))
        };
        if next.is_none() {
            return (ids, pages);
        }
        assert!(pages < 500, "{list} never ends");
    }
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// Item 2: every paged list of the API, walked page by page, gives what
/// one big page gives — each list takes back the cursor it hands out. The
/// lists are those of the OpenAPI document, so a new one cannot be missed.
#[actix_rt::test]
async fn every_paged_list_can_be_walked_to_its_end() {
    let w = world().await;
    let (app, admin, collective, pool) = (&w.app, &w.admin, &w.collective, &w.pool);
    // At least three of everything.
    for name in ["Southside", "Eastside"] {
        app.post(
            "/api/v1/collectives",
            &admin.token,
            json!({"name": name, "time_zone": "Europe/Berlin"}),
        )
        .await
        .expect(201);
    }
    for _ in 0..3 {
        app.partner(collective, admin, &["pools:read"]).await;
    }
    // Webhook endpoints (disabled, so nothing is ever sent to them).
    let (_, hook_client, _) = app.partner(collective, admin, &["pools:read"]).await;
    let mut hook = String::new();
    for n in 0..3 {
        hook = app
            .post(
                &format!("/api/v1/collectives/{collective}/webhooks"),
                &admin.token,
                json!({"client_id": hook_client, "url": format!("https://93.184.215.14/hook/{n}"),
                       "event_types": ["pool.*"], "enabled": false}),
            )
            .await
            .expect(201)
            .id();
    }
    // Deliveries for the last one: its pool events, replayed three times.
    for _ in 0..3 {
        app.post(
            &format!("/api/v1/collectives/{collective}/webhooks/{hook}/replay"),
            &admin.token,
            json!({"since": "2020-01-01T00:00:00Z"}),
        )
        .await
        .expect(202);
    }
    app.join(collective, admin, "member").await;
    app.join(collective, admin, "coordinator").await;
    app.pool(collective, &admin.token, "EUR").await;
    app.pool(collective, &admin.token, "EUR").await;
    for _ in 0..2 {
        app.post(
            &format!("/api/v1/pools/{pool}/requests"),
            &w.member.token,
            json!({"amount": "5.00", "category": "food", "urgency": "standard",
                   "public_summary": "Groceries"}),
        )
        .await
        .expect(201);
    }
    for n in 0..3 {
        app.post_money(
            &format!("/api/v1/pools/{pool}/contributions"),
            &admin.token,
            json!({"amount": format!("{}.00", 100 + n), "method": "cash",
                   "contributor": {"member_id": admin.membership_id}}),
        )
        .await
        .expect(201);
    }
    let mut hold = String::new();
    for _ in 0..3 {
        hold = app
            .post_money(
                &format!("/api/v1/pools/{pool}/holds"),
                &admin.token,
                json!({"amount": "20.00"}),
            )
            .await
            .expect(201)
            .id();
    }
    for _ in 0..3 {
        app.post_money(
            &format!("/api/v1/holds/{hold}/disbursements"),
            &admin.token,
            json!({"amount": "5.00"}),
        )
        .await
        .expect(201);
    }
    for _ in 0..3 {
        app.post(
            &format!("/api/v1/pools/{pool}/pledges"),
            &admin.token,
            json!({"amount": "3.00", "frequency": "weekly", "installments": 4}),
        )
        .await
        .expect(201);
    }
    for n in 0..3 {
        app.post(
            &format!("/api/v1/requests/{}/comments", w.request),
            &admin.token,
            json!({"body": format!("Note {n}")}),
        )
        .await
        .expect(201);
    }

    let lists: Vec<(&str, String)> = vec![
        (
            "list_audit",
            format!("/api/v1/audit?collective_id={collective}"),
        ),
        ("list_collectives", "/api/v1/collectives".into()),
        (
            "list_clients",
            format!("/api/v1/collectives/{collective}/clients"),
        ),
        (
            "list_events",
            format!("/api/v1/collectives/{collective}/events"),
        ),
        (
            "list_endpoints",
            format!("/api/v1/collectives/{collective}/webhooks"),
        ),
        (
            "list_deliveries",
            format!("/api/v1/collectives/{collective}/webhooks/{hook}/deliveries"),
        ),
        (
            "list_members",
            format!("/api/v1/collectives/{collective}/members"),
        ),
        (
            "list_pools",
            format!("/api/v1/collectives/{collective}/pools"),
        ),
        (
            "list_requests",
            format!("/api/v1/collectives/{collective}/requests"),
        ),
        (
            "list_disbursements",
            format!("/api/v1/holds/{hold}/disbursements"),
        ),
        (
            "my_contributions",
            format!("/api/v1/me/contributions?collective_id={collective}"),
        ),
        (
            "my_pledges",
            format!("/api/v1/me/pledges?collective_id={collective}"),
        ),
        (
            "list_contributions",
            format!("/api/v1/pools/{pool}/contributions"),
        ),
        ("list_entries", format!("/api/v1/pools/{pool}/entries")),
        ("list_holds", format!("/api/v1/pools/{pool}/holds")),
        ("list_pledges", format!("/api/v1/pools/{pool}/pledges")),
        (
            "list_comments",
            format!("/api/v1/requests/{}/comments", w.request),
        ),
    ];

    // Every operation of the document that pages is walked here.
    let document: Value =
        serde_json::from_str(&commonpot::http::OpenApiJson::generate().0).unwrap();
    let mut paged: Vec<String> = Vec::new();
    for operations in document["paths"].as_object().unwrap().values() {
        for operation in operations.as_object().unwrap().values() {
            let pages = operation["parameters"]
                .as_array()
                .is_some_and(|ps| ps.iter().any(|p| p["name"] == "limit"));
            if pages {
                paged.push(operation["operationId"].as_str().unwrap().to_owned());
            }
        }
    }
    paged.sort();
    let mut walked: Vec<String> = lists.iter().map(|(op, _)| (*op).to_owned()).collect();
    walked.sort();
    assert_eq!(paged, walked, "every paged list is walked");

    for (operation, list) in &lists {
        let (all, _) = walk(app, list, &admin.token, 200).await;
        assert!(all.len() >= 3, "{operation}: seed at least three: {all:?}");
        for limit in [1, 2] {
            let (walked, pages) = walk(app, list, &admin.token, limit).await;
            assert_eq!(walked, all, "{operation} walked {limit} at a time");
            assert!(pages >= all.len().div_ceil(limit as usize), "{operation}");
        }
    }
}

/// Item 1: invitations of one not-yet-registered email at the same moment
/// — from three collectives, and four times in one — each end as a new
/// invitation or a clean 409 `already_member`, never a 500; each collective
/// ends with exactly one invitation, all for one account.
#[actix_rt::test]
async fn concurrent_invitations_of_one_new_email_never_fail() {
    use futures::future::join_all;
    let app = TestApp::spawn().await;
    let mut collectives = Vec::new();
    for name in ["North", "South", "East"] {
        collectives.push(app.bootstrap(name).await);
    }
    for round in 0..3 {
        let email = format!(
            "newcomer-{round}-{}@example.org",
            uuid::Uuid::new_v4().simple()
        );
        let body = json!({"email": email, "display_name": "Newcomer", "role": "member"});
        // Three collectives at once, and the first one four times more.
        let mut calls = Vec::new();
        for (collective, admin) in &collectives {
            calls.push((collective.clone(), admin.token.clone()));
        }
        for _ in 0..4 {
            calls.push((collectives[0].0.clone(), collectives[0].1.token.clone()));
        }
        let app = &app;
        let answers = join_all(calls.iter().map(|(collective, token)| {
            let path = format!("/api/v1/collectives/{collective}/members");
            let body = body.clone();
            async move { app.post(&path, token, body).await }
        }))
        .await;
        let mut created = std::collections::BTreeMap::<String, usize>::new();
        for ((collective, _), answer) in calls.iter().zip(answers) {
            match answer.status.as_u16() {
                201 => *created.entry(collective.clone()).or_default() += 1,
                _ => {
                    answer.expect_problem(409, "already_member");
                }
            }
        }
        for (collective, _) in &collectives {
            assert_eq!(
                created.get(collective),
                Some(&1),
                "round {round}: {created:?}"
            );
        }
    }
    // One account per email, however many invitations raced for it.
    assert_eq!(app.count("users").await, 3 + 3);
    assert_eq!(app.count("memberships").await, 3 + 3 * 3);
}

/// Item 10: ballot limits no ballot can meet are refused when the round is
/// made, when its ballot or candidates change, and (should an amended
/// amount make them impossible) when it opens — 422 naming the field.
#[actix_rt::test]
async fn impossible_ballot_limits_are_refused() {
    let s = crate::rounds::setup("1000.00").await;
    let member = s.member().await;
    let mut candidates = Vec::new();
    for amount in ["100.00", "200.00", "300.00"] {
        candidates.push(s.request(&member, amount).await);
    }
    let rounds = format!("/api/v1/pools/{}/rounds", s.pool);
    let body = |ballot: Value, candidates: &[String]| json!({"title": "Winter", "budget": "500.00", "candidates": candidates, "ballot": ballot});
    let before = s.app.count("rounds").await;
    for (ballot, field) in [
        (
            json!({"type": "approval", "min_count": 5}),
            "ballot.min_count",
        ),
        (
            json!({"type": "approval", "min_count": 4, "max_count": 4}),
            "ballot.min_count",
        ),
        (
            json!({"type": "approval", "min_count": 2, "max_cost": "299.99"}),
            "ballot.max_cost",
        ),
    ] {
        let refused = s
            .app
            .post(&rounds, &s.admin.token, body(ballot.clone(), &candidates))
            .await
            .expect_problem(422, "validation_failed");
        assert_eq!(refused.body["field"], field, "{ballot}: {}", refused.body);
    }
    assert_eq!(s.app.count("rounds").await, before, "nothing was made");

    // Limits every ballot can meet are fine: 3 of 3; the two cheapest fit.
    s.round(body(
        json!({"type": "approval", "min_count": 3}),
        &candidates,
    ))
    .await;
    let round = s
        .round(body(
            json!({"type": "approval", "min_count": 2, "max_cost": "300.00"}),
            &candidates,
        ))
        .await;
    let path = format!("/api/v1/rounds/{round}");
    // Fewer candidates than the ballot needs: the candidates are named.
    let refused = s
        .app
        .patch(
            &path,
            &s.admin.token,
            json!({"candidates": [candidates[0]]}),
        )
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(refused.body["field"], "candidates", "{}", refused.body);
    // Two candidates whose sum exceeds max_cost: named too.
    let refused = s
        .app
        .patch(
            &path,
            &s.admin.token,
            json!({"candidates": [candidates[1], candidates[2]]}),
        )
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(refused.body["field"], "candidates", "{}", refused.body);
    // A ballot change that no ballot could meet: the limit is named.
    let refused = s
        .app
        .patch(
            &path,
            &s.admin.token,
            json!({"ballot": {"type": "approval", "min_count": 4}}),
        )
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(
        refused.body["field"], "ballot.min_count",
        "{}",
        refused.body
    );
    let shown = s.app.get(&path, &s.admin.token).await.expect(200).body;
    assert_eq!(shown["ballot"]["min_count"], 2);
    assert_eq!(shown["candidates"].as_array().unwrap().len(), 3);

    // Raising a candidate's amount after the fact keeps the round shut.
    s.app
        .patch(
            &format!("/api/v1/requests/{}", candidates[0]),
            &member.token,
            json!({"amount": "250.00"}),
        )
        .await
        .expect(200);
    let refused = s
        .step(&round, "open")
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(refused.body["field"], "ballot.max_cost", "{}", refused.body);
    // With a cap every two candidates fit, it opens, and ballots are cast.
    s.app
        .patch(
            &path,
            &s.admin.token,
            json!({"ballot": {"type": "approval", "min_count": 2, "max_cost": "450.00"}}),
        )
        .await
        .expect(200);
    s.step(&round, "open").await.expect(200);
    s.vote(
        &member,
        &round,
        json!({"approve": [candidates[0], candidates[1]]}),
    )
    .await
    .expect(200);
}

/// The latest audit record of `action` about `object_id`.
async fn audited(w: &World, object_id: &str, action: &str) -> Value {
    let page = w
        .app
        .get(
            &format!(
                "/api/v1/audit?collective_id={}&object_id={object_id}&action={action}",
                w.collective
            ),
            &w.admin.token,
        )
        .await
        .expect(200)
        .body;
    let items = page["items"].as_array().unwrap();
    items
        .iter()
        .max_by_key(|r| r["id"].as_str().unwrap().to_owned())
        .unwrap_or_else(|| panic!("no {action} record: {page}"))["details"]
        .clone()
}

/// Item 6: every update's audit record says which fields changed, before
/// and after; private fields are named, their values left out.
#[actix_rt::test]
async fn audit_records_say_what_changed() {
    let w = world().await;
    let (app, admin) = (&w.app, &w.admin);

    app.patch(
        &format!("/api/v1/pools/{}", w.pool),
        &admin.token,
        json!({"rules": {"approvals_needed": 3, "max_request": "750.00"}}),
    )
    .await
    .expect(200);
    let changes = &audited(&w, &w.pool, "pool.updated").await["changes"];
    let before = w
        .app
        .get(&format!("/api/v1/pools/{}", w.pool), &admin.token)
        .await;
    assert_eq!(before.body["rules"]["approvals_needed"], 3);
    assert_eq!(changes["rules.approvals_needed"]["after"], 3, "{changes}");
    assert!(
        changes["rules.approvals_needed"]["before"]
            .as_i64()
            .is_some_and(|n| n != 3),
        "{changes}"
    );
    assert_eq!(changes["rules.max_request"]["after"], "750.00", "{changes}");
    assert!(
        changes.get("name").is_none(),
        "unchanged fields are not named: {changes}"
    );

    app.patch(
        &format!("/api/v1/requests/{}", w.request),
        &w.member.token,
        json!({"amount": "99.00", "private_details": "A new secret detail"}),
    )
    .await
    .expect(200);
    let details = audited(&w, &w.request, "request.amended").await;
    let changes = &details["changes"];
    assert_eq!(
        changes["amount_requested"],
        json!({"before": "10.00", "after": "99.00"}),
        "{details}"
    );
    assert_eq!(
        changes["private.private_details"],
        json!({"private": true}),
        "{details}"
    );
    let text = details.to_string();
    assert!(
        !text.contains("secret detail") && !text.contains("Details"),
        "{text}"
    );

    app.patch(
        &format!("/api/v1/collectives/{}", w.collective),
        &admin.token,
        json!({"name": "Northside Mutual Aid"}),
    )
    .await
    .expect(200);
    assert_eq!(
        audited(&w, &w.collective, "collective.updated").await["changes"]["name"],
        json!({"before": "Northside", "after": "Northside Mutual Aid"})
    );

    app.patch(
        &format!(
            "/api/v1/collectives/{}/members/{}",
            w.collective, w.member.membership_id
        ),
        &admin.token,
        json!({"role": "coordinator"}),
    )
    .await
    .expect(200);
    assert_eq!(
        audited(&w, &w.member.membership_id, "membership.role_changed").await["changes"]["role"],
        json!({"before": "member", "after": "coordinator"})
    );
    app.patch(
        &format!(
            "/api/v1/collectives/{}/members/{}",
            w.collective, w.member.membership_id
        ),
        &admin.token,
        json!({"status": "suspended"}),
    )
    .await
    .expect(200);
    assert_eq!(
        audited(&w, &w.member.membership_id, "membership.suspended").await["changes"]["status"],
        json!({"before": "active", "after": "suspended"})
    );

    let (_, client, _) = app.partner(&w.collective, admin, &["pools:read"]).await;
    app.patch(
        &format!("/api/v1/collectives/{}/clients/{client}", w.collective),
        &admin.token,
        json!({"scopes": ["pools:read", "rounds:read"]}),
    )
    .await
    .expect(200);
    let changes = &audited(&w, &client, "client.updated").await["changes"];
    assert_eq!(
        changes["scopes"]["after"],
        json!(["pools:read", "rounds:read"]),
        "{changes}"
    );

    let pledge = app
        .post(
            &format!("/api/v1/pools/{}/pledges", w.pool),
            &admin.token,
            json!({"amount": "3.00", "frequency": "weekly", "installments": 4}),
        )
        .await
        .expect(201)
        .id();
    app.patch(
        &format!("/api/v1/pledges/{pledge}"),
        &admin.token,
        json!({"status": "paused"}),
    )
    .await
    .expect(200);
    let changes = &audited(&w, &pledge, "pledge.paused").await["changes"];
    assert_eq!(
        changes["status"],
        json!({"before": "active", "after": "paused"}),
        "{changes}"
    );

    let round = app
        .post(
            &format!("/api/v1/pools/{}/rounds", w.pool),
            &admin.token,
            json!({"title": "Winter", "budget": "50.00", "candidates": [w.request],
                   "ballot": {"type": "approval"}}),
        )
        .await
        .expect(201)
        .id();
    app.patch(
        &format!("/api/v1/rounds/{round}"),
        &admin.token,
        json!({"title": "Winter round", "budget": "60.00"}),
    )
    .await
    .expect(200);
    let changes = &audited(&w, &round, "round.updated").await["changes"];
    assert_eq!(
        changes["title"],
        json!({"before": "Winter", "after": "Winter round"})
    );
    assert_eq!(
        changes["budget"],
        json!({"before": "50.00", "after": "60.00"})
    );
}
