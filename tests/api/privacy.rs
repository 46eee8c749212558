//! Private fields encrypted at rest (#24): after a scenario that writes
//! every private field, a search of the whole database (SQLite: the file
//! and its write-ahead log; PostgreSQL: every table's rows as JSON) finds
//! none of them, while the API still shows them to those allowed; a value
//! copied to another row does not decrypt and says so cleanly.

use diesel::sql_types::Text;
use diesel::RunQueryDsl;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{TestApp, TEST_FIELD_KEY};

/// A marker unique to this run, so a hit can only be the value itself.
fn secret(what: &str) -> String {
    format!("SECRET-{what}-{}", uuid::Uuid::new_v4().simple())
}

#[derive(diesel::QueryableByName)]
struct Line {
    #[diesel(sql_type = Text)]
    line: String,
}

/// Every row of every table, as text: on PostgreSQL each row as JSON; on
/// SQLite the database file and its write-ahead log, byte for byte (after
/// the service's own writes, with no checkpoint forced).
async fn whole_database(app: &TestApp) -> String {
    match app.settings.database_url.strip_prefix("sqlite://") {
        Some(path) => {
            let mut text = String::new();
            for file in [path.to_owned(), format!("{path}-wal")] {
                if let Ok(bytes) = std::fs::read(&file) {
                    text.push_str(&String::from_utf8_lossy(&bytes));
                }
            }
            assert!(text.len() > 10_000, "the database file was read");
            text
        }
        None => {
            let db = app.db.clone();
            tokio::task::spawn_blocking(move || {
                let mut conn = db.get().expect("a connection");
                let tables = diesel::sql_query(
                    "SELECT table_name::text AS line FROM information_schema.tables \
                     WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
                )
                .load::<Line>(&mut **conn)
                .expect("tables");
                assert!(tables.len() > 20, "every table is listed");
                let mut text = String::new();
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
                text
            })
            .await
            .unwrap()
        }
    }
}

/// Runs SQL against the app's database (to play the attacker or check).
async fn sql(app: &TestApp, statement: String) -> usize {
    let db = app.db.clone();
    tokio::task::spawn_blocking(move || {
        let mut conn = db.get().expect("a connection");
        diesel::sql_query(statement)
            .execute(&mut **conn)
            .expect("SQL runs")
    })
    .await
    .unwrap()
}

async fn texts(app: &TestApp, query: String) -> Vec<String> {
    let db = app.db.clone();
    tokio::task::spawn_blocking(move || {
        let mut conn = db.get().expect("a connection");
        diesel::sql_query(query)
            .load::<Line>(&mut **conn)
            .expect("query runs")
            .into_iter()
            .map(|l| l.line)
            .collect()
    })
    .await
    .unwrap()
}

