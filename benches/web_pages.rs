//! How fast the busiest pages render, and how much they weigh: the
//! coordinators' queue and a member's home on a collective with 1,000
//! requests and 500 members. A benchmark, not a test: it prints figures.
//!
//! `cargo bench --bench web_pages` (SQLite); with `TEST_DATABASE_URL` set,
//! on a fresh database of that PostgreSQL server. Each page is fetched over
//! HTTP from the real application (one client, one request at a time);
//! times are wall-clock from request sent to body read, on this machine.

use std::time::{Duration, Instant};

use commonpot::auth::access::Principal;
use commonpot::config::Settings;
use commonpot::startup::Application;

const MEMBERS: usize = 500;
const REQUESTS: usize = 1_000;
const SAMPLES: usize = 200;
const PASSWORD: &str = "correct horse battery staple";

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, run());
}

async fn run() {
    let dir = tempfile::tempdir().unwrap();
    let (url, pg) = match std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
    {
        Some(server) => {
            use diesel::{Connection, RunQueryDsl};
            let name = format!("cp_bench_{}", uuid::Uuid::new_v4().simple());
            let mut conn = diesel::PgConnection::establish(&server).unwrap();
            diesel::sql_query(format!("CREATE DATABASE {name}"))
                .execute(&mut conn)
                .unwrap();
            let base = server.rsplit_once('/').unwrap().0.to_owned();
            (format!("{base}/{name}"), Some((server, name)))
        }
        None => (
            format!("sqlite://{}", dir.path().join("bench.db").display()),
            None,
        ),
    };
    let settings = Settings {
        database_url: url,
        bind: "127.0.0.1:0".into(),
        jwt_secret: Some("bench-secret-bench-secret-bench-secret-0123".into()),
        ..Settings::default()
    };
    let app = Application::build(settings).unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    let db = app.db();
    actix_web::rt::spawn(app.run_until_stopped());

    let seeded = Instant::now();
    let seed_db = db.clone();
    let (collective, ada, pool, invitations) =
        tokio::task::spawn_blocking(move || invite_everyone(&seed_db))
            .await
            .unwrap();
    // Accepted over HTTP, as people do: a new account sets its password.
    let http = reqwest::Client::new();
    let mut members = Vec::new();
    for (email, token) in invitations {
        let accepted: serde_json::Value = http
            .post(format!("{base}/api/v1/invitations/accept"))
            .json(&serde_json::json!({"invitation_token": token, "password": PASSWORD}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let user_id = accepted["user_id"].as_str().expect("accepted").to_owned();
        members.push((email, Principal::User { user_id }));
    }
    let member_email = members[7].0.clone();
    let requests_pool = pool.clone();
    tokio::task::spawn_blocking(move || ask_for_help(&db, &ada, &requests_pool, &members))
        .await
        .unwrap();
    eprintln!(
        "seeded {MEMBERS} members and {REQUESTS} requests in {:.1?}",
        seeded.elapsed()
    );

    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let coordinator = sign_in(&client, &base, "ada@example.org").await;
    let member = sign_in(&client, &base, &member_email).await;
    let assets: usize = {
        let mut total = 0;
        for asset in ["/assets/app.css", "/assets/app.js", "/assets/icon.svg"] {
            total += client
                .get(format!("{base}{asset}"))
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap()
                .len();
        }
        total
    };
    println!(
        "backend: {}",
        if pg.is_some() { "PostgreSQL" } else { "SQLite" }
    );
    println!("page | p50 | p99 | max | HTML bytes | with assets");
    for (name, path, cookie) in [
        (
            "queue (coordinator)",
            format!("/c/{collective}/queue"),
            &coordinator,
        ),
        ("member home", "/".to_owned(), &member),
    ] {
        let mut times = Vec::with_capacity(SAMPLES);
        let mut bytes = 0;
        for i in 0..SAMPLES + 10 {
            let start = Instant::now();
            let response = client
                .get(format!("{base}{path}"))
                .header("cookie", cookie.as_str())
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "{path}");
            let body = response.bytes().await.unwrap();
            let took = start.elapsed();
            if i >= 10 {
                times.push(took);
            }
            bytes = body.len();
        }
        times.sort();
        println!(
            "{name} | {:.1?} | {:.1?} | {:.1?} | {bytes} | {}",
            percentile(&times, 0.5),
            percentile(&times, 0.99),
            times[times.len() - 1],
            bytes + assets
        );
    }
    if let Some((server, name)) = pg {
        use diesel::{Connection, RunQueryDsl};
        let mut conn = diesel::PgConnection::establish(&server).unwrap();
        let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut conn);
    }
}

