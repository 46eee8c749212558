//! Starting the service: open the database, build the application, bind.
//! Tests start it the same way on port 0.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{web, HttpServer};

use crate::auth::tokens::Keys;
use crate::clock::Clock;
use crate::config::Settings;
use crate::db::{self, DatabaseUrl, Db};
use crate::http::{self, metrics::Metrics, AppState};
use crate::webhooks::ssrf::{Guard, Lookup, Policy, SystemLookup};

pub struct Application {
    port: u16,
    server: Server,
    db: Db,
    settings: Arc<Settings>,
    webhooks: Guard,
    pledge_sweep_every: std::time::Duration,
    events_retention_days: u32,
}

impl Application {
    /// Opens (creating and migrating if needed) the database and binds the
    /// listener, without serving yet.
    pub fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with_clock(settings, Clock::system())
    }

    /// Like `build`, with the services reading the time from `clock` (tests
    /// move a settable one to let installments fall due).
    pub fn build_with_clock(settings: Settings, clock: Clock) -> anyhow::Result<Self> {
        Self::build_with(settings, clock, Arc::new(SystemLookup))
    }

    /// Like `build_with_clock`, with webhook host names resolved by
    /// `lookup` (tests inject a table, so they need no DNS).
    pub fn build_with(
        settings: Settings,
        clock: Clock,
        lookup: Arc<dyn Lookup>,
    ) -> anyhow::Result<Self> {
        let guard = Guard {
            policy: Arc::new(Policy::new(
                settings.webhooks_allow_http,
                &settings.webhooks_allowed_networks,
            )?),
            lookup,
        };
        let url = DatabaseUrl::parse(&settings.database_url)?;
        let keys = Keys::from_settings(&settings)?;
        let pool = db::open(&url, settings.db_pool_size)?;
        // Private fields (#24): the keyring, checked against the database,
        // and whatever is still clear text sealed, before anything serves.
        crate::crypto::sweep::startup(&mut *pool.get()?, &settings)?;
        let db = Db::new(pool, &url)
            .with_clock(clock)
            .with_write_queue(settings.write_queue);
        let listener = TcpListener::bind(&settings.bind)
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", settings.bind))?;
        let port = listener.local_addr()?.port();
        let pledge_sweep_every =
            std::time::Duration::from_secs(settings.pledge_sweep_interval_secs.max(1));
        let events_retention_days = settings.events_retention_days.max(1);
        let settings = Arc::new(settings);
        let state = web::Data::new(AppState {
            db: db.clone(),
            settings: settings.clone(),
            keys,
            webhooks: guard.clone(),
        });
        let metrics = web::Data::new(Metrics::new());
        let api = web::Data::new(http::OpenApiJson::generate());
        let server =
            HttpServer::new(move || http::app(state.clone(), metrics.clone(), api.clone()))
                .listen(listener)?
                .shutdown_timeout(30)
                .run();
        Ok(Self {
            port,
            server,
            db,
            settings,
            webhooks: guard,
            pledge_sweep_every,
            events_retention_days,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The database the application serves from (tests and tools).
    pub fn db(&self) -> Db {
        self.db.clone()
    }

    /// Serves until SIGINT/SIGTERM, then finishes in-flight requests.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let db = self.db.clone();
        let retention_days = self.events_retention_days;
        let settings = self.settings.clone();
        let housekeeping = actix_web::rt::spawn(async move {
            let mut every_hour =
                actix_web::rt::time::interval(std::time::Duration::from_secs(3600));
            loop {
                every_hour.tick().await;
                match db.run(crate::idempotency::purge_expired).await {
                    Ok(n) if n > 0 => {
                        tracing::info!(purged = n, "expired idempotency keys removed")
                    }
                    Ok(_) => {}
                    Err(error) => tracing::warn!(%error, "idempotency housekeeping failed"),
                }
                match db.run(crate::web::session::purge_expired).await {
                    Ok(n) if n > 0 => tracing::info!(purged = n, "expired web sessions removed"),
                    Ok(_) => {}
                    Err(error) => tracing::warn!(%error, "session housekeeping failed"),
                }
                match db
                    .run(move |conn| crate::events::purge_expired(conn, retention_days))
                    .await
                {
                    Ok(n) if n > 0 => tracing::info!(purged = n, "expired events removed"),
                    Ok(_) => {}
                    Err(error) => tracing::warn!(%error, "events housekeeping failed"),
                }
                // Closed requests past their collective's retention period
                // (safe on several replicas: see `personal_data::retention`).
                match db
                    .run(|conn| crate::personal_data::retention::sweep(conn, crate::ids::now()))
                    .await
                {
                    Ok(s) if s.redacted > 0 || s.failed > 0 => tracing::info!(
                        redacted = s.redacted,
                        failed = s.failed,
                        "closed requests' private fields redacted"
                    ),
                    Ok(_) => {}
                    Err(error) => tracing::warn!(%error, "retention sweep failed"),
                }
                let cutoff = crate::ids::now() - chrono::TimeDelta::days(retention_days.into());
                match db
                    .run(move |conn| crate::webhooks::log::purge_before(conn, cutoff))
                    .await
                {
                    Ok(n) if n > 0 => tracing::info!(purged = n, "old webhook deliveries removed"),
                    Ok(_) => {}
                    Err(error) => tracing::warn!(%error, "webhook log housekeeping failed"),
                }
                let settings = settings.clone();
                let purged = db
                    .run(move |conn| {
                        crate::auth::service::purge_expired(conn, &settings, crate::ids::now())
                    })
                    .await;
                match purged {
                    Ok(p) if p.throttle_counters > 0 || p.refresh_tokens > 0 => tracing::info!(
                        throttle_counters = p.throttle_counters,
                        refresh_tokens = p.refresh_tokens,
                        "expired sign-in counters and refresh tokens removed"
                    ),
                    Ok(_) => {}
                    Err(error) => tracing::warn!(%error, "sign-in housekeeping failed"),
                }
            }
        });
        let db = self.db.clone();
        let every = self.pledge_sweep_every;
        let pledge_sweep = actix_web::rt::spawn(async move {
            // Safe on several replicas at once (see `pledges::lapses`).
            let mut ticks = actix_web::rt::time::interval(every);
            loop {
                ticks.tick().await;
                let swept = db
                    .run(|conn| crate::pledges::lapses::sweep(conn, crate::clock::now_utc()))
                    .await;
                match swept {
                    Ok(done) if done.lapsed > 0 || done.materialised > 0 || done.announced > 0 => {
                        tracing::info!(
                            checked = done.checked,
                            materialised = done.materialised,
                            lapsed = done.lapsed,
                            announced = done.announced,
                            "pledges swept"
                        )
                    }
                    Ok(_) => {}
                    Err(error) => tracing::warn!(%error, "pledge sweep failed"),
                }
            }
        });
        // Webhook delivery (#19): safe on several replicas at once (leases).
        let delivery = if self.settings.webhooks_deliver {
            match crate::webhooks::worker::Worker::new(
                self.db.clone(),
                &self.settings,
                self.webhooks.clone(),
            ) {
                Ok(worker) => Some(actix_web::rt::spawn(worker.run())),
                Err(error) => {
                    tracing::error!(%error, "webhook delivery worker cannot start");
                    None
                }
            }
        } else {
            None
        };
        // A key added or promoted in the key file (`admin rotate-key`)
        // reaches this running service within 30 s, and the service says
        // which keys it holds (promotion waits for every replica).
        let db = self.db.clone();
        let key_reload = actix_web::rt::spawn(async move {
            let mut ticks = actix_web::rt::time::interval(crate::crypto::holders::ANNOUNCE_EVERY);
            loop {
                ticks.tick().await;
                crate::crypto::keyring::reload();
                if let Err(error) = db.run(crate::crypto::holders::announce_this_replica).await {
                    tracing::warn!(%error, "could not record which encryption keys this replica holds");
                }
            }
        });
        let result = self.server.await;
        housekeeping.abort();
        pledge_sweep.abort();
        key_reload.abort();
        if let Some(delivery) = delivery {
            delivery.abort();
        }
        result
    }
}
