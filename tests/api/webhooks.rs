//! Webhooks (#19): endpoints, their secrets and the request-forgery rules.
//! No test here opens a connection to anything but 127.0.0.1: names are
//! resolved by an injected table, and refused addresses are refused before
//! any connection.

use std::net::IpAddr;
use std::sync::Arc;

use base64::Engine;
use commonpot::webhooks::ssrf::StaticLookup;
use serde_json::{json, Value};

use crate::helpers::TestApp;

/// Names the tests' resolver knows. `partner.example` maps to a public
/// address: it is used only where the delivery worker is off, so nothing
/// ever connects to it.
fn lookup() -> Arc<StaticLookup> {
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    Arc::new(StaticLookup(vec![
        ("partner.example".into(), vec![ip("93.184.215.14")]),
        ("internal.example".into(), vec![ip("10.1.2.3")]),
        ("metadata.example".into(), vec![ip("169.254.169.254")]),
        (
            "mixed.example".into(),
            vec![ip("93.184.215.14"), ip("192.168.0.10")],
        ),
        ("mapped.example".into(), vec![ip("::ffff:10.0.0.1")]),
        ("localhost".into(), vec![ip("127.0.0.1"), ip("::1")]),
    ]))
}

/// An app whose delivery worker is off: endpoints here point at names
/// that must never be contacted.
async fn app_without_delivery() -> TestApp {
    TestApp::spawn_resolving(|s| s.webhooks_deliver = false, lookup()).await
}

fn hooks(collective: &str) -> String {
    format!("/api/v1/collectives/{collective}/webhooks")
}

async fn register(
    app: &TestApp,
    collective: &str,
    token: &str,
    body: Value,
) -> crate::helpers::Answer {
    app.post(&hooks(collective), token, body).await
}