async fn sign_in(client: &reqwest::Client, base: &str, email: &str) -> String {
    let page = client.get(format!("{base}/sign-in")).send().await.unwrap();
    let form_cookie = page
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let html = page.text().await.unwrap();
    let marker = r#"name="csrf" value=""#;
    let start = html.find(marker).unwrap() + marker.len();
    let csrf = &html[start..start + html[start..].find('"').unwrap()];
    let response = client
        .post(format!("{base}/sign-in"))
        .header("cookie", &form_cookie)
        .form(&[
            ("csrf", csrf),
            ("email", email),
            ("password", PASSWORD),
            ("next", "/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    response
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

/// An admin, a pool with a goal, and an invitation for each of 500 members.
fn invite_everyone(db: &commonpot::db::Db) -> (String, Principal, String, Vec<(String, String)>) {
    use commonpot::collectives::{self, NewInvitation};
    let mut conn = db.get().unwrap();
    let (collective, _) = collectives::service::bootstrap(
        &mut conn,
        "ada@example.org",
        "Ada",
        PASSWORD,
        "Northside",
        "Europe/Berlin",
    )
    .unwrap();
    let ada = Principal::User {
        user_id: collectives::store::find_user_by_email(&mut conn, "ada@example.org")
            .unwrap()
            .expect("the admin's account")
            .id,
    };
    let pool = commonpot::pools::service::create(
        &mut conn,
        &ada,
        &collective.id,
        serde_json::from_value(
            serde_json::json!({"name": "Rent relief", "currency": "EUR", "goal": "50000.00"}),
        )
        .unwrap(),
    )
    .unwrap();
    let mut invitations = Vec::new();
    for i in 0..MEMBERS {
        let email = format!("member{i}@example.org");
        let invitation = collectives::service::invite(
            &mut conn,
            &ada,
            &collective.id,
            NewInvitation {
                email: email.clone(),
                display_name: format!("Member {i}"),
                role: None,
            },
        )
        .unwrap();
        invitations.push((email, invitation.invitation_token));
    }
    (collective.id, ada, pool.id, invitations)
}

/// 1,000 requests spread over the members; a third taken into review.
fn ask_for_help(
    db: &commonpot::db::Db,
    ada: &Principal,
    pool: &str,
    members: &[(String, Principal)],
) {
    let mut conn = db.get().unwrap();
    for i in 0..REQUESTS {
        let (_, who) = &members[i % MEMBERS];
        let category = ["rent", "food", "medicine", "transport"][i % 4];
        let request = serde_json::json!({
            "amount": format!("{}.00", 20 + i % 400),
            "category": category,
            "urgency": if i % 10 == 0 { "emergency" } else { "standard" },
            "public_summary": format!("Request number {i}: help with the month"),
            "private_details": "private",
        });
        let created = commonpot::requests::service::create(
            &mut conn,
            who,
            pool,
            serde_json::from_value(request).unwrap(),
        )
        .unwrap();
        if i % 3 == 0 {
            commonpot::requests::service::take(
                &mut conn,
                ada,
                &created.id,
                Default::default(),
                None,
            )
            .unwrap();
        }
    }
}