#[actix_rt::test]
async fn no_private_field_is_stored_in_clear_text_and_those_allowed_still_read_them() {
    let app = TestApp::spawn().await;
    let (collective, admin) = app.bootstrap("Privacy").await;
    let cleo = app.join(&collective, &admin, "coordinator").await;
    let dev = app.join(&collective, &admin, "coordinator").await;
    let mo = app.join(&collective, &admin, "member").await;
    let pool = app.pool(&collective, &admin.token, "EUR").await;
    let api = "/api/v1";

    let s = |w: &str| secret(w);
    let (details, payout, beneficiary, contact) =
        (s("details"), s("payout"), s("beneficiary"), s("contact"));
    let (donor, donor_email, note) = (
        s("donor"),
        format!("{}@example.org", s("donor-email").to_lowercase()),
        s("note"),
    );
    let (pledger, pledger_email, pledge_note) = (
        s("pledger"),
        format!("{}@example.org", s("pledger-email").to_lowercase()),
        s("pledge-note"),
    );
    let (comment, internal, reference, outcome_reference, withdrawal) = (
        s("comment"),
        s("internal-note"),
        s("disbursement-ref"),
        s("outcome-ref"),
        s("withdrawal"),
    );

    // Money in, from a named donor with a note; a pledge from another.
    let contribution = app
        .post_money(
            &format!("{api}/pools/{pool}/contributions"),
            &admin.token,
            json!({"amount": "500.00", "method": "cash", "note": note,
                   "contributor": {"donor_name": donor, "donor_email": donor_email}}),
        )
        .await
        .expect(201);
    let pledge = app
        .send_keyed(
            Method::POST,
            &format!("{api}/pools/{pool}/pledges"),
            Some(&admin.token),
            Some(
                json!({"amount": "10.00", "frequency": "monthly", "installments": 3,
                        "note": pledge_note,
                        "pledger": {"donor_name": pledger, "donor_email": pledger_email}}),
            ),
        )
        .await
        .expect(201);

    // A request on someone's behalf with every private field, asked by a
    // coordinator (whose answer is stored for its idempotency key).
    let request = app
        .send_keyed(
            Method::POST,
            &format!("{api}/pools/{pool}/requests"),
            Some(&cleo.token),
            Some(
                json!({"amount": "200.00", "category": "rent", "urgency": "standard",
                        "public_summary": "Rent", "private_details": details,
                        "payout_reference": payout,
                        "beneficiary": {"name": beneficiary, "contact": contact}}),
            ),
        )
        .await
        .expect(201);
    let request_id = request.id();
    app.post(
        &format!("{api}/requests/{request_id}/comments"),
        &cleo.token,
        json!({"body": comment, "visibility": "requester"}),
    )
    .await
    .expect(201);
    app.post(
        &format!("{api}/requests/{request_id}/comments"),
        &cleo.token,
        json!({"body": internal, "visibility": "internal"}),
    )
    .await
    .expect(201);
    app.post(
        &format!("{api}/requests/{request_id}/review"),
        &dev.token,
        json!({}),
    )
    .await
    .expect(200);
    for coordinator in [&dev, &admin] {
        app.post_money(
            &format!("{api}/requests/{request_id}/approvals"),
            &coordinator.token,
            json!({}),
        )
        .await
        .expect(200);
    }
    let payout_answer = app
        .post_money(
            &format!("{api}/requests/{request_id}/disbursements"),
            &dev.token,
            json!({"amount": "200.00", "external_reference": reference}),
        )
        .await
        .expect(201);
    let disbursement = payout_answer.id();
    app.post_money(
        &format!("{api}/disbursements/{disbursement}/outcome"),
        &dev.token,
        json!({"outcome": "paid", "external_reference": outcome_reference}),
    )
    .await
    .expect(200);

    // A second request, withdrawn with a reason.
    let other = app
        .post(
            &format!("{api}/pools/{pool}/requests"),
            &mo.token,
            json!({"amount": "20.00", "category": "food", "urgency": "standard",
                   "public_summary": "Food", "private_details": "x"}),
        )
        .await
        .expect(201)
        .id();
    app.post_money(
        &format!("{api}/requests/{other}/withdrawal"),
        &mo.token,
        json!({"reason": withdrawal}),
    )
    .await
    .expect(200);

    // How Mo is affected.
    let issue = app
        .post(
            &format!("{api}/collectives/{collective}/issues"),
            &cleo.token,
            json!({"name": "facing eviction"}),
        )
        .await
        .expect(201)
        .id();
    app.send(
        Method::PUT,
        &format!("{api}/collectives/{collective}/affectedness/me"),
        Some(&mo.token),
        Some(json!({"declarations": [{"issue_id": issue, "tier": "indirect"}]})),
    )
    .await
    .expect(200);

    // Nothing of it is in the database in clear text …
    let everything = whole_database(&app).await;
    for value in [
        &details,
        &payout,
        &beneficiary,
        &contact,
        &donor,
        &donor_email,
        &note,
        &pledger,
        &pledger_email,
        &pledge_note,
        &comment,
        &internal,
        &reference,
        &outcome_reference,
        &withdrawal,
    ] {
        assert!(
            !everything.contains(value.as_str()),
            "{value} is stored in clear text"
        );
        // (Not even a part of it: the markers' random tails.)
        assert!(!everything.contains(&value[value.len() - 16..]));
    }
    // … nor how Mo is affected: every tier and every audit detail is sealed.
    for (table, column) in [("affectedness", "tier"), ("audit_records", "details")] {
        let stored = texts(&app, format!("SELECT {column} AS line FROM {table}")).await;
        assert!(!stored.is_empty(), "{table} has rows");
        for value in stored {
            assert!(
                value.starts_with("enc:v1:"),
                "{table}.{column} in clear: {value}"
            );
        }
    }

    // Those allowed still read all of it.
    let seen = app
        .get(&format!("{api}/requests/{request_id}"), &dev.token)
        .await
        .expect(200)
        .body;
    assert_eq!(seen["private"]["private_details"], details.as_str());
    assert_eq!(seen["private"]["payout_reference"], payout.as_str());
    assert_eq!(seen["private"]["beneficiary"]["name"], beneficiary.as_str());
    assert_eq!(seen["private"]["beneficiary"]["contact"], contact.as_str());
    let own = app
        .get(&format!("{api}/requests/{request_id}"), &cleo.token)
        .await
        .expect(200)
        .body;
    assert_eq!(own["private"]["private_details"], details.as_str());
    let withdrawn = app
        .get(&format!("{api}/requests/{other}"), &cleo.token)
        .await
        .expect(200)
        .body;
    assert_eq!(
        withdrawn["private"]["withdrawal_reason"],
        withdrawal.as_str()
    );
    let comments = app
        .get(&format!("{api}/requests/{request_id}/comments"), &dev.token)
        .await
        .expect(200)
        .body;
    let bodies: Vec<&str> = comments["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, [comment.as_str(), internal.as_str()]);
    let paid = app
        .get(
            &format!("{api}/requests/{request_id}/disbursements"),
            &dev.token,
        )
        .await
        .expect(200)
        .body;
    assert_eq!(paid[0]["external_reference"], outcome_reference.as_str());
    let gift = app
        .get(
            &format!("{api}/contributions/{}", contribution.id()),
            &admin.token,
        )
        .await
        .expect(200)
        .body;
    assert_eq!(gift["donor_name"], donor.as_str());
    assert_eq!(gift["donor_email"], donor_email.as_str());
    assert_eq!(gift["note"], note.as_str());
    let promise = app
        .get(&format!("{api}/pledges/{}", pledge.id()), &admin.token)
        .await
        .expect(200)
        .body;
    assert_eq!(promise["note"], pledge_note.as_str());
    let declared = app
        .get(
            &format!(
                "{api}/collectives/{collective}/members/{}/affectedness",
                mo.membership_id
            ),
            &cleo.token,
        )
        .await
        .expect(200)
        .body;
    assert!(declared.to_string().contains("indirect"), "{declared}");

    // The events feed shows the private parts to a reader allowed them.
    let feed = app
        .get(
            &format!("{api}/collectives/{collective}/events"),
            &admin.token,
        )
        .await
        .expect(200)
        .body
        .to_string();
    for value in [&details, &donor, &reference] {
        assert!(feed.contains(value.as_str()), "the feed shows {value}");
    }

    // A stored idempotent answer replays, opened.
    let key = uuid::Uuid::new_v4().to_string();
    let body = json!({"amount": "1.00", "method": "cash", "note": note});
    let first = app
        .post_keyed(
            &format!("{api}/pools/{pool}/contributions"),
            &admin.token,
            &key,
            body.clone(),
        )
        .await
        .expect(201);
    let again = app
        .post_keyed(
            &format!("{api}/pools/{pool}/contributions"),
            &admin.token,
            &key,
            body,
        )
        .await
        .expect(201);
    assert_eq!(first.body, again.body);
    assert_eq!(again.body["note"], note.as_str());

    assert!(app.verify().await.is_clean());
}

#[actix_rt::test]
async fn a_value_copied_to_another_row_does_not_decrypt_and_says_so() {
    let app = TestApp::spawn().await;
    let (collective, admin) = app.bootstrap("Tamper").await;
    let cleo = app.join(&collective, &admin, "coordinator").await;
    let pool = app.pool(&collective, &admin.token, "EUR").await;
    let ask = |details: &'static str| {
        json!({"amount": "10.00", "category": "rent", "urgency": "standard",
               "public_summary": "Rent", "private_details": details})
    };
    let mine = app
        .post(
            &format!("/api/v1/pools/{pool}/requests"),
            &cleo.token,
            ask("mine"),
        )
        .await
        .expect(201)
        .id();
    let theirs = app
        .post(
            &format!("/api/v1/pools/{pool}/requests"),
            &cleo.token,
            ask("theirs"),
        )
        .await
        .expect(201)
        .id();
    // Someone with the database copies one request's sealed details into
    // another's row.
    let copied = sql(
        &app,
        format!(
            "UPDATE aid_requests SET private_details = \
             (SELECT private_details FROM aid_requests WHERE id = '{theirs}') WHERE id = '{mine}'"
        ),
    )
    .await;
    assert_eq!(copied, 1);
    let answer = app
        .get(&format!("/api/v1/requests/{mine}"), &cleo.token)
        .await
        .expect_problem(500, "undecryptable");
    assert!(!answer.body.to_string().contains("theirs"));
    // The row it came from still reads.
    let intact = app
        .get(&format!("/api/v1/requests/{theirs}"), &cleo.token)
        .await
        .expect(200);
    assert_eq!(intact.body["private"]["private_details"], "theirs");
}

