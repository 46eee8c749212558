//! The API contract partner apps generate clients from: every answer an
//! operation can give is documented with its body, errors are typed per
//! status with `code` as an enum, and the shape rules generators rely on hold.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::Value;

use crate::helpers::TestApp;

fn document() -> Value {
    serde_json::from_str(&commonpot::cli::openapi_json()).unwrap()
}

fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut all = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            all.push((path.clone(), method.clone(), operation.clone()));
        }
    }
    all
}

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => {
            let name = r.strip_prefix("#/components/schemas/").unwrap();
            &doc["components"]["schemas"][name]
        }
        None => schema,
    }
}

#[test]
fn every_error_is_a_typed_problem_whose_codes_are_those_of_its_status() {
    let doc = document();
    for (path, method, operation) in operations(&doc) {
        if path.ends_with("/auth/token") {
            continue; // RFC 6749 errors: see below
        }
        for (status, response) in operation["responses"].as_object().unwrap() {
            let status: u16 = status.parse().unwrap();
            if status < 400 {
                continue;
            }
            let content = response["content"]
                .as_object()
                .unwrap_or_else(|| panic!("{method} {path} documents {status} without a body"));
            assert_eq!(
                content.keys().collect::<Vec<_>>(),
                ["application/problem+json"],
                "{method} {path} {status}"
            );
            let schema = resolve(&doc, &content["application/problem+json"]["schema"]);
            let codes: BTreeSet<&str> = schema["properties"]["code"]["enum"]
                .as_array()
                .unwrap_or_else(|| panic!("{method} {path} {status}: `code` is not an enum"))
                .iter()
                .map(|c| c.as_str().unwrap())
                .collect();
            let listed: BTreeSet<&str> = commonpot::http::codes::CODES
                .iter()
                .filter(|c| c.status == status)
                .map(|c| c.code)
                .collect();
            assert_eq!(codes, listed, "{method} {path} {status}");
            assert!(
                schema.get("allOf").is_none(),
                "a problem schema is one plain object (generators turn allOf with a bare object into an empty type)"
            );
        }
    }
}

#[test]
fn the_token_endpoint_documents_rfc_6749_errors() {
    let doc = document();
    let token = &doc["paths"]["/api/v1/auth/token"]["post"];
    assert!(token["requestBody"]["content"]["application/x-www-form-urlencoded"].is_object());
    // One media type: openapi-python-client makes a body with two optional
    // and its module unimportable (JSON is still accepted, undocumented).
    assert_eq!(
        token["requestBody"]["content"].as_object().unwrap().len(),
        1
    );
    assert_eq!(token["security"], serde_json::json!([]));
    for status in ["400", "401", "429", "500", "503"] {
        assert_eq!(
            token["responses"][status]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/OAuthError",
            "{status}"
        );
    }
    assert!(token["responses"]["401"]["headers"]["WWW-Authenticate"].is_object());
    let error = resolve(
        &doc,
        &doc["components"]["schemas"]["OAuthError"]["properties"]["error"],
    );
    let codes: BTreeSet<&str> = error["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    for code in [
        "invalid_request",
        "invalid_client",
        "invalid_grant",
        "unsupported_grant_type",
        "invalid_scope",
    ] {
        assert!(codes.contains(code), "{code}");
    }
}

#[test]
fn the_conflict_problem_names_the_facts_a_partner_acts_on() {
    let doc = document();
    let conflict = &doc["components"]["schemas"]["ConflictProblem"]["properties"];
    for fact in [
        "available",
        "needed",
        "currency",
        "current_state",
        "current_status",
        "current_phase",
        "contribution_id",
        "remaining",
        "refundable",
        "deficit",
    ] {
        assert!(conflict.get(fact).is_some(), "{fact}");
    }
    assert_eq!(conflict["contribution_id"]["format"], "uuid");
    assert!(conflict["available"]["pattern"].is_string());
}

