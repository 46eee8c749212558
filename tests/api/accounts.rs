//! People look after their own accounts (#26): the rules of a new password,
//! changing it with the current one, signing out everywhere — over the API
//! and on the account page.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{TestApp, PASSWORD};
use crate::web::Browser;

const NEW_PASSWORD: &str = "a kettle of tea on a windy hill";

/// Signs in over the API: the access and refresh tokens.
async fn sign_in(app: &TestApp, email: &str, password: &str) -> (String, String) {
    let answer = app.login(email, password).await.expect(200);
    (
        answer.body["access_token"].as_str().unwrap().to_owned(),
        answer.body["refresh_token"].as_str().unwrap().to_owned(),
    )
}

async fn refresh(app: &TestApp, refresh_token: &str) -> crate::helpers::Answer {
    app.send(
        Method::POST,
        "/api/v1/auth/token",
        None,
        Some(json!({"grant_type": "refresh_token", "refresh_token": refresh_token})),
    )
    .await
}

async fn change(app: &TestApp, token: &str, current: &str, new: &str) -> crate::helpers::Answer {
    app.post(
        "/api/v1/me/password",
        token,
        json!({"current_password": current, "new_password": new}),
    )
    .await
}

#[actix_rt::test]
async fn changing_the_password_needs_the_current_one_and_ends_every_other_sign_in() {
    let app = TestApp::spawn().await;
    let (collective, admin) = app.bootstrap("Northside").await;
    let member = app.join(&collective, &admin, "member").await;
    let (phone, phone_refresh) = sign_in(&app, &member.email, PASSWORD).await;
    let (_, laptop_refresh) = sign_in(&app, &member.email, PASSWORD).await;
    let mut browser = Browser::new(&app);
    browser.sign_in(&member.email).await.expect(303);
    browser.get("/").await.expect(200);

    // Refusals change nothing: a wrong current password, a new one too
    // short, too common, or the same as before.
    let wrong = change(&app, &phone, "not my password at all", NEW_PASSWORD).await;
    assert_eq!(
        wrong.expect_problem(403, "wrong_password").body["detail"],
        "current_password is wrong"
    );
    for (new, why) in [
        ("eleven char", "at least 12"),
        ("1q2w3e4r5t6y", "most common"),
        ("Qwerty 123456", "most common"),
        ("zzzzzzzzzzzzzzzz", "repeated"),
        (PASSWORD, "same as current_password"),
    ] {
        let refused = change(&app, &phone, PASSWORD, new)
            .await
            .expect_problem(422, "validation_failed");
        assert_eq!(refused.body["field"], "new_password");
        assert!(
            refused.body["detail"].as_str().unwrap().contains(why),
            "{new}: {}",
            refused.body
        );
    }
    app.send(
        Method::POST,
        "/api/v1/me/password",
        Some(&phone),
        Some(json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD, "extra": 1})),
    )
    .await
    .expect_problem(422, "validation_failed");
    refresh(&app, &laptop_refresh).await.expect(200);
    browser.get("/").await.expect(200);

    // The change: a new sign-in in the answer, never cached.
    let changed = change(&app, &phone, PASSWORD, NEW_PASSWORD)
        .await
        .expect(200);
    assert_eq!(changed.header("cache-control"), Some("no-store"));
    assert_eq!(changed.body["token_type"], "Bearer");
    let new_refresh = changed.body["refresh_token"].as_str().unwrap().to_owned();
    let new_access = changed.body["access_token"].as_str().unwrap().to_owned();
    app.get("/api/v1/me", &new_access).await.expect(200);

    // Every earlier sign-in has ended: refresh tokens (used or not) and the
    // web session.
    refresh(&app, &phone_refresh)
        .await
        .expect_oauth_error(400, "invalid_grant");
    refresh(&app, &laptop_refresh)
        .await
        .expect_oauth_error(400, "invalid_grant");
    let page = browser.get("/").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
    assert_eq!(page.location.as_deref(), Some("/sign-in?next=%2F"));
    // The new one works; the old password does not, the new one does.
    refresh(&app, &new_refresh).await.expect(200);
    app.login(&member.email, PASSWORD)
        .await
        .expect_oauth_error(400, "invalid_grant");
    app.login(&member.email, NEW_PASSWORD).await.expect(200);
}

