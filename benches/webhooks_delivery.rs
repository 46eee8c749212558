//! What webhook delivery costs and how fast it is (#19), measured side by
//! side in one run: money writes (contributions over HTTP) against the real
//! application with the delivery worker off, then on (an endpoint for
//! `contribution.recorded` on a receiver at 127.0.0.1), then paced at a
//! target rate with delivery on, where the delay from commit (the event's
//! `timestamp`, taken in the write's transaction) to the receiver's hands is
//! measured for every message. A benchmark, not a test: it prints figures.
//!
//! `cargo bench --profile dev --bench webhooks_delivery` (SQLite; the dev
//! profile builds dependencies optimised, see Cargo.toml); with
//! `TEST_DATABASE_URL` set, on fresh databases of that PostgreSQL server.
//! `BENCH_SECS` (10) per phase, `BENCH_CONCURRENCY` (16) writers in the
//! closed-loop phases, `BENCH_RATE` (1000) writes per second in the paced
//! phase, `BENCH_POLL_MS` (the default, 250) for the worker.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpResponse, HttpServer};
use chrono::{DateTime, Utc};
use commonpot::config::Settings;
use commonpot::startup::Application;
use serde_json::{json, Value};

const PASSWORD: &str = "correct horse battery staple";

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, run());
}

/// Arrival of each message at the receiver: contribution id → (event
/// timestamp, arrival).
type Arrivals = Arc<Mutex<HashMap<String, (DateTime<Utc>, DateTime<Utc>)>>>;

async fn receive(body: web::Bytes, arrivals: web::Data<Arrivals>) -> HttpResponse {
    let at = Utc::now();
    if let Ok(message) = serde_json::from_slice::<Value>(&body) {
        if let (Some(id), Some(ts)) = (
            message["data"]["id"].as_str(),
            message["timestamp"]
                .as_str()
                .and_then(|t| t.parse::<DateTime<Utc>>().ok()),
        ) {
            arrivals.lock().unwrap().insert(id.to_owned(), (ts, at));
        }
    }
    HttpResponse::NoContent().finish()
}

fn receiver(arrivals: Arrivals) -> u16 {
    let data = web::Data::new(arrivals);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .default_service(web::to(receive))
    })
    .workers(1)
    .disable_signals()
    .bind(("127.0.0.1", 0))
    .unwrap();
    let port = server.addrs()[0].port();
    actix_web::rt::spawn(server.run());
    port
}

/// A fresh database: a SQLite file, or a new database on the PostgreSQL
/// server (dropped at the end).
fn database(dir: &std::path::Path, tag: &str) -> (String, Option<(String, String)>) {
    match std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
    {
        Some(server) => {
            use diesel::{Connection, RunQueryDsl};
            let name = format!("cp_bench_{tag}_{}", uuid::Uuid::new_v4().simple());
            let mut conn = diesel::PgConnection::establish(&server).unwrap();
            diesel::sql_query(format!("CREATE DATABASE {name}"))
                .execute(&mut conn)
                .unwrap();
            let base = server.rsplit_once('/').unwrap().0.to_owned();
            (format!("{base}/{name}"), Some((server, name)))
        }
        None => (
            format!("sqlite://{}", dir.join(format!("{tag}.db")).display()),
            None,
        ),
    }
}

fn drop_database(pg: Option<(String, String)>) {
    if let Some((server, name)) = pg {
        use diesel::{Connection, RunQueryDsl};
        let mut conn = diesel::PgConnection::establish(&server).unwrap();
        let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut conn);
    }
}

struct Service {
    base: String,
    http: reqwest::Client,
    token: String,
    pool: String,
}

/// Starts the service on a fresh database, seeds a collective with a pool
/// and a partner app whose endpoint takes `contribution.recorded` at
/// `receiver_port`, and returns where to write.
async fn start(url: String, deliver: bool, receiver_port: u16) -> Service {
    let settings = Settings {
        database_url: url,
        bind: "127.0.0.1:0".into(),
        jwt_secret: Some("bench-secret-bench-secret-bench-secret-0123".into()),
        webhooks_deliver: deliver,
        webhooks_allow_http: true,
        webhooks_allowed_networks: vec!["127.0.0.1/32".into()],
        webhooks_poll_ms: env_or("BENCH_POLL_MS", Settings::default().webhooks_poll_ms),
        ..Settings::default()
    };
    let app = Application::build(settings).unwrap();
    let base = format!("http://127.0.0.1:{}/api/v1", app.port());
    let db = app.db();
    actix_web::rt::spawn(app.run_until_stopped());
    let email = format!("ada-{}@example.org", uuid::Uuid::new_v4().simple());
    let (collective, _) = {
        let email = email.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = db.get().unwrap();
            commonpot::collectives::service::bootstrap(
                &mut conn,
                &email,
                "Ada",
                PASSWORD,
                "Northside",
                "Europe/Berlin",
            )
            .unwrap()
        })
        .await
        .unwrap()
    };
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .unwrap();
    let post = |path: String, token: Option<String>, body: Value| {
        let http = http.clone();
        async move {
            let mut request = http.post(path).json(&body);
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let response = request.send().await.unwrap();
            assert!(response.status().is_success(), "{}", response.status());
            response.json::<Value>().await.unwrap()
        }
    };
    let token = post(
        format!("{base}/auth/token"),
        None,
        json!({"grant_type": "password", "username": email, "password": PASSWORD}),
    )
    .await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let c = collective.id;
    let pool = post(
        format!("{base}/collectives/{c}/pools"),
        Some(token.clone()),
        json!({"name": "Rent relief", "currency": "EUR"}),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let client = post(
        format!("{base}/collectives/{c}/clients"),
        Some(token.clone()),
        json!({"name": "Bookkeeping", "scopes": ["contributions:write", "webhooks:manage"]}),
    )
    .await;
    post(
        format!("{base}/collectives/{c}/webhooks"),
        Some(token.clone()),
        json!({"client_id": client["id"], "url": format!("http://127.0.0.1:{receiver_port}/hook"),
               "event_types": ["contribution.recorded"]}),
    )
    .await;
    Service {
        base,
        http,
        token,
        pool,
    }
}

