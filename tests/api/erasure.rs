//! Erasing a person (#25): after an erasure, a search of the whole
//! database — its bytes (SQLite: the file and its log after a checkpoint;
//! PostgreSQL: every row as JSON) and every sealed value opened — finds
//! none of the person's texts; balances, statements and round results are
//! what they were; `verify` passes; their sign-ins no longer work; and the
//! refusals (unknown 404, coordinator 403, last admin 409).

use diesel::sql_types::Text;
use diesel::RunQueryDsl;
use reqwest::Method;
use serde_json::{json, Value};

use crate::export::{secret, tell, Told};
use crate::helpers::{Person, TestApp, PASSWORD};
use crate::rounds::{approval, setup, Setup};
use crate::web::Browser;

#[derive(diesel::QueryableByName)]
struct Line {
    #[diesel(sql_type = Text)]
    line: String,
}

#[derive(diesel::QueryableByName)]
struct Cell {
    #[diesel(sql_type = Text)]
    row_id: String,
    #[diesel(sql_type = Text)]
    value: String,
}

/// Everything the database holds, as text: its bytes (SQLite: the file and
/// its write-ahead log after a checkpoint; PostgreSQL: every row of every
/// table as JSON), then every sealed value opened.
pub(crate) async fn everything(app: &TestApp) -> String {
    let db = app.db.clone();
    let url = app.settings.database_url.clone();
    tokio::task::spawn_blocking(move || {
        let mut conn = db.get().expect("a connection");
        let mut text = String::new();
        match url.strip_prefix("sqlite://") {
            Some(path) => {
                diesel::sql_query("PRAGMA wal_checkpoint(TRUNCATE)")
                    .execute(&mut **conn)
                    .ok();
                for file in [path.to_owned(), format!("{path}-wal")] {
                    if let Ok(bytes) = std::fs::read(&file) {
                        text.push_str(&String::from_utf8_lossy(&bytes));
                    }
                }
                assert!(text.len() > 10_000, "the database file was read");
            }
            None => {
                let tables = diesel::sql_query(
                    "SELECT table_name::text AS line FROM information_schema.tables \
                     WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
                )
                .load::<Line>(&mut **conn)
                .expect("tables");
                assert!(tables.len() > 20, "every table is listed");
                for table in tables {
                    let rows = diesel::sql_query(format!(
                        "SELECT row_to_json(t)::text AS line FROM \"{}\" t",
                        table.line
                    ))
                    .load::<Line>(&mut **conn)
                    .expect("rows");
                    for row in rows {
                        text.push_str(&row.line);
                        text.push('\n');
                    }
                }
            }
        }
        let mut opened = 0;
        for field in commonpot::crypto::FIELDS {
            let cells = diesel::sql_query(format!(
                "SELECT {} AS row_id, {} AS value FROM {} WHERE {} IS NOT NULL",
                field.id_sql, field.column, field.table, field.column
            ))
            .load::<Cell>(&mut **conn)
            .expect("sealed cells");
            for cell in cells {
                if cell.value.is_empty() {
                    continue;
                }
                let clear =
                    commonpot::crypto::open(field.table, field.column, &cell.row_id, &cell.value)
                        .expect("every sealed value opens");
                text.push_str(&clear);
                text.push('\n');
                opened += 1;
            }
        }
        assert!(opened > 10, "sealed values were opened");
        text
    })
    .await
    .unwrap()
}

