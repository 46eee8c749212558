//! Webhook delivery (#19): a real receiver on 127.0.0.1 (allow-listed by
//! the configuration) verifies every message with an independent Standard
//! Webhooks implementation, the `standardwebhooks` crate. Nothing here
//! connects to anything but 127.0.0.1: refused addresses are refused before
//! any connection is made, and names resolve through an injected table.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use commonpot::config::Settings;
use commonpot::webhooks::ssrf::{Lookup, LookupFuture};
use serde_json::{json, Value};

use crate::helpers::{Person, TestApp};

/// What the receiver answers to the next message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    Status(u16),
    /// Never answers (until the test ends).
    Hang,
}

/// One message as the receiver got it.
#[derive(Debug, Clone)]
pub struct Got {
    pub headers: http1::HeaderMap,
    pub body: Vec<u8>,
    pub reply: Reply,
}

impl Got {
    pub fn id(&self) -> String {
        self.headers["webhook-id"].to_str().unwrap().to_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    pub fn kind(&self) -> String {
        self.json()["type"].as_str().unwrap().to_owned()
    }

    /// Whether `secret` verifies it, by the independent implementation.
    pub fn verifies_with(&self, secret: &str) -> bool {
        standardwebhooks::Webhook::new(secret)
            .expect("a whsec_ secret")
            .verify(&self.body, &self.headers)
            .is_ok()
    }
}

#[derive(Default)]
pub struct Inbox {
    got: Mutex<Vec<Got>>,
    script: Mutex<VecDeque<Reply>>,
}

async fn receive(request: HttpRequest, body: web::Bytes, inbox: web::Data<Inbox>) -> HttpResponse {
    let mut headers = http1::HeaderMap::new();
    for (name, value) in request.headers() {
        headers.append(
            http1::HeaderName::from_bytes(name.as_str().as_bytes()).unwrap(),
            http1::HeaderValue::from_bytes(value.as_bytes()).unwrap(),
        );
    }
    let reply = inbox
        .script
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or(Reply::Status(200));
    inbox.got.lock().unwrap().push(Got {
        headers,
        body: body.to_vec(),
        reply,
    });
    match reply {
        Reply::Status(code) => {
            HttpResponse::build(actix_web::http::StatusCode::from_u16(code).unwrap())
                .body(format!("receiver says {code}"))
        }
        Reply::Hang => {
            actix_web::rt::time::sleep(Duration::from_secs(3600)).await;
            HttpResponse::Ok().finish()
        }
    }
}

/// An HTTP server on 127.0.0.1 that records what it receives.
pub struct Receiver {
    pub port: u16,
    pub inbox: web::Data<Inbox>,
    handle: Option<actix_web::dev::ServerHandle>,
}

impl Receiver {
    pub fn start() -> Self {
        Self::start_on(0, web::Data::new(Inbox::default()))
    }

    fn start_on(port: u16, inbox: web::Data<Inbox>) -> Self {
        let data = inbox.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .default_service(web::to(receive))
        })
        .workers(1)
        .disable_signals()
        .shutdown_timeout(0)
        .bind(("127.0.0.1", port))
        .expect("the receiver binds");
        let port = server.addrs()[0].port();
        let server = server.run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        Self {
            port,
            inbox,
            handle: Some(handle),
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    /// Answers the next messages so (then 200s).
    pub fn script(&self, replies: &[Reply]) {
        self.inbox.script.lock().unwrap().extend(replies);
    }

    /// Forgets the replies not yet given (then 200s).
    pub fn clear_script(&self) {
        self.inbox.script.lock().unwrap().clear();
    }

    pub fn got(&self) -> Vec<Got> {
        self.inbox.got.lock().unwrap().clone()
    }

    /// Stops listening: connections are refused.
    pub async fn stop(&mut self) {
        if let Some(handle) = self.handle.take() {
            handle.stop(false).await;
        }
    }

    /// Listens again on the same port, keeping what it got.
    pub fn restart(&mut self) {
        let again = Self::start_on(self.port, self.inbox.clone());
        self.handle = again.handle;
    }

    /// Waits until `n` messages arrived (panics after `secs`).
    pub async fn wait_for(&self, n: usize, secs: u64) -> Vec<Got> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let got = self.got();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "expected {n} messages, got {}: {:?}",
                got.len(),
                got.iter().map(Got::kind).collect::<Vec<_>>()
            );
            actix_web::rt::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

/// Settings for delivery in seconds: a fast poll and retry, plain `http`
/// and 127.0.0.1 allowed.
pub fn fast(s: &mut Settings) {
    s.webhooks_allow_http = true;
    s.webhooks_allowed_networks = vec!["127.0.0.1/32".into()];
    s.webhooks_poll_ms = 50;
    s.webhooks_timeout_ms = 2_000;
    s.webhooks_lease_secs = 4;
    s.webhooks_retry_base_ms = 200;
    s.webhooks_retry_max_delay_secs = 1;
}

/// A resolver whose table a test changes as it goes (DNS rebinding).
#[derive(Default)]
pub struct Table(Mutex<Vec<(String, Vec<IpAddr>)>>);

impl Table {
    pub fn set(&self, name: &str, ips: &[&str]) {
        let mut table = self.0.lock().unwrap();
        table.retain(|(n, _)| n != name);
        table.push((
            name.to_owned(),
            ips.iter().map(|ip| ip.parse().unwrap()).collect(),
        ));
    }
}

impl Lookup for Table {
    fn lookup(&self, name: &str) -> LookupFuture {
        let found = self
            .0
            .lock()
            .unwrap()
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, ips)| ips.clone())
            .ok_or_else(|| format!("{name} does not resolve"));
        Box::pin(async move { found })
    }
}

