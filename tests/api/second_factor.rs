//! A second factor (#26): enrolling an authenticator app, signing in with
//! its codes (each once, within a small window) or a recovery code (once),
//! wrong codes counted by the sign-in throttle, turning it off with the
//! password and a code, and a collective that requires it of its
//! coordinators and admins. The services read a settable clock, so a test
//! answers as an authenticator app would at any time step.

use chrono::{TimeDelta, Utc};
use commonpot::auth::second_factor::{code_for_step, step_at};
use commonpot::clock::Clock;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{Answer, TestApp, PASSWORD};

async fn spawn() -> TestApp {
    TestApp::spawn_at(Clock::settable(Utc::now())).await
}

/// The time step the service is at.
fn step(app: &TestApp) -> i64 {
    step_at(app.db.clock().now().naive_utc())
}

/// What the authenticator app shows at `step`.
fn code(secret: &str, step: i64) -> String {
    code_for_step(secret, step).expect("a code")
}

/// Moves the service's clock to the next time step.
fn next_step(app: &TestApp) {
    app.db.clock().advance(TimeDelta::seconds(30));
}

/// Enrols and confirms; the secret and the recovery codes.
async fn enrol(app: &TestApp, token: &str) -> (String, Vec<String>) {
    let started = app
        .post("/api/v1/me/second-factor", token, json!({}))
        .await
        .expect(201);
    let secret = started.body["secret"].as_str().unwrap().to_owned();
    let confirmed = app
        .post(
            "/api/v1/me/second-factor/confirm",
            token,
            json!({"code": code(&secret, step(app))}),
        )
        .await
        .expect(200);
    let recovery = confirmed.body["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    (secret, recovery)
}

async fn sign_in(app: &TestApp, email: &str, extra: Value) -> Answer {
    let mut body = json!({"grant_type": "password", "username": email, "password": PASSWORD});
    for (key, value) in extra.as_object().unwrap() {
        body[key] = value.clone();
    }
    app.send(Method::POST, "/api/v1/auth/token", None, Some(body))
        .await
}

/// The second-factor secrets as the database holds them.
async fn stored_secrets(app: &TestApp) -> Vec<String> {
    use diesel::sql_types::Text;
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        secret: String,
    }
    let db = app.db.clone();
    tokio::task::spawn_blocking(move || {
        let mut conn = db.get().expect("a connection");
        diesel::sql_query("SELECT secret FROM second_factors")
            .load::<Row>(&mut **conn)
            .expect("secrets")
            .into_iter()
            .map(|r| r.secret)
            .collect()
    })
    .await
    .unwrap()
}

fn token_of(answer: &Answer) -> String {
    answer.body["access_token"].as_str().unwrap().to_owned()
}

