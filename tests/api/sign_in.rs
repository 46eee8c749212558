//! Sign-in against an attacker: the throttle is claimed before any password
//! is checked, on one server and across replicas; checking a password holds
//! no database connection; behind proxies the address they saw counts, not
//! what the client wrote; what the throttle and refresh tokens leave behind
//! is purged.

use std::sync::atomic::{AtomicUsize, Ordering};

use futures::future::join_all;
use reqwest::Method;
use serde_json::json;

use crate::helpers::{Answer, TestApp, PASSWORD};

fn statuses(answers: &[Answer]) -> (usize, usize, usize, usize) {
    let count = |code: u16| answers.iter().filter(|a| a.status == code).count();
    let (ok, wrong, refused) = (count(200), count(400), count(429));
    (ok, wrong, refused, answers.len() - ok - wrong - refused)
}

#[actix_rt::test]
async fn a_burst_of_parallel_guesses_gets_no_more_checks_than_the_limit() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.bootstrap("Northside").await;
    let max = app.settings.login_max_failures as usize;
    // Thirty wrong guesses and, in the middle, the right password.
    let attempts = (0..31).map(|i| {
        let password = match i {
            15 => PASSWORD.to_owned(),
            _ => format!("wrong guess number {i}"),
        };
        let (app, email) = (&app, admin.email.clone());
        async move { app.login(&email, &password).await }
    });
    let answers = join_all(attempts).await;
    let (ok, wrong, refused, other) = statuses(&answers);
    assert_eq!(other, 0, "only 200, 400 and 429: {answers:?}");
    assert!(
        wrong <= max,
        "{wrong} wrong passwords were checked; the limit is {max}"
    );
    assert!(ok <= 1);
    assert_eq!(ok + wrong + refused, 31);
    // The account is locked now, even for the right password.
    app.login(&admin.email, PASSWORD)
        .await
        .expect_oauth_error(429, "temporarily_unavailable");
}

#[actix_rt::test]
async fn replicas_sharing_a_database_share_one_throttle() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.bootstrap("Northside").await;
    let replicas = [app.replica(), app.replica()];
    let instances = [&app, &replicas[0], &replicas[1]];
    let max = app.settings.login_max_failures as usize;
    let attempts = (0..30).map(|i| {
        let (instance, email) = (instances[i % 3], admin.email.clone());
        async move {
            instance
                .login(&email, &format!("wrong guess number {i}"))
                .await
        }
    });
    let answers = join_all(attempts).await;
    let (ok, wrong, refused, other) = statuses(&answers);
    assert_eq!((ok, other), (0, 0), "{answers:?}");
    assert!(
        wrong <= max,
        "{wrong} guesses were checked across three replicas; the limit is {max}"
    );
    assert_eq!(wrong + refused, 30);
    for instance in instances {
        instance
            .login(&admin.email, PASSWORD)
            .await
            .expect_oauth_error(429, "temporarily_unavailable");
    }
}

#[actix_rt::test]
async fn people_signing_in_correctly_from_one_address_never_lock_it() {
    let app = TestApp::spawn().await;
    let (collective, admin) = app.bootstrap("Northside").await;
    let member = app.join(&collective, &admin, "member").await;
    // Far more sign-ins from this one address than its failure limit.
    let per_address = app.settings.login_max_failures as usize * 4;
    for _ in 0..per_address {
        app.login(&admin.email, PASSWORD).await.expect(200);
        app.login(&member.email, PASSWORD).await.expect(200);
    }
    // A typo counts, and does not stop anyone else.
    app.login(&member.email, "a typo in the password")
        .await
        .expect_oauth_error(400, "invalid_grant");
    app.login(&admin.email, PASSWORD).await.expect(200);
}

#[actix_rt::test]
async fn checking_passwords_holds_no_database_connection() {
    // One connection: were it held while a password is checked, every other
    // request would wait behind the sign-ins in flight.
    let app = TestApp::spawn_configured(|s| s.db_pool_size = 1).await;
    // Every password check of the process waits while the test holds all
    // the slots (briefly: other tests' sign-ins only wait).
    use commonpot::auth::password::{hashing_slot_count, hashing_slots};
    let held = hashing_slots()
        .acquire_many(hashing_slot_count() as u32)
        .await
        .unwrap();
    let finished = AtomicUsize::new(0);
    let sign_ins = (0..16).map(|i| {
        let (app, finished) = (&app, &finished);
        async move {
            app.login(&format!("nobody{i}@example.org"), "not anyone's password")
                .await
                .expect_oauth_error(400, "invalid_grant");
            finished.fetch_add(1, Ordering::SeqCst);
        }
    });
    // Readiness asks the database, one probe after the other, while all
    // sixteen sign-ins wait to check their passwords.
    let probes = async {
        for _ in 0..5 {
            app.send(Method::GET, "/readyz", None, None)
                .await
                .expect(200);
        }
        let finished_before = finished.load(Ordering::SeqCst);
        drop(held);
        finished_before
    };
    let (_, finished_before_probes) = futures::join!(join_all(sign_ins), probes);
    assert_eq!(
        finished_before_probes, 0,
        "no password was checked, yet the probes were answered"
    );
    assert_eq!(finished.load(Ordering::SeqCst), 16);
}