pub async fn app_delivering() -> TestApp {
    TestApp::spawn_configured(fast).await
}

pub fn hooks(collective: &str) -> String {
    format!("/api/v1/collectives/{collective}/webhooks")
}

/// Registers an endpoint for all `types` and returns its id and secret.
pub async fn endpoint(
    app: &TestApp,
    collective: &str,
    token: &str,
    url: &str,
    types: &[&str],
) -> (String, String) {
    let created = app
        .post(
            &hooks(collective),
            token,
            json!({"url": url, "event_types": types}),
        )
        .await
        .expect(201);
    (
        created.id(),
        created.body["secret"].as_str().unwrap().to_owned(),
    )
}

/// A collective with two coordinators and a funded pool whose requests
/// need two approvals.
pub struct World {
    pub app: TestApp,
    pub collective: String,
    pub admin: Person,
    pub c1: Person,
    pub c2: Person,
    pub member: Person,
    pub pool: String,
}

pub async fn world(app: TestApp) -> World {
    let (collective, admin) = app.bootstrap("Northside").await;
    let c1 = app.join(&collective, &admin, "coordinator").await;
    let c2 = app.join(&collective, &admin, "coordinator").await;
    let member = app.join(&collective, &admin, "member").await;
    let pool = app
        .post(
            &format!("/api/v1/collectives/{collective}/pools"),
            &admin.token,
            json!({"name": "Rent relief", "currency": "EUR",
                   "rules": {"max_request": "500.00", "approvals_needed": 2}}),
        )
        .await
        .expect(201)
        .id();
    app.contribute(&pool, &admin.token, "900.00")
        .await
        .expect(201);
    World {
        app,
        collective,
        admin,
        c1,
        c2,
        member,
        pool,
    }
}

impl World {
    pub async fn request(&self, amount: &str) -> String {
        self.app
            .post(
                &format!("/api/v1/pools/{}/requests", self.pool),
                &self.member.token,
                json!({"amount": amount, "category": "rent", "urgency": "standard",
                       "public_summary": "Behind on rent",
                       "private_details": "Landlord threatens eviction on the 3rd",
                       "payout_reference": "DE89 3704 0044 0532 0130 00"}),
            )
            .await
            .expect(201)
            .id()
    }

    pub async fn approve(&self, id: &str) {
        self.app
            .post(
                &format!("/api/v1/requests/{id}/review"),
                &self.c1.token,
                json!({}),
            )
            .await
            .expect(200);
        for who in [&self.c1, &self.c2] {
            self.app
                .post_money(
                    &format!("/api/v1/requests/{id}/approvals"),
                    &who.token,
                    json!({}),
                )
                .await
                .expect(200);
        }
    }

    /// Pays the request in full; returns the disbursement's id.
    pub async fn pay(&self, id: &str, amount: &str) -> String {
        let payout = self
            .app
            .post_money(
                &format!("/api/v1/requests/{id}/disbursements"),
                &self.c1.token,
                json!({"amount": amount}),
            )
            .await
            .expect(201)
            .id();
        self.app
            .post_money(
                &format!("/api/v1/disbursements/{payout}/outcome"),
                &self.c1.token,
                json!({"outcome": "paid", "external_reference": "bank-42"}),
            )
            .await
            .expect(200);
        payout
    }

    /// A partner app with `scopes` (and webhooks:manage): its token and id.
    pub async fn partner(&self, scopes: &[&str]) -> (String, String) {
        let mut all = vec!["webhooks:manage"];
        all.extend_from_slice(scopes);
        let (token, id, _) = self.app.partner(&self.collective, &self.admin, &all).await;
        (token, id)
    }
}