#[actix_rt::test]
async fn partner_apps_and_strangers_cannot_change_a_password_or_sign_out() {
    let app = TestApp::spawn().await;
    let (collective, admin) = app.bootstrap("Northside").await;
    let (partner, _, _) = app.partner(&collective, &admin, &["pools:read"]).await;
    for path in ["/api/v1/me/password", "/api/v1/me/sign-out-everywhere"] {
        let body = json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD});
        app.post(path, &partner, body.clone())
            .await
            .expect_problem(403, "users_only");
        app.send(Method::POST, path, None, Some(body))
            .await
            .expect_problem(401, "unauthenticated");
    }
    app.login(&admin.email, PASSWORD).await.expect(200);
}

#[actix_rt::test]
async fn wrong_current_passwords_count_toward_the_sign_in_throttle() {
    let app = TestApp::spawn_configured(|s| s.login_max_failures = 2).await;
    let (_, admin) = app.bootstrap("Northside").await;
    for _ in 0..2 {
        change(&app, &admin.token, "a wrong guess, again", NEW_PASSWORD)
            .await
            .expect_problem(403, "wrong_password");
    }
    // Past the limit even the right password is refused without a check,
    // here and at the token endpoint: they count together.
    let locked = change(&app, &admin.token, PASSWORD, NEW_PASSWORD)
        .await
        .expect_problem(429, "too_many_attempts");
    assert!(locked.header("retry-after").is_some());
    app.login(&admin.email, PASSWORD)
        .await
        .expect_oauth_error(429, "temporarily_unavailable");
}

#[actix_rt::test]
async fn signing_out_everywhere_ends_every_session_and_refresh_token() {
    let app = TestApp::spawn().await;
    let (collective, admin) = app.bootstrap("Northside").await;
    let member = app.join(&collective, &admin, "member").await;
    let (access, first) = sign_in(&app, &member.email, PASSWORD).await;
    let (_, second) = sign_in(&app, &member.email, PASSWORD).await;
    let (mut one, mut two) = (Browser::new(&app), Browser::new(&app));
    one.sign_in(&member.email).await.expect(303);
    two.sign_in(&member.email).await.expect(303);
    // Someone else's sessions are not touched.
    let (_, admins) = sign_in(&app, &admin.email, PASSWORD).await;

    let ended = app
        .send(
            Method::POST,
            "/api/v1/me/sign-out-everywhere",
            Some(&access),
            None,
        )
        .await
        .expect(200);
    assert_eq!(ended.body["web_sessions"], 2, "{}", ended.body);
    // The join's sign-in and the two above.
    assert_eq!(ended.body["api_sign_ins"], 3, "{}", ended.body);
    for token in [&first, &second] {
        refresh(&app, token)
            .await
            .expect_oauth_error(400, "invalid_grant");
    }
    for browser in [&mut one, &mut two] {
        assert_eq!(browser.get("/").await.status, StatusCode::SEE_OTHER);
    }
    refresh(&app, &admins).await.expect(200);
    // Signing in again works as ever.
    sign_in(&app, &member.email, PASSWORD).await;
}

#[actix_rt::test]
async fn a_new_account_cannot_choose_a_common_password() {
    let app = TestApp::spawn().await;
    let (collective, admin) = app.bootstrap("Northside").await;
    let invited = app
        .post(
            &format!("/api/v1/collectives/{collective}/members"),
            &admin.token,
            json!({"email": "bea@example.org", "display_name": "Bea"}),
        )
        .await
        .expect(201);
    let token = invited.body["invitation_token"].as_str().unwrap();
    for password in ["password1234", "PASSWORD1234", "eleven char"] {
        let refused = app
            .send(
                Method::POST,
                "/api/v1/invitations/accept",
                None,
                Some(json!({"invitation_token": token, "password": password})),
            )
            .await
            .expect_problem(422, "validation_failed");
        assert_eq!(refused.body["field"], "password");
    }
    app.send(
        Method::POST,
        "/api/v1/invitations/accept",
        None,
        Some(json!({"invitation_token": token, "password": NEW_PASSWORD})),
    )
    .await
    .expect(200);
}

