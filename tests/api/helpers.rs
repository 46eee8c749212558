//! The test harness: each test starts the real application in-process on a
//! free port with a database of its own — a SQLite file in a temporary
//! directory, or, when `TEST_DATABASE_URL` names a PostgreSQL server, a fresh
//! database there that is dropped afterwards.

use std::sync::OnceLock;

use commonpot::config::Settings;
use commonpot::db::Db;
use commonpot::startup::Application;
use diesel::{Connection, PgConnection, RunQueryDsl};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

pub const PASSWORD: &str = "correct horse battery staple";

/// The key private fields are sealed with in tests (base64 of 32 bytes).
pub const TEST_FIELD_KEY: &str = "Y29tbW9ucG90LXRlc3RzLWZpZWxkLWtleS0wMDAwMDE=";

pub enum TestDb {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres {
        server_url: String,
        name: String,
    },
    /// Another replica's: the first one owns (and drops) it.
    Shared,
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let TestDb::Postgres { server_url, name } = self {
            if let Ok(mut conn) = PgConnection::establish(server_url) {
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn);
            }
        }
    }
}

/// The PostgreSQL server for tests, if the run asks for one.
pub fn postgres_url() -> Option<String> {
    std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

pub fn fresh_database() -> (TestDb, String) {
    // Tests that write through the services without starting the
    // application need the keyring `startup` would install (#24).
    commonpot::crypto::keyring::install(
        &commonpot::crypto::Keyring::parse(TEST_FIELD_KEY, None).expect("the test key"),
    );
    match postgres_url() {
        Some(server_url) => {
            let name = format!("cp_test_{}", uuid::Uuid::new_v4().simple());
            let mut conn = PgConnection::establish(&server_url).unwrap_or_else(|e| {
                panic!("TEST_DATABASE_URL is set but PostgreSQL cannot be reached: {e}")
            });
            diesel::sql_query(format!("CREATE DATABASE {name}"))
                .execute(&mut conn)
                .expect("create a test database");
            let (base, _) = server_url
                .rsplit_once('/')
                .expect("TEST_DATABASE_URL ends in /DATABASE");
            let url = format!("{base}/{name}");
            (TestDb::Postgres { server_url, name }, url)
        }
        None => {
            let dir = tempfile::tempdir().expect("temporary directory");
            let url = format!("sqlite://{}", dir.path().join("commonpot.db").display());
            (TestDb::Sqlite(dir), url)
        }
    }
}

pub fn test_settings(database_url: String) -> Settings {
    static LOGS: OnceLock<()> = OnceLock::new();
    LOGS.get_or_init(|| {
        if std::env::var("TEST_LOG").is_ok() {
            commonpot::telemetry::init(commonpot::config::LogFormat::Text);
        }
    });
    Settings {
        database_url,
        bind: "127.0.0.1:0".into(),
        jwt_secret: Some("test-secret-test-secret-test-secret-0123456789".into()),
        encryption_keys: Some(TEST_FIELD_KEY.into()),
        ..Settings::default()
    }
}

pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub db: Db,
    pub settings: Settings,
    _database: TestDb,
}

/// A person signed in to the test app.
#[derive(Debug, Clone)]
pub struct Person {
    pub email: String,
    pub user_id: String,
    pub membership_id: String,
    pub token: String,
}