/// The deliveries' rows, as (status, attempts) per event type.
pub async fn deliveries(app: &TestApp) -> Vec<(String, String, i32)> {
    use diesel::prelude::*;
    use diesel::sql_types::{Integer, Text};
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        event_type: String,
        #[diesel(sql_type = Text)]
        status: String,
        #[diesel(sql_type = Integer)]
        attempts: i32,
    }
    let db = app.db.clone();
    tokio::task::spawn_blocking(move || {
        let mut conn = db.get().unwrap();
        diesel::sql_query(
            "SELECT event_type, status, attempts FROM webhook_deliveries ORDER BY event_seq, id",
        )
        .load::<Row>(&mut **conn)
        .unwrap()
        .into_iter()
        .map(|r| (r.event_type, r.status, r.attempts))
        .collect()
    })
    .await
    .unwrap()
}

/// Runs a statement on the app's database (for states the API refuses to
/// make, such as an endpoint registered under older, laxer rules).
pub async fn execute(app: &TestApp, sql: String) {
    use diesel::prelude::*;
    let db = app.db.clone();
    tokio::task::spawn_blocking(move || {
        let mut conn = db.get().unwrap();
        diesel::sql_query(sql).execute(&mut **conn).unwrap();
    })
    .await
    .unwrap();
}

/// Waits for `cond` on the app's deliveries.
pub async fn wait_deliveries(
    app: &TestApp,
    secs: u64,
    cond: impl Fn(&[(String, String, i32)]) -> bool,
) -> Vec<(String, String, i32)> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let rows = deliveries(app).await;
        if cond(&rows) {
            return rows;
        }
        assert!(Instant::now() < deadline, "deliveries: {rows:?}");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

#[actix_rt::test]
async fn approve_then_pay_arrives_in_order_signed_and_filtered_by_scopes_when_sent() {
    let w = world(app_delivering().await).await;
    let receiver = Receiver::start();
    // One app without requests:read_private, one with it.
    let (public_app, _) = w.partner(&["requests:read", "disbursements:write"]).await;
    let (private_app, private_id) = w
        .partner(&[
            "requests:read",
            "requests:read_private",
            "disbursements:write",
        ])
        .await;
    let (_, public_secret) = endpoint(
        &w.app,
        &w.collective,
        &public_app,
        &format!("{}?app=public", receiver.url()),
        &["request.approved", "request.paid", "disbursement.*"],
    )
    .await;
    let (_, private_secret) = endpoint(
        &w.app,
        &w.collective,
        &private_app,
        &format!("{}?app=private", receiver.url()),
        &["request.*"],
    )
    .await;

    let request = w.request("300.00").await;
    w.approve(&request).await;
    let payout = w.pay(&request, "300.00").await;

    let expected_private = [
        "request.submitted",
        "request.taken_into_review",
        "request.approval_given",
        "request.approved",
        "request.paid",
    ];
    let all = receiver.wait_for(4 + expected_private.len(), 30).await;
    // Every message verifies with its endpoint's secret, and only with it.
    let mut public = Vec::new();
    let mut private = Vec::new();
    for got in &all {
        match (
            got.verifies_with(&public_secret),
            got.verifies_with(&private_secret),
        ) {
            (true, false) => public.push(got.clone()),
            (false, true) => private.push(got.clone()),
            other => panic!("{other:?}: {}", String::from_utf8_lossy(&got.body)),
        }
        let body = got.json();
        let mut keys: Vec<&String> = body.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(keys, ["data", "timestamp", "type"]);
        assert_eq!(got.headers["content-type"], "application/json");
        let timestamp: i64 = got.headers["webhook-timestamp"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((chrono::Utc::now().timestamp() - timestamp).abs() < 60);
        assert!(got.headers["webhook-signature"]
            .to_str()
            .unwrap()
            .starts_with("v1,"));
    }
    let kinds_about = |gots: &[Got], id: &str| {
        gots.iter()
            .filter(|g| g.json()["data"]["id"] == id)
            .map(Got::kind)
            .collect::<Vec<_>>()
    };
    // In order per object: approved, then paid.
    assert_eq!(
        kinds_about(&public, &request),
        ["request.approved", "request.paid"]
    );
    assert_eq!(
        kinds_about(&public, &payout),
        ["disbursement.created", "disbursement.paid"]
    );
    assert_eq!(kinds_about(&private, &request), expected_private);
    let approved = public
        .iter()
        .find(|g| g.kind() == "request.approved")
        .unwrap();
    assert_eq!(approved.json()["data"]["state"], "approved");
    // The private field reaches only the app with the scope.
    for got in &public {
        assert!(got.json()["data"].get("private").is_none());
        assert!(!String::from_utf8_lossy(&got.body).contains("Landlord"));
    }
    assert_eq!(
        private[3].json()["data"]["private"]["payout_reference"],
        "DE89 3704 0044 0532 0130 00"
    );
    // One webhook-id per event: the same event to both endpoints.
    assert_eq!(approved.id(), private[3].id());

    // The scope taken away: the next message comes without the field.
    w.app
        .patch(
            &format!("/api/v1/collectives/{}/clients/{private_id}", w.collective),
            &w.admin.token,
            json!({"scopes": ["webhooks:manage", "requests:read"]}),
        )
        .await
        .expect(200);
    let second = w.request("50.00").await;
    let got = receiver.wait_for(all.len() + 1, 30).await;
    let last = got.last().unwrap();
    assert!(last.verifies_with(&private_secret));
    assert_eq!(last.kind(), "request.submitted");
    assert_eq!(last.json()["data"]["id"], second.as_str());
    assert!(
        last.json()["data"].get("private").is_none(),
        "{}",
        last.json()
    );
    assert!(!String::from_utf8_lossy(&last.body).contains("Landlord"));
    // And nothing more: each message once.
    actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.got().len(), all.len() + 1);
}