#[actix_rt::test]
async fn a_database_sealed_with_a_key_the_keyring_lacks_refuses_to_start() {
    let app = TestApp::spawn().await;
    let (collective, admin) = app.bootstrap("Keys").await;
    app.pool(&collective, &admin.token, "EUR").await;
    let other_key = commonpot::crypto::Key::generate();
    let mut settings = app.settings.clone();
    settings.encryption_keys = Some(other_key);
    let refused = commonpot::startup::Application::build(settings)
        .err()
        .expect("the service refuses to start")
        .to_string();
    assert!(refused.contains("lacks"), "{refused}");
    // With the old key kept beside the new one, it starts.
    let mut settings = app.settings.clone();
    settings.encryption_keys = Some(format!(
        "{}, {TEST_FIELD_KEY}",
        commonpot::crypto::Key::generate()
    ));
    assert!(commonpot::startup::Application::build(settings).is_ok());
}

#[actix_rt::test]
async fn clear_text_written_before_encryption_is_sealed_at_the_next_start() {
    let app = TestApp::spawn().await;
    let (collective, admin) = app.bootstrap("Legacy").await;
    let pool = app.pool(&collective, &admin.token, "EUR").await;
    let request = app
        .post(
            &format!("/api/v1/pools/{pool}/requests"),
            &admin.token,
            json!({"amount": "10.00", "category": "rent", "urgency": "standard",
                   "public_summary": "Rent", "private_details": "sealed"}),
        )
        .await
        .expect(201)
        .id();
    // As a database written by an earlier version would hold it.
    sql(
        &app,
        format!(
            "UPDATE aid_requests SET private_details = 'old clear text' WHERE id = '{request}'"
        ),
    )
    .await;
    let read = app
        .get(&format!("/api/v1/requests/{request}"), &admin.token)
        .await
        .expect(200);
    assert_eq!(read.body["private"]["private_details"], "old clear text");
    // The next start seals it (another replica starting does the same).
    let _replica = app.replica();
    let stored = texts(
        &app,
        format!("SELECT private_details AS line FROM aid_requests WHERE id = '{request}'"),
    )
    .await;
    assert!(stored[0].starts_with("enc:v1:"), "{}", stored[0]);
    let read: Value = app
        .get(&format!("/api/v1/requests/{request}"), &admin.token)
        .await
        .expect(200)
        .body;
    assert_eq!(read["private"]["private_details"], "old clear text");
}

