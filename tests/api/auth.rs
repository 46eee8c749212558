//! Tokens: the password, refresh and client-credentials grants, rotation and
//! reuse detection, revocation, token checks, and login throttling.

use commonpot::auth::tokens::{Claims, Subject};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use reqwest::Method;
use serde_json::json;

use crate::helpers::{TestApp, PASSWORD};

async fn token(app: &TestApp, body: serde_json::Value) -> crate::helpers::Answer {
    app.send(Method::POST, "/api/v1/auth/token", None, Some(body))
        .await
}

fn refresh(token: &str) -> serde_json::Value {
    json!({"grant_type": "refresh_token", "refresh_token": token})
}

#[actix_rt::test]
async fn a_person_signs_in_and_wrong_passwords_and_unknown_accounts_look_alike() {
    let app = TestApp::spawn().await;
    let (collective, admin) = app.bootstrap("Northside").await;
    let ok = app.login(&admin.email, PASSWORD).await.expect(200);
    assert_eq!(ok.body["token_type"], "Bearer");
    assert!(ok.body["expires_in"].as_u64().unwrap() <= 15 * 60);
    assert!(ok.body["refresh_token"]
        .as_str()
        .unwrap()
        .starts_with("cpr_"));
    let access = ok.body["access_token"].as_str().unwrap();
    app.get(&format!("/api/v1/collectives/{collective}"), access)
        .await
        .expect(200);

    let wrong = app
        .login(&admin.email, "not the password")
        .await
        .expect_oauth_error(400, "invalid_grant");
    let unknown = app
        .login("nobody@example.org", PASSWORD)
        .await
        .expect_oauth_error(400, "invalid_grant");
    assert_eq!(
        wrong.body["error_description"],
        unknown.body["error_description"]
    );
    // Emails are matched case-insensitively.
    app.login(&admin.email.to_uppercase(), PASSWORD)
        .await
        .expect(200);
}

#[actix_rt::test]
async fn refresh_tokens_rotate_and_reuse_revokes_the_whole_family() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.bootstrap("Northside").await;
    let first = app.login(&admin.email, PASSWORD).await.expect(200);
    let r1 = first.body["refresh_token"].as_str().unwrap().to_owned();
    let second = token(&app, refresh(&r1)).await.expect(200);
    let r2 = second.body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(r1, r2);
    app.get("/api/v1/me", second.body["access_token"].as_str().unwrap())
        .await
        .expect(200);

    // r1 was rotated: presenting it again is theft, and signs out r2 too.
    token(&app, refresh(&r1))
        .await
        .expect_oauth_error(400, "invalid_grant");
    token(&app, refresh(&r2))
        .await
        .expect_oauth_error(400, "invalid_grant");

    // Another sign-in is a separate family and still works.
    let other = app.login(&admin.email, PASSWORD).await.expect(200);
    let r3 = other.body["refresh_token"].as_str().unwrap().to_owned();
    token(&app, refresh(&r3)).await.expect(200);
    token(&app, refresh("cpr_made_up"))
        .await
        .expect_oauth_error(400, "invalid_grant");
}

#[actix_rt::test]
async fn concurrent_use_of_one_refresh_token_succeeds_exactly_once() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.bootstrap("Northside").await;
    let r = app.login(&admin.email, PASSWORD).await.expect(200).body["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let attempts = (0..6).map(|_| token(&app, refresh(&r)));
    let answers = futures::future::join_all(attempts).await;
    let successes = answers.iter().filter(|a| a.status == 200).count();
    assert_eq!(
        successes,
        1,
        "exactly one of the concurrent refreshes succeeds; answers: {:?}",
        answers
            .iter()
            .map(|a| (a.status.as_u16(), a.body.clone()))
            .collect::<Vec<_>>()
    );
    // Every other one is refused as a reused grant, not failed some other way.
    for answer in answers.into_iter().filter(|a| a.status != 200) {
        answer.expect_oauth_error(400, "invalid_grant");
    }
}

#[actix_rt::test]
async fn revoking_a_refresh_token_signs_that_session_out() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.bootstrap("Northside").await;
    let r = app.login(&admin.email, PASSWORD).await.expect(200).body["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    app.send(
        Method::POST,
        "/api/v1/auth/revoke",
        None,
        Some(json!({"token": r})),
    )
    .await
    .expect(200);
    token(&app, refresh(&r))
        .await
        .expect_oauth_error(400, "invalid_grant");
    // Unknown tokens answer alike: revocation reveals nothing.
    app.send(
        Method::POST,
        "/api/v1/auth/revoke",
        None,
        Some(json!({"token": "cpr_unknown"})),
    )
    .await
    .expect(200);
}