#[actix_rt::test]
async fn behind_a_proxy_the_address_it_saw_counts_not_what_the_client_wrote() {
    let app = TestApp::spawn_configured(|s| s.trust_forwarded_for = true).await;
    let (_, admin) = app.bootstrap("Northside").await;
    // The client forges a new leftmost entry each time; the proxy appends
    // the address it really saw.
    for i in 0..app.settings.login_max_failures * 4 {
        app.login_via(
            &format!("198.51.100.{i}, 203.0.113.7"),
            &format!("guess{i}@example.org"),
            "wrong password!",
        )
        .await
        .expect_oauth_error(400, "invalid_grant");
    }
    app.login_via("192.0.2.99, 203.0.113.7", &admin.email, PASSWORD)
        .await
        .expect_oauth_error(429, "temporarily_unavailable");
    // Someone else behind the same proxy is not held up.
    app.login_via("203.0.113.7, 198.51.100.250", &admin.email, PASSWORD)
        .await
        .expect(200);
}

#[actix_rt::test]
async fn behind_two_proxies_the_outer_ones_view_counts() {
    let app = TestApp::spawn_configured(|s| {
        s.trust_forwarded_for = true;
        s.trusted_proxies = 2;
    })
    .await;
    let (_, admin) = app.bootstrap("Northside").await;
    for i in 0..app.settings.login_max_failures * 4 {
        app.login_via(
            &format!("198.51.100.{i}, 203.0.113.7, 10.0.0.{i}"),
            &format!("guess{i}@example.org"),
            "wrong password!",
        )
        .await
        .expect_oauth_error(400, "invalid_grant");
    }
    app.login_via("203.0.113.7, 10.0.0.1", &admin.email, PASSWORD)
        .await
        .expect_oauth_error(429, "temporarily_unavailable");
    app.login_via("203.0.113.8, 10.0.0.1", &admin.email, PASSWORD)
        .await
        .expect(200);
}

#[actix_rt::test]
async fn throttle_counters_and_expired_refresh_tokens_are_purged() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.bootstrap("Northside").await;
    app.login("ghost@example.org", "wrong password!")
        .await
        .expect_oauth_error(400, "invalid_grant");
    app.login(&admin.email, "wrong password!")
        .await
        .expect_oauth_error(400, "invalid_grant");
    let refresh = app.login(&admin.email, PASSWORD).await.expect(200).body["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let counters = app.count("login_throttle").await;
    let tokens = app.count("refresh_tokens").await;
    assert!(counters >= 3 && tokens >= 2, "{counters} {tokens}");

    let purge_at = |seconds_from_now: u64| {
        let (db, settings) = (app.db.clone(), app.settings.clone());
        async move {
            tokio::task::spawn_blocking(move || {
                let mut conn = db.get().unwrap();
                let at =
                    commonpot::ids::now() + chrono::TimeDelta::seconds(seconds_from_now as i64);
                commonpot::auth::service::purge_expired(&mut conn, &settings, at).unwrap()
            })
            .await
            .unwrap()
        }
    };
    // Now: everything still says something.
    let purged = purge_at(0).await;
    assert_eq!((purged.throttle_counters, purged.refresh_tokens), (0, 0));
    // Once the window is over, the counters go; the tokens stay.
    let purged = purge_at(app.settings.login_window_secs + 1).await;
    assert_eq!(purged.throttle_counters as i64, counters);
    assert_eq!(purged.refresh_tokens, 0);
    assert_eq!(app.count("login_throttle").await, 0);
    app.send(
        Method::POST,
        "/api/v1/auth/token",
        None,
        Some(json!({"grant_type": "refresh_token", "refresh_token": refresh})),
    )
    .await
    .expect(200);
    // Past their expiry, the refresh tokens go too.
    let purged = purge_at(app.settings.refresh_token_ttl_secs + 1).await;
    assert!(purged.refresh_tokens as i64 > tokens);
    assert_eq!(app.count("refresh_tokens").await, 0);
}