#[actix_rt::test]
async fn rotating_the_key_under_load_loses_and_corrupts_nothing() {
    use commonpot::crypto::{keyring, rotate, sweep, Keyring};
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("fields.key");
    std::fs::write(&key_file, format!("{TEST_FIELD_KEY}\n")).unwrap();
    let file = key_file.clone();
    let app = TestApp::spawn_configured(move |s| {
        s.encryption_keys = None;
        s.encryption_key_file = file;
    })
    .await;
    let (collective, admin) = app.bootstrap("Rotation").await;
    let pool = app.pool(&collective, &admin.token, "EUR").await;
    let ask = |details: String| {
        json!({"amount": "10.00", "category": "rent", "urgency": "standard",
               "public_summary": "Rent", "private_details": details})
    };
    let mut expected: std::collections::BTreeMap<String, String> = Default::default();
    for i in 0..(sweep::BATCH + 20) {
        let details = format!("before rotation {i}");
        let id = app
            .post(
                &format!("/api/v1/pools/{pool}/requests"),
                &admin.token,
                ask(details.clone()),
            )
            .await
            .expect(201)
            .id();
        expected.insert(id, details);
    }
    let old = Keyring::read_file(&key_file).unwrap().primary().id.clone();

    // Steps 1 and 2: a new key, made primary; the service learns it.
    let new = rotate::add_key(&key_file).unwrap();
    assert_eq!(rotate::promote(&key_file, None).unwrap(), new);
    keyring::install_primary(&Keyring::read_file(&key_file).unwrap());

    // Step 3 while people keep writing: new requests, and amendments of
    // the very rows being re-encrypted.
    let db = app.db.clone();
    let sweeping = tokio::task::spawn_blocking(move || {
        let mut conn = db.get().expect("a connection");
        let swept = sweep::reencrypt(&mut conn, || {
            std::thread::sleep(std::time::Duration::from_millis(30))
        })
        .expect("re-encryption runs");
        sweep::checkpoint(&mut conn).expect("checkpoint");
        swept
    });
    let ids: Vec<String> = expected.keys().cloned().collect();
    for (n, id) in ids.iter().enumerate().step_by(7) {
        let details = format!("amended during rotation {n}");
        app.patch(
            &format!("/api/v1/requests/{id}"),
            &admin.token,
            json!({"private_details": details}),
        )
        .await
        .expect(200);
        expected.insert(id.clone(), details);
        let details = format!("asked during rotation {n}");
        let new_id = app
            .post(
                &format!("/api/v1/pools/{pool}/requests"),
                &admin.token,
                ask(details.clone()),
            )
            .await
            .expect(201)
            .id();
        expected.insert(new_id, details);
    }
    let swept = sweeping.await.unwrap();
    assert_eq!(swept.unreadable, 0);
    assert!(swept.sealed >= ids.len() / 2, "{swept:?}");

    // Every value decrypts, as last written; all under the new key.
    for (id, details) in &expected {
        let read = app
            .get(&format!("/api/v1/requests/{id}"), &admin.token)
            .await
            .expect(200);
        assert_eq!(read.body["private"]["private_details"], details.as_str());
    }
    let db = app.db.clone();
    let (census, in_use) = tokio::task::spawn_blocking(move || {
        let mut conn = db.get().unwrap();
        // A second pass finds nothing left (values written meanwhile were
        // sealed with the new primary already).
        let again = sweep::reencrypt(&mut conn, || {}).unwrap();
        assert_eq!(again.sealed, 0, "{again:?}");
        (
            sweep::census(&mut conn).unwrap(),
            sweep::keys_in_use(&mut conn).unwrap(),
        )
    })
    .await
    .unwrap();
    assert_eq!(census.keys().collect::<Vec<_>>(), [&new], "{census:?}");
    assert_eq!(
        in_use,
        std::slice::from_ref(&new),
        "the old key {old} is retired"
    );
    assert!(app.verify().await.is_clean());
}