fn sign(app: &TestApp, claims: &Claims, alg: Algorithm) -> String {
    let secret = app.settings.jwt_secret.as_ref().unwrap();
    encode(
        &Header::new(alg),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

fn claims_for(user_id: &str, exp_offset: i64) -> Claims {
    let now = chrono::Utc::now().timestamp();
    Claims {
        iss: "commonpot".into(),
        aud: "commonpot-api".into(),
        sub: user_id.into(),
        exp: now + exp_offset,
        iat: now,
        jti: "test".into(),
        typ: Subject::User,
        cid: None,
        scope: None,
    }
}

#[actix_rt::test]
async fn expired_forged_and_confused_tokens_are_refused() {
    let app = TestApp::spawn().await;
    let (collective, admin) = app.bootstrap("Northside").await;
    let path = format!("/api/v1/collectives/{collective}");

    let good = sign(&app, &claims_for(&admin.user_id, 600), Algorithm::HS256);
    app.get(&path, &good).await.expect(200);

    let expired = sign(&app, &claims_for(&admin.user_id, -120), Algorithm::HS256);
    app.get(&path, &expired)
        .await
        .expect_problem(401, "token_expired");

    let hs512 = sign(&app, &claims_for(&admin.user_id, 600), Algorithm::HS512);
    app.get(&path, &hs512)
        .await
        .expect_problem(401, "invalid_token");

    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let none = format!(
        "{}.{}.",
        b64.encode(r#"{"alg":"none","typ":"JWT"}"#),
        b64.encode(serde_json::to_vec(&claims_for(&admin.user_id, 600)).unwrap())
    );
    app.get(&path, &none)
        .await
        .expect_problem(401, "invalid_token");

    let mut wrong_audience = claims_for(&admin.user_id, 600);
    wrong_audience.aud = "another-api".into();
    app.get(&path, &sign(&app, &wrong_audience, Algorithm::HS256))
        .await
        .expect_problem(401, "invalid_token");
    let mut wrong_issuer = claims_for(&admin.user_id, 600);
    wrong_issuer.iss = "someone-else".into();
    app.get(&path, &sign(&app, &wrong_issuer, Algorithm::HS256))
        .await
        .expect_problem(401, "invalid_token");
    let foreign = encode(
        &Header::new(Algorithm::HS256),
        &claims_for(&admin.user_id, 600),
        &EncodingKey::from_secret(b"another-secret-another-secret-another"),
    )
    .unwrap();
    app.get(&path, &foreign)
        .await
        .expect_problem(401, "invalid_token");
}

#[actix_rt::test]
async fn repeated_failures_lock_the_account_without_revealing_whether_it_exists() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.bootstrap("Northside").await;
    let max = app.settings.login_max_failures;
    for _ in 0..max {
        app.login(&admin.email, "wrong password!")
            .await
            .expect_oauth_error(400, "invalid_grant");
        app.login("ghost@example.org", "wrong password!")
            .await
            .expect_oauth_error(400, "invalid_grant");
    }
    let locked = app
        .login(&admin.email, PASSWORD)
        .await
        .expect_oauth_error(429, "temporarily_unavailable");
    let retry: u64 = locked.header("retry-after").unwrap().parse().unwrap();
    assert!(retry > 0 && retry <= app.settings.login_window_secs);
    let ghost = app
        .login("ghost@example.org", PASSWORD)
        .await
        .expect_oauth_error(429, "temporarily_unavailable");
    assert_eq!(
        locked.body["error_description"], ghost.body["error_description"],
        "a locked-out answer does not tell real accounts apart"
    );
}

#[actix_rt::test]
async fn one_address_cannot_try_many_accounts_without_limit() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.bootstrap("Northside").await;
    let per_address = app.settings.login_max_failures * 4;
    for i in 0..per_address {
        app.login(&format!("guess{i}@example.org"), "wrong password!")
            .await
            .expect_oauth_error(400, "invalid_grant");
    }
    app.login(&admin.email, PASSWORD)
        .await
        .expect_oauth_error(429, "temporarily_unavailable");
}

#[actix_rt::test]
async fn behind_a_trusted_proxy_addresses_come_from_x_forwarded_for() {
    let app = TestApp::spawn_configured(|s| s.trust_forwarded_for = true).await;
    let (_, admin) = app.bootstrap("Northside").await;
    for i in 0..app.settings.login_max_failures * 4 {
        app.login_via(
            "203.0.113.7",
            &format!("guess{i}@example.org"),
            "wrong password!",
        )
        .await
        .expect_oauth_error(400, "invalid_grant");
    }
    app.login_via("203.0.113.7", &admin.email, PASSWORD)
        .await
        .expect_oauth_error(429, "temporarily_unavailable");
    // Everyone else behind the same proxy still signs in.
    app.login_via("198.51.100.2, 10.0.0.1", &admin.email, PASSWORD)
        .await
        .expect(200);
}

#[actix_rt::test]
async fn an_untrusted_x_forwarded_for_is_ignored() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.bootstrap("Northside").await;
    for i in 0..app.settings.login_max_failures * 4 {
        app.login_via(
            &format!("192.0.2.{i}"),
            &format!("guess{i}@example.org"),
            "wrong password!",
        )
        .await
        .expect_oauth_error(400, "invalid_grant");
    }
    app.login_via("192.0.2.250", &admin.email, PASSWORD)
        .await
        .expect_oauth_error(429, "temporarily_unavailable");
}