/// The answer to a request: status, headers and the body as JSON.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the status, showing the body when it is not.
    #[track_caller]
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.body
        );
        self
    }

    /// Asserts an RFC 6749 §5.2 error of the token endpoint: JSON with
    /// `error` and `error_description`, never cached; 401 names the scheme
    /// to authenticate with, 429 when to try again.
    #[track_caller]
    pub fn expect_oauth_error(self, status: u16, error: &str) -> Self {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.body
        );
        assert_eq!(self.header("content-type"), Some("application/json"));
        assert_eq!(self.body["error"], error, "unexpected error: {}", self.body);
        assert!(self.body["error_description"].is_string(), "{}", self.body);
        assert_eq!(self.header("cache-control"), Some("no-store"));
        if status == 401 {
            assert!(self
                .header("www-authenticate")
                .is_some_and(|v| v.starts_with("Basic")));
        }
        if status == 429 {
            assert!(self.header("retry-after").is_some());
        }
        self
    }

    /// Asserts a problem+json answer with this status and code.
    #[track_caller]
    pub fn expect_problem(self, status: u16, code: &str) -> Self {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.body
        );
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "problems are application/problem+json"
        );
        assert_eq!(self.body["code"], code, "unexpected problem: {}", self.body);
        assert_eq!(self.body["status"], status);
        self
    }

    pub fn id(&self) -> String {
        self.body["id"].as_str().expect("an id").to_owned()
    }
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_configured(|_| {}).await
    }

    /// Like `spawn`, with settings changed by `configure`.
    pub async fn spawn_configured(configure: impl FnOnce(&mut Settings)) -> TestApp {
        let (database, url) = fresh_database();
        let mut settings = test_settings(url);
        configure(&mut settings);
        Self::spawn_with(settings, database)
    }

    /// Like `spawn`, with the services reading the time from `clock` (move
    /// it through `app.db.clock()`).
    pub async fn spawn_at(clock: commonpot::clock::Clock) -> TestApp {
        let (database, url) = fresh_database();
        Self::spawn_clocked(test_settings(url), database, clock)
    }

    /// Another instance of the service on this app's database, as a second
    /// replica behind a load balancer would be.
    pub fn replica(&self) -> TestApp {
        Self::spawn_with(self.settings.clone(), TestDb::Shared)
    }

    fn spawn_with(settings: Settings, database: TestDb) -> TestApp {
        Self::spawn_clocked(settings, database, commonpot::clock::Clock::system())
    }

    fn spawn_clocked(
        settings: Settings,
        database: TestDb,
        clock: commonpot::clock::Clock,
    ) -> TestApp {
        Self::spawn_full(
            settings,
            database,
            clock,
            std::sync::Arc::new(commonpot::webhooks::ssrf::SystemLookup),
        )
    }

    /// Like `spawn_configured`, with webhook host names resolved by
    /// `lookup` instead of DNS.
    pub async fn spawn_resolving(
        configure: impl FnOnce(&mut Settings),
        lookup: std::sync::Arc<dyn commonpot::webhooks::ssrf::Lookup>,
    ) -> TestApp {
        let (database, url) = fresh_database();
        let mut settings = test_settings(url);
        configure(&mut settings);
        Self::spawn_full(
            settings,
            database,
            commonpot::clock::Clock::system(),
            lookup,
        )
    }

    fn spawn_full(
        settings: Settings,
        database: TestDb,
        clock: commonpot::clock::Clock,
        lookup: std::sync::Arc<dyn commonpot::webhooks::ssrf::Lookup>,
    ) -> TestApp {
        let app = Application::build_with(settings.clone(), clock, lookup)
            .expect("the application starts");
        let base = format!("http://127.0.0.1:{}", app.port());
        let db = app.db();
        actix_web::rt::spawn(app.run_until_stopped());
        TestApp {
            base,
            http: reqwest::Client::new(),
            db,
            settings,
            _database: database,
        }
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        Self::answer(request.send().await.expect("the request is sent")).await
    }

    pub async fn answer(response: reqwest::Response) -> Answer {
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("a body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Answer {
            status,
            headers,
            body,
        }
    }

    /// Like `send`, with a fresh `Idempotency-Key` on every request.
    pub async fn send_keyed(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("Idempotency-Key", uuid::Uuid::new_v4().to_string());
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        Self::answer(request.send().await.expect("the request is sent")).await
    }

    /// A money-moving POST with this `Idempotency-Key`.
    pub async fn post_keyed(&self, path: &str, token: &str, key: &str, body: Value) -> Answer {
        let request = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(token)
            .header("Idempotency-Key", key)
            .json(&body);
        Self::answer(request.send().await.expect("the request is sent")).await
    }

    /// A money-moving POST with a fresh `Idempotency-Key`.
    pub async fn post_money(&self, path: &str, token: &str, body: Value) -> Answer {
        self.post_keyed(path, token, &uuid::Uuid::new_v4().to_string(), body)
            .await
    }

    /// Creates a pool and returns its id.
    pub async fn pool(&self, collective_id: &str, token: &str, currency: &str) -> String {
        self.post(
            &format!("/api/v1/collectives/{collective_id}/pools"),
            token,
            json!({"name": format!("{currency} pool"), "currency": currency}),
        )
        .await
        .expect(201)
        .id()
    }

    /// Records a contribution without a fee and returns the answer.
    pub async fn contribute(&self, pool_id: &str, token: &str, amount: &str) -> Answer {
        self.post_money(
            &format!("/api/v1/pools/{pool_id}/contributions"),
            token,
            json!({"amount": amount, "method": "cash"}),
        )
        .await
    }

    pub async fn balances(&self, pool_id: &str, token: &str) -> Value {
        self.get(&format!("/api/v1/pools/{pool_id}"), token)
            .await
            .expect(200)
            .body["balances"]
            .clone()
    }

    /// Runs the ledger's invariant checks on this app's database.
    pub async fn verify(&self) -> commonpot::ledger::verify::Report {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = db.get().expect("a connection");
            commonpot::ledger::verify::verify(&mut conn).expect("verify runs")
        })
        .await
        .unwrap()
    }

    pub async fn get(&self, path: &str, token: &str) -> Answer {
        self.send(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Answer {
        self.send(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Answer {
        self.send(Method::PATCH, path, Some(token), Some(body))
            .await
    }

    /// A raw request, for bodies and headers that are deliberately wrong.
    pub fn raw(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, format!("{}{path}", self.base))
    }

    pub async fn login(&self, email: &str, password: &str) -> Answer {
        self.send(
            Method::POST,
            "/api/v1/auth/token",
            None,
            Some(json!({"grant_type": "password", "username": email, "password": password})),
        )
        .await
    }

    /// Signs in through a proxy that says the caller is `forwarded_for`.
    pub async fn login_via(&self, forwarded_for: &str, email: &str, password: &str) -> Answer {
        let response = self
            .raw(Method::POST, "/api/v1/auth/token")
            .header("x-forwarded-for", forwarded_for)
            .json(&json!({"grant_type": "password", "username": email, "password": password}))
            .send()
            .await
            .expect("the request is sent");
        Self::answer(response).await
    }

    /// Bootstraps a collective with a fresh admin, as the command line does.
    pub async fn bootstrap(&self, collective: &str) -> (String, Person) {
        let email = format!("admin-{}@example.org", uuid::Uuid::new_v4().simple());
        let db = self.db.clone();
        let (name, mail) = (collective.to_owned(), email.clone());
        let (collective, membership) = tokio::task::spawn_blocking(move || {
            let mut conn = db.get().expect("a connection");
            commonpot::collectives::service::bootstrap(
                &mut conn,
                &mail,
                "Ada Admin",
                PASSWORD,
                &name,
                "Europe/Berlin",
            )
            .expect("bootstrap")
        })
        .await
        .expect("bootstrap task");
        let token = self.login(&email, PASSWORD).await.expect(200).body["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        (
            collective.id,
            Person {
                email,
                user_id: membership
                    .user_id
                    .expect("an active membership shows its user"),
                membership_id: membership.id,
                token,
            },
        )
    }

    /// Invites a new person with `role` and has them accept and sign in.
    pub async fn join(&self, collective_id: &str, admin: &Person, role: &str) -> Person {
        let email = format!("{role}-{}@example.org", uuid::Uuid::new_v4().simple());
        let invitation = self
            .post(
                &format!("/api/v1/collectives/{collective_id}/members"),
                &admin.token,
                json!({"email": email, "display_name": format!("A {role}"), "role": role}),
            )
            .await
            .expect(201);
        let token = invitation.body["invitation_token"]
            .as_str()
            .unwrap()
            .to_owned();
        let membership = self
            .send(
                Method::POST,
                "/api/v1/invitations/accept",
                None,
                Some(json!({"invitation_token": token, "password": PASSWORD})),
            )
            .await
            .expect(200);
        let access = self.login(&email, PASSWORD).await.expect(200);
        Person {
            email,
            user_id: membership.body["user_id"].as_str().unwrap().to_owned(),
            membership_id: membership.id(),
            token: access.body["access_token"].as_str().unwrap().to_owned(),
        }
    }

    /// Registers a partner app with `scopes` and returns its access token
    /// and its client id and secret.
    pub async fn partner(
        &self,
        collective_id: &str,
        admin: &Person,
        scopes: &[&str],
    ) -> (String, String, String) {
        let client = self
            .post(
                &format!("/api/v1/collectives/{collective_id}/clients"),
                &admin.token,
                json!({"name": "Partner", "scopes": scopes}),
            )
            .await
            .expect(201);
        let (id, secret) = (
            client.body["id"].as_str().unwrap().to_owned(),
            client.body["client_secret"].as_str().unwrap().to_owned(),
        );
        let token = self
            .send(
                Method::POST,
                "/api/v1/auth/token",
                None,
                Some(json!({"grant_type": "client_credentials", "client_id": id, "client_secret": secret})),
            )
            .await
            .expect(200)
            .body["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        (token, id, secret)
    }

    /// The events recorded about an object, in feed order: type and data
    /// (public part only), read from the database.
    pub async fn events_about(&self, object_id: &str) -> Vec<(String, Value)> {
        use diesel::sql_types::Text;
        #[derive(diesel::QueryableByName)]
        struct Row {
            #[diesel(sql_type = Text)]
            kind: String,
            #[diesel(sql_type = Text)]
            data: String,
        }
        let db = self.db.clone();
        let id = object_id.to_owned();
        tokio::task::spawn_blocking(move || {
            let mut conn = db.get().expect("a connection");
            diesel::sql_query(format!(
                "SELECT kind, data FROM events WHERE object_id = '{id}' ORDER BY seq"
            ))
            .load::<Row>(&mut **conn)
            .expect("events")
            .into_iter()
            .map(|r| (r.kind, serde_json::from_str(&r.data).expect("JSON data")))
            .collect()
        })
        .await
        .unwrap()
    }

    /// Rows in a table, to show that a refused request changed nothing.
    pub async fn count(&self, table: &'static str) -> i64 {
        use diesel::sql_types::BigInt;
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = db.get().expect("a connection");
            diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}"))
                .get_result::<Count>(&mut **conn)
                .expect("count")
                .n
        })
        .await
        .unwrap()
    }
}
