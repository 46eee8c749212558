//! Bad input of every kind gets a 4xx problem+json naming what it can, and
//! changes nothing.

use reqwest::Method;
use serde_json::json;

use crate::helpers::TestApp;

async fn post_raw(
    app: &TestApp,
    token: &str,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> crate::helpers::Answer {
    let response = app
        .raw(Method::POST, "/api/v1/collectives")
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    TestApp::answer(response).await
}

#[actix_rt::test]
async fn bad_bodies_are_refused_with_the_field_named_and_nothing_changes() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.bootstrap("Northside").await;
    let before = app.count("collectives").await;
    let json = "application/json";

    post_raw(&app, &admin.token, json, r#"{"name": "x", "#)
        .await
        .expect_problem(400, "malformed_json");
    post_raw(&app, &admin.token, json, "")
        .await
        .expect_problem(400, "malformed_json");
    post_raw(
        &app,
        &admin.token,
        json,
        r#"{"name": "x", "time_zone": "UTC"} {}"#,
    )
    .await
    .expect_problem(400, "malformed_json");

    let cases = [
        (json!({"name": 5, "time_zone": "UTC"}), "name"),
        (
            json!({"name": "x", "time_zone": "UTC", "evil": true}),
            "evil",
        ),
        (json!({"name": "x"}), "time_zone"),
        (
            json!({"name": "x", "time_zone": "Mars/Olympus"}),
            "time_zone",
        ),
        (json!({"name": "   ", "time_zone": "UTC"}), "name"),
        (json!({"name": "x".repeat(201), "time_zone": "UTC"}), "name"),
        (json!("not an object"), "body"),
    ];
    for (body, field) in cases {
        let answer = app
            .post("/api/v1/collectives", &admin.token, body.clone())
            .await;
        let answer = answer.expect_problem(422, "validation_failed");
        assert_eq!(answer.body["field"], field, "for {body}: {}", answer.body);
    }

    post_raw(
        &app,
        &admin.token,
        "text/plain",
        r#"{"name": "x", "time_zone": "UTC"}"#,
    )
    .await
    .expect_problem(415, "unsupported_media_type");
    let huge = format!(
        r#"{{"name": "{}", "time_zone": "UTC"}}"#,
        "x".repeat(70 * 1024)
    );
    post_raw(&app, &admin.token, json, huge)
        .await
        .expect_problem(413, "payload_too_large");

    assert_eq!(
        app.count("collectives").await,
        before,
        "no refused request created anything"
    );
}

#[actix_rt::test]
async fn bad_paths_queries_headers_routes_and_methods_are_problems() {
    let app = TestApp::spawn().await;
    let (collective, admin) = app.bootstrap("Northside").await;

    app.get("/api/v1/collectives/not-a-uuid", &admin.token)
        .await
        .expect_problem(400, "invalid_path_parameter");
    app.get("/api/v1/collectives?limit=abc", &admin.token)
        .await
        .expect_problem(400, "invalid_query");
    let limit = app.get("/api/v1/collectives?limit=0", &admin.token).await;
    assert_eq!(
        limit.expect_problem(422, "validation_failed").body["field"],
        "limit"
    );
    let cursor = app
        .get("/api/v1/collectives?cursor=garbage", &admin.token)
        .await;
    assert_eq!(
        cursor.expect_problem(422, "validation_failed").body["field"],
        "cursor"
    );
    app.get(
        &format!("/api/v1/collectives/{collective}/members?status=zombie"),
        &admin.token,
    )
    .await
    .expect_problem(400, "invalid_query");

    let missing = app
        .send(
            Method::GET,
            &format!("/api/v1/collectives/{collective}"),
            None,
            None,
        )
        .await
        .expect_problem(401, "unauthenticated");
    assert_eq!(missing.header("www-authenticate"), Some("Bearer"));
    assert_eq!(missing.body["field"], "Authorization");
    let response = app
        .raw(Method::GET, &format!("/api/v1/collectives/{collective}"))
        .header("authorization", "Basic Zm9vOmJhcg==")
        .send()
        .await
        .unwrap();
    TestApp::answer(response)
        .await
        .expect_problem(401, "unauthenticated");
    app.get(&format!("/api/v1/collectives/{collective}"), "not.a.jwt")
        .await
        .expect_problem(401, "invalid_token");
    let response = app
        .raw(Method::PATCH, &format!("/api/v1/collectives/{collective}"))
        .bearer_auth(&admin.token)
        .header(
            "if-match",
            reqwest::header::HeaderValue::from_bytes(b"\"\xff\"").unwrap(),
        )
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert!(TestApp::answer(response).await.status.is_client_error());

    app.get("/api/v1/no-such-thing", &admin.token)
        .await
        .expect_problem(404, "not_found");
    // Outside the API and the operations endpoints, the web app answers a
    // page (tested in `web`); its own unknown routes stay problem+json.
    app.send(Method::GET, "/api/nowhere", None, None)
        .await
        .expect_problem(404, "not_found");
    app.send(
        Method::DELETE,
        "/api/v1/collectives",
        Some(&admin.token),
        None,
    )
    .await
    .expect_problem(405, "method_not_allowed");
    app.send(Method::PUT, "/healthz", None, None)
        .await
        .expect_problem(405, "method_not_allowed");
}
