//! Collectives and memberships: creating, inviting, accepting, roles,
//! suspension, privacy of contacts, isolation between collectives, audit.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{TestApp, PASSWORD};

#[actix_rt::test]
async fn a_person_creates_a_collective_and_becomes_its_admin() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.bootstrap("Northside").await;
    let created = app
        .post(
            "/api/v1/collectives",
            &admin.token,
            json!({"name": "Southside", "time_zone": "America/Chicago"}),
        )
        .await
        .expect(201);
    assert_eq!(created.header("etag"), Some("\"1\""));
    let id = created.id();
    let members = app
        .get(&format!("/api/v1/collectives/{id}/members"), &admin.token)
        .await
        .expect(200);
    assert_eq!(members.body["items"][0]["role"], "admin");
    assert_eq!(members.body["items"][0]["user_id"], admin.user_id.as_str());
    let listed = app
        .get("/api/v1/collectives", &admin.token)
        .await
        .expect(200);
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 2);
}

#[actix_rt::test]
async fn a_collective_never_sees_another_collectives_data() {
    let app = TestApp::spawn().await;
    let (north, north_admin) = app.bootstrap("Northside").await;
    let (south, south_admin) = app.bootstrap("Southside").await;
    let south_member = app.join(&south, &south_admin, "member").await;
    for path in [
        format!("/api/v1/collectives/{south}"),
        format!("/api/v1/collectives/{south}/members"),
        format!(
            "/api/v1/collectives/{south}/members/{}",
            south_member.membership_id
        ),
        format!("/api/v1/collectives/{south}/clients"),
        format!("/api/v1/audit?collective_id={south}"),
    ] {
        app.get(&path, &north_admin.token)
            .await
            .expect_problem(404, "not_found");
    }
    // A membership id of one collective under another's path is not found.
    app.get(
        &format!(
            "/api/v1/collectives/{north}/members/{}",
            south_member.membership_id
        ),
        &north_admin.token,
    )
    .await
    .expect_problem(404, "not_found");
    let listed = app
        .get("/api/v1/collectives", &north_admin.token)
        .await
        .expect(200);
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);
}

#[actix_rt::test]
async fn invitations_are_accepted_once_and_contacts_stay_with_coordinators() {
    let app = TestApp::spawn().await;
    let (collective, admin) = app.bootstrap("Northside").await;
    let invited = app
        .post(
            &format!("/api/v1/collectives/{collective}/members"),
            &admin.token,
            json!({"email": "Bea@Example.org", "display_name": "Bea"}),
        )
        .await
        .expect(201);
    assert_eq!(invited.body["membership"]["status"], "invited");
    assert_eq!(invited.body["membership"]["role"], "member");
    assert_eq!(invited.body["membership"]["email"], "bea@example.org");
    let token = invited.body["invitation_token"]
        .as_str()
        .unwrap()
        .to_owned();

    // Not yet accepted: the person cannot sign in (no password yet).
    app.login("bea@example.org", PASSWORD)
        .await
        .expect_oauth_error(400, "invalid_grant");
    let accept = |password: &str| json!({"invitation_token": token, "password": password});
    let short = app
        .send(
            Method::POST,
            "/api/v1/invitations/accept",
            None,
            Some(accept("short")),
        )
        .await;
    assert_eq!(
        short.expect_problem(422, "validation_failed").body["field"],
        "password"
    );
    app.send(
        Method::POST,
        "/api/v1/invitations/accept",
        None,
        Some(accept(PASSWORD)),
    )
    .await
    .expect(200);
    app.send(
        Method::POST,
        "/api/v1/invitations/accept",
        None,
        Some(accept(PASSWORD)),
    )
    .await
    .expect_problem(404, "not_found");
    app.post(
        &format!("/api/v1/collectives/{collective}/members"),
        &admin.token,
        json!({"email": "bea@example.org", "display_name": "Bea"}),
    )
    .await
    .expect_problem(409, "already_member");

    let bea = app.login("bea@example.org", PASSWORD).await.expect(200);
    let bea_token = bea.body["access_token"].as_str().unwrap();
    let seen_by_member = app
        .get(
            &format!("/api/v1/collectives/{collective}/members"),
            bea_token,
        )
        .await
        .expect(200);
    for item in seen_by_member.body["items"].as_array().unwrap() {
        let own = item["display_name"] == "Bea";
        assert_eq!(
            item.get("email").is_some(),
            own,
            "members see only their own email: {item}"
        );
    }
    let seen_by_admin = app
        .get(
            &format!("/api/v1/collectives/{collective}/members"),
            &admin.token,
        )
        .await
        .expect(200);
    assert!(seen_by_admin.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m.get("email").is_some()));
}