#[actix_rt::test]
async fn a_500_then_a_200_delivers_again_once_and_then_nothing_more() {
    let app = app_delivering().await;
    let receiver = Receiver::start();
    receiver.script(&[Reply::Status(500)]);
    let (collective, admin) = app.bootstrap("Northside").await;
    let (token, _, _) = app
        .partner(&collective, &admin, &["webhooks:manage", "pools:read"])
        .await;
    let (id, secret) = endpoint(&app, &collective, &token, &receiver.url(), &["pool.*"]).await;
    app.pool(&collective, &admin.token, "EUR").await;

    let got = receiver.wait_for(2, 20).await;
    assert_eq!(got[0].reply, Reply::Status(500));
    assert_eq!(got[1].reply, Reply::Status(200));
    assert_eq!(got[0].id(), got[1].id(), "the same webhook-id on a retry");
    assert!(got.iter().all(|g| g.verifies_with(&secret)));
    assert_eq!(got[0].body, got[1].body);
    actix_web::rt::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(receiver.got().len(), 2, "nothing after the success");
    assert_eq!(
        deliveries(&app).await,
        [("pool.created".to_owned(), "delivered".to_owned(), 2)]
    );
    // The endpoint stays enabled.
    let shown = app
        .get(&format!("{}/{id}", hooks(&collective)), &token)
        .await
        .expect(200);
    assert_eq!(shown.body["status"], "enabled");
}

#[actix_rt::test]
async fn a_receiver_down_for_a_while_gets_everything_once_it_is_back() {
    let app = app_delivering().await;
    let mut receiver = Receiver::start();
    let (collective, admin) = app.bootstrap("Northside").await;
    let (token, _, _) = app
        .partner(&collective, &admin, &["webhooks:manage", "pools:read"])
        .await;
    let (_, secret) = endpoint(&app, &collective, &token, &receiver.url(), &["pool.*"]).await;
    receiver.stop().await;
    let mut pools = Vec::new();
    for _ in 0..3 {
        pools.push(app.pool(&collective, &admin.token, "EUR").await);
    }
    // Tried and failed while it was down.
    wait_deliveries(&app, 20, |rows| {
        rows.len() == 3 && rows.iter().all(|(_, s, a)| s == "pending" && *a >= 2)
    })
    .await;
    receiver.restart();
    let got = receiver.wait_for(3, 20).await;
    assert!(got.iter().all(|g| g.verifies_with(&secret)));
    let ids: Vec<Value> = got.iter().map(|g| g.json()["data"]["id"].clone()).collect();
    let mut expected: Vec<Value> = pools.iter().map(|p| json!(p)).collect();
    let mut sorted = ids.clone();
    sorted.sort_by_key(|v| v.to_string());
    expected.sort_by_key(|v| v.to_string());
    assert_eq!(sorted, expected);
    wait_deliveries(&app, 10, |rows| {
        rows.iter().all(|(_, s, _)| s == "delivered")
    })
    .await;
    actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.got().len(), 3);
}

