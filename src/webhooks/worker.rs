//! The delivery worker `serve` runs: it turns new events into deliveries,
//! takes due ones under a lease and posts them, each on its own task, at
//! most [`IN_FLIGHT`] at once per replica.
//!
//! The HTTP client is built for hostile destinations: names resolve only
//! through [`GuardResolver`], which refuses a name if any address it has is
//! refused by the request-forgery rules, before any connection; IP-literal
//! hosts (which no resolver sees) are checked before the request is built;
//! no proxy, no redirects, a short timeout, and at most [`READ_LIMIT`] bytes
//! of an answer read.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::TimeDelta;
use rand::Rng;

use tokio::sync::mpsc;

use super::delivery::{self, Done, Message, Outcome, Prepared, Schedule};
use super::ssrf::Guard;
use crate::config::Settings;
use crate::db::Db;
use crate::ids::{new_id, now};

/// Deliveries one replica has taken and not yet written down.
pub const IN_FLIGHT: usize = 128;
/// Bytes of an answer read (the rest is not read); the log keeps the first
/// [`LOG_BYTES`].
pub const READ_LIMIT: usize = 4096;
pub const LOG_BYTES: usize = 512;
/// Events turned into deliveries per endpoint and round.
const FAN_OUT_BATCH: i64 = 500;

/// Resolves names for the webhook client through the guard: the lookup
/// (the system's, or a test's table), then the request-forgery rules.
struct GuardResolver(Guard);

