//! People look after their own accounts (#26): the profile, an email change
//! confirmed by a single-use token, and password-reset links an admin
//! passes on — over the API and on the pages.

use chrono::{TimeDelta, Utc};
use commonpot::clock::Clock;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{Answer, TestApp, PASSWORD};
use crate::web::Browser;

const NEW_PASSWORD: &str = "a kettle of tea on a windy hill";

async fn refresh_token(app: &TestApp, email: &str) -> String {
    app.login(email, PASSWORD).await.expect(200).body["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn refresh(app: &TestApp, token: &str) -> Answer {
    app.send(
        Method::POST,
        "/api/v1/auth/token",
        None,
        Some(json!({"grant_type": "refresh_token", "refresh_token": token})),
    )
    .await
}

async fn issue(app: &TestApp, collective: &str, token: &str, email: &str) -> Answer {
    app.post(
        &format!("/api/v1/collectives/{collective}/password-resets"),
        token,
        json!({"email": email}),
    )
    .await
}

async fn use_link(app: &TestApp, token: &str, password: &str) -> Answer {
    app.send(
        Method::POST,
        "/api/v1/auth/password-reset",
        None,
        Some(json!({"token": token, "new_password": password})),
    )
    .await
}

async fn audit_actions(app: &TestApp, collective: &str, token: &str) -> Vec<Value> {
    app.get(&format!("/api/v1/audit?collective_id={collective}"), token)
        .await
        .expect(200)
        .body["items"]
        .as_array()
        .unwrap()
        .clone()
}

#[actix_rt::test]
async fn an_admin_issues_a_reset_link_that_works_once_and_ends_every_sign_in() {
    let app = TestApp::spawn().await;
    let (collective, admin) = app.bootstrap("Northside").await;
    let coordinator = app.join(&collective, &admin, "coordinator").await;
    let member = app.join(&collective, &admin, "member").await;
    let api_refresh = refresh_token(&app, &member.email).await;
    let mut browser = Browser::new(&app);
    browser.sign_in(&member.email).await.expect(303);

    // Only admins issue links.
    for caller in [&member, &coordinator] {
        issue(&app, &collective, &caller.token, &member.email)
            .await
            .expect_problem(403, "forbidden");
    }
    let link = issue(&app, &collective, &admin.token, &member.email)
        .await
        .expect(201)
        .body;
    let token = link["reset_token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("cpw_"), "{link}");
    assert!(link["reset_path"]
        .as_str()
        .unwrap()
        .starts_with("/password-reset?token=cpw_"));
    let expires: chrono::DateTime<Utc> = link["expires_at"].as_str().unwrap().parse().unwrap();
    let day = expires - Utc::now();
    assert!(
        day > TimeDelta::hours(23) && day <= TimeDelta::hours(24),
        "{link}"
    );
    assert!(
        link.get("password").is_none() && link.as_object().unwrap().len() == 3,
        "the answer holds the link, never a password: {link}"
    );
    // Issuing sets nothing: the old password still signs in.
    app.login(&member.email, PASSWORD).await.expect(200);

    // A bad new password is refused and leaves the link usable.
    let weak = use_link(&app, &token, "password1234")
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(weak.body["field"], "new_password");
    use_link(&app, &token, NEW_PASSWORD).await.expect(200);

    // Every sign-in ended; the new password signs in, the old does not.
    refresh(&app, &api_refresh)
        .await
        .expect_oauth_error(400, "invalid_grant");
    assert_eq!(browser.get("/").await.status, StatusCode::SEE_OTHER);
    app.login(&member.email, PASSWORD)
        .await
        .expect_oauth_error(400, "invalid_grant");
    app.login(&member.email, NEW_PASSWORD).await.expect(200);

    // Single use.
    use_link(&app, &token, "yet another long passphrase")
        .await
        .expect_problem(404, "not_found");
    app.login(&member.email, NEW_PASSWORD).await.expect(200);

    // Audited: issued by the admin, used by the person.
    let audit = audit_actions(&app, &collective, &admin.token).await;
    let issued: Vec<&Value> = audit
        .iter()
        .filter(|r| r["action"] == "password_reset.issued")
        .collect();
    assert_eq!(issued.len(), 1, "{audit:?}");
    assert_eq!(issued[0]["actor_id"], admin.user_id.as_str());
    let used: Vec<&Value> = audit
        .iter()
        .filter(|r| r["action"] == "password_reset.used")
        .collect();
    assert_eq!(used.len(), 1, "{audit:?}");
    assert_eq!(used[0]["actor_id"], member.user_id.as_str());
    assert!(!audit.iter().any(|r| r.to_string().contains(NEW_PASSWORD)));
}

#[actix_rt::test]
async fn asking_for_an_unknown_email_answers_as_for_a_known_one() {
    let app = TestApp::spawn().await;
    let (collective, admin) = app.bootstrap("Northside").await;
    let (_, stranger) = app.bootstrap("Southside").await;
    let member = app.join(&collective, &admin, "member").await;

    let known = issue(&app, &collective, &admin.token, &member.email)
        .await
        .expect(201);
    for email in ["nobody@example.org", stranger.email.as_str()] {
        let unknown = issue(&app, &collective, &admin.token, email)
            .await
            .expect(201);
        let keys =
            |a: &Answer| -> Vec<String> { a.body.as_object().unwrap().keys().cloned().collect() };
        assert_eq!(keys(&unknown), keys(&known));
        assert_eq!(
            unknown.body["reset_token"].as_str().unwrap().len(),
            known.body["reset_token"].as_str().unwrap().len()
        );
        // Its link opens nothing: the stranger's password stays.
        let token = unknown.body["reset_token"].as_str().unwrap();
        use_link(&app, token, NEW_PASSWORD)
            .await
            .expect_problem(404, "not_found");
    }
    app.login(&stranger.email, PASSWORD).await.expect(200);
    // Bad input is refused as ever.
    issue(&app, &collective, &admin.token, "not an email")
        .await
        .expect_problem(422, "validation_failed");
}

#[actix_rt::test]
async fn a_reset_link_expires_after_a_day_and_a_newer_one_replaces_it() {
    let app = TestApp::spawn_at(Clock::settable(Utc::now())).await;
    let (collective, admin) = app.bootstrap("Northside").await;
    let member = app.join(&collective, &admin, "member").await;
    let first = issue(&app, &collective, &admin.token, &member.email)
        .await
        .expect(201)
        .body["reset_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let second = issue(&app, &collective, &admin.token, &member.email)
        .await
        .expect(201)
        .body["reset_token"]
        .as_str()
        .unwrap()
        .to_owned();
    use_link(&app, &first, NEW_PASSWORD)
        .await
        .expect_problem(404, "not_found");

    app.db
        .clock()
        .advance(TimeDelta::hours(24) + TimeDelta::seconds(1));
    use_link(&app, &second, NEW_PASSWORD)
        .await
        .expect_problem(409, "reset_link_expired");
    app.login(&member.email, PASSWORD).await.expect(200);
}

#[actix_rt::test]
async fn a_person_edits_their_profile() {
    let app = TestApp::spawn().await;
    let (collective, admin) = app.bootstrap("Northside").await;
    let member = app.join(&collective, &admin, "member").await;

    let mine = app
        .get("/api/v1/me/profile", &member.token)
        .await
        .expect(200);
    assert_eq!(mine.body["email"], member.email.as_str());
    assert_eq!(mine.body["phone"], Value::Null);
    let changed = app
        .patch(
            "/api/v1/me/profile",
            &member.token,
            json!({"display_name": "Mo Member", "phone": "+49 30 1234567", "other_contact": "Signal: mo.42"}),
        )
        .await
        .expect(200);
    assert_eq!(changed.body["display_name"], "Mo Member");
    assert_eq!(changed.body["phone"], "+49 30 1234567");
    // Others see the new name in the collective.
    let members = app
        .get(
            &format!(
                "/api/v1/collectives/{collective}/members/{}",
                member.membership_id
            ),
            &admin.token,
        )
        .await
        .expect(200);
    assert!(
        members.body.to_string().contains("Mo Member"),
        "{}",
        members.body
    );

    for (body, field) in [
        (json!({"phone": "call me maybe"}), "phone"),
        (json!({"display_name": "  "}), "display_name"),
        (json!({"other_contact": "x".repeat(201)}), "other_contact"),
        (json!({"email": "new@example.org"}), "email"),
    ] {
        let refused = app
            .patch("/api/v1/me/profile", &member.token, body)
            .await
            .expect_problem(422, "validation_failed");
        assert_eq!(refused.body["field"], field);
    }
    // An empty contact clears it; what is left out stays.
    let cleared = app
        .patch("/api/v1/me/profile", &member.token, json!({"phone": ""}))
        .await
        .expect(200);
    assert_eq!(cleared.body["phone"], Value::Null);
    assert_eq!(cleared.body["other_contact"], "Signal: mo.42");
    assert_eq!(cleared.body["display_name"], "Mo Member");
}

async fn ask_email_change(app: &TestApp, token: &str, email: &str, password: &str) -> Answer {
    app.post(
        "/api/v1/me/email",
        token,
        json!({"new_email": email, "current_password": password}),
    )
    .await
}

async fn confirm(app: &TestApp, token: &str) -> Answer {
    app.send(
        Method::POST,
        "/api/v1/email-confirmations",
        None,
        Some(json!({"token": token})),
    )
    .await
}

#[actix_rt::test]
async fn an_email_change_takes_effect_once_confirmed_with_its_single_use_token() {
    let app = TestApp::spawn_at(Clock::settable(Utc::now())).await;
    let (collective, admin) = app.bootstrap("Northside").await;
    let member = app.join(&collective, &admin, "member").await;

    ask_email_change(
        &app,
        &member.token,
        "mo@example.org",
        "not my password at all",
    )
    .await
    .expect_problem(403, "wrong_password");
    ask_email_change(&app, &member.token, "not an email", PASSWORD)
        .await
        .expect_problem(422, "validation_failed");
    let asked = ask_email_change(&app, &member.token, "Mo@Example.org", PASSWORD)
        .await
        .expect(202);
    assert_eq!(asked.body["new_email"], "mo@example.org");
    let token = asked.body["confirmation_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let pending = app
        .get("/api/v1/me/profile", &member.token)
        .await
        .expect(200);
    assert_eq!(pending.body["email"], member.email.as_str());
    assert_eq!(pending.body["pending_email"]["email"], "mo@example.org");
    // Nothing changed yet.
    app.login(&member.email, PASSWORD).await.expect(200);
    app.login("mo@example.org", PASSWORD)
        .await
        .expect_oauth_error(400, "invalid_grant");

    let confirmed = confirm(&app, &token).await.expect(200);
    assert_eq!(confirmed.body["email"], "mo@example.org");
    app.login("mo@example.org", PASSWORD).await.expect(200);
    app.login(&member.email, PASSWORD)
        .await
        .expect_oauth_error(400, "invalid_grant");
    confirm(&app, &token).await.expect_problem(404, "not_found");

    // An address another account has meanwhile is refused at confirmation.
    let taken = ask_email_change(&app, &member.token, &admin.email, PASSWORD)
        .await
        .expect(202);
    confirm(&app, taken.body["confirmation_token"].as_str().unwrap())
        .await
        .expect_problem(409, "email_taken");
    // A day later a token has expired.
    let late = ask_email_change(&app, &member.token, "late@example.org", PASSWORD)
        .await
        .expect(202);
    app.db.clock().advance(TimeDelta::hours(25));
    confirm(&app, late.body["confirmation_token"].as_str().unwrap())
        .await
        .expect_problem(409, "email_confirmation_expired");
    app.login("mo@example.org", PASSWORD).await.expect(200);
}

#[actix_rt::test]
async fn the_pages_edit_the_profile_change_the_email_and_reset_a_password() {
    let app = TestApp::spawn().await;
    let (collective, admin) = app.bootstrap("Northside").await;
    let member = app.join(&collective, &admin, "member").await;

    // The profile and an email change on the account page.
    let mut mo = Browser::new(&app);
    mo.sign_in(&member.email).await.expect(303);
    let bad = mo
        .submit(
            "/account",
            "/account/profile",
            &[
                ("display_name", "Mo"),
                ("phone", "call me"),
                ("other_contact", ""),
            ],
        )
        .await
        .expect(422);
    assert!(bad.html.contains("id=\"e-phone\""), "{}", bad.html);
    assert!(
        bad.html.contains("value=\"call me\""),
        "what was typed stays"
    );
    let saved = mo
        .submit(
            "/account",
            "/account/profile",
            &[
                ("display_name", "Mo"),
                ("phone", "+49 30 1234567"),
                ("other_contact", ""),
            ],
        )
        .await
        .expect(303);
    assert_eq!(saved.location.as_deref(), Some("/account?done=profile"));
    let page = mo.get("/account?done=profile").await.expect(200);
    assert!(
        page.html.contains("value=\"+49 30 1234567\""),
        "{}",
        page.html
    );

    let wrong = mo
        .submit(
            "/account",
            "/account/email",
            &[
                ("new_email", "mo@example.org"),
                ("email_password", "not it at all"),
            ],
        )
        .await
        .expect(403);
    assert!(
        wrong.html.contains("id=\"e-email_password\""),
        "{}",
        wrong.html
    );
    let asked = mo
        .submit(
            "/account",
            "/account/email",
            &[
                ("new_email", "mo@example.org"),
                ("email_password", PASSWORD),
            ],
        )
        .await
        .expect(200);
    let at = asked
        .html
        .find("/account/email/confirm?token=")
        .expect("the link");
    let link = asked.html[at..asked.html[at..].find('"').unwrap() + at].to_owned();
    let confirm_page = mo.get(&link).await.expect(200);
    assert!(confirm_page.html.contains("Confirm the new address"));
    let done = mo
        .submit(
            &link,
            "/account/email/confirm",
            &[("token", &link[link.find("token=").unwrap() + 6..])],
        )
        .await
        .expect(303);
    assert_eq!(done.location.as_deref(), Some("/account?done=email"));
    app.login("mo@example.org", PASSWORD).await.expect(200);

    // An admin makes a reset link on their page; a member may not.
    let forbidden = mo.get(&format!("/c/{collective}/password-resets")).await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    let mut ada = Browser::new(&app);
    ada.sign_in(&admin.email).await.expect(303);
    let members = ada
        .get(&format!("/c/{collective}/members"))
        .await
        .expect(200);
    assert!(members
        .html
        .contains(&format!("/c/{collective}/password-resets")));
    let made = ada
        .submit(
            &format!("/c/{collective}/password-resets"),
            &format!("/c/{collective}/password-resets"),
            &[("email", "mo@example.org")],
        )
        .await
        .expect(200);
    let at = made.html.find("/password-reset?token=").expect("the link");
    let reset_link = made.html[at..made.html[at..].find('<').unwrap() + at].to_owned();

    // Mo opens it in another browser, chooses a password, and is sent to
    // sign in; the browser that was signed in is signed out.
    let mut other = Browser::new(&app);
    let form = other.get(&reset_link).await.expect(200);
    assert!(form.html.contains("mo@example.org"), "{}", form.html);
    let token = &reset_link[reset_link.find("token=").unwrap() + 6..];
    let differ = other
        .submit(
            &reset_link,
            "/password-reset",
            &[
                ("token", token),
                ("new_password", NEW_PASSWORD),
                ("new_password_again", "other"),
            ],
        )
        .await
        .expect(422);
    assert!(differ.html.contains("id=\"e-new_password_again\""));
    let set = other
        .submit(
            &reset_link,
            "/password-reset",
            &[
                ("token", token),
                ("new_password", NEW_PASSWORD),
                ("new_password_again", NEW_PASSWORD),
            ],
        )
        .await
        .expect(303);
    assert_eq!(set.location.as_deref(), Some("/sign-in?done=reset"));
    let sign_in = other.get("/sign-in?done=reset").await.expect(200);
    assert!(sign_in.html.contains("new password"), "{}", sign_in.html);
    assert_eq!(mo.get("/account").await.status, StatusCode::SEE_OTHER);
    app.login("mo@example.org", NEW_PASSWORD).await.expect(200);
    // The link is used up.
    let again = Browser::new(&app).get(&reset_link).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND, "{}", again.html);
}