#[test]
fn operations_document_what_they_take_can_be_refused() {
    let doc = document();
    for (path, method, operation) in operations(&doc) {
        if !path.starts_with("/api/") || path.ends_with("/auth/token") {
            continue;
        }
        let responses = operation["responses"].as_object().unwrap();
        let has = |s: &str| responses.contains_key(s);
        for status in ["400", "404", "422", "500", "503"] {
            assert!(has(status), "{method} {path} does not document {status}");
        }
        let params: Vec<&str> = operation["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        if operation.get("requestBody").is_some() {
            assert!(has("413") && has("415"), "{method} {path}: body limits");
        }
        if params.contains(&"If-Match") {
            assert!(has("412"), "{method} {path}: If-Match");
        }
        if method != "get" {
            assert!(has("409"), "{method} {path}: a change can clash");
        }
        let security = operation["security"]
            .as_array()
            .unwrap_or_else(|| panic!("{method} {path} does not say whether it is public"));
        if !security.is_empty() {
            assert!(has("401") && has("403"), "{method} {path}");
            assert!(
                responses["401"]["headers"]["WWW-Authenticate"].is_object(),
                "{method} {path}"
            );
        }
        for (status, response) in responses {
            assert!(
                response["headers"]["x-request-id"].is_object(),
                "{method} {path} {status}: x-request-id"
            );
        }
        assert!(responses["503"]["headers"]["Retry-After"].is_object());
        if params.contains(&"Idempotency-Key") {
            let key = operation["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["name"] == "Idempotency-Key")
                .unwrap();
            assert_eq!(key["schema"]["maxLength"], 255, "{method} {path}");
            assert_eq!(key["schema"]["minLength"], 1, "{method} {path}");
            let success = responses
                .iter()
                .find(|(s, _)| s.starts_with('2'))
                .unwrap()
                .1;
            assert!(success["headers"]["Idempotent-Replayed"].is_object());
        }
        if params.contains(&"limit") {
            let limit = operation["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["name"] == "limit")
                .unwrap();
            assert_eq!(limit["schema"]["minimum"], 1);
            assert_eq!(limit["schema"]["maximum"], 200);
        }
    }
}

#[test]
fn the_document_declares_its_server_and_tags_and_pages_refer_to_their_items() {
    let doc = document();
    assert!(doc["servers"].as_array().is_some_and(|s| !s.is_empty()));
    let declared: BTreeSet<&str> = doc["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            assert!(t["description"].is_string(), "tag {t} has no description");
            t["name"].as_str().unwrap()
        })
        .collect();
    for (path, method, operation) in operations(&doc) {
        for tag in operation["tags"].as_array().unwrap() {
            assert!(
                declared.contains(tag.as_str().unwrap()),
                "{method} {path}: {tag}"
            );
        }
    }
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let pages: Vec<_> = schemas.keys().filter(|k| k.starts_with("Page_")).collect();
    assert!(pages.len() >= 12);
    for page in pages {
        let item = page.strip_prefix("Page_").unwrap();
        assert_eq!(
            schemas[page]["properties"]["items"]["items"]["$ref"],
            format!("#/components/schemas/{item}"),
            "{page}"
        );
    }
}

#[test]
fn ids_are_uuids_and_money_is_a_decimal_string_in_the_schemas() {
    let doc = document();
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["AidRequest"]["properties"]["pool_id"]["format"],
        "uuid"
    );
    assert_eq!(schemas["Hold"]["properties"]["id"]["format"], "uuid");
    let amount = &schemas["NewContribution"]["properties"]["amount"];
    assert_eq!(amount["pattern"], commonpot::http::openapi::MONEY_IN);
    assert_eq!(
        schemas["Posting"]["properties"]["amount"]["pattern"],
        commonpot::http::openapi::MONEY_OUT,
        "answers may carry signed changes"
    );
}

/// The request pattern and the parser agree: what the pattern admits
/// parses in a three-decimal currency (short of the size limit, which the
/// description states), and what it refuses does not.
#[test]
fn the_money_pattern_is_the_parsers_rule() {
    let pattern = regex::Regex::new(commonpot::http::openapi::MONEY_IN).unwrap();
    let bhd = commonpot::money::Currency::from_code("BHD").unwrap();
    let samples = [
        "0",
        "7",
        "12",
        "12.5",
        "12.50",
        "0.001",
        "999999999999",
        "-1",
        "01",
        "1.",
        ".5",
        "1e3",
        "1.0001",
        " 1",
        "1 ",
        "1,00",
        "+1",
        "00.1",
        "1.2.3",
        "",
        "0x10",
        "١٢",
    ];
    for text in samples {
        let parses = commonpot::money::Money::parse("amount", text, bhd).is_ok();
        assert_eq!(pattern.is_match(text), parses, "{text:?}");
    }
}