#[actix_rt::test]
async fn a_closed_rounds_ballots_point_at_nobody_and_its_results_stand() {
    let s = crate::rounds::setup("100.00").await;
    let (ann, bea, cai) = (s.member().await, s.member().await, s.member().await);
    let eviction = s.issue("facing eviction").await;
    s.declare(&ann, json!([{"issue_id": eviction, "tier": "direct"}]))
        .await;
    s.declare(&bea, json!([{"issue_id": eviction, "tier": "supporter"}]))
        .await;
    let a = s.request(&ann, "60.00").await;
    let b = s.request(&bea, "50.00").await;
    let round = s
        .round(
            json!({"title": "Round", "budget": "100.00", "candidates": [a, b],
                      "ballot": {"type": "approval"}, "rule": "greedy",
                      "policy": {"direct": 3, "indirect": 2, "supporter": 1, "cap": 3,
                                 "no_declaration": 1, "count_unverified": true}}),
        )
        .await;
    s.step(&round, "open").await.expect(200);
    s.vote(&ann, &round, json!({"approve": [a]}))
        .await
        .expect(200);
    s.vote(&bea, &round, json!({"approve": [b]}))
        .await
        .expect(200);
    s.vote(&cai, &round, json!({"approve": [b]}))
        .await
        .expect(200);
    s.step(&round, "close").await.expect(200);

    // No ballot of the closed round names a member or a tier.
    let members = texts(&s.app, "SELECT id AS line FROM memberships".into()).await;
    let links = texts(
        &s.app,
        format!("SELECT membership_id || ' ' || id || ' ' || COALESCE(tier, '-') AS line FROM ballots WHERE round_id = '{round}'"),
    )
    .await;
    assert_eq!(links.len(), 3);
    for line in &links {
        let parts: Vec<&str> = line.split(' ').collect();
        assert_eq!(parts[0], parts[1], "a ballot names only itself: {line}");
        assert_eq!(parts[2], "-", "no tier: {line}");
        assert!(!members.iter().any(|m| m == parts[0]));
    }
    s.app
        .get(&format!("/api/v1/rounds/{round}/ballots/me"), &ann.token)
        .await
        .expect_problem(404, "not_found");

    // The result: ann's 3 on a, bea's 1 and cai's 1 on b: a first, then b
    // no longer fits; participation per tier as the weights were fixed.
    let result = s.step(&round, "tally").await.expect(200).body;
    let selected: Vec<&str> = result["selected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["request_id"].as_str().unwrap())
        .collect();
    assert_eq!(selected, [a.as_str()], "{result}");
    assert_eq!(result["total_weight"], 5);
    let tiers: Vec<(String, i64, i64)> = result["participation"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["tier"].as_str().unwrap().to_owned(),
                t["voters"].as_i64().unwrap(),
                t["total_weight"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        tiers,
        [
            ("direct".to_owned(), 1, 3),
            ("indirect".to_owned(), 0, 0),
            ("supporter".to_owned(), 1, 1),
            ("none".to_owned(), 1, 1)
        ]
    );
    let again = s
        .app
        .get(&format!("/api/v1/rounds/{round}/results"), &s.admin.token)
        .await
        .expect(200)
        .body;
    assert_eq!(again["participation"], result["participation"]);
}

/// `admin rotate-key --promote` as an operator runs it, on `url`.
fn promote_with_the_binary(url: &str, key_file: &std::path::Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_commonpot"))
        .args(["admin", "rotate-key", "--promote"])
        .env("DATABASE_URL", url)
        .env("COMMONPOT_ENCRYPTION_KEY_FILE", key_file)
        .env_remove("COMMONPOT_ENCRYPTION_KEYS")
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("the binary runs")
}

#[actix_rt::test]
async fn a_key_becomes_the_primary_only_once_every_running_replica_holds_it() {
    use commonpot::crypto::{holders, rotate, Keyring};
    // A running service says which keys it holds, at start.
    let app = TestApp::spawn().await;
    let db = app.db.clone();
    let announced = tokio::task::spawn_blocking(move || {
        let mut conn = db.get().unwrap();
        for _ in 0..100 {
            let now = commonpot::clock::now();
            if holders::lacking(&mut conn, "no-such-key", now)
                .unwrap()
                .iter()
                .any(|l| l.replica == holders::this_replica())
            {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        false
    })
    .await
    .unwrap();
    assert!(announced, "serve recorded the keys it holds");
    let test_key = Keyring::parse(TEST_FIELD_KEY, None)
        .unwrap()
        .primary()
        .id
        .clone();
    let db = app.db.clone();
    let held = tokio::task::spawn_blocking(move || {
        let mut conn = db.get().unwrap();
        holders::lacking(&mut conn, &test_key, commonpot::clock::now()).unwrap()
    })
    .await
    .unwrap();
    assert!(
        !held.iter().any(|l| l.replica == holders::this_replica()),
        "it holds the test key: {held:?}"
    );

    // Operators' view: a database three replicas announced to, one of
    // them long gone.
    let (_database, url) = crate::helpers::fresh_database();
    let db = commonpot::db::open(&commonpot::db::DatabaseUrl::parse(&url).unwrap(), 2).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("fields.key");
    std::fs::write(&key_file, format!("{TEST_FIELD_KEY}\n")).unwrap();
    let old = Keyring::read_file(&key_file).unwrap().primary().id.clone();
    let new = rotate::add_key(&key_file).unwrap();
    let file_before = std::fs::read_to_string(&key_file).unwrap();
    let now = commonpot::clock::now();
    {
        let mut conn = db.get().unwrap();
        let both = [old.clone(), new.clone()];
        holders::announce(&mut conn, "replica-a", &both, now).unwrap();
        holders::announce(&mut conn, "replica-b", std::slice::from_ref(&old), now).unwrap();
        let long_ago = now - chrono::TimeDelta::minutes(10);
        holders::announce(
            &mut conn,
            "replica-gone",
            std::slice::from_ref(&old),
            long_ago,
        )
        .unwrap();
    }
    let refused = promote_with_the_binary(&url, &key_file);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "promotion refused: {stderr}");
    assert!(
        stderr.contains("replica-b") && stderr.contains(&new),
        "{stderr}"
    );
    assert!(
        !stderr.contains("replica-a") && !stderr.contains("replica-gone"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(&key_file).unwrap(),
        file_before,
        "the key file is unchanged"
    );

    // replica-b reads the file again: now the key becomes the primary.
    {
        let mut conn = db.get().unwrap();
        let both = [old.clone(), new.clone()];
        holders::announce(&mut conn, "replica-b", &both, commonpot::clock::now()).unwrap();
    }
    let promoted = promote_with_the_binary(&url, &key_file);
    assert!(
        promoted.status.success(),
        "{}",
        String::from_utf8_lossy(&promoted.stderr)
    );
    assert_eq!(Keyring::read_file(&key_file).unwrap().primary().id, new);
}