#[actix_rt::test]
async fn coordinators_invite_members_but_only_admins_grant_power() {
    let app = TestApp::spawn().await;
    let (collective, admin) = app.bootstrap("Northside").await;
    let coordinator = app.join(&collective, &admin, "coordinator").await;
    let path = format!("/api/v1/collectives/{collective}/members");
    app.post(
        &path,
        &coordinator.token,
        json!({"email": "m@example.org", "display_name": "M"}),
    )
    .await
    .expect(201);
    app.post(
        &path,
        &coordinator.token,
        json!({"email": "c@example.org", "display_name": "C", "role": "coordinator"}),
    )
    .await
    .expect_problem(403, "forbidden");
    let member = app.join(&collective, &admin, "member").await;
    app.patch(
        &format!("{path}/{}", member.membership_id),
        &coordinator.token,
        json!({"role": "coordinator"}),
    )
    .await
    .expect_problem(403, "forbidden");
}

#[actix_rt::test]
async fn suspension_locks_a_member_out_at_once_and_reinstatement_lets_them_back() {
    let app = TestApp::spawn().await;
    let (collective, admin) = app.bootstrap("Northside").await;
    let member = app.join(&collective, &admin, "member").await;
    let home = format!("/api/v1/collectives/{collective}");
    app.get(&home, &member.token).await.expect(200);
    let membership = format!("{home}/members/{}", member.membership_id);
    app.patch(&membership, &admin.token, json!({"status": "suspended"}))
        .await
        .expect(200);
    // The same, still unexpired token is refused now.
    app.get(&home, &member.token)
        .await
        .expect_problem(403, "membership_suspended");
    app.patch(&membership, &admin.token, json!({"status": "active"}))
        .await
        .expect(200);
    app.get(&home, &member.token).await.expect(200);
}

#[actix_rt::test]
async fn roles_change_with_if_match_and_the_last_admin_stays() {
    let app = TestApp::spawn().await;
    let (collective, admin) = app.bootstrap("Northside").await;
    let member = app.join(&collective, &admin, "member").await;
    let path = format!(
        "/api/v1/collectives/{collective}/members/{}",
        member.membership_id
    );
    let current = app.get(&path, &admin.token).await.expect(200);
    let etag = current.header("etag").unwrap().to_owned();

    let promote = app
        .raw(Method::PATCH, &path)
        .bearer_auth(&admin.token)
        .header("if-match", &etag)
        .json(&json!({"role": "coordinator"}))
        .send()
        .await
        .unwrap();
    let promoted = TestApp::answer(promote).await.expect(200);
    assert_eq!(promoted.body["role"], "coordinator");
    assert_ne!(promoted.header("etag"), Some(etag.as_str()));

    // A second change based on the old read is stale.
    let stale = app
        .raw(Method::PATCH, &path)
        .bearer_auth(&admin.token)
        .header("if-match", &etag)
        .json(&json!({"role": "admin"}))
        .send()
        .await
        .unwrap();
    TestApp::answer(stale)
        .await
        .expect_problem(412, "precondition_failed");
    assert_eq!(
        app.get(&path, &admin.token).await.body["role"],
        "coordinator"
    );

    let own = format!(
        "/api/v1/collectives/{collective}/members/{}",
        admin.membership_id
    );
    app.patch(&own, &admin.token, json!({"role": "member"}))
        .await
        .expect_problem(409, "last_admin");
    app.patch(&own, &admin.token, json!({"status": "suspended"}))
        .await
        .expect_problem(409, "last_admin");
    let invited = app
        .post(
            &format!("/api/v1/collectives/{collective}/members"),
            &admin.token,
            json!({"email": "z@example.org", "display_name": "Z"}),
        )
        .await
        .expect(201);
    app.patch(
        &format!(
            "/api/v1/collectives/{collective}/members/{}",
            invited.body["membership"]["id"].as_str().unwrap()
        ),
        &admin.token,
        json!({"status": "active"}),
    )
    .await
    .expect_problem(409, "invalid_transition");
}

