//! Where a contribution's time goes, statement by statement: the real
//! application in-process, every SQL statement its connections run timed
//! through diesel's instrumentation (from the call to its answer: one round
//! trip on PostgreSQL, the work and any wait for the lock on SQLite).
//!
//! `cargo bench --bench load_statements` (SQLite; with `TEST_DATABASE_URL`
//! set, on a fresh database of that PostgreSQL server) records
//! contributions (1.00, fresh `Idempotency-Key`, rotating over 64 pools) in
//! two phases and prints, for each, what statements one contribution runs,
//! how often, and how long they take:
//!
//! * **one at a time**: 300 contributions, one client: the statement list
//!   of one request and the time of each without contention;
//! * **64 at once**: 64 clients for 10 s (`--seconds N`): where the time
//!   goes under load (waits for the write lock, row locks, commits).
//!
//! Formatting each statement's SQL for the tally costs a little CPU per
//! statement; the figures are for the shape, not the speed (that is
//! benches/load/run.sh's). A benchmark, not a test.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use commonpot::config::Settings;
use commonpot::startup::Application;
use diesel::connection::{Instrumentation, InstrumentationEvent};

const POOLS: usize = 64;
const PASSWORD: &str = "statements benchmark password";

#[derive(Default, Clone)]
struct Tally {
    count: u64,
    total: Duration,
    max: Duration,
}

static RECORDING: AtomicBool = AtomicBool::new(false);
static STATEMENTS: Mutex<Option<HashMap<String, Tally>>> = Mutex::new(None);
static CONNECTIONS: AtomicU64 = AtomicU64::new(0);

/// One connection's recorder: the statement under way and when it began.
#[derive(Default)]
struct Recorder {
    current: Option<(String, Instant)>,
}

fn shape(sql: &str) -> String {
    let sql = sql.split(" -- binds:").next().unwrap_or(sql).trim();
    let sql = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    // Savepoint names carry their depth; one line for all.
    if sql.starts_with("SAVEPOINT ") {
        return "SAVEPOINT …".into();
    }
    if sql.starts_with("RELEASE SAVEPOINT") {
        return "RELEASE SAVEPOINT …".into();
    }
    if sql.starts_with("ROLLBACK TO SAVEPOINT") {
        return "ROLLBACK TO SAVEPOINT …".into();
    }
    sql
}

impl Instrumentation for Recorder {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        match event {
            InstrumentationEvent::FinishEstablishConnection { .. } => {
                CONNECTIONS.fetch_add(1, Ordering::Relaxed);
            }
            InstrumentationEvent::StartQuery { query, .. } if RECORDING.load(Ordering::Relaxed) => {
                self.current = Some((shape(&query.to_string()), Instant::now()));
            }
            InstrumentationEvent::FinishQuery { .. } => {
                if let Some((sql, started)) = self.current.take() {
                    let took = started.elapsed();
                    let mut all = STATEMENTS.lock().unwrap();
                    let t = all.get_or_insert_with(HashMap::new).entry(sql).or_default();
                    t.count += 1;
                    t.total += took;
                    t.max = t.max.max(took);
                }
            }
            _ => {}
        }
    }
}

fn take() -> HashMap<String, Tally> {
    STATEMENTS.lock().unwrap().take().unwrap_or_default()
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() {
    diesel::connection::set_default_instrumentation(|| Some(Box::new(Recorder::default())))
        .expect("instrumentation");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, run());
}

struct Target {
    base: String,
    token: String,
    pools: Vec<String>,
}

async fn contribute(client: &reqwest::Client, t: &Target, n: usize, tag: &str) -> Duration {
    let pool = &t.pools[n % t.pools.len()];
    let started = Instant::now();
    let response = client
        .post(format!("{}/api/v1/pools/{pool}/contributions", t.base))
        .bearer_auth(&t.token)
        .header("Idempotency-Key", format!("{tag}-{n}"))
        .json(&serde_json::json!({"amount": "1.00", "method": "cash"}))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body = response.bytes().await.unwrap();
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
    started.elapsed()
}

