//! `commonpot demo`: a populated collective through the services, readable
//! through the API as a real group's would be; a second run refuses and
//! changes nothing.

use serde_json::{json, Value};

use crate::helpers::TestApp;
use crate::web::Browser;

fn commonpot(args: &[&str], database_url: &str) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_commonpot"))
        .args(args)
        .env("DATABASE_URL", database_url)
        // The key the test service sealed private fields with (#24).
        .env("COMMONPOT_ENCRYPTION_KEYS", crate::helpers::TEST_FIELD_KEY)
        .output()
        .expect("the binary runs")
}

/// The printed account of `role`: (email, password).
fn account(report: &str, role: &str) -> (String, String) {
    report
        .lines()
        .map(str::split_whitespace)
        .find_map(|mut words| {
            if words.next() != Some(role) {
                return None;
            }
            Some((words.next()?.to_owned(), words.next()?.to_owned()))
        })
        .unwrap_or_else(|| panic!("no {role} account in:\n{report}"))
}

/// Every item of a paged list.
async fn all(app: &TestApp, path: &str, token: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let sep = if path.contains('?') { '&' } else { '?' };
        let page = match &cursor {
            Some(c) => format!("{path}{sep}limit=200&cursor={c}"),
            None => format!("{path}{sep}limit=200"),
        };
        let body = app.get(&page, token).await.expect(200).body;
        items.extend(body["items"].as_array().cloned().unwrap_or_default());
        match body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return items,
        }
    }
}

/// Rows per table: what a refused run must leave as it was.
async fn fingerprint(app: &TestApp) -> Vec<(String, i64)> {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let db = app.db.clone();
    tokio::task::spawn_blocking(move || {
        let mut conn = db.get().unwrap();
        [
            "collectives",
            "users",
            "memberships",
            "clients",
            "audit_records",
            "pools",
            "ledger_entries",
            "ledger_postings",
            "contributions",
            "holds",
            "disbursements",
            "aid_requests",
            "request_comments",
            "events",
            "issues",
            "affectedness",
            "rounds",
            "ballots",
            "pledges",
            "pledge_installments",
        ]
        .into_iter()
        .map(|table| {
            let count: Count = diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}"))
                .get_result(&mut **conn)
                .unwrap();
            (table.to_owned(), count.n)
        })
        .collect()
    })
    .await
    .unwrap()
}