#[actix_rt::test]
async fn member_lists_walk_with_a_cursor() {
    let app = TestApp::spawn().await;
    let (collective, admin) = app.bootstrap("Northside").await;
    for i in 0..4 {
        app.post(
            &format!("/api/v1/collectives/{collective}/members"),
            &admin.token,
            json!({"email": format!("p{i}@example.org"), "display_name": format!("P{i}")}),
        )
        .await
        .expect(201);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = match &cursor {
            Some(c) => format!("?limit=2&cursor={c}"),
            None => "?limit=2".into(),
        };
        let page = app
            .get(
                &format!("/api/v1/collectives/{collective}/members{query}"),
                &admin.token,
            )
            .await
            .expect(200);
        for item in page.body["items"].as_array().unwrap() {
            seen.push(item["id"].as_str().unwrap().to_owned());
        }
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5);
    let mut unique = seen.clone();
    unique.dedup();
    assert_eq!(unique, seen, "no member twice");
    let invited = app
        .get(
            &format!("/api/v1/collectives/{collective}/members?status=invited"),
            &admin.token,
        )
        .await
        .expect(200);
    assert_eq!(invited.body["items"].as_array().unwrap().len(), 4);
}

#[actix_rt::test]
async fn every_change_is_in_the_audit_trail_for_coordinators_only() {
    let app = TestApp::spawn().await;
    let (collective, admin) = app.bootstrap("Northside").await;
    let member = app.join(&collective, &admin, "member").await;
    app.patch(
        &format!(
            "/api/v1/collectives/{collective}/members/{}",
            member.membership_id
        ),
        &admin.token,
        json!({"role": "coordinator"}),
    )
    .await
    .expect(200);
    app.partner(&collective, &admin, &["pools:read"]).await;
    app.patch(
        &format!("/api/v1/collectives/{collective}"),
        &admin.token,
        json!({"name": "Northside MA"}),
    )
    .await
    .expect(200);

    let trail = app
        .get(
            &format!("/api/v1/audit?collective_id={collective}"),
            &admin.token,
        )
        .await
        .expect(200);
    let actions: Vec<&str> = trail.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    for expected in [
        "collective.created",
        "membership.invited",
        "membership.accepted",
        "membership.role_changed",
        "client.registered",
        "collective.updated",
    ] {
        assert!(
            actions.contains(&expected),
            "{expected} missing from {actions:?}"
        );
    }
    assert!(
        !trail.body.to_string().contains("cps_"),
        "no secrets in the trail"
    );
    let by_object = app
        .get(
            &format!(
                "/api/v1/audit?collective_id={collective}&object_id={}",
                member.membership_id
            ),
            &admin.token,
        )
        .await
        .expect(200);
    assert!(by_object.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["object_id"] == member.membership_id.as_str()));
    let by_actor = app
        .get(
            &format!(
                "/api/v1/audit?collective_id={collective}&actor_id={}",
                member.user_id
            ),
            &admin.token,
        )
        .await
        .expect(200);
    assert_eq!(
        by_actor.body["items"].as_array().unwrap().len(),
        1,
        "only the acceptance was the member's own"
    );

    let plain = app.join(&collective, &admin, "member").await;
    app.get(
        &format!("/api/v1/audit?collective_id={collective}"),
        &plain.token,
    )
    .await
    .expect_problem(403, "forbidden");
}