#[actix_rt::test]
async fn both_secrets_verify_during_the_grace_period_and_the_old_one_not_after() {
    let app = TestApp::spawn_configured(|s| {
        fast(s);
        s.webhooks_rotation_grace_secs = 2;
    })
    .await;
    let receiver = Receiver::start();
    let (collective, admin) = app.bootstrap("Northside").await;
    let (token, _, _) = app
        .partner(&collective, &admin, &["webhooks:manage", "pools:read"])
        .await;
    let (id, old) = endpoint(&app, &collective, &token, &receiver.url(), &["pool.*"]).await;
    let new = app
        .post(
            &format!("{}/{id}/rotate-secret", hooks(&collective)),
            &token,
            json!({}),
        )
        .await
        .expect(200)
        .body["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    app.pool(&collective, &admin.token, "EUR").await;
    let got = receiver.wait_for(1, 20).await;
    assert!(got[0].verifies_with(&new), "the new secret signs");
    assert!(got[0].verifies_with(&old), "the old one too, in the grace");
    assert_eq!(
        got[0].headers["webhook-signature"]
            .to_str()
            .unwrap()
            .split(' ')
            .count(),
        2
    );
    actix_web::rt::time::sleep(Duration::from_millis(2200)).await;
    app.pool(&collective, &admin.token, "USD").await;
    let got = receiver.wait_for(2, 20).await;
    assert!(got[1].verifies_with(&new));
    assert!(!got[1].verifies_with(&old), "not after the grace period");
}

#[actix_rt::test]
async fn internal_addresses_are_refused_at_delivery_before_any_connection() {
    let table = Arc::new(Table::default());
    table.set("rebind.example", &["127.0.0.1"]);
    let app = TestApp::spawn_resolving(fast, table.clone()).await;
    let receiver = Receiver::start();
    let (collective, admin) = app.bootstrap("Northside").await;
    let (token, _, _) = app
        .partner(&collective, &admin, &["webhooks:manage", "pools:read"])
        .await;
    // Three endpoints that passed the rules when registered: a name that
    // then resolves to a private address (DNS rebinding), and two whose
    // stored URLs are internal literals (as from an older, laxer rule).
    let rebind = format!("http://rebind.example:{}/hook", receiver.port);
    let (rebound, _) = endpoint(&app, &collective, &token, &rebind, &["pool.*"]).await;
    let (private, _) = endpoint(&app, &collective, &token, &receiver.url(), &["pool.*"]).await;
    let (metadata, _) = endpoint(&app, &collective, &token, &receiver.url(), &["pool.*"]).await;
    table.set("rebind.example", &["127.0.0.1", "10.0.0.1"]);
    execute(
        &app,
        format!("UPDATE webhook_endpoints SET url = 'http://10.0.0.1/hook' WHERE id = '{private}'"),
    )
    .await;
    execute(
        &app,
        format!(
            "UPDATE webhook_endpoints SET url = 'http://169.254.169.254/latest/meta-data' \
             WHERE id = '{metadata}'"
        ),
    )
    .await;
    app.pool(&collective, &admin.token, "EUR").await;

    // Each is tried (and refused) without a connection: the attempts'
    // errors say why, and the receiver never hears of it.
    let errors = {
        use diesel::prelude::*;
        use diesel::sql_types::{Nullable, Text};
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = Text)]
            endpoint_id: String,
            #[diesel(sql_type = Nullable<Text>)]
            error: Option<String>,
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let db = app.db.clone();
            let rows: Vec<Row> = tokio::task::spawn_blocking(move || {
                diesel::sql_query("SELECT endpoint_id, error FROM webhook_attempts")
                    .load::<Row>(&mut **db.get().unwrap())
                    .unwrap()
            })
            .await
            .unwrap();
            let seen = |id: &str| rows.iter().any(|r| r.endpoint_id == id);
            if seen(&rebound) && seen(&private) && seen(&metadata) {
                break rows;
            }
            assert!(Instant::now() < deadline);
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
    };
    for row in &errors {
        let error = row.error.as_deref().unwrap_or_default();
        let expected = if row.endpoint_id == rebound {
            "rebind.example resolves to 10.0.0.1 is in 10.0.0.0/8"
        } else if row.endpoint_id == private {
            "refused: 10.0.0.1 is in 10.0.0.0/8"
        } else {
            "refused: 169.254.169.254 is in 169.254.0.0/16"
        };
        assert!(error.contains(expected), "{error:?} lacks {expected:?}");
    }
    assert!(receiver.got().is_empty());
}

#[actix_rt::test]
async fn the_client_refuses_internal_addresses_without_connecting() {
    use commonpot::webhooks::delivery::Message;
    use commonpot::webhooks::ssrf::{Guard, Policy, StaticLookup};
    use commonpot::webhooks::worker;
    let guard = Guard {
        policy: Arc::new(Policy::new(true, &["127.0.0.1/32".into()]).unwrap()),
        lookup: Arc::new(StaticLookup(vec![
            ("internal.example".into(), vec!["10.0.0.1".parse().unwrap()]),
            (
                "metadata.example".into(),
                vec!["169.254.169.254".parse().unwrap()],
            ),
            (
                "mapped.example".into(),
                vec!["::ffff:192.168.0.1".parse().unwrap()],
            ),
        ])),
    };
    let http = worker::client(&guard, Duration::from_secs(2)).unwrap();
    for (url, why) in [
        ("http://10.0.0.1/hook", "refused: 10.0.0.1 is in 10.0.0.0/8"),
        (
            "https://169.254.169.254/latest/meta-data",
            "refused: 169.254.169.254 is in 169.254.0.0/16",
        ),
        (
            "http://[::ffff:a9fe:a9fe]/",
            "refused: ::ffff:169.254.169.254",
        ),
        (
            "https://internal.example/hook",
            "internal.example resolves to 10.0.0.1",
        ),
        (
            "https://metadata.example/hook",
            "metadata.example resolves to 169.254.169.254",
        ),
        (
            "https://mapped.example/hook",
            "mapped.example resolves to ::ffff:192.168.0.1",
        ),
    ] {
        let message = Message {
            url: url.into(),
            id: "msg_1".into(),
            timestamp: 0,
            signature: "v1,x".into(),
            body: b"{}".to_vec(),
        };
        let started = Instant::now();
        let outcome = worker::post(&http, &guard, &message).await;
        let error = outcome.error.unwrap_or_default();
        assert!(error.contains(why), "{url}: {error:?} lacks {why:?}");
        assert_eq!(outcome.status_code, None);
        // Refused at once, not after a connection attempt timed out.
        assert!(started.elapsed() < Duration::from_millis(500), "{url}");
    }
}