#[actix_rt::test]
async fn enrolling_shows_the_secret_once_and_sign_in_then_asks_for_a_code() {
    let app = spawn().await;
    let (collective, admin) = app.bootstrap("Northside").await;
    let member = app.join(&collective, &admin, "member").await;

    let none = app
        .get("/api/v1/me/second-factor", &member.token)
        .await
        .expect(200);
    assert_eq!(none.body["state"], "none");
    assert_eq!(none.body["required"], false);

    let started = app
        .post("/api/v1/me/second-factor", &member.token, json!({}))
        .await
        .expect(201);
    assert_eq!(started.header("cache-control"), Some("no-store"));
    let secret = started.body["secret"].as_str().unwrap().to_owned();
    let uri = started.body["otpauth_uri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/commonpot:"), "{uri}");
    assert!(uri.contains(&format!("secret={secret}")), "{uri}");
    assert!(uri.contains("issuer=commonpot"), "{uri}");
    // The secret is kept sealed, never as the text shown.
    let stored = stored_secrets(&app).await;
    assert_eq!(stored.len(), 1);
    assert!(stored[0].starts_with("enc:v1:"), "{}", stored[0]);
    assert!(!stored[0].contains(&secret));
    let pending = app
        .get("/api/v1/me/second-factor", &member.token)
        .await
        .expect(200);
    assert_eq!(pending.body["state"], "pending");
    // Pending: a password alone still signs in.
    sign_in(&app, &member.email, json!({})).await.expect(200);

    // A wrong code confirms nothing; the right one hands out ten codes.
    let now = step(&app);
    app.post(
        "/api/v1/me/second-factor/confirm",
        &member.token,
        json!({"code": code(&secret, now + 5)}),
    )
    .await
    .expect_problem(403, "wrong_second_factor_code");
    app.post(
        "/api/v1/me/second-factor/confirm",
        &member.token,
        json!({"code": "12345"}),
    )
    .await
    .expect_problem(422, "validation_failed");
    let confirmed = app
        .post(
            "/api/v1/me/second-factor/confirm",
            &member.token,
            json!({"code": code(&secret, now)}),
        )
        .await
        .expect(200);
    assert_eq!(confirmed.header("cache-control"), Some("no-store"));
    let recovery = confirmed.body["recovery_codes"].as_array().unwrap();
    assert_eq!(recovery.len(), 10);
    let status = app
        .get("/api/v1/me/second-factor", &member.token)
        .await
        .expect(200);
    assert_eq!(status.body["state"], "confirmed");
    assert_eq!(status.body["recovery_codes_left"], 10);
    // Confirmed: starting over is refused until it is disabled.
    app.post("/api/v1/me/second-factor", &member.token, json!({}))
        .await
        .expect_problem(409, "second_factor_enrolled");

    // The password alone no longer signs in.
    let asked = sign_in(&app, &member.email, json!({}))
        .await
        .expect_oauth_error(400, "totp_required");
    assert!(asked.body["error_description"]
        .as_str()
        .unwrap()
        .contains("totp_code"));
    // The code that confirmed is spent: the same step is refused.
    sign_in(
        &app,
        &member.email,
        json!({"totp_code": code(&secret, now)}),
    )
    .await
    .expect_oauth_error(400, "invalid_grant");
    // The next step's code signs in, once.
    next_step(&app);
    let fresh = code(&secret, step(&app));
    let signed_in = sign_in(&app, &member.email, json!({"totp_code": fresh}))
        .await
        .expect(200);
    app.get("/api/v1/me/profile", &token_of(&signed_in))
        .await
        .expect(200);
    sign_in(&app, &member.email, json!({"totp_code": fresh}))
        .await
        .expect_oauth_error(400, "invalid_grant");
    // A wrong password with the right code is still a wrong password.
    next_step(&app);
    let answer = app
        .send(
            Method::POST,
            "/api/v1/auth/token",
            None,
            Some(json!({"grant_type": "password", "username": member.email,
                        "password": "not the password at all", "totp_code": code(&secret, step(&app))})),
        )
        .await;
    answer.expect_oauth_error(400, "invalid_grant");
    // A malformed code is refused before anything is checked.
    sign_in(&app, &member.email, json!({"totp_code": "12ab56"}))
        .await
        .expect_oauth_error(400, "invalid_request");
}

#[actix_rt::test]
async fn a_code_from_outside_the_window_is_refused_and_each_step_counts_once() {
    let app = spawn().await;
    let (_, admin) = app.bootstrap("Northside").await;
    let (secret, _) = enrol(&app, &admin.token).await;
    app.db.clock().advance(TimeDelta::minutes(10));
    let now = step(&app);
    // Two steps (a minute) away on either side: refused. (Every refusal
    // counts toward the throttle: five lock the account; four here.)
    for far in [now - 2, now + 2] {
        sign_in(&app, &admin.email, json!({"totp_code": code(&secret, far)}))
            .await
            .expect_oauth_error(400, "invalid_grant");
    }
    // One step behind (a slow phone) is accepted …
    sign_in(
        &app,
        &admin.email,
        json!({"totp_code": code(&secret, now - 1)}),
    )
    .await
    .expect(200);
    // … and then the current step, later than it; but not the earlier one
    // again, nor the current one twice.
    sign_in(&app, &admin.email, json!({"totp_code": code(&secret, now)}))
        .await
        .expect(200);
    for spent in [now - 1, now] {
        sign_in(
            &app,
            &admin.email,
            json!({"totp_code": code(&secret, spent)}),
        )
        .await
        .expect_oauth_error(400, "invalid_grant");
    }
    // A step ahead (a fast phone) works, and then nothing at or before it.
    sign_in(
        &app,
        &admin.email,
        json!({"totp_code": code(&secret, now + 1)}),
    )
    .await
    .expect(200);
    next_step(&app);
    sign_in(
        &app,
        &admin.email,
        json!({"totp_code": code(&secret, now + 1)}),
    )
    .await
    .expect_oauth_error(400, "invalid_grant");
}