/// Someone with an account elsewhere, and another person who runs a
/// collective of their own and invites them.
async fn invited_elsewhere(
    app: &TestApp,
) -> (
    crate::helpers::Person,
    String,
    crate::helpers::Person,
    String,
) {
    let (_, ada) = app.bootstrap("Northside").await;
    let (collective, inviter) = app.bootstrap("Somewhere else").await;
    let invited = app
        .post(
            &format!("/api/v1/collectives/{collective}/members"),
            &inviter.token,
            json!({"email": ada.email, "display_name": "Ada"}),
        )
        .await
        .expect(201);
    let token = invited.body["invitation_token"]
        .as_str()
        .unwrap()
        .to_owned();
    (ada, collective, inviter, token)
}

async fn accept(
    app: &TestApp,
    bearer: Option<&str>,
    body: serde_json::Value,
) -> crate::helpers::Answer {
    app.send(
        Method::POST,
        "/api/v1/invitations/accept",
        bearer,
        Some(body),
    )
    .await
}

#[actix_rt::test]
async fn accepting_never_checks_the_password_of_an_existing_account() {
    let app = TestApp::spawn().await;
    let (ada, collective, inviter, token) = invited_elsewhere(&app).await;
    // Whoever holds the token learns nothing about Ada's password, however
    // often they try: the right one and wrong ones answer alike.
    let right = accept(
        &app,
        None,
        json!({"invitation_token": token, "password": PASSWORD}),
    )
    .await
    .expect_problem(401, "unauthenticated");
    for i in 0..app.settings.login_max_failures + 3 {
        let wrong = accept(
            &app,
            None,
            json!({"invitation_token": token, "password": format!("guess number {i}")}),
        )
        .await
        .expect_problem(401, "unauthenticated");
        assert_eq!(wrong.body["detail"], right.body["detail"]);
    }
    let members = app
        .get(
            &format!("/api/v1/collectives/{collective}/members?status=invited"),
            &inviter.token,
        )
        .await
        .expect(200);
    assert_eq!(
        members.body["items"].as_array().unwrap().len(),
        1,
        "still invited"
    );

    // Signed in as someone else: not theirs to accept.
    accept(
        &app,
        Some(&inviter.token),
        json!({"invitation_token": token}),
    )
    .await
    .expect_problem(403, "forbidden");
    // Signed in as Ada: accepted, no password asked (and none taken).
    let extra = accept(
        &app,
        Some(&ada.token),
        json!({"invitation_token": token, "password": PASSWORD}),
    )
    .await
    .expect_problem(422, "validation_failed");
    assert_eq!(extra.body["field"], "password");
    let accepted = accept(&app, Some(&ada.token), json!({"invitation_token": token}))
        .await
        .expect(200);
    assert_eq!(accepted.body["status"], "active");
    assert_eq!(accepted.body["user_id"], ada.user_id.as_str());
    app.get(&format!("/api/v1/collectives/{collective}"), &ada.token)
        .await
        .expect(200);
    // Ada's password still signs her in: nothing about it changed.
    app.login(&ada.email, PASSWORD).await.expect(200);
}