/// The attempts logged: (delivery, attempt number, replica).
async fn attempts(app: &TestApp) -> Vec<(String, i32, String)> {
    use diesel::prelude::*;
    use diesel::sql_types::{Integer, Text};
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        delivery_id: String,
        #[diesel(sql_type = Integer)]
        attempt: i32,
        #[diesel(sql_type = Text)]
        replica: String,
    }
    let db = app.db.clone();
    tokio::task::spawn_blocking(move || {
        diesel::sql_query("SELECT delivery_id, attempt, replica FROM webhook_attempts")
            .load::<Row>(&mut **db.get().unwrap())
            .unwrap()
            .into_iter()
            .map(|r| (r.delivery_id, r.attempt, r.replica))
            .collect()
    })
    .await
    .unwrap()
}

#[actix_rt::test]
async fn three_replicas_on_one_database_never_send_an_attempt_twice() {
    use commonpot::db::{DatabaseUrl, Db};
    use commonpot::webhooks::ssrf::{Guard, Policy, StaticLookup};
    use commonpot::webhooks::worker::Worker;
    let app = TestApp::spawn_configured(|s| {
        fast(s);
        s.webhooks_deliver = false;
    })
    .await;
    let receiver = Receiver::start();
    let (collective, admin) = app.bootstrap("Northside").await;
    let (token, _, _) = app
        .partner(&collective, &admin, &["webhooks:manage", "pools:read"])
        .await;
    let (_, secret) = endpoint(&app, &collective, &token, &receiver.url(), &["pool.*"]).await;
    const EVENTS: usize = 24;
    for i in 0..EVENTS {
        let currency = ["EUR", "USD", "JPY"][i % 3];
        app.pool(&collective, &admin.token, currency).await;
    }
    // Three replicas, each with its own connections, started together so
    // they race for the same events and deliveries.
    let guard = Guard {
        policy: Arc::new(Policy::new(true, &["127.0.0.1/32".into()]).unwrap()),
        lookup: Arc::new(StaticLookup::default()),
    };
    let url = DatabaseUrl::parse(&app.settings.database_url).unwrap();
    let replicas: Vec<_> = (0..3)
        .map(|_| {
            let pool = commonpot::db::open(&url, 4).unwrap();
            let worker = Worker::new(Db::new(pool, &url), &app.settings, guard.clone()).unwrap();
            actix_web::rt::spawn(worker.run())
        })
        .collect();
    let got = receiver.wait_for(EVENTS, 60).await;
    actix_web::rt::time::sleep(Duration::from_millis(1000)).await;
    for replica in &replicas {
        replica.abort();
    }
    let got_now = receiver.got();
    assert_eq!(got_now.len(), EVENTS, "each message once: {}", got.len());
    let mut ids: Vec<String> = got_now.iter().map(Got::id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), EVENTS);
    assert!(got_now.iter().all(|g| g.verifies_with(&secret)));
    // One delivery per event, one attempt per delivery, logged once.
    let rows = deliveries(&app).await;
    assert_eq!(rows.len(), EVENTS, "{rows:?}");
    assert!(
        rows.iter().all(|(_, s, a)| s == "delivered" && *a == 1),
        "{rows:?}"
    );
    let logged = attempts(&app).await;
    assert_eq!(logged.len(), EVENTS);
    let replicas: std::collections::BTreeSet<&str> =
        logged.iter().map(|(_, _, r)| r.as_str()).collect();
    eprintln!("attempts sent by {} replicas", replicas.len());
}