#[actix_rt::test]
async fn the_demo_builds_a_living_collective_and_a_second_run_changes_nothing() {
    let app = TestApp::spawn().await;
    let url = app.settings.database_url.clone();
    let made = commonpot(&["demo", "--seed", "7"], &url);
    let report = String::from_utf8_lossy(&made.stdout).into_owned();
    assert!(
        made.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&made.stderr)
    );
    assert!(report.contains("http://127.0.0.1:8080/"), "{report}");

    let (admin_email, admin_password) = account(&report, "admin");
    let admin = app
        .login(&admin_email, &admin_password)
        .await
        .expect(200)
        .body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    for role in ["coordinator", "member"] {
        let (email, password) = account(&report, role);
        app.login(&email, &password).await.expect(200);
    }

    let collectives = all(&app, "/api/v1/collectives", &admin).await;
    assert_eq!(collectives.len(), 1);
    assert_eq!(collectives[0]["demo"], true, "marked as demo data");
    let collective = collectives[0]["id"].as_str().unwrap().to_owned();
    let base = format!("/api/v1/collectives/{collective}");

    // People: admin, 3 coordinators, 40 members, all active.
    let members = all(&app, &format!("{base}/members"), &admin).await;
    let roles = |role: &str| members.iter().filter(|m| m["role"] == role).count();
    assert_eq!(
        (roles("admin"), roles("coordinator"), roles("member")),
        (1, 3, 40)
    );
    assert!(members.iter().all(|m| m["status"] == "active"));

    // Requests: 60, in every state.
    let counts = app
        .get(&format!("{base}/requests/counts"), &admin)
        .await
        .expect(200)
        .body["counts"]
        .clone();
    let counts = counts.as_object().unwrap();
    assert_eq!(counts.len(), 11, "{counts:?}");
    assert!(counts.values().all(|n| n.as_i64() > Some(0)), "{counts:?}");
    let total: i64 = counts.values().filter_map(Value::as_i64).sum();
    assert_eq!(total, 60);

    // Pools in three currencies, with goals and rules.
    let pools = all(&app, &format!("{base}/pools"), &admin).await;
    let mut currencies: Vec<&str> = pools
        .iter()
        .map(|p| p["currency"].as_str().unwrap())
        .collect();
    currencies.sort_unstable();
    assert_eq!(currencies, ["EUR", "JPY", "USD"]);
    assert!(pools.iter().all(|p| p["goal"].is_string()));

    // Money in: cash and card with fees, one refund, one chargeback; pledges
    // kept, running and lapsed.
    let mut contributions = Vec::new();
    let mut pledges = Vec::new();
    for pool in &pools {
        let id = pool["id"].as_str().unwrap();
        contributions.extend(all(&app, &format!("/api/v1/pools/{id}/contributions"), &admin).await);
        pledges.extend(all(&app, &format!("/api/v1/pools/{id}/pledges"), &admin).await);
    }
    let method = |m: &str| contributions.iter().any(|c| c["method"] == m);
    assert!(method("cash") && method("card") && method("bank_transfer"));
    assert!(contributions
        .iter()
        .any(|c| c["method"] == "card" && c["fee"] != "0.00"));
    let refunded: Vec<&Value> = contributions
        .iter()
        .filter(|c| c["status"] == "refunded")
        .collect();
    assert_eq!(refunded.len(), 2, "one refund and one chargeback");
    assert_eq!(
        refunded
            .iter()
            .filter(|c| c["dispute_fees"] != "0.00")
            .count(),
        1
    );
    for status in ["fulfilled", "active", "lapsed"] {
        assert!(
            pledges.iter().any(|p| p["status"] == status),
            "a {status} pledge"
        );
    }
    for frequency in ["once", "weekly", "monthly"] {
        assert!(pledges.iter().any(|p| p["frequency"] == frequency));
    }

    // One round enacted with weighted ballots, one open now.
    let rounds = app
        .get(&format!("{base}/rounds"), &admin)
        .await
        .expect(200)
        .body;
    let rounds = rounds
        .as_array()
        .or_else(|| rounds["items"].as_array())
        .cloned()
        .unwrap();
    let enacted = rounds.iter().find(|r| r["phase"] == "enacted").unwrap();
    assert!(rounds.iter().any(|r| r["phase"] == "open"));
    assert_eq!(enacted["rule"], "mes-add1");
    let results = app
        .get(
            &format!("/api/v1/rounds/{}/results", enacted["id"].as_str().unwrap()),
            &admin,
        )
        .await
        .expect(200)
        .body;
    assert!(!results["selected"].as_array().unwrap().is_empty());
    assert!(
        results["total_weight"].as_i64() > results["voters"].as_i64(),
        "weighted: {results}"
    );

    // The partner app reads its events.
    let clients = all(&app, &format!("{base}/clients"), &admin).await;
    assert_eq!(clients.len(), 1);
    let words: Vec<&str> = report
        .lines()
        .find(|l| l.starts_with("Partner app"))
        .unwrap()
        .split_whitespace()
        .collect();
    let after = |key: &str| words[words.iter().position(|w| *w == key).unwrap() + 1];
    let token = app
        .send(
            reqwest::Method::POST,
            "/api/v1/auth/token",
            None,
            Some(json!({
                "grant_type": "client_credentials",
                "client_id": after("client_id"),
                "client_secret": after("client_secret"),
            })),
        )
        .await
        .expect(200)
        .body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let events = app
        .get(&format!("{base}/events?limit=200"), &token)
        .await
        .expect(200)
        .body;
    assert!(
        events["items"]
            .as_array()
            .is_some_and(|items| items.len() > 10),
        "{events}"
    );

    // The pages say it is demo data.
    let (email, password) = account(&report, "member");
    let mut browser = Browser::new(&app);
    browser
        .submit(
            "/sign-in",
            "/sign-in",
            &[("email", &email), ("password", &password), ("next", "/")],
        )
        .await
        .expect(303);
    let home = browser.get("/").await.expect(200);
    assert!(home.html.contains("demo-banner"), "{}", home.html);
    // Every page of the collective, for each role, and its public pages
    // without signing in.
    let (email, password) = account(&report, "coordinator");
    let mut coordinator = Browser::new(&app);
    coordinator
        .submit(
            "/sign-in",
            "/sign-in",
            &[("email", &email), ("password", &password), ("next", "/")],
        )
        .await
        .expect(303);
    let request = all(&app, &format!("{base}/requests"), &admin).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let enacted_id = enacted["id"].as_str().unwrap();
    for path in [
        "/".to_owned(),
        format!("/c/{collective}/queue"),
        format!("/c/{collective}/members"),
        format!("/requests/{request}"),
        format!("/rounds/{enacted_id}"),
    ] {
        let page = coordinator.get(&path).await.expect(200);
        assert!(page.html.contains("demo-banner"), "{path}: {}", page.html);
    }
    let public: Vec<&Value> = pools.iter().filter(|p| p["public"] == true).collect();
    assert!(!public.is_empty());
    let mut anonymous = Browser::new(&app);
    for pool in public {
        let id = pool["id"].as_str().unwrap();
        let page = anonymous
            .get(&format!("/public/pools/{id}"))
            .await
            .expect(200);
        assert!(page.html.contains("demo-banner"), "{}", page.html);
        let summary = app
            .send(
                reqwest::Method::GET,
                &format!("/api/v1/pools/{id}/summary"),
                None,
                None,
            )
            .await
            .expect(200)
            .body;
        assert_eq!(summary["demo"], true, "{summary}");
    }

    // The ledger holds.
    let verified = commonpot(&["verify"], &url);
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stdout)
    );

    // A second run refuses and changes nothing.
    let before = fingerprint(&app).await;
    let again = commonpot(&["demo", "--seed", "7"], &url);
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already holds a collective"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert_eq!(fingerprint(&app).await, before);
}

#[actix_rt::test]
async fn a_real_collective_is_not_marked_as_demo() {
    let app = TestApp::spawn().await;
    let (collective, admin) = app.bootstrap("Northside").await;
    let read = app
        .get(&format!("/api/v1/collectives/{collective}"), &admin.token)
        .await
        .expect(200);
    assert_eq!(read.body["demo"], false);
    let mut browser = Browser::new(&app);
    browser.sign_in(&admin.email).await.expect(303);
    let home = browser.get("/").await.expect(200);
    assert!(!home.html.contains("demo-banner"));
    let pool = app
        .send(
            reqwest::Method::POST,
            &format!("/api/v1/collectives/{collective}/pools"),
            Some(admin.token.as_str()),
            Some(json!({"name": "Rent", "currency": "EUR", "public": true})),
        )
        .await
        .expect(201)
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let page = Browser::new(&app)
        .get(&format!("/public/pools/{pool}"))
        .await
        .expect(200);
    assert!(!page.html.contains("demo-banner"), "{}", page.html);
    let summary = app
        .send(
            reqwest::Method::GET,
            &format!("/api/v1/pools/{pool}/summary"),
            None,
            None,
        )
        .await
        .expect(200)
        .body;
    assert_eq!(summary["demo"], false, "{summary}");
}