#[actix_rt::test]
async fn a_new_account_sets_its_password_when_it_accepts() {
    let app = TestApp::spawn().await;
    let (collective, admin) = app.bootstrap("Northside").await;
    let token = app
        .post(
            &format!("/api/v1/collectives/{collective}/members"),
            &admin.token,
            json!({"email": "new@example.org", "display_name": "New"}),
        )
        .await
        .expect(201)
        .body["invitation_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let missing = accept(&app, None, json!({"invitation_token": token}))
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(missing.body["field"], "password");
    // A partner app's token cannot accept for anyone.
    let (partner, _, _) = app.partner(&collective, &admin, &["collective:read"]).await;
    accept(
        &app,
        Some(&partner),
        json!({"invitation_token": token, "password": PASSWORD}),
    )
    .await
    .expect_problem(403, "users_only");
    accept(
        &app,
        None,
        json!({"invitation_token": token, "password": PASSWORD}),
    )
    .await
    .expect(200);
    app.login("new@example.org", PASSWORD).await.expect(200);
}

#[actix_rt::test]
async fn an_invitation_looks_the_same_whether_or_not_the_email_has_an_account() {
    let app = TestApp::spawn().await;
    let (_, ada) = app.bootstrap("Northside").await;
    let (collective, inviter) = app.bootstrap("Somewhere else").await;
    let invite = |email: String| {
        let (app, path, token) = (
            &app,
            format!("/api/v1/collectives/{collective}/members"),
            inviter.token.clone(),
        );
        async move {
            app.post(
                &path,
                &token,
                json!({"email": email, "display_name": "Someone"}),
            )
            .await
            .expect(201)
        }
    };
    let existing = invite(ada.email.clone()).await;
    let new = invite("nobody-yet@example.org".into()).await;
    let shape = |answer: &crate::helpers::Answer| {
        let membership = answer.body["membership"].as_object().unwrap().clone();
        let mut keys: Vec<String> = membership.keys().cloned().collect();
        keys.sort();
        (
            keys,
            membership["display_name"].clone(),
            membership.get("user_id").cloned(),
        )
    };
    let (existing_keys, existing_name, existing_user) = shape(&existing);
    let (new_keys, new_name, new_user) = shape(&new);
    assert_eq!(existing_keys, new_keys);
    assert_eq!(
        existing_name, "Someone",
        "the name the inviter gave, not Ada's own"
    );
    assert_eq!(new_name, "Someone");
    assert_eq!(
        (existing_user, new_user),
        (None, None),
        "no account id in an invitation"
    );
    let body = existing.body.to_string();
    assert!(
        !body.contains(&ada.user_id) && !body.contains("Ada Admin"),
        "{body}"
    );

    // Nor do the member list, the membership and the audit trail tell.
    for path in [
        format!("/api/v1/collectives/{collective}/members?status=invited"),
        format!(
            "/api/v1/collectives/{collective}/members/{}",
            existing.body["membership"]["id"].as_str().unwrap()
        ),
        format!("/api/v1/audit?collective_id={collective}"),
    ] {
        let seen = app
            .get(&path, &inviter.token)
            .await
            .expect(200)
            .body
            .to_string();
        assert!(
            !seen.contains(&ada.user_id) && !seen.contains("Ada Admin"),
            "{path}: {seen}"
        );
    }
}

#[actix_rt::test]
async fn concurrent_demotions_never_remove_the_last_admin() {
    let app = TestApp::spawn().await;
    let (collective, first) = app.bootstrap("Northside").await;
    let mut admins = vec![first.clone()];
    for _ in 0..4 {
        admins.push(app.join(&collective, &first, "admin").await);
    }
    let members = format!("/api/v1/collectives/{collective}/members");
    for round in 0..4 {
        // Every admin steps down at once: at least one must stay.
        let demotions = admins.iter().map(|admin| {
            let path = format!("{members}/{}", admin.membership_id);
            let (app, token) = (&app, admin.token.clone());
            async move { app.patch(&path, &token, json!({"role": "member"})).await }
        });
        let answers = futures::future::join_all(demotions).await;
        for answer in &answers {
            assert!(
                answer.status == 200 || answer.body["code"] == "last_admin",
                "{}: {}",
                answer.status,
                answer.body
            );
        }
        let survivors: Vec<&crate::helpers::Person> = admins
            .iter()
            .zip(&answers)
            .filter(|(_, a)| a.status != 200)
            .map(|(p, _)| p)
            .collect();
        assert_eq!(
            survivors.len(),
            1,
            "round {round}: exactly one admin must remain, {} did",
            survivors.len()
        );
        // The survivor makes everyone an admin again for the next round.
        let survivor = survivors[0];
        for admin in &admins {
            if admin.membership_id != survivor.membership_id {
                app.patch(
                    &format!("{members}/{}", admin.membership_id),
                    &survivor.token,
                    json!({"role": "admin"}),
                )
                .await
                .expect(200);
            }
        }
    }
}