#[actix_rt::test]
async fn a_recovery_code_signs_in_once_and_new_ones_replace_the_old() {
    let app = spawn().await;
    let (_, admin) = app.bootstrap("Northside").await;
    let (secret, recovery) = enrol(&app, &admin.token).await;
    let signed_in = sign_in(&app, &admin.email, json!({"recovery_code": recovery[0]}))
        .await
        .expect(200);
    let token = token_of(&signed_in);
    sign_in(&app, &admin.email, json!({"recovery_code": recovery[0]}))
        .await
        .expect_oauth_error(400, "invalid_grant");
    // Written in capitals and without dashes, it is the same code.
    sign_in(
        &app,
        &admin.email,
        json!({"recovery_code": recovery[1].replace('-', "").to_uppercase()}),
    )
    .await
    .expect(200);
    // Both fields at once: refused.
    sign_in(
        &app,
        &admin.email,
        json!({"recovery_code": recovery[2], "totp_code": "123456"}),
    )
    .await
    .expect_oauth_error(400, "invalid_request");
    let status = app
        .get("/api/v1/me/second-factor", &token)
        .await
        .expect(200);
    assert_eq!(status.body["recovery_codes_left"], 8);

    // New codes need a code from the app; the old ones stop working.
    app.post(
        "/api/v1/me/second-factor/recovery-codes",
        &token,
        json!({"code": code(&secret, step(&app) + 7)}),
    )
    .await
    .expect_problem(403, "wrong_second_factor_code");
    next_step(&app);
    let renewed = app
        .post(
            "/api/v1/me/second-factor/recovery-codes",
            &token,
            json!({"code": code(&secret, step(&app))}),
        )
        .await
        .expect(200);
    let fresh = renewed.body["recovery_codes"].as_array().unwrap();
    assert_eq!(fresh.len(), 10);
    sign_in(&app, &admin.email, json!({"recovery_code": recovery[3]}))
        .await
        .expect_oauth_error(400, "invalid_grant");
    sign_in(&app, &admin.email, json!({"recovery_code": fresh[0]}))
        .await
        .expect(200);
}

#[actix_rt::test]
async fn wrong_codes_count_toward_the_sign_in_throttle() {
    let app = spawn().await;
    let (_, admin) = app.bootstrap("Northside").await;
    let (secret, recovery) = enrol(&app, &admin.token).await;
    let max = app.settings.login_max_failures as i64;
    let now = step(&app);
    // The right password with wrong codes: each is a failure.
    for i in 0..max {
        sign_in(
            &app,
            &admin.email,
            json!({"totp_code": code(&secret, now + 3 + i)}),
        )
        .await
        .expect_oauth_error(400, "invalid_grant");
    }
    // Past the limit, even the right code and a recovery code are refused.
    next_step(&app);
    for extra in [
        json!({"totp_code": code(&secret, step(&app))}),
        json!({"recovery_code": recovery[0]}),
    ] {
        let locked = sign_in(&app, &admin.email, extra)
            .await
            .expect_oauth_error(429, "temporarily_unavailable");
        assert!(locked.header("retry-after").is_some());
    }
    // The throttle is the one passwords use: the password alone is locked too.
    sign_in(&app, &admin.email, json!({}))
        .await
        .expect_oauth_error(429, "temporarily_unavailable");
}