#[actix_rt::test]
async fn partner_apps_get_tokens_limited_to_their_scopes() {
    let app = TestApp::spawn().await;
    let (collective, admin) = app.bootstrap("Northside").await;
    let (token_all, id, secret) = app
        .partner(&collective, &admin, &["collective:read", "pools:read"])
        .await;
    app.get(&format!("/api/v1/collectives/{collective}"), &token_all)
        .await
        .expect(200);

    let narrow = app
        .send(
            Method::POST,
            "/api/v1/auth/token",
            None,
            Some(json!({"grant_type": "client_credentials", "client_id": id, "client_secret": secret, "scope": "pools:read"})),
        )
        .await
        .expect(200);
    assert_eq!(narrow.body["scope"], "pools:read");
    assert!(
        narrow.body.get("refresh_token").is_none(),
        "partner apps get no refresh token"
    );
    app.get(
        &format!("/api/v1/collectives/{collective}"),
        narrow.body["access_token"].as_str().unwrap(),
    )
    .await
    .expect_problem(403, "insufficient_scope");

    let unheld = app
        .send(
            Method::POST,
            "/api/v1/auth/token",
            None,
            Some(json!({"grant_type": "client_credentials", "client_id": id, "client_secret": secret, "scope": "requests:read_private"})),
        )
        .await
        .expect_oauth_error(400, "invalid_scope");
    assert!(
        unheld.body["error_description"]
            .as_str()
            .unwrap()
            .contains("requests:read_private"),
        "{}",
        unheld.body
    );
    app.send(
        Method::POST,
        "/api/v1/auth/token",
        None,
        Some(json!({"grant_type": "client_credentials", "client_id": id, "client_secret": "cps_wrong"})),
    )
    .await
    .expect_oauth_error(401, "invalid_client");

    // The OAuth 2 form encoding works too.
    let form = app
        .raw(Method::POST, "/api/v1/auth/token")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=client_credentials&client_id={id}&client_secret={secret}"
        ))
        .send()
        .await
        .unwrap();
    TestApp::answer(form).await.expect(200);
}

#[actix_rt::test]
async fn rotating_a_secret_and_disabling_a_client_take_effect_at_once() {
    let app = TestApp::spawn().await;
    let (collective, admin) = app.bootstrap("Northside").await;
    let (token, id, secret) = app.partner(&collective, &admin, &["collective:read"]).await;
    let grant = |secret: String| json!({"grant_type": "client_credentials", "client_id": id, "client_secret": secret});

    let rotated = app
        .post(
            &format!("/api/v1/collectives/{collective}/clients/{id}/rotate-secret"),
            &admin.token,
            json!({}),
        )
        .await
        .expect(200);
    let new_secret = rotated.body["client_secret"].as_str().unwrap().to_owned();
    self::token(&app, grant(secret))
        .await
        .expect_oauth_error(401, "invalid_client");
    self::token(&app, grant(new_secret.clone()))
        .await
        .expect(200);

    app.patch(
        &format!("/api/v1/collectives/{collective}/clients/{id}"),
        &admin.token,
        json!({"status": "disabled"}),
    )
    .await
    .expect(200);
    app.get(&format!("/api/v1/collectives/{collective}"), &token)
        .await
        .expect_problem(401, "invalid_token");
    self::token(&app, grant(new_secret))
        .await
        .expect_oauth_error(401, "invalid_client");

    let listed = app
        .get(
            &format!("/api/v1/collectives/{collective}/clients"),
            &admin.token,
        )
        .await
        .expect(200);
    assert_eq!(listed.body["items"][0]["status"], "disabled");
    assert!(
        listed.body["items"][0].get("client_secret").is_none(),
        "secrets are never listed"
    );
    assert!(
        !listed.body.to_string().contains("cps_"),
        "no secret in any listing"
    );
}
