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
        .expect_problem(401, "invalid_grant");
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