#[actix_rt::test]
async fn wrong_codes_on_the_account_count_toward_the_sign_in_throttle_too() {
    let app = spawn().await;
    let (_, admin) = app.bootstrap("Northside").await;
    let started = app
        .post("/api/v1/me/second-factor", &admin.token, json!({}))
        .await
        .expect(201);
    let secret = started.body["secret"].as_str().unwrap().to_owned();
    let max = app.settings.login_max_failures as i64;
    let now = step(&app);
    for i in 0..max {
        app.post(
            "/api/v1/me/second-factor/confirm",
            &admin.token,
            json!({"code": code(&secret, now + 3 + i)}),
        )
        .await
        .expect_problem(403, "wrong_second_factor_code");
    }
    app.post(
        "/api/v1/me/second-factor/confirm",
        &admin.token,
        json!({"code": code(&secret, now)}),
    )
    .await
    .expect_problem(429, "too_many_attempts");
}

#[actix_rt::test]
async fn turning_it_off_needs_the_password_and_a_code() {
    let app = spawn().await;
    let (_, admin) = app.bootstrap("Northside").await;
    app.post(
        "/api/v1/me/second-factor/disable",
        &admin.token,
        json!({"current_password": PASSWORD, "code": "123456"}),
    )
    .await
    .expect_problem(409, "no_second_factor");
    let (secret, recovery) = enrol(&app, &admin.token).await;
    next_step(&app);
    let now = step(&app);
    let disable = |body: Value| {
        let (app, token) = (&app, admin.token.clone());
        async move {
            app.post("/api/v1/me/second-factor/disable", &token, body)
                .await
        }
    };
    disable(json!({"current_password": "not my password at all", "code": code(&secret, now)}))
        .await
        .expect_problem(403, "wrong_password");
    disable(json!({"current_password": PASSWORD, "code": code(&secret, now + 4)}))
        .await
        .expect_problem(403, "wrong_second_factor_code");
    disable(json!({"current_password": PASSWORD}))
        .await
        .expect_problem(422, "validation_failed");
    disable(json!({"code": code(&secret, now)}))
        .await
        .expect_problem(422, "validation_failed");
    // Nothing changed: sign-in still asks for a code.
    sign_in(&app, &admin.email, json!({}))
        .await
        .expect_oauth_error(400, "totp_required");
    let off = disable(json!({"current_password": PASSWORD, "code": code(&secret, now)}))
        .await
        .expect(200);
    assert_eq!(off.body["state"], "none");
    assert_eq!(app.count("second_factors").await, 0);
    assert_eq!(app.count("recovery_codes").await, 0);
    sign_in(&app, &admin.email, json!({})).await.expect(200);
    sign_in(&app, &admin.email, json!({"recovery_code": recovery[0]}))
        .await
        .expect(200);

    // Without the app, a recovery code does instead of a code.
    let (_, recovery) = enrol(&app, &admin.token).await;
    disable(json!({"current_password": PASSWORD, "recovery_code": recovery[4]}))
        .await
        .expect(200);
}