#[actix_rt::test]
async fn a_server_killed_mid_delivery_sends_the_message_after_restart() {
    let app = TestApp::spawn_configured(|s| {
        fast(s);
        s.webhooks_deliver = false;
    })
    .await;
    let receiver = Receiver::start();
    receiver.script(&[Reply::Hang]);
    let (collective, admin) = app.bootstrap("Northside").await;
    let (token, _, _) = app
        .partner(&collective, &admin, &["webhooks:manage", "pools:read"])
        .await;
    let (_, secret) = endpoint(&app, &collective, &token, &receiver.url(), &["pool.*"]).await;
    let pool = app.pool(&collective, &admin.token, "EUR").await;
    let dir = tempfile::tempdir().unwrap();
    let serve = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_commonpot"))
            .args(["serve", "--bind", "127.0.0.1:0"])
            .current_dir(dir.path())
            .env("DATABASE_URL", &app.settings.database_url)
            .env(
                "COMMONPOT_JWT_SECRET",
                "test-secret-test-secret-test-secret-0123456789",
            )
            .env("COMMONPOT_WEBHOOKS_ALLOW_HTTP", "true")
            .env("COMMONPOT_WEBHOOKS_ALLOWED_NETWORKS", "[\"127.0.0.1/32\"]")
            .env("COMMONPOT_WEBHOOKS_POLL_MS", "50")
            .env("COMMONPOT_WEBHOOKS_TIMEOUT_MS", "3000")
            .env("COMMONPOT_WEBHOOKS_LEASE_SECS", "5")
            .env("COMMONPOT_WEBHOOKS_RETRY_BASE_MS", "200")
            // The key the test service sealed private fields with (#24).
            .env("COMMONPOT_ENCRYPTION_KEYS", crate::helpers::TEST_FIELD_KEY)
            .env("RUST_BACKTRACE", "0")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("the binary runs")
    };
    // The server takes the delivery and posts it; the receiver hangs; the
    // server is killed (SIGKILL) before it hears back.
    let mut first = serve();
    let got = receiver.wait_for(1, 30).await;
    assert_eq!(got[0].reply, Reply::Hang);
    first.kill().unwrap();
    first.wait().unwrap();
    let taken = deliveries(&app).await;
    assert_eq!(
        taken,
        [("pool.created".to_owned(), "pending".to_owned(), 1)],
        "taken, never finished"
    );
    // Restarted: once the dead server's lease runs out, the message is
    // sent again, with the same webhook-id, and arrives.
    let mut second = serve();
    let got = receiver.wait_for(2, 40).await;
    let rows = wait_deliveries(&app, 10, |rows| {
        rows.iter().all(|(_, s, _)| s == "delivered")
    })
    .await;
    second.kill().unwrap();
    second.wait().unwrap();
    assert_eq!(got[1].reply, Reply::Status(200));
    assert_eq!(got[1].id(), got[0].id());
    assert!(got[1].verifies_with(&secret));
    assert_eq!(got[1].json()["data"]["id"], pool.as_str());
    assert_eq!(rows[0].2, 2, "the killed attempt counts");
}