impl reqwest::dns::Resolve for GuardResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let guard = self.0.clone();
        let name = name.as_str().trim_end_matches('.').to_owned();
        Box::pin(async move {
            let found = guard.lookup.lookup(&name).await?;
            let allowed = guard.policy.filter(&name, found)?;
            let addrs: reqwest::dns::Addrs =
                Box::new(allowed.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

/// The HTTP client of the worker: see the module's documentation.
pub fn client(guard: &Guard, timeout: Duration) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .dns_resolver(Arc::new(GuardResolver(guard.clone())))
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .pool_idle_timeout(Duration::from_secs(30))
        .user_agent(concat!("commonpot-webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Posts one message and says how it went. Never connects to an address
/// the guard refuses.
pub async fn post(http: &reqwest::Client, guard: &Guard, message: &Message) -> Outcome {
    let started_at = now();
    let clock = Instant::now();
    let done =
        |status_code: Option<u16>, error: Option<String>, response: Option<String>| Outcome {
            started_at,
            duration_ms: i64::try_from(clock.elapsed().as_millis()).unwrap_or(i64::MAX),
            status_code,
            error,
            response_start: response,
        };
    let url = match url::Url::parse(&message.url) {
        Ok(url) => url,
        Err(e) => return done(None, Some(format!("not a URL: {e}")), None),
    };
    // Scheme, credentials, and an IP-literal host (the resolver sees only
    // names): refused here, before any connection.
    if let Err(why) = guard.policy.check_url(&url) {
        return done(None, Some(format!("refused: {why}")), None);
    }
    let sent = http
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", &message.id)
        .header("webhook-timestamp", message.timestamp.to_string())
        .header("webhook-signature", &message.signature)
        .body(message.body.clone())
        .send()
        .await;
    let mut response = match sent {
        Ok(response) => response,
        Err(e) => return done(None, Some(describe(&e)), None),
    };
    let status = response.status().as_u16();
    let mut read = Vec::new();
    while read.len() < READ_LIMIT {
        match response.chunk().await {
            Ok(Some(chunk)) => read.extend_from_slice(&chunk),
            Ok(None) => break,
            // The status is the answer; a body cut off changes nothing.
            Err(_) => break,
        }
    }
    read.truncate(LOG_BYTES);
    let text = String::from_utf8_lossy(&read).into_owned();
    done(Some(status), None, (!text.is_empty()).then_some(text))
}

/// An error with its causes, as one line (a refusal by the resolver is a
/// cause of reqwest's connect error).
fn describe(error: &reqwest::Error) -> String {
    let mut text = if error.is_timeout() {
        "timed out".to_owned()
    } else if error.is_connect() {
        "could not connect".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let shown = cause.to_string();
        if !text.contains(&shown) {
            text.push_str(": ");
            text.push_str(&shown);
        }
        source = cause.source();
    }
    text
}

/// One replica's delivery worker.
#[derive(Clone)]
pub struct Worker {
    db: Db,
    guard: Guard,
    http: reqwest::Client,
    schedule: Schedule,
    poll: Duration,
    /// Names this replica in the delivery log.
    replica: Arc<str>,
    in_flight: Arc<AtomicUsize>,
}

impl Worker {
    pub fn new(db: Db, settings: &Settings, guard: Guard) -> anyhow::Result<Self> {
        let timeout = Duration::from_millis(settings.webhooks_timeout_ms.max(1));
        let http = client(&guard, timeout)?;
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "commonpot".into());
        let replica = format!(
            "{host}:{}:{}",
            std::process::id(),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        Ok(Self {
            db,
            guard,
            http,
            schedule: Schedule::from_settings(settings),
            poll: Duration::from_millis(settings.webhooks_poll_ms.max(10)),
            replica: replica.into(),
            in_flight: Arc::new(AtomicUsize::new(0)),
        })
    }

    pub fn replica(&self) -> &str {
        &self.replica
    }

    /// Runs until the task is dropped. Outcomes are written down by one
    /// task, many per transaction.
    pub async fn run(self) {
        tracing::info!(replica = %self.replica, "webhook delivery worker started");
        let (done, outcomes) = mpsc::unbounded_channel();
        // Ends once the last sender (this loop, attempts in flight) is gone.
        actix_web::rt::spawn(self.clone().record(outcomes));
        loop {
            match self.round(&done).await {
                // A full batch: more may be due at once.
                Ok(started) if started >= IN_FLIGHT / 2 => continue,
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "webhook delivery round failed"),
            }
            actix_web::rt::time::sleep(self.poll).await;
        }
    }

    /// Writes down outcomes as they come, batching those that are waiting.
    async fn record(self, mut outcomes: mpsc::UnboundedReceiver<Done>) {
        while let Some(first) = outcomes.recv().await {
            // A moment for the rest of the round's answers: one commit for
            // them all.
            actix_web::rt::time::sleep(Duration::from_millis(10)).await;
            let mut batch = vec![first];
            while batch.len() < IN_FLIGHT {
                match outcomes.try_recv() {
                    Ok(more) => batch.push(more),
                    Err(_) => break,
                }
            }
            let count = batch.len();
            let (schedule, replica) = (self.schedule, self.replica.clone());
            match self
                .db
                .run(move |conn| delivery::finish_all(conn, &batch, &replica, &schedule))
                .await
            {
                Ok(0) => {}
                Ok(given_up) => {
                    tracing::warn!(given_up, "webhooks given up; their endpoints are disabled")
                }
                // Their leases run out, and they are tried again.
                Err(error) => tracing::warn!(%error, count, "webhook outcomes not recorded"),
            }
            self.in_flight.fetch_sub(count, Ordering::SeqCst);
        }
    }

    /// One round: fan out new events, then take due deliveries and start
    /// them. Returns how many it took.
    pub async fn round(&self, done: &mpsc::UnboundedSender<Done>) -> crate::error::Result<usize> {
        self.db
            .run(|conn| delivery::fan_out(conn, FAN_OUT_BATCH))
            .await?;
        let room = IN_FLIGHT.saturating_sub(self.in_flight.load(Ordering::SeqCst));
        if room == 0 {
            return Ok(0);
        }
        let owner = format!("{}/{}", self.replica, new_id());
        let lease = self.schedule.lease;
        let claimer = owner.clone();
        let prepared = self
            .db
            .run(move |conn| {
                let taken = delivery::claim(conn, &claimer, lease, room as i64)?;
                delivery::prepare_all(conn, taken)
            })
            .await?;
        let taken = prepared.len();
        self.in_flight.fetch_add(taken, Ordering::SeqCst);
        let later = TimeDelta::milliseconds(
            i64::try_from(self.schedule.retry_base_ms).unwrap_or(i64::MAX / 2),
        );
        for (row, prepared) in prepared {
            let owner = owner.clone();
            let message = match prepared {
                Prepared::Send(message) => message,
                Prepared::Skip(why) => {
                    let _ = done.send(Done::Aside {
                        delivery: row,
                        owner,
                        skip: Some(why),
                        later: TimeDelta::zero(),
                    });
                    continue;
                }
                Prepared::Wait => {
                    let _ = done.send(Done::Aside {
                        delivery: row,
                        owner,
                        skip: None,
                        later,
                    });
                    continue;
                }
            };
            let (http, guard, done) = (self.http.clone(), self.guard.clone(), done.clone());
            actix_web::rt::spawn(async move {
                let outcome = post(&http, &guard, &message).await;
                let _ = done.send(Done::Tried {
                    delivery: row,
                    owner,
                    outcome,
                    jitter_permille: rand::thread_rng().gen_range(750..=1250),
                });
            });
        }
        Ok(taken)
    }
}