/// On SQLite, the database file and its write-ahead log as they are on
/// disk, without a checkpoint of the test's own.
fn on_disk(app: &TestApp) -> Option<String> {
    let path = app.settings.database_url.strip_prefix("sqlite://")?;
    let mut text = String::new();
    for file in [path.to_owned(), format!("{path}-wal")] {
        if let Ok(bytes) = std::fs::read(&file) {
            text.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
    Some(text)
}

/// What must not change: balances, the statement and the round's results.
async fn figures(s: &Setup, round: &str) -> Value {
    let (app, pool, token) = (&s.app, &s.pool, &s.admin.token);
    let balances = app.balances(pool, token).await;
    let today = chrono::Utc::now().date_naive();
    let (from, to) = (today - chrono::Days::new(30), today + chrono::Days::new(1));
    let statement = app
        .get(
            &format!("/api/v1/pools/{pool}/statement?from={from}&to={to}"),
            token,
        )
        .await
        .expect(200)
        .body;
    let results = app
        .get(&format!("/api/v1/rounds/{round}/results"), token)
        .await
        .expect(200)
        .body;
    json!({"balances": balances, "statement": statement, "results": results})
}

/// A collective where Mo has told everything, been paid, pledged, given,
/// declared how they are affected and voted in a tallied round.
struct World {
    s: Setup,
    cleo: Person,
    mo: Person,
    zed: Person,
    told: Told,
    zeds: Told,
    round: String,
    /// Texts of Mo's beyond `told`.
    more: Vec<String>,
    mo_refresh: String,
}

async fn world() -> World {
    let s = setup("1000.00").await;
    let app = &s.app;
    let cleo = app.join(&s.collective, &s.admin, "coordinator").await;
    let mo = app.join(&s.collective, &s.admin, "member").await;
    let zed = app.join(&s.collective, &s.admin, "member").await;
    let told = tell(app, &mo, &s.pool, &cleo).await;
    let zeds = tell(app, &zed, &s.pool, &cleo).await;
    let (internal, reference, gift_note, mo_says) = (
        secret("internal-note"),
        secret("payout-ref"),
        secret("gift-note"),
        secret("mo-says"),
    );
    let request = &told.request;
    app.post(
        &format!("/api/v1/requests/{request}/comments"),
        &cleo.token,
        json!({"body": internal, "visibility": "internal"}),
    )
    .await
    .expect(201);
    app.post(
        &format!("/api/v1/requests/{request}/comments"),
        &mo.token,
        json!({"body": mo_says}),
    )
    .await
    .expect(201);
    // Reviewed, approved and paid, the payout with a reference.
    app.post(
        &format!("/api/v1/requests/{request}/review"),
        &cleo.token,
        json!({}),
    )
    .await
    .expect(200);
    for coordinator in [&cleo, &s.admin] {
        app.post_money(
            &format!("/api/v1/requests/{request}/approvals"),
            &coordinator.token,
            json!({}),
        )
        .await
        .expect(200);
    }
    let payout = app
        .post_money(
            &format!("/api/v1/requests/{request}/disbursements"),
            &cleo.token,
            json!({"amount": "200.00", "external_reference": reference}),
        )
        .await
        .expect(201)
        .id();
    app.post_money(
        &format!("/api/v1/disbursements/{payout}/outcome"),
        &cleo.token,
        json!({"outcome": "paid"}),
    )
    .await
    .expect(200);
    // Money Mo gave, with a note.
    app.post_money(
        &format!("/api/v1/pools/{}/contributions", s.pool),
        &s.admin.token,
        json!({"amount": "12.00", "method": "cash", "note": gift_note,
               "contributor": {"member_id": mo.membership_id}}),
    )
    .await
    .expect(201);
    // How Mo is affected, and Mo's vote in a round that was tallied.
    let issue = s.issue("facing eviction").await;
    app.send(
        Method::PUT,
        &format!("/api/v1/collectives/{}/affectedness/me", s.collective),
        Some(&mo.token),
        Some(json!({"declarations": [{"issue_id": issue, "tier": "direct"}]})),
    )
    .await
    .expect(200);
    let a = s.request(&zed, "40.00").await;
    let b = s.request(&mo, "30.00").await;
    let round = s.round(approval(&[&a, &b], "50.00")).await;
    s.step(&round, "open").await.expect(200);
    s.vote(&mo, &round, json!({"approve": [b]}))
        .await
        .expect(200);
    s.vote(&zed, &round, json!({"approve": [a, b]}))
        .await
        .expect(200);
    s.step(&round, "close").await.expect(200);
    s.step(&round, "tally").await.expect(200);
    let mo_refresh = app.login(&mo.email, PASSWORD).await.expect(200).body["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    World {
        cleo,
        mo,
        zed,
        told,
        zeds,
        round,
        more: vec![internal, reference, gift_note, mo_says],
        mo_refresh,
        s,
    }
}

fn assert_none_of(everything: &str, texts: &[&str]) {
    for text in texts {
        assert!(!everything.contains(text), "{text} is still stored");
    }
}

#[actix_rt::test]
async fn an_erased_member_leaves_no_trace_and_the_ledger_is_whole() {
    let w = world().await;
    let (s, app) = (&w.s, &w.s.app);
    let before = figures(s, &w.round).await;
    let texts: Vec<&str> = w
        .told
        .texts()
        .into_iter()
        .chain(w.more.iter().map(String::as_str))
        .chain([w.told.phone.as_str(), w.mo.email.as_str()])
        .collect();
    // They are there to find before (or the search proves nothing).
    let stored = everything(app).await;
    for text in &texts {
        assert!(stored.contains(text), "{text} was never stored");
    }

    let path = format!(
        "/api/v1/collectives/{}/members/{}/erasure",
        s.collective, w.mo.membership_id
    );
    app.post(&path, &w.cleo.token, json!({}))
        .await
        .expect_problem(403, "forbidden");
    let erased = app.post(&path, &s.admin.token, json!({})).await.expect(200);
    assert_eq!(erased.body["memberships"][0], w.mo.membership_id.as_str());
    assert_eq!(erased.body["account_erased"], true);
    // Once erased, there is no such member to erase.
    app.post(&path, &s.admin.token, json!({}))
        .await
        .expect_problem(404, "not_found");

    // The erasure checkpointed SQLite's log itself: the file and the log
    // already hold none of it (names and emails are not sealed).
    if let Some(disk) = on_disk(app) {
        assert_none_of(&disk, &[w.mo.email.as_str(), w.told.name.as_str()]);
    }
    let stored = everything(app).await;
    assert_none_of(&stored, &texts);
    // Someone else's texts are untouched.
    for text in w.zeds.texts() {
        assert!(stored.contains(text), "{text} of Zed's went too");
    }
    assert_eq!(figures(s, &w.round).await, before);
    assert!(app.verify().await.is_clean());

    // The request keeps its figures and states, with tombstones.
    let request = app
        .get(
            &format!("/api/v1/requests/{}", w.told.request),
            &w.cleo.token,
        )
        .await
        .expect(200)
        .body;
    assert_eq!(request["state"], "paid");
    assert_eq!(request["amount_requested"], "200.00");
    assert_eq!(request["private"]["private_details"], "[erased]");
    // The membership is a suspended tombstone.
    let member = app
        .get(
            &format!(
                "/api/v1/collectives/{}/members/{}",
                s.collective, w.mo.membership_id
            ),
            &s.admin.token,
        )
        .await
        .expect(200)
        .body;
    assert_eq!(member["status"], "suspended");
    assert_eq!(member["display_name"], "Erased person");

    // Their sign-ins no longer work.
    app.login(&w.mo.email, PASSWORD)
        .await
        .expect_oauth_error(400, "invalid_grant");
    app.send(
        Method::POST,
        "/api/v1/auth/token",
        None,
        Some(json!({"grant_type": "refresh_token", "refresh_token": w.mo_refresh})),
    )
    .await
    .expect_oauth_error(400, "invalid_grant");
    app.get("/api/v1/me/export", &w.mo.token)
        .await
        .expect_problem(401, "invalid_token");
    app.get(&format!("/api/v1/pools/{}", s.pool), &w.mo.token)
        .await
        .expect_problem(403, "membership_suspended");

    // The audit trail says an erasure happened and who did it, no more.
    let audit = app
        .get(
            &format!(
                "/api/v1/audit?collective_id={}&object_id={}",
                s.collective, w.mo.membership_id
            ),
            &s.admin.token,
        )
        .await
        .expect(200)
        .body;
    let erasure = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["action"] == "membership.erased")
        .unwrap_or_else(|| panic!("no erasure in {audit}"));
    assert_eq!(erasure["actor_id"], s.admin.user_id.as_str());
    assert_eq!(erasure["details"], json!({}));

    // The email can be invited again: a new person.
    let again = app
        .post(
            &format!("/api/v1/collectives/{}/members", s.collective),
            &s.admin.token,
            json!({"email": w.mo.email, "display_name": "Mo again", "role": "member"}),
        )
        .await
        .expect(201);
    let token = again.body["invitation_token"].as_str().unwrap();
    let accepted = app
        .send(
            Method::POST,
            "/api/v1/invitations/accept",
            None,
            Some(json!({"invitation_token": token, "password": PASSWORD})),
        )
        .await
        .expect(200);
    assert_ne!(accepted.body["user_id"], w.mo.user_id.as_str());
    assert_ne!(accepted.id(), w.mo.membership_id);
    app.login(&w.mo.email, PASSWORD).await.expect(200);
    let _ = &w.zed;
}

#[actix_rt::test]
async fn a_person_erases_themself_everywhere_with_their_password() {
    let w = world().await;
    let (s, app) = (&w.s, &w.s.app);
    // Mo is also in another collective, with a request there.
    let (elsewhere, other_admin) = app.bootstrap("Elsewhere").await;
    let invitation = app
        .post(
            &format!("/api/v1/collectives/{elsewhere}/members"),
            &other_admin.token,
            json!({"email": w.mo.email, "display_name": "Mo", "role": "member"}),
        )
        .await
        .expect(201);
    let token = invitation.body["invitation_token"].as_str().unwrap();
    app.send(
        Method::POST,
        "/api/v1/invitations/accept",
        Some(&w.mo.token),
        Some(json!({"invitation_token": token})),
    )
    .await
    .expect(200);
    let other_pool = app.pool(&elsewhere, &other_admin.token, "EUR").await;
    let far = secret("far-details");
    app.post(
        &format!("/api/v1/pools/{other_pool}/requests"),
        &w.mo.token,
        json!({"amount": "10.00", "category": "food", "urgency": "standard",
               "public_summary": "Food", "private_details": far}),
    )
    .await
    .expect(201);
    let before = figures(s, &w.round).await;

    app.post(
        "/api/v1/me/erasure",
        &w.mo.token,
        json!({"current_password": "not my password at all"}),
    )
    .await
    .expect_problem(403, "wrong_password");
    let (partner, _, _) = app.partner(&s.collective, &s.admin, &["pools:read"]).await;
    app.post(
        "/api/v1/me/erasure",
        &partner,
        json!({"current_password": PASSWORD}),
    )
    .await
    .expect_problem(403, "users_only");
    let erased = app
        .post(
            "/api/v1/me/erasure",
            &w.mo.token,
            json!({"current_password": PASSWORD}),
        )
        .await
        .expect(200);
    assert_eq!(erased.body["memberships"].as_array().unwrap().len(), 2);
    assert_eq!(erased.body["account_erased"], true);

    let texts: Vec<&str> = w
        .told
        .texts()
        .into_iter()
        .chain(w.more.iter().map(String::as_str))
        .chain([w.told.phone.as_str(), w.mo.email.as_str(), far.as_str()])
        .collect();
    assert_none_of(&everything(app).await, &texts);
    assert_eq!(figures(s, &w.round).await, before);
    assert!(app.verify().await.is_clean());
    app.login(&w.mo.email, PASSWORD)
        .await
        .expect_oauth_error(400, "invalid_grant");
    app.send(
        Method::POST,
        "/api/v1/auth/token",
        None,
        Some(json!({"grant_type": "refresh_token", "refresh_token": w.mo_refresh})),
    )
    .await
    .expect_oauth_error(400, "invalid_grant");
    app.post(
        "/api/v1/me/erasure",
        &w.mo.token,
        json!({"current_password": PASSWORD}),
    )
    .await
    .expect(401);
}

#[actix_rt::test]
async fn a_member_erased_from_one_collective_keeps_their_account_elsewhere() {
    let app = TestApp::spawn().await;
    let (here, admin) = app.bootstrap("Here").await;
    let (there, other_admin) = app.bootstrap("There").await;
    let cleo = app.join(&here, &admin, "coordinator").await;
    let pool = app.pool(&here, &admin.token, "EUR").await;
    let mo = app.join(&there, &other_admin, "member").await;
    let invitation = app
        .post(
            &format!("/api/v1/collectives/{here}/members"),
            &admin.token,
            json!({"email": mo.email, "display_name": "Mo", "role": "member"}),
        )
        .await
        .expect(201);
    let token = invitation.body["invitation_token"].as_str().unwrap();
    let membership = app
        .send(
            Method::POST,
            "/api/v1/invitations/accept",
            Some(&mo.token),
            Some(json!({"invitation_token": token})),
        )
        .await
        .expect(200)
        .id();
    let details = secret("details-here");
    let request = app
        .post(
            &format!("/api/v1/pools/{pool}/requests"),
            &mo.token,
            json!({"amount": "10.00", "category": "food", "urgency": "standard",
                   "public_summary": "Food", "private_details": details}),
        )
        .await
        .expect(201)
        .id();
    // An admin of another collective cannot see, let alone erase, them.
    app.post(
        &format!("/api/v1/collectives/{here}/members/{membership}/erasure"),
        &other_admin.token,
        json!({}),
    )
    .await
    .expect_problem(404, "not_found");
    let erased = app
        .post(
            &format!("/api/v1/collectives/{here}/members/{membership}/erasure"),
            &admin.token,
            json!({}),
        )
        .await
        .expect(200);
    assert_eq!(erased.body["account_erased"], false);
    assert!(!everything(&app).await.contains(&details));
    // Mo still signs in and works in the other collective, and is no longer
    // linked to what was erased here.
    let token = app.login(&mo.email, PASSWORD).await.expect(200).body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    app.get(&format!("/api/v1/collectives/{there}"), &token)
        .await
        .expect(200);
    app.get(&format!("/api/v1/collectives/{here}"), &token)
        .await
        .expect_problem(404, "not_found");
    app.get(&format!("/api/v1/requests/{request}"), &token)
        .await
        .expect_problem(404, "not_found");
    let export = app.get("/api/v1/me/export", &token).await.expect(200).body;
    assert_eq!(export["memberships"].as_array().unwrap().len(), 1);
    assert!(!export.to_string().contains(&request));
    // Their account's name stays where they still are.
    let _ = cleo;
}

#[actix_rt::test]
async fn erasing_is_refused_for_the_unknown_and_the_last_active_admin() {
    let app = TestApp::spawn().await;
    let (collective, admin) = app.bootstrap("Refusals").await;
    let members = format!("/api/v1/collectives/{collective}/members");
    app.post(
        &format!("{members}/{}/erasure", uuid::Uuid::new_v4()),
        &admin.token,
        json!({}),
    )
    .await
    .expect_problem(404, "not_found");
    app.post(
        &format!("{members}/{}/erasure", admin.membership_id),
        &admin.token,
        json!({}),
    )
    .await
    .expect_problem(409, "last_admin");
    app.post(
        "/api/v1/me/erasure",
        &admin.token,
        json!({"current_password": PASSWORD}),
    )
    .await
    .expect_problem(409, "last_admin");
    // Nothing was erased: the admin still signs in.
    app.login(&admin.email, PASSWORD).await.expect(200);
    // With another active admin, the first may go.
    let second = app.join(&collective, &admin, "admin").await;
    app.post(
        &format!("{members}/{}/erasure", admin.membership_id),
        &second.token,
        json!({}),
    )
    .await
    .expect(200);
}

#[actix_rt::test]
async fn a_person_erases_themself_from_the_account_page_and_every_session_ends() {
    let app = TestApp::spawn().await;
    let (collective, admin) = app.bootstrap("Pages").await;
    let mo = app.join(&collective, &admin, "member").await;
    let mut laptop = Browser::new(&app);
    laptop.sign_in(&mo.email).await;
    let mut phone = Browser::new(&app);
    phone.sign_in(&mo.email).await;

    let account = laptop.get("/account").await.expect(200);
    assert!(account.html.contains(r#"action="/account/erasure""#));
    assert!(account.html.contains("This cannot be undone"));
    // Another site's form (no CSRF token) erases nothing.
    laptop
        .post("/account/erasure", &[("erase_password", PASSWORD)])
        .await
        .expect(403);
    let empty = laptop
        .submit("/account", "/account/erasure", &[("erase_password", "")])
        .await
        .expect(422);
    assert!(empty.html.contains("Enter your current password"));
    let wrong = laptop
        .submit(
            "/account",
            "/account/erasure",
            &[("erase_password", "not my password at all")],
        )
        .await
        .expect(403);
    assert!(wrong.html.contains("not your current password"));
    laptop.get("/account").await.expect(200);

    let erased = laptop
        .submit(
            "/account",
            "/account/erasure",
            &[("erase_password", PASSWORD)],
        )
        .await
        .expect(303);
    assert_eq!(erased.location.as_deref(), Some("/sign-in?done=erased"));
    let landed = laptop.get("/sign-in?done=erased").await.expect(200);
    assert!(
        landed.html.contains("Your account is erased"),
        "{}",
        landed.html
    );
    // Every session of theirs has ended, the other browser's too.
    for browser in [&mut laptop, &mut phone] {
        let refused = browser.get("/account").await.expect(303);
        assert!(refused.location.unwrap().starts_with("/sign-in"));
    }
    app.login(&mo.email, PASSWORD)
        .await
        .expect_oauth_error(400, "invalid_grant");
    let member = app
        .get(
            &format!(
                "/api/v1/collectives/{collective}/members/{}",
                mo.membership_id
            ),
            &admin.token,
        )
        .await
        .expect(200)
        .body;
    assert_eq!(member["display_name"], "Erased person");
}

#[actix_rt::test]
async fn an_admin_erases_a_member_from_the_members_page_after_a_warning() {
    let app = TestApp::spawn().await;
    let (collective, admin) = app.bootstrap("Pages").await;
    let cleo = app.join(&collective, &admin, "coordinator").await;
    let mo = app.join(&collective, &admin, "member").await;
    let members = format!("/c/{collective}/members");
    let page = format!("{members}/{}/erasure", mo.membership_id);

    // Coordinators see no such link, and are refused the page and the form.
    let mut coordinator = Browser::new(&app);
    coordinator.sign_in(&cleo.email).await;
    let list = coordinator.get(&members).await.expect(200);
    assert!(!list.html.contains("/erasure"), "{}", list.html);
    coordinator.get(&page).await.expect(403);
    coordinator.submit(&members, &page, &[]).await.expect(403);

    let mut browser = Browser::new(&app);
    browser.sign_in(&admin.email).await;
    let list = browser.get(&members).await.expect(200);
    assert!(list.html.contains(&format!(r#"href="{page}""#)));
    let warning = browser.get(&page).await.expect(200);
    assert!(warning.html.contains("Erase A member from this collective"));
    assert!(warning.html.contains("This cannot be undone"));
    let done = browser.submit(&page, &page, &[]).await.expect(303);
    assert_eq!(
        done.location.as_deref(),
        Some(format!("{members}?done=erased").as_str())
    );
    let list = browser
        .get(&format!("{members}?done=erased"))
        .await
        .expect(200);
    assert!(list.html.contains("is erased from this collective"));
    assert!(list.html.contains("Erased person"));
    assert!(!list.html.contains(&mo.email));
    // Erased once: there is no such member any more.
    browser.get(&page).await.expect(404);

    // The last active admin is refused, on the page, and nothing changes.
    let own = format!("{members}/{}/erasure", admin.membership_id);
    let refused = browser.submit(&own, &own, &[]).await.expect(409);
    assert!(refused.html.contains("last active admin"));
    browser.get(&members).await.expect(200);
}
