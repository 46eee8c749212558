//! Text holding the NUL character (U+0000) is refused with a 422 naming the
//! field, the same on SQLite and PostgreSQL, for bodies and query strings
//! alike; nothing is stored (#14 item 7).

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::TestApp;

#[actix_rt::test]
async fn nul_in_any_text_field_or_filter_is_a_422_naming_it_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let (collective, admin) = app.bootstrap("Northside").await;
    let pool = app.pool(&collective, &admin.token, "EUR").await;
    let member = app.join(&collective, &admin, "member").await;
    let request = app
        .post(
            &format!("/api/v1/pools/{pool}/requests"),
            member.token.as_str(),
            json!({"amount": "10.00", "category": "rent", "urgency": "standard",
                   "public_summary": "Rent", "private_details": "Details"}),
        )
        .await
        .expect(201)
        .id();
    let before = (
        app.count("pools").await,
        app.count("aid_requests").await,
        app.count("request_comments").await,
        app.count("contributions").await,
        app.count("memberships").await,
    );

    let bodies: Vec<(Method, String, &str, Value, &str)> = vec![
        (
            Method::PATCH,
            format!("/api/v1/collectives/{collective}"),
            admin.token.as_str(),
            json!({"name": "North\u{0}side"}),
            "name",
        ),
        (
            Method::POST,
            format!("/api/v1/collectives/{collective}/pools"),
            admin.token.as_str(),
            json!({"name": "Food\u{0}", "currency": "EUR"}),
            "name",
        ),
        (
            Method::POST,
            format!("/api/v1/collectives/{collective}/pools"),
            admin.token.as_str(),
            json!({"name": "Food", "currency": "EUR", "rules": {"max_request": "10\u{0}.00"}}),
            "rules.max_request",
        ),
        (
            Method::POST,
            format!("/api/v1/pools/{pool}/requests"),
            member.token.as_str(),
            json!({"amount": "10.00", "category": "rent", "urgency": "standard",
                   "public_summary": "Rent", "private_details": "Evicted\u{0} on the 3rd"}),
            "private_details",
        ),
        (
            Method::POST,
            format!("/api/v1/pools/{pool}/requests"),
            member.token.as_str(),
            json!({"amount": "10.00", "category": "\u{0}", "urgency": "standard",
                   "public_summary": "Rent"}),
            "category",
        ),
        (
            Method::POST,
            format!("/api/v1/requests/{request}/comments"),
            member.token.as_str(),
            json!({"body": "Thanks\u{0}"}),
            "body",
        ),
        (
            Method::POST,
            format!("/api/v1/collectives/{collective}/members"),
            admin.token.as_str(),
            json!({"email": "nul@example.org", "display_name": "N\u{0}l", "role": "member"}),
            "display_name",
        ),
    ];
    for (method, path, token, body, field) in bodies {
        let request = app
            .raw(method.clone(), &path)
            .bearer_auth(token)
            .json(&body);
        let answer = TestApp::answer(request.send().await.unwrap())
            .await
            .expect_problem(422, "validation_failed");
        assert_eq!(
            answer.body["field"], field,
            "{method} {path}: {}",
            answer.body
        );
        assert!(
            answer.body["detail"].as_str().unwrap().contains("U+0000"),
            "{}",
            answer.body
        );
    }

    // A contribution's donor name, with its idempotency key.
    let answer = app
        .post_money(
            &format!("/api/v1/pools/{pool}/contributions"),
            admin.token.as_str(),
            json!({"amount": "5.00", "method": "cash", "contributor": {"donor_name": "Ana\u{0}"}}),
        )
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(
        answer.body["field"], "contributor.donor_name",
        "{}",
        answer.body
    );

    // Filters: percent-encoded NUL in the query string.
    for (path, field) in [
        (
            format!("/api/v1/collectives/{collective}/requests?category=rent%00"),
            "category",
        ),
        (
            format!("/api/v1/audit?collective_id={collective}&action=pool.%00"),
            "action",
        ),
        (
            format!("/api/v1/collectives/{collective}/requests?owner=%00&limit=5"),
            "owner",
        ),
        (
            format!("/api/v1/collectives/{collective}/members?cursor=%00"),
            "cursor",
        ),
    ] {
        let answer = app
            .get(&path, &admin.token)
            .await
            .expect_problem(422, "validation_failed");
        assert_eq!(answer.body["field"], field, "{path}: {}", answer.body);
    }

    // Nothing was stored or changed.
    assert_eq!(
        before,
        (
            app.count("pools").await,
            app.count("aid_requests").await,
            app.count("request_comments").await,
            app.count("contributions").await,
            app.count("memberships").await,
        )
    );
    let shown = app
        .get(&format!("/api/v1/collectives/{collective}"), &admin.token)
        .await
        .expect(200);
    assert_eq!(shown.body["name"], "Northside");

    // Text that only looks like an escape is ordinary text.
    app.patch(
        &format!("/api/v1/collectives/{collective}"),
        &admin.token,
        json!({"name": "North \\u0000 side"}),
    )
    .await
    .expect(200);
    app.get(
        &format!("/api/v1/collectives/{collective}/requests?category=%5Cu0000"),
        &admin.token,
    )
    .await
    .expect(200);
}
