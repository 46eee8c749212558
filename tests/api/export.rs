//! Exporting a person's data (#25): one document of everything about the
//! signed-in person, through the API and the web app, and nothing of
//! anyone else.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{Person, TestApp};
use crate::web::Browser;

/// A marker unique to this run.
pub(crate) fn secret(what: &str) -> String {
    format!("SECRET-{what}-{}", uuid::Uuid::new_v4().simple())
}

/// What a member told the collective, each text a marker.
pub(crate) struct Told {
    pub(crate) name: String,
    pub(crate) phone: String,
    pub(crate) other: String,
    pub(crate) details: String,
    pub(crate) payout: String,
    pub(crate) comment: String,
    pub(crate) pledge_note: String,
    pub(crate) request: String,
    pub(crate) pledge: String,
}

impl Told {
    pub(crate) fn texts(&self) -> Vec<&str> {
        vec![
            &self.name,
            &self.other,
            &self.details,
            &self.payout,
            &self.comment,
            &self.pledge_note,
        ]
    }
}

/// A phone number no one else has.
fn phone() -> String {
    let n = uuid::Uuid::new_v4().as_u128() % 10_000_000_000;
    format!("+49 {n:010}")
}

/// `who` fills in their profile, asks `pool` for help with every private
/// field, hears from `coordinator` in a comment, and pledges with a note.
pub(crate) async fn tell(app: &TestApp, who: &Person, pool: &str, coordinator: &Person) -> Told {
    let told = Told {
        name: secret("name"),
        phone: phone(),
        other: secret("other-contact"),
        details: secret("details"),
        payout: secret("payout"),
        comment: secret("comment"),
        pledge_note: secret("pledge-note"),
        request: String::new(),
        pledge: String::new(),
    };
    app.patch(
        "/api/v1/me/profile",
        &who.token,
        json!({"display_name": told.name, "phone": told.phone, "other_contact": told.other}),
    )
    .await
    .expect(200);
    let request = app
        .send_keyed(
            Method::POST,
            &format!("/api/v1/pools/{pool}/requests"),
            Some(&who.token),
            Some(
                json!({"amount": "200.00", "category": "rent", "urgency": "standard",
                        "public_summary": "Rent", "private_details": told.details,
                        "payout_reference": told.payout}),
            ),
        )
        .await
        .expect(201)
        .id();
    app.post(
        &format!("/api/v1/requests/{request}/comments"),
        &coordinator.token,
        json!({"body": told.comment, "visibility": "requester"}),
    )
    .await
    .expect(201);
    let pledge = app
        .post(
            &format!("/api/v1/pools/{pool}/pledges"),
            &who.token,
            json!({"amount": "5.00", "frequency": "monthly", "installments": 3,
                   "note": told.pledge_note}),
        )
        .await
        .expect(201)
        .id();
    Told {
        request,
        pledge,
        ..told
    }
}