impl Service {
    /// One money write: a contribution of 1.00.
    async fn write(&self) -> bool {
        self.http
            .post(format!("{}/pools/{}/contributions", self.base, self.pool))
            .bearer_auth(&self.token)
            .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
            .json(&json!({"amount": "1.00", "method": "cash"}))
            .send()
            .await
            .is_ok_and(|r| r.status().as_u16() == 201)
    }

    /// As many writes as `concurrency` writers make in `secs`: writes/s.
    async fn closed_loop(self: &Arc<Self>, secs: u64, concurrency: u64) -> (u64, f64) {
        let until = Instant::now() + Duration::from_secs(secs);
        let started = Instant::now();
        let mut writers = Vec::new();
        for _ in 0..concurrency {
            let service = self.clone();
            writers.push(actix_web::rt::spawn(async move {
                let mut done = 0u64;
                while Instant::now() < until {
                    if service.write().await {
                        done += 1;
                    }
                }
                done
            }));
        }
        let mut total = 0;
        for writer in writers {
            total += writer.await.unwrap();
        }
        (total, total as f64 / started.elapsed().as_secs_f64())
    }

    /// Writes started at `rate` per second for `secs` (at most 512 in
    /// flight): how many succeeded, and the rate achieved.
    async fn paced(self: &Arc<Self>, secs: u64, rate: u64) -> (u64, f64) {
        let started = Instant::now();
        let total = secs * rate;
        let in_flight = Arc::new(tokio::sync::Semaphore::new(512));
        let done = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let mut tasks = Vec::new();
        for n in 0..total {
            let due = started + Duration::from_secs_f64(n as f64 / rate as f64);
            tokio::time::sleep_until(due.into()).await;
            let permit = in_flight.clone().acquire_owned().await.unwrap();
            let (service, done) = (self.clone(), done.clone());
            tasks.push(actix_web::rt::spawn(async move {
                if service.write().await {
                    done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                drop(permit);
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        let done = done.load(std::sync::atomic::Ordering::Relaxed);
        (done, done as f64 / started.elapsed().as_secs_f64())
    }
}

fn percentile(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Waits until `expected` messages arrived (at most 60 s after the
/// writes), then the commit → delivery delays in milliseconds, sorted.
async fn delays(arrivals: &Arrivals, expected: usize) -> (usize, Vec<i64>) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while arrivals.lock().unwrap().len() < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let got = arrivals.lock().unwrap();
    let mut ms: Vec<i64> = got
        .values()
        .map(|(ts, at)| (*at - *ts).num_milliseconds().max(0))
        .collect();
    ms.sort_unstable();
    (got.len(), ms)
}

async fn run() {
    let secs = env_or("BENCH_SECS", 10);
    let concurrency = env_or("BENCH_CONCURRENCY", 16);
    let rate = env_or("BENCH_RATE", 1000);
    let poll = env_or("BENCH_POLL_MS", Settings::default().webhooks_poll_ms);
    let dir = tempfile::tempdir().unwrap();
    let backend = if std::env::var("TEST_DATABASE_URL").is_ok_and(|u| !u.is_empty()) {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    println!(
        "backend: {backend}; {secs} s per phase; {concurrency} writers; paced at {rate}/s; \
         worker polls every {poll} ms; {} cores",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );

    // Delivery off: the worker does not run (the endpoint exists all the same).
    let (url, pg_off) = database(dir.path(), "off");
    let unused = receiver(Arc::default());
    let off = Arc::new(start(url, false, unused).await);
    let (n_off, rate_off) = off.closed_loop(secs, concurrency).await;
    println!("delivery off: {n_off} writes, {rate_off:.0} writes/s");

    // Delivery on, same load.
    let arrivals: Arrivals = Arc::default();
    let port = receiver(arrivals.clone());
    let (url, pg_on) = database(dir.path(), "on");
    let on = Arc::new(start(url, true, port).await);
    let (n_on, rate_on) = on.closed_loop(secs, concurrency).await;
    let (got, ms) = delays(&arrivals, n_on as usize).await;
    println!(
        "delivery on:  {n_on} writes, {rate_on:.0} writes/s ({:+.1} %); {got} delivered; \
         commit → delivery p50 {} ms, p99 {} ms, max {} ms",
        (rate_on / rate_off - 1.0) * 100.0,
        percentile(&ms, 0.5),
        percentile(&ms, 0.99),
        ms.last().copied().unwrap_or(0)
    );

    // Paced at the target rate, delivery on.
    arrivals.lock().unwrap().clear();
    let (n_paced, achieved) = on.paced(secs, rate).await;
    let (got, ms) = delays(&arrivals, n_paced as usize).await;
    println!(
        "paced {rate}/s: {n_paced} writes at {achieved:.0} writes/s; {got} delivered; \
         commit → delivery p50 {} ms, p99 {} ms, max {} ms",
        percentile(&ms, 0.5),
        percentile(&ms, 0.99),
        ms.last().copied().unwrap_or(0)
    );
    drop_database(pg_off);
    drop_database(pg_on);
}