#[actix_rt::test]
async fn a_wrong_method_says_which_are_allowed() {
    let app = TestApp::spawn().await;
    let answer = app
        .raw(
            Method::PUT,
            "/api/v1/pools/0190b6f5-9c1a-7d2e-8f00-000000000001",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 405);
    let allow = answer.headers()["allow"].to_str().unwrap().to_owned();
    let mut methods: Vec<&str> = allow.split(", ").collect();
    methods.sort();
    assert_eq!(methods, ["GET", "PATCH"]);
    assert!(answer.headers().contains_key("x-request-id"));
}

/// The token endpoint, as a generic OAuth 2.0 client uses it (RFC 6749).
mod token_endpoint {
    use base64::Engine as _;
    use reqwest::Method;

    use crate::helpers::{Answer, TestApp};

    async fn form(app: &TestApp, basic: Option<(&str, &str)>, body: &str) -> Answer {
        let mut request = app
            .raw(Method::POST, "/api/v1/auth/token")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_owned());
        if let Some((id, secret)) = basic {
            let encoded =
                base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
            request = request.header("authorization", format!("Basic {encoded}"));
        }
        TestApp::answer(request.send().await.unwrap()).await
    }

    #[actix_rt::test]
    async fn a_partner_app_authenticates_by_http_basic_and_errors_are_rfc_6749s() {
        let app = TestApp::spawn().await;
        let (collective, admin) = app.bootstrap("Northside").await;
        let (_, id, secret) = app.partner(&collective, &admin, &["pools:read"]).await;

        let ok = form(&app, Some((&id, &secret)), "grant_type=client_credentials")
            .await
            .expect(200);
        assert_eq!(ok.body["token_type"], "Bearer");
        assert_eq!(ok.body["scope"], "pools:read");
        assert_eq!(ok.header("cache-control"), Some("no-store"));
        let token = ok.body["access_token"].as_str().unwrap();
        app.get(&format!("/api/v1/collectives/{collective}/pools"), token)
            .await
            .expect(200);

        form(
            &app,
            Some((&id, "cps_wrong")),
            "grant_type=client_credentials",
        )
        .await
        .expect_oauth_error(401, "invalid_client");
        form(&app, None, "grant_type=client_credentials")
            .await
            .expect_oauth_error(401, "invalid_client");
        form(
            &app,
            Some(("not-an-app", &secret)),
            "grant_type=client_credentials",
        )
        .await
        .expect_oauth_error(401, "invalid_client");
        let both = form(
            &app,
            Some((&id, &secret)),
            &format!("grant_type=client_credentials&client_secret={secret}"),
        )
        .await
        .expect_oauth_error(400, "invalid_request");
        assert!(both.body["error_description"]
            .as_str()
            .unwrap()
            .contains("one way"));
        form(
            &app,
            Some((&id, &secret)),
            "grant_type=client_credentials&scope=rounds:read",
        )
        .await
        .expect_oauth_error(400, "invalid_scope");
        form(&app, None, "grant_type=authorization_code&code=x")
            .await
            .expect_oauth_error(400, "unsupported_grant_type");
        form(&app, None, "username=a&password=b")
            .await
            .expect_oauth_error(400, "invalid_request");
        form(
            &app,
            None,
            "grant_type=password&grant_type=password&username=a&password=b",
        )
        .await
        .expect_oauth_error(400, "invalid_request");
        let missing = form(&app, None, "grant_type=password&username=someone")
            .await
            .expect_oauth_error(400, "invalid_request");
        assert_eq!(missing.body["error_description"], "password is required");
        form(
            &app,
            None,
            "grant_type=refresh_token&refresh_token=cpr_made_up",
        )
        .await
        .expect_oauth_error(400, "invalid_grant");
        let not_json = app
            .raw(Method::POST, "/api/v1/auth/token")
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap();
        TestApp::answer(not_json)
            .await
            .expect_oauth_error(400, "invalid_request");

        // Everywhere else, errors stay problem documents.
        app.get(&format!("/api/v1/collectives/{collective}"), "not-a-token")
            .await
            .expect_problem(401, "invalid_token");
    }
}