fn report(title: &str, requests: usize, wall: Duration, latencies: &mut [Duration]) {
    let all = take();
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p).round() as usize];
    let statements: u64 = all.values().map(|t| t.count).sum();
    let db_time: Duration = all.values().map(|t| t.total).sum();
    let request_time: Duration = latencies.iter().sum();
    println!("\n### {title}\n");
    println!(
        "{requests} contributions in {wall:.2?} ({:.0}/s); per request: p50 {:.2?}, p99 {:.2?}; \
         {:.1} statements per request; time in statements {:.0} % of the requests' time \
         ({:.2?} per request)\n",
        requests as f64 / wall.as_secs_f64(),
        pct(0.5),
        pct(0.99),
        statements as f64 / requests as f64,
        100.0 * db_time.as_secs_f64() / request_time.as_secs_f64(),
        db_time / requests as u32,
    );
    println!("| per request | statement | mean | max | share of time in statements |");
    println!("|---|---|---|---|---|");
    let mut rows: Vec<_> = all.into_iter().collect();
    rows.sort_by_key(|row| std::cmp::Reverse(row.1.total));
    for (sql, t) in rows {
        let mut sql = sql.replace('|', "\\|").replace('`', "'");
        if sql.len() > 110 {
            let mut cut = 107;
            while !sql.is_char_boundary(cut) {
                cut -= 1;
            }
            sql.truncate(cut);
            sql.push('…');
        }
        println!(
            "| {:.2} | `{sql}` | {:.0?} | {:.1?} | {:.1} % |",
            t.count as f64 / requests as f64,
            t.total / t.count.max(1) as u32,
            t.max,
            100.0 * t.total.as_secs_f64() / db_time.as_secs_f64().max(1e-9),
        );
    }
}

async fn run() {
    let dir = tempfile::tempdir().unwrap();
    let (url, pg) = match std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
    {
        Some(server) => {
            use diesel::{Connection, RunQueryDsl};
            let name = format!("cp_statements_{}", uuid::Uuid::new_v4().simple());
            let mut conn = diesel::PgConnection::establish(&server).unwrap();
            diesel::sql_query(format!("CREATE DATABASE {name}"))
                .execute(&mut conn)
                .unwrap();
            let base = server.rsplit_once('/').unwrap().0.to_owned();
            (format!("{base}/{name}"), Some((server, name)))
        }
        None => (
            format!("sqlite://{}", dir.path().join("statements.db").display()),
            None,
        ),
    };
    let seconds: u64 = arg("--seconds").map_or(10, |s| s.parse().expect("--seconds"));
    let settings = Settings {
        database_url: url,
        bind: "127.0.0.1:0".into(),
        jwt_secret: Some("statements-secret-statements-secret-0123".into()),
        ..Settings::default()
    };
    let app = Application::build(settings).unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    let db = app.db();
    actix_web::rt::spawn(app.run_until_stopped());

    let collective = tokio::task::spawn_blocking(move || {
        let mut conn = db.get().unwrap();
        let (collective, _) = commonpot::collectives::service::bootstrap(
            &mut conn,
            "ada@example.org",
            "Ada",
            PASSWORD,
            "Statements",
            "UTC",
        )
        .unwrap();
        collective.id
    })
    .await
    .unwrap();
    let client = reqwest::Client::new();
    let token: serde_json::Value = client
        .post(format!("{base}/api/v1/auth/token"))
        .json(&serde_json::json!({"grant_type": "password", "username": "ada@example.org", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap().to_owned();
    let mut pools = Vec::new();
    for i in 0..POOLS {
        let pool: serde_json::Value = client
            .post(format!("{base}/api/v1/collectives/{collective}/pools"))
            .bearer_auth(&token)
            .json(&serde_json::json!({"name": format!("Pool {i}"), "currency": "EUR"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        pools.push(pool["id"].as_str().unwrap().to_owned());
    }
    let target = std::rc::Rc::new(Target { base, token, pools });
    println!(
        "backend: {}",
        if pg.is_some() { "PostgreSQL" } else { "SQLite" }
    );

    // One at a time.
    for n in 0..30 {
        contribute(&client, &target, n, "warm").await;
    }
    RECORDING.store(true, Ordering::Relaxed);
    take();
    let started = Instant::now();
    let mut latencies = Vec::new();
    for n in 0..300 {
        latencies.push(contribute(&client, &target, n, "one").await);
    }
    RECORDING.store(false, Ordering::Relaxed);
    report(
        "one at a time (1 client)",
        latencies.len(),
        started.elapsed(),
        &mut latencies,
    );

    // 64 at once.
    take();
    RECORDING.store(true, Ordering::Relaxed);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..64usize {
        let client = client.clone();
        let target = target.clone();
        tasks.push(tokio::task::spawn_local(async move {
            let mut latencies = Vec::new();
            let mut n = c;
            while Instant::now() < deadline {
                latencies.push(contribute(&client, &target, n, &format!("many-{c}")).await);
                n += 64;
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    let wall = started.elapsed();
    RECORDING.store(false, Ordering::Relaxed);
    report(
        "64 at once (64 clients, in the same process)",
        latencies.len(),
        wall,
        &mut latencies,
    );
    println!(
        "\nconnections opened: {}",
        CONNECTIONS.load(Ordering::Relaxed)
    );

    if let Some((server, name)) = pg {
        use diesel::{Connection, RunQueryDsl};
        let mut conn = diesel::PgConnection::establish(&server).unwrap();
        let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut conn);
    }
}