#[actix_rt::test]
async fn a_collective_that_requires_it_lets_coordinators_only_enrol_until_they_do() {
    let app = spawn().await;
    let (collective, admin) = app.bootstrap("Northside").await;
    let coordinator = app.join(&collective, &admin, "coordinator").await;
    let member = app.join(&collective, &admin, "member").await;
    let (partner, client_id, client_secret) =
        app.partner(&collective, &admin, &["pools:read"]).await;
    let (admin_secret, _) = enrol(&app, &admin.token).await;
    let here = format!("/api/v1/collectives/{collective}");

    // Only admins set it.
    app.patch(
        &here,
        &coordinator.token,
        json!({"require_second_factor_for_coordinators": true}),
    )
    .await
    .expect_problem(403, "forbidden");
    let set = app
        .patch(
            &here,
            &admin.token,
            json!({"require_second_factor_for_coordinators": true}),
        )
        .await
        .expect(200);
    assert_eq!(set.body["require_second_factor_for_coordinators"], true);

    // The coordinator without a second factor may sign in, but only to enrol.
    let signed_in = sign_in(&app, &coordinator.email, json!({}))
        .await
        .expect(200);
    let restricted = token_of(&signed_in);
    for token in [&coordinator.token, &restricted] {
        for path in [
            here.clone(),
            "/api/v1/me/profile".into(),
            "/api/v1/collectives".into(),
        ] {
            app.get(&path, token)
                .await
                .expect_problem(403, "second_factor_required");
        }
    }
    app.post(
        "/api/v1/me/second-factor/recovery-codes",
        &restricted,
        json!({"code": "123456"}),
    )
    .await
    .expect_problem(403, "second_factor_required");
    let status = app
        .get("/api/v1/me/second-factor", &restricted)
        .await
        .expect(200);
    assert_eq!(status.body["required"], true);
    assert_eq!(status.body["state"], "none");

    // Members, admins with a second factor and partner apps are unaffected.
    app.get(&here, &member.token).await.expect(200);
    app.get(&here, &admin.token).await.expect(200);
    app.get(&format!("{here}/pools"), &partner)
        .await
        .expect(200);
    app.send(
        Method::POST,
        "/api/v1/auth/token",
        None,
        Some(json!({"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret})),
    )
    .await
    .expect(200);

    // Enrolling lifts the restriction at once, for the same token.
    enrol(&app, &restricted).await;
    app.get(&here, &restricted).await.expect(200);
    let status = app
        .get("/api/v1/me/second-factor", &restricted)
        .await
        .expect(200);
    assert_eq!(status.body["required"], false);

    // A member made coordinator is restricted from then on; lifting the
    // requirement frees them.
    let promoted = app.join(&collective, &admin, "member").await;
    app.get(&here, &promoted.token).await.expect(200);
    app.patch(
        &format!("{here}/members/{}", promoted.membership_id),
        &admin.token,
        json!({"role": "coordinator"}),
    )
    .await
    .expect(200);
    app.get(&here, &promoted.token)
        .await
        .expect_problem(403, "second_factor_required");
    // The admin's code is needed for nothing here: their token still works.
    assert!(!admin_secret.is_empty());
    app.patch(
        &here,
        &admin.token,
        json!({"require_second_factor_for_coordinators": false}),
    )
    .await
    .expect(200);
    app.get(&here, &promoted.token).await.expect(200);
}

/// On a money-moving request the restriction is read inside the write, on
/// the writer's connection (#23): refused, nothing is booked and nothing is
/// stored under the key, so the same request runs once the person has
/// enrolled — once.
#[actix_rt::test]
async fn a_restricted_coordinator_s_money_write_is_refused_then_runs_once_they_enrol() {
    let app = spawn().await;
    let (collective, admin) = app.bootstrap("Northside").await;
    let coordinator = app.join(&collective, &admin, "coordinator").await;
    enrol(&app, &admin.token).await;
    let pool = app.pool(&collective, &admin.token, "EUR").await;
    app.patch(
        &format!("/api/v1/collectives/{collective}"),
        &admin.token,
        json!({"require_second_factor_for_coordinators": true}),
    )
    .await
    .expect(200);
    let path = format!("/api/v1/pools/{pool}/contributions");
    let body = json!({"amount": "5.00", "method": "cash"});

    app.post_keyed(&path, &coordinator.token, "gift-1", body.clone())
        .await
        .expect_problem(403, "second_factor_required");
    assert_eq!(app.balances(&pool, &admin.token).await["received"], "0.00");

    enrol(&app, &coordinator.token).await;
    let first = app
        .post_keyed(&path, &coordinator.token, "gift-1", body.clone())
        .await
        .expect(201);
    assert_eq!(first.header("Idempotent-Replayed"), None);
    let again = app
        .post_keyed(&path, &coordinator.token, "gift-1", body)
        .await
        .expect(201);
    assert_eq!(again.header("Idempotent-Replayed"), Some("true"));
    assert_eq!(first.body["id"], again.body["id"]);
    assert_eq!(app.balances(&pool, &admin.token).await["received"], "5.00");
}

/// Enrolling, replacing the recovery codes and turning the second factor off
/// are recorded in the audit trail of the collectives the person is an
/// active member of (and no other), by them, about them, with nothing of
/// the secret or the codes; a failed attempt records nothing.
#[actix_rt::test]
async fn changes_to_a_second_factor_are_in_the_audit_trail_of_each_collective() {
    let app = spawn().await;
    let (north, admin) = app.bootstrap("Northside").await;
    let (south, south_admin) = app.bootstrap("Southside").await;
    let coordinator = app.join(&north, &admin, "coordinator").await;
    let trail = |collective: String, token: String| {
        let app = &app;
        async move {
            let records = app
                .get(&format!("/api/v1/audit?collective_id={collective}"), &token)
                .await
                .expect(200)
                .body["items"]
                .as_array()
                .unwrap()
                .clone();
            records
                .into_iter()
                .filter(|r| r["action"].as_str().unwrap().starts_with("second_factor."))
                .collect::<Vec<_>>()
        }
    };

    let (secret, recovery) = enrol(&app, &coordinator.token).await;
    next_step(&app);
    app.post(
        "/api/v1/me/second-factor/recovery-codes",
        &coordinator.token,
        json!({"code": "000000"}),
    )
    .await
    .expect_problem(403, "wrong_second_factor_code");
    app.post(
        "/api/v1/me/second-factor/recovery-codes",
        &coordinator.token,
        json!({"code": code(&secret, step(&app))}),
    )
    .await
    .expect(200);
    next_step(&app);
    app.post(
        "/api/v1/me/second-factor/disable",
        &coordinator.token,
        json!({"current_password": PASSWORD, "code": code(&secret, step(&app))}),
    )
    .await
    .expect(200);

    let north_trail = trail(north.clone(), admin.token.clone()).await;
    let mut actions: Vec<&str> = north_trail
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    actions.sort_unstable();
    assert_eq!(
        actions,
        [
            "second_factor.disabled",
            "second_factor.enrolled",
            "second_factor.recovery_codes_replaced"
        ],
        "{north_trail:#?}"
    );
    for record in &north_trail {
        assert_eq!(record["actor_kind"], "user");
        assert_eq!(record["actor_id"], coordinator.user_id.as_str());
        assert_eq!(record["object_kind"], "user");
        assert_eq!(record["object_id"], coordinator.user_id.as_str());
        let shown = record.to_string();
        assert!(!shown.contains(&secret), "{shown}");
        assert!(
            recovery.iter().all(|c| !shown.contains(c.as_str())),
            "{shown}"
        );
    }
    // A collective they are not a member of: nothing there.
    assert!(trail(south, south_admin.token.clone()).await.is_empty());
}

/// The personal-data export says where the person's second factor stands,
/// and holds neither its secret nor the recovery codes.
#[actix_rt::test]
async fn the_personal_data_export_shows_the_second_factor_but_not_its_secrets() {
    let app = spawn().await;
    let (_, admin) = app.bootstrap("Northside").await;
    let before = app
        .get("/api/v1/me/export", &admin.token)
        .await
        .expect(200)
        .body;
    assert_eq!(before["account"]["second_factor"]["state"], "none");
    assert_eq!(
        before["account"]["second_factor"]["confirmed_at"],
        Value::Null
    );

    let (secret, recovery) = enrol(&app, &admin.token).await;
    let after = app
        .get("/api/v1/me/export", &admin.token)
        .await
        .expect(200)
        .body;
    let factor = &after["account"]["second_factor"];
    assert_eq!(factor["state"], "confirmed");
    assert_ne!(factor["confirmed_at"], Value::Null);
    assert_eq!(factor["recovery_codes_left"], 10);
    let shown = after.to_string();
    assert!(!shown.contains(&secret), "the secret is not exported");
    assert!(recovery.iter().all(|c| !shown.contains(c.as_str())));
}