#[actix_rt::test]
async fn a_message_failing_past_the_give_up_disables_its_endpoint_and_the_log_retry_and_replay_recover_it(
) {
    let app = TestApp::spawn_configured(|s| {
        fast(s);
        s.webhooks_give_up_after_secs = 1;
    })
    .await;
    let receiver = Receiver::start();
    receiver.script(&[Reply::Status(503); 50]);
    let (collective, admin) = app.bootstrap("Northside").await;
    let (token, _, _) = app
        .partner(&collective, &admin, &["webhooks:manage", "pools:read"])
        .await;
    let (other, _, _) = app
        .partner(&collective, &admin, &["webhooks:manage", "pools:read"])
        .await;
    let (id, secret) = endpoint(&app, &collective, &token, &receiver.url(), &["pool.*"]).await;
    let hook = format!("{}/{id}", hooks(&collective));
    app.pool(&collective, &admin.token, "EUR").await;

    // Retried with backoff until the give-up, then the endpoint is disabled
    // and its admins are told why.
    wait_deliveries(&app, 20, |rows| rows.iter().any(|(_, s, _)| s == "failed")).await;
    let shown = app.get(&hook, &token).await.expect(200);
    assert_eq!(shown.body["status"], "disabled");
    let reason = shown.body["disabled_reason"].as_str().unwrap();
    assert!(reason.contains("deliveries kept failing"), "{reason}");
    assert!(reason.contains("answered 503"), "{reason}");
    let feed = app
        .get(
            &format!("/api/v1/collectives/{collective}/events?types=webhook_endpoint.disabled"),
            &admin.token,
        )
        .await
        .expect(200);
    assert_eq!(feed.body["items"][0]["data"]["id"], id.as_str());
    let tries = receiver.got().len();
    assert!(tries >= 3, "{tries}");

    // The log: the message, every try with its status, duration and the
    // start of the answer. Another app's endpoint is not found to an app.
    let log = app
        .get(&format!("{hook}/deliveries"), &token)
        .await
        .expect(200);
    let delivery = &log.body["items"][0];
    assert_eq!(log.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(delivery["status"], "failed");
    assert_eq!(delivery["event_type"], "pool.created");
    assert_eq!(delivery["event_id"], receiver.got()[0].id().as_str());
    let attempts = delivery["log"].as_array().unwrap();
    assert_eq!(attempts.len(), tries);
    for (n, attempt) in attempts.iter().enumerate() {
        assert_eq!(attempt["attempt"], n + 1);
        assert_eq!(attempt["status_code"], 503);
        assert_eq!(attempt["response_start"], "receiver says 503");
        assert!(attempt["duration_ms"].as_i64().unwrap() >= 0);
    }
    app.get(&format!("{hook}/deliveries"), &other)
        .await
        .expect_problem(404, "not_found");
    app.get(&format!("{hook}/deliveries?status=nonsense"), &token)
        .await
        .expect_problem(422, "validation_failed");
    let failed_only = app
        .get(&format!("{hook}/deliveries?status=delivered"), &token)
        .await
        .expect(200);
    assert!(failed_only.body["items"].as_array().unwrap().is_empty());

    // Enabled again and retried by hand: it arrives.
    receiver.clear_script();
    app.patch(&hook, &token, json!({"enabled": true}))
        .await
        .expect(200);
    let delivery_id = delivery["id"].as_str().unwrap();
    let retried = app
        .post(
            &format!("{hook}/deliveries/{delivery_id}/retry"),
            &token,
            json!({}),
        )
        .await
        .expect(202);
    assert_eq!(retried.body["status"], "pending");
    let got = receiver.wait_for(tries + 1, 20).await;
    assert!(got[tries].verifies_with(&secret));
    assert_eq!(got[tries].reply, Reply::Status(200));
    wait_deliveries(&app, 10, |rows| {
        rows.iter().all(|(_, s, _)| s == "delivered")
    })
    .await;
    app.post(
        &format!("{hook}/deliveries/whd_00000000000000000000000000000000/retry"),
        &token,
        json!({}),
    )
    .await
    .expect_problem(404, "not_found");

    // A replay since an hour ago sends the event again, same webhook-id.
    let since = (chrono::Utc::now() - chrono::TimeDelta::hours(1)).to_rfc3339();
    let replayed = app
        .post(&format!("{hook}/replay"), &token, json!({"since": since}))
        .await
        .expect(202);
    assert_eq!(replayed.body["queued"], 1);
    let got = receiver.wait_for(tries + 2, 20).await;
    assert_eq!(got[tries + 1].id(), got[0].id());
    assert!(got[tries + 1].verifies_with(&secret));
    let log = app
        .get(&format!("{hook}/deliveries"), &token)
        .await
        .expect(200);
    assert_eq!(log.body["items"].as_array().unwrap().len(), 2);
}

#[actix_rt::test]
async fn the_log_forgets_finished_deliveries_after_the_retention_and_never_a_pending_one() {
    let app = app_delivering().await;
    let mut receiver = Receiver::start();
    let (collective, admin) = app.bootstrap("Keepers").await;
    let (token, _, _) = app
        .partner(&collective, &admin, &["webhooks:manage", "pools:read"])
        .await;
    endpoint(&app, &collective, &token, &receiver.url(), &["pool.*"]).await;
    app.pool(&collective, &admin.token, "EUR").await;
    receiver.wait_for(1, 20).await;
    wait_deliveries(&app, 20, |rows| rows.iter().any(|r| r.1 == "delivered")).await;
    // The receiver goes away: the next message stays pending, retried.
    receiver.stop().await;
    app.pool(&collective, &admin.token, "USD").await;
    wait_deliveries(&app, 20, |rows| {
        rows.iter().any(|r| r.1 == "pending" && r.2 >= 1)
    })
    .await;
    // Its first failed try is logged once the try is over.
    let deadline = Instant::now() + Duration::from_secs(20);
    let tried = |logged: &[(String, i32, String)]| {
        logged
            .iter()
            .map(|a| a.0.clone())
            .collect::<std::collections::BTreeSet<_>>()
    };
    loop {
        let logged = attempts(&app).await;
        if tried(&logged).len() == 2 {
            break;
        }
        assert!(Instant::now() < deadline, "{logged:?}");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }

    let purge = |cutoff: chrono::NaiveDateTime| {
        let db = app.db.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = db.get().unwrap();
            commonpot::webhooks::log::purge_before(&mut conn, cutoff).unwrap()
        })
    };
    // Within the retention nothing goes.
    let long_ago = commonpot::clock::now() - chrono::TimeDelta::days(1);
    assert_eq!(purge(long_ago).await.unwrap(), 0);
    assert_eq!(deliveries(&app).await.len(), 2);
    // Past it, the delivered message and its attempts go; the pending one
    // and its attempts stay, and it is still delivered once the receiver
    // is back.
    let later = commonpot::clock::now() + chrono::TimeDelta::minutes(1);
    assert_eq!(purge(later).await.unwrap(), 1);
    assert_eq!(purge(later).await.unwrap(), 0, "idempotent");
    let left = deliveries(&app).await;
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0].1, "pending");
    let kept = attempts(&app).await;
    assert_eq!(tried(&kept).len(), 1, "only the pending one's: {kept:?}");
    receiver.restart();
    wait_deliveries(&app, 30, |rows| rows.iter().all(|r| r.1 == "delivered")).await;
}
