//! Text holding the NUL character (U+0000) is refused with a 422 naming the
//! field, the same on SQLite and PostgreSQL, for bodies and query strings
//! alike; nothing is stored (#14 item 7). In a path (`%00`) it is a
//! malformed id: 400 `invalid_path_parameter` naming the parameter, on
//! every route of the API, and "not found" on every page — never a 500
//! (PostgreSQL refuses NUL in text).

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::TestApp;
use crate::web::Browser;

/// A UUID no row has, for the parameters not under test.
const NOBODY: &str = "01900000-0000-7000-8000-000000000000";

/// `pattern` with `{name}` as `%00` and every other parameter filled in:
/// the collective's id where the parameter names it, else [`NOBODY`].
fn with_nul(pattern: &str, name: &str, collective: &str) -> String {
    let segments: Vec<&str> = pattern.split('/').collect();
    segments
        .iter()
        .enumerate()
        .map(
            |(i, segment)| match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                None => (*segment).to_owned(),
                Some(param) if param == name => "%00".to_owned(),
                Some(_) if i > 0 && matches!(segments[i - 1], "collectives" | "c") => {
                    collective.to_owned()
                }
                Some(_) => NOBODY.to_owned(),
            },
        )
        .collect::<Vec<_>>()
        .join("/")
}

/// The `{name}`s of a route pattern.
fn parameters(pattern: &str) -> Vec<&str> {
    pattern
        .split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .collect()
}

#[actix_rt::test]
async fn nul_in_any_path_parameter_of_the_api_is_a_400_naming_it_never_a_500() {
    let app = TestApp::spawn().await;
    let (collective, admin) = app.bootstrap("Northside").await;
    let doc: Value = serde_json::from_str(&commonpot::cli::openapi_json()).unwrap();
    let mut walked = 0;
    for (pattern, item) in doc["paths"].as_object().unwrap() {
        for (method, _) in item.as_object().unwrap() {
            let method: Method = method.to_uppercase().parse().unwrap();
            for name in parameters(pattern) {
                let path = with_nul(pattern, name, &collective);
                let mut request = app.raw(method.clone(), &path).bearer_auth(&admin.token);
                if method != Method::GET {
                    request = request
                        .header("idempotency-key", uuid::Uuid::new_v4().to_string())
                        .json(&json!({}));
                }
                let answer = TestApp::answer(request.send().await.unwrap()).await;
                assert_eq!(
                    answer.status,
                    StatusCode::BAD_REQUEST,
                    "{method} {path}: {}",
                    answer.body
                );
                let answer = answer.expect_problem(400, "invalid_path_parameter");
                assert_eq!(answer.body["field"], name, "{method} {path}");
                assert!(
                    answer.body["detail"].as_str().unwrap().contains("U+0000"),
                    "{method} {path}: {}",
                    answer.body
                );
                walked += 1;
            }
        }
    }
    // The text ids among them (a partner app's, a webhook endpoint's, a
    // delivery's) are those that reached the database before.
    assert!(walked > 80, "only {walked} path parameters walked");
}

/// The web app's route patterns, read from where they are registered (each
/// area's `configure`), so a page added later is walked too.
fn page_patterns() -> Vec<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/web/views");
    let mut patterns = Vec::new();
    for file in std::fs::read_dir(dir).unwrap() {
        let source = std::fs::read_to_string(file.unwrap().path()).unwrap();
        let Some(start) = source.find("pub fn configure(") else {
            continue;
        };
        let body = &source[start..];
        let body = &body[..body.find("\n}\n").unwrap()];
        for literal in body.split('"').skip(1).step_by(2) {
            if literal.starts_with('/') && literal.contains('{') {
                patterns.push(literal.to_owned());
            }
        }
    }
    patterns.sort();
    patterns.dedup();
    patterns
}

#[actix_rt::test]
async fn nul_in_any_path_parameter_of_a_page_is_not_found_never_a_500() {
    let app = TestApp::spawn().await;
    let (collective, admin) = app.bootstrap("Northside").await;
    let mut browser = Browser::new(&app);
    browser.sign_in(&admin.email).await;
    let patterns = page_patterns();
    assert!(patterns.len() > 25, "{patterns:?}");
    for pattern in &patterns {
        for name in parameters(pattern) {
            let path = with_nul(pattern, name, &collective);
            for page in [browser.get(&path).await, browser.post(&path, &[]).await] {
                assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}: {}", page.html);
                assert!(page.content_type.starts_with("text/html"), "{path}");
                assert!(page.html.contains("Page not found"), "{path}");
            }
        }
    }
}

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