/// The value of a page's field message, if it shows one.
fn field_error<'a>(html: &'a str, field: &str) -> Option<&'a str> {
    let marker = format!("id=\"e-{field}\"");
    let at = html.find(&marker)?;
    let rest = &html[at..];
    let end = rest.find("</p>")?;
    Some(&rest[..end])
}

#[actix_rt::test]
async fn the_account_page_changes_the_password_and_keeps_only_this_session() {
    let app = TestApp::spawn().await;
    let (collective, admin) = app.bootstrap("Northside").await;
    let member = app.join(&collective, &admin, "member").await;
    let (_, api_refresh) = sign_in(&app, &member.email, PASSWORD).await;
    let (mut here, mut elsewhere) = (Browser::new(&app), Browser::new(&app));
    here.sign_in(&member.email).await.expect(303);
    elsewhere.sign_in(&member.email).await.expect(303);

    let page = here.get("/account").await.expect(200);
    assert!(page.html.contains(&member.email), "{}", page.html);
    assert!(page.html.contains("Change your password"));
    assert!(
        page.html.contains("href=\"/account\""),
        "the menu links here"
    );

    let send = |current: &'static str, new: &'static str, again: &'static str| {
        [
            ("current_password", current),
            ("new_password", new),
            ("new_password_again", again),
        ]
    };
    let wrong = here
        .submit(
            "/account",
            "/account/password",
            &send("not my password at all", NEW_PASSWORD, NEW_PASSWORD),
        )
        .await
        .expect(403);
    assert!(
        field_error(&wrong.html, "current_password")
            .is_some_and(|e| e.contains("not your current")),
        "{}",
        wrong.html
    );
    let differ = here
        .submit(
            "/account",
            "/account/password",
            &send(PASSWORD, NEW_PASSWORD, "something else entirely"),
        )
        .await
        .expect(422);
    assert!(field_error(&differ.html, "new_password_again").is_some());
    let common = here
        .submit(
            "/account",
            "/account/password",
            &send(PASSWORD, "password1234", "password1234"),
        )
        .await
        .expect(422);
    assert!(
        field_error(&common.html, "new_password").is_some_and(|e| e.contains("most common")),
        "{}",
        common.html
    );
    elsewhere.get("/").await.expect(200);

    let done = here
        .submit(
            "/account",
            "/account/password",
            &send(PASSWORD, NEW_PASSWORD, NEW_PASSWORD),
        )
        .await
        .expect(303);
    assert_eq!(done.location.as_deref(), Some("/account?done=password"));
    let shown = here.get("/account?done=password").await.expect(200);
    assert!(
        shown.html.contains("Your password is changed"),
        "{}",
        shown.html
    );
    // This session stays; the other browser and the API's sign-in end.
    here.get("/").await.expect(200);
    assert_eq!(elsewhere.get("/").await.status, StatusCode::SEE_OTHER);
    refresh(&app, &api_refresh)
        .await
        .expect_oauth_error(400, "invalid_grant");
    app.login(&member.email, NEW_PASSWORD).await.expect(200);
}

#[actix_rt::test]
async fn the_account_page_signs_out_everywhere() {
    let app = TestApp::spawn().await;
    let (collective, admin) = app.bootstrap("Northside").await;
    let member = app.join(&collective, &admin, "member").await;
    let (_, api_refresh) = sign_in(&app, &member.email, PASSWORD).await;
    let (mut here, mut elsewhere) = (Browser::new(&app), Browser::new(&app));
    here.sign_in(&member.email).await.expect(303);
    elsewhere.sign_in(&member.email).await.expect(303);

    // Without the page's token, nothing happens.
    here.post("/account/sign-out-everywhere", &[("csrf", "forged")])
        .await
        .expect(403);
    elsewhere.get("/").await.expect(200);

    let out = here
        .submit("/account", "/account/sign-out-everywhere", &[])
        .await
        .expect(303);
    assert_eq!(out.location.as_deref(), Some("/sign-in"));
    assert!(!here.has_cookie("commonpot_session"));
    assert_eq!(app.count("web_sessions").await, 0);
    for browser in [&mut here, &mut elsewhere] {
        assert_eq!(browser.get("/account").await.status, StatusCode::SEE_OTHER);
    }
    refresh(&app, &api_refresh)
        .await
        .expect_oauth_error(400, "invalid_grant");
}