#[actix_rt::test]
async fn an_endpoint_gets_a_secret_shown_once_and_partners_see_only_their_own() {
    let app = app_without_delivery().await;
    let (collective, admin) = app.bootstrap("Northside").await;
    let (a_token, a_id, _) = app
        .partner(&collective, &admin, &["webhooks:manage", "events:read"])
        .await;
    let (b_token, b_id, _) = app.partner(&collective, &admin, &["webhooks:manage"]).await;

    // An admin registers one for app A.
    let created = register(
        &app,
        &collective,
        &admin.token,
        json!({"client_id": a_id, "url": "https://partner.example/hooks",
               "event_types": ["request.*", "disbursement.paid"], "description": "A's"}),
    )
    .await
    .expect(201);
    let secret = created.body["secret"].as_str().unwrap();
    let key = secret.strip_prefix("whsec_").expect("whsec_ prefix");
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(key)
            .unwrap()
            .len(),
        32
    );
    assert_eq!(created.body["status"], "enabled");
    assert_eq!(created.body["client_id"], a_id.as_str());
    assert_eq!(
        created.body["event_types"],
        json!(["request.*", "disbursement.paid"])
    );
    let a_endpoint = created.id();

    // App B registers its own, naming nobody.
    let b_endpoint = register(
        &app,
        &collective,
        &b_token,
        json!({"url": "https://partner.example/b", "event_types": ["*"]}),
    )
    .await
    .expect(201);
    assert_eq!(b_endpoint.body["client_id"], b_id.as_str());
    let b_endpoint = b_endpoint.id();

    // The secret is never shown again.
    let read = app
        .get(
            &format!("{}/{a_endpoint}", hooks(&collective)),
            &admin.token,
        )
        .await
        .expect(200);
    assert!(read.body.get("secret").is_none());
    assert_eq!(read.header("etag"), Some("\"1\""));

    // Each app sees only its own; the admin sees both.
    let listed = |token: String| {
        let (app, path) = (&app, hooks(&collective));
        async move {
            app.get(&path, &token).await.expect(200).body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(listed(b_token.clone()).await, vec![b_endpoint.clone()]);
    assert_eq!(listed(a_token.clone()).await, vec![a_endpoint.clone()]);
    assert_eq!(listed(admin.token.clone()).await.len(), 2);
    // Another app's endpoint does not exist for B, whatever B tries.
    app.get(&format!("{}/{a_endpoint}", hooks(&collective)), &b_token)
        .await
        .expect_problem(404, "not_found");
    app.patch(
        &format!("{}/{a_endpoint}", hooks(&collective)),
        &b_token,
        json!({"url": "https://partner.example/stolen"}),
    )
    .await
    .expect_problem(404, "not_found");
    app.post(
        &format!("{}/{a_endpoint}/rotate-secret", hooks(&collective)),
        &b_token,
        json!({}),
    )
    .await
    .expect_problem(404, "not_found");
    register(
        &app,
        &collective,
        &b_token,
        json!({"client_id": a_id, "url": "https://partner.example/b2", "event_types": ["*"]}),
    )
    .await
    .expect_problem(404, "not_found");
    // An admin must say whose endpoint it is; event types must exist.
    register(
        &app,
        &collective,
        &admin.token,
        json!({"url": "https://partner.example/x", "event_types": ["*"]}),
    )
    .await
    .expect_problem(422, "validation_failed");
    register(
        &app,
        &collective,
        &b_token,
        json!({"url": "https://partner.example/x", "event_types": ["nothing.*"]}),
    )
    .await
    .expect_problem(422, "validation_failed");
    // Without the scope, a partner app may not.
    let (plain, _, _) = app.partner(&collective, &admin, &["events:read"]).await;
    register(
        &app,
        &collective,
        &plain,
        json!({"url": "https://partner.example/x", "event_types": ["*"]}),
    )
    .await
    .expect_problem(403, "insufficient_scope");
}

#[actix_rt::test]
async fn urls_that_reach_internal_addresses_are_refused_at_registration() {
    let app = app_without_delivery().await;
    let (collective, admin) = app.bootstrap("Northside").await;
    let (_, client, _) = app.partner(&collective, &admin, &["requests:read"]).await;
    let refused = [
        "https://10.0.0.1/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://127.0.0.1/hook",
        "https://[::1]/hook",
        "https://[::ffff:10.0.0.1]/hook",
        "https://[::ffff:a9fe:a9fe]/hook",
        "https://[fd00:ec2::254]/",
        "https://[fe80::1]/",
        "https://0x7f000001/",
        "https://internal.example/hook",
        "https://metadata.example/hook",
        "https://mixed.example/hook",
        "https://mapped.example/hook",
        "https://localhost/hook",
        "https://nowhere.example/hook",
        "http://partner.example/hook",
        "https://user:pw@partner.example/hook",
    ];
    for url in refused {
        register(
            &app,
            &collective,
            &admin.token,
            json!({"client_id": client, "url": url, "event_types": ["*"]}),
        )
        .await
        .expect_problem(403, "webhook_url_not_allowed");
    }
    register(
        &app,
        &collective,
        &admin.token,
        json!({"client_id": client, "url": "not a url", "event_types": ["*"]}),
    )
    .await
    .expect_problem(422, "validation_failed");
    assert_eq!(app.count("webhook_endpoints").await, 0);

    // A registered endpoint cannot be moved to a refused URL either.
    let endpoint = register(
        &app,
        &collective,
        &admin.token,
        json!({"client_id": client, "url": "https://partner.example/ok", "event_types": ["*"]}),
    )
    .await
    .expect(201)
    .id();
    app.patch(
        &format!("{}/{endpoint}", hooks(&collective)),
        &admin.token,
        json!({"url": "https://internal.example/x"}),
    )
    .await
    .expect_problem(403, "webhook_url_not_allowed");
    let read = app
        .get(&format!("{}/{endpoint}", hooks(&collective)), &admin.token)
        .await
        .expect(200);
    assert_eq!(read.body["url"], "https://partner.example/ok");
}

#[actix_rt::test]
async fn the_allow_list_and_plain_http_are_for_configured_services_only() {
    let app = TestApp::spawn_resolving(
        |s| {
            s.webhooks_deliver = false;
            s.webhooks_allow_http = true;
            s.webhooks_allowed_networks = vec!["127.0.0.1/32".into()];
        },
        lookup(),
    )
    .await;
    let (collective, admin) = app.bootstrap("Northside").await;
    let (_, client, _) = app.partner(&collective, &admin, &["requests:read"]).await;
    for (url, status) in [
        ("http://127.0.0.1:9/hook", 201),
        ("http://partner.example/hook", 201),
        ("http://127.0.0.2/hook", 403),
        ("http://10.0.0.1/hook", 403),
        // localhost resolves to ::1 too, which is not allow-listed.
        ("http://localhost/hook", 403),
    ] {
        register(
            &app,
            &collective,
            &admin.token,
            json!({"client_id": client, "url": url, "event_types": ["*"], "enabled": false}),
        )
        .await
        .expect(status);
    }
}

async fn events_of(app: &TestApp, collective: &str, token: &str) -> Vec<Value> {
    app.get(&format!("/api/v1/collectives/{collective}/events"), token)
        .await
        .expect(200)
        .body["items"]
        .as_array()
        .unwrap()
        .clone()
}

#[actix_rt::test]
async fn rotation_keeps_the_previous_secret_for_the_grace_period_and_endpoint_events_are_admins_only(
) {
    let app = TestApp::spawn_resolving(
        |s| {
            s.webhooks_deliver = false;
            s.webhooks_rotation_grace_secs = 3600;
        },
        lookup(),
    )
    .await;
    let (collective, admin) = app.bootstrap("Northside").await;
    let (token, _, _) = app
        .partner(&collective, &admin, &["webhooks:manage", "events:read"])
        .await;
    let created = register(
        &app,
        &collective,
        &token,
        json!({"url": "https://partner.example/hooks", "event_types": ["*"]}),
    )
    .await
    .expect(201);
    let id = created.id();
    assert_eq!(created.body["previous_secret_expires_at"], Value::Null);
    let rotated = app
        .post(
            &format!("{}/{id}/rotate-secret", hooks(&collective)),
            &token,
            json!({}),
        )
        .await
        .expect(200);
    assert_ne!(rotated.body["secret"], created.body["secret"]);
    let until: chrono::DateTime<chrono::Utc> = rotated.body["previous_secret_expires_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let left = until - chrono::Utc::now();
    assert!(
        left > chrono::TimeDelta::seconds(3500) && left <= chrono::TimeDelta::seconds(3600),
        "{left}"
    );

    // Disabled by hand: the reason says by whom, and an event says so —
    // to admins. Endpoint events name an app's URL: no partner app reads
    // them, not even the app itself.
    let disabled = app
        .patch(
            &format!("{}/{id}", hooks(&collective)),
            &token,
            json!({"enabled": false}),
        )
        .await
        .expect(200);
    assert_eq!(disabled.body["status"], "disabled");
    assert!(disabled.body["disabled_reason"]
        .as_str()
        .unwrap()
        .starts_with("disabled by client"));
    let kinds: Vec<String> = events_of(&app, &collective, &admin.token)
        .await
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .filter(|t| t.starts_with("webhook_endpoint."))
        .collect();
    assert_eq!(
        kinds,
        [
            "webhook_endpoint.created",
            "webhook_endpoint.secret_rotated",
            "webhook_endpoint.disabled"
        ]
    );
    let seen_by_partner = events_of(&app, &collective, &token).await;
    assert!(
        seen_by_partner.iter().all(|e| !e["type"]
            .as_str()
            .unwrap()
            .starts_with("webhook_endpoint.")
            && !e.to_string().contains("partner.example")),
        "{seen_by_partner:?}"
    );
}