#[actix_rt::test]
async fn the_export_holds_everything_about_the_person_and_nothing_of_anyone_else() {
    let app = TestApp::spawn().await;
    let (collective, admin) = app.bootstrap("Export").await;
    let cleo = app.join(&collective, &admin, "coordinator").await;
    let mo = app.join(&collective, &admin, "member").await;
    let zed = app.join(&collective, &admin, "member").await;
    let pool = app.pool(&collective, &admin.token, "EUR").await;
    app.contribute(&pool, &admin.token, "500.00")
        .await
        .expect(201);
    let mine = tell(&app, &mo, &pool, &cleo).await;
    let theirs = tell(&app, &zed, &pool, &cleo).await;
    let internal = secret("internal-note");
    app.post(
        &format!("/api/v1/requests/{}/comments", mine.request),
        &cleo.token,
        json!({"body": internal, "visibility": "internal"}),
    )
    .await
    .expect(201);
    // Money Mo gave, recorded by a coordinator with a note.
    let gift_note = secret("gift-note");
    let gift = app
        .post_money(
            &format!("/api/v1/pools/{pool}/contributions"),
            &admin.token,
            json!({"amount": "12.00", "method": "cash", "note": gift_note,
                   "contributor": {"member_id": mo.membership_id}}),
        )
        .await
        .expect(201)
        .id();
    let issue = app
        .post(
            &format!("/api/v1/collectives/{collective}/issues"),
            &cleo.token,
            json!({"name": "facing eviction"}),
        )
        .await
        .expect(201)
        .id();
    app.send(
        Method::PUT,
        &format!("/api/v1/collectives/{collective}/affectedness/me"),
        Some(&mo.token),
        Some(json!({"declarations": [{"issue_id": issue, "tier": "indirect"}]})),
    )
    .await
    .expect(200);

    let answer = app.get("/api/v1/me/export", &mo.token).await.expect(200);
    assert!(answer
        .header("content-disposition")
        .is_some_and(|d| d.starts_with("attachment")));
    let doc = answer.body;
    let text = doc.to_string();
    assert_eq!(doc["account"]["user_id"], mo.user_id.as_str());
    assert_eq!(doc["account"]["email"], mo.email.as_str());
    assert_eq!(doc["account"]["display_name"], mine.name.as_str());
    assert_eq!(doc["account"]["phone"], mine.phone.as_str());
    assert_eq!(doc["account"]["other_contact"], mine.other.as_str());
    let memberships = doc["memberships"].as_array().unwrap();
    assert_eq!(memberships.len(), 1);
    let here = &memberships[0];
    assert_eq!(here["membership_id"], mo.membership_id.as_str());
    assert_eq!(here["collective_name"], "Export");
    let request = &here["requests"][0];
    assert_eq!(request["id"], mine.request.as_str());
    assert_eq!(request["amount_requested"], "200.00");
    assert_eq!(request["private_details"], mine.details.as_str());
    assert_eq!(request["payout_reference"], mine.payout.as_str());
    assert_eq!(request["comments"][0]["body"], mine.comment.as_str());
    assert_eq!(request["comments"][0]["from"], "collective");
    assert_eq!(here["pledges"][0]["id"], mine.pledge.as_str());
    assert_eq!(here["pledges"][0]["note"], mine.pledge_note.as_str());
    assert_eq!(here["contributions"][0]["id"], gift.as_str());
    assert_eq!(here["contributions"][0]["amount"], "12.00");
    assert_eq!(here["contributions"][0]["note"], gift_note.as_str());
    assert_eq!(here["affectedness"][0]["issue"], "facing eviction");
    assert_eq!(here["affectedness"][0]["tier"], "indirect");
    // Their own audit trail: what they did, with details where it is theirs.
    let actions: Vec<&str> = doc["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"request.created"), "{actions:?}");
    assert!(doc["audit"]
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a["collective_id"] == collective.as_str()));

    // Nothing of anyone else: not Zed's texts, nor the coordinators'
    // internal note, nor another person's email.
    for other in theirs.texts().into_iter().chain([
        internal.as_str(),
        zed.email.as_str(),
        cleo.email.as_str(),
        admin.email.as_str(),
        theirs.request.as_str(),
    ]) {
        assert!(!text.contains(other), "{other} is in Mo's export: {text}");
    }
    // Zed's own holds Zed's and not Mo's.
    let zeds = app
        .get("/api/v1/me/export", &zed.token)
        .await
        .expect(200)
        .body
        .to_string();
    assert!(zeds.contains(&theirs.details));
    for other in mine.texts() {
        assert!(!zeds.contains(other), "{other} is in Zed's export");
    }

    // Partner apps have no "me".
    let (partner, _, _) = app.partner(&collective, &admin, &["pools:read"]).await;
    app.get("/api/v1/me/export", &partner)
        .await
        .expect_problem(403, "users_only");

    // The web app: a download link on the account page.
    let mut browser = Browser::new(&app);
    browser.sign_in(&mo.email).await;
    let account = browser.get("/account").await.expect(200);
    assert!(account.html.contains(r#"href="/account/export""#));
    let download = browser.get("/account/export").await.expect(200);
    assert!(download.content_type.starts_with("application/json"));
    let downloaded: Value = serde_json::from_str(&download.html).unwrap();
    assert_eq!(downloaded["account"]["user_id"], mo.user_id.as_str());
    assert_eq!(
        downloaded["memberships"][0]["requests"][0]["private_details"],
        mine.details.as_str()
    );
    // Signed out, the link leads to signing in.
    let mut stranger = Browser::new(&app);
    let refused = stranger.get("/account/export").await;
    assert_eq!(refused.status.as_u16(), 303);
}
