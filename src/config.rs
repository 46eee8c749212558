//! Configuration: defaults, then an optional TOML file, then the environment
//! (`COMMONPOT_*`, and `DATABASE_URL` as most tools expect), then flags.

use std::path::PathBuf;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// `sqlite://PATH` (created and migrated on first start) or `postgres://…`.
    pub database_url: String,
    /// Address `serve` listens on.
    pub bind: String,
    /// Connections kept to the database.
    pub db_pool_size: u32,
    /// Write commands that may wait for the writer (grouped into one commit
    /// per batch); one more is refused with 503 `overloaded`.
    pub write_queue: usize,
    /// Secret that signs access tokens (at least 32 bytes). Without it a
    /// development key is generated into `key_file` and a warning logged.
    pub jwt_secret: Option<String>,
    /// Where the generated development key is kept.
    pub key_file: PathBuf,
    /// `iss` and `aud` of the tokens this service issues and accepts.
    pub jwt_issuer: String,
    pub jwt_audience: String,
    /// Lifetime of access tokens, in seconds.
    pub access_token_ttl_secs: u64,
    /// Lifetime of refresh tokens, in seconds.
    pub refresh_token_ttl_secs: u64,
    /// Log lines as human text or as JSON objects.
    pub log_format: LogFormat,
    /// Failed logins allowed per account, and per address, in one window
    /// before further attempts are refused.
    pub login_max_failures: u32,
    /// Length of that window and of the lock-out, in seconds.
    pub login_window_secs: u64,
    /// Behind a reverse proxy: take the client's address from
    /// `X-Forwarded-For` (for per-address login throttling). Only turn this
    /// on when the proxy sets that header; otherwise callers could forge it.
    pub trust_forwarded_for: bool,
    /// How many reverse proxies, each appending to `X-Forwarded-For`, stand
    /// in front of the service: the client is the entry this many places
    /// from the right (1: the rightmost). Read only with
    /// `trust_forwarded_for`.
    pub trusted_proxies: u32,
    /// Days an installment may be late before its pledge lapses, unless a
    /// coordinator set another grace period on the pledge.
    pub pledge_grace_days: u32,
    /// How often `serve` sweeps pledges (stores due installments and
    /// lapses), in seconds.
    pub pledge_sweep_interval_secs: u64,
    /// The public view of a pool's summary shows no figure, and no
    /// combination of figures, drawn from fewer requests than this (quarters
    /// and categories are merged until none is), and pledge figures only
    /// with at least this many pledgers, so no figure points at one person.
    /// One floor for the whole service: not set per pool.
    pub summary_min_group: u32,
    /// The web app signs a person out after this many seconds without a
    /// click.
    pub session_ttl_secs: u64,
    /// Days events are kept for the feed (and webhook replays) before they
    /// are purged.
    pub events_retention_days: u32,
    /// Webhooks: whether endpoint URLs may be plain `http` (local
    /// development only; otherwise `https` is required).
    pub webhooks_allow_http: bool,
    /// Webhooks: networks (CIDR, e.g. `127.0.0.1/32`) endpoints may reach
    /// although they are loopback, private, link-local or otherwise
    /// refused. Empty in production.
    pub webhooks_allowed_networks: Vec<String>,
    /// Webhooks: how long, in seconds, the previous signing secret still
    /// signs (beside the new one) after a rotation.
    pub webhooks_rotation_grace_secs: u64,
    /// Webhooks: whether `serve` runs the delivery worker.
    pub webhooks_deliver: bool,
    /// Webhooks: how often the worker looks for new events and due
    /// deliveries, in milliseconds.
    pub webhooks_poll_ms: u64,
    /// Webhooks: timeout of one delivery attempt (connect to last byte), in
    /// milliseconds.
    pub webhooks_timeout_ms: u64,
    /// Webhooks: how long a replica holds a claimed delivery, in seconds;
    /// longer than the timeout. A replica that dies mid-delivery leaves it
    /// to expire, and the attempt is made again.
    pub webhooks_lease_secs: u64,
    /// Webhooks: the first retry's delay in milliseconds; each further one
    /// doubles (with jitter) up to `webhooks_retry_max_delay_secs`.
    pub webhooks_retry_base_ms: u64,
    /// Webhooks: the longest delay between two attempts, in seconds.
    pub webhooks_retry_max_delay_secs: u64,
    /// Webhooks: how long, in seconds, a message is retried before it is
    /// given up and its endpoint disabled (about three days).
    pub webhooks_give_up_after_secs: u64,
    /// Field encryption (#24): the keys private fields are sealed with,
    /// base64 (32 bytes each), comma separated, the primary first. Wins
    /// over `encryption_key_file`.
    pub encryption_keys: Option<String>,
    /// Field encryption: the file of keys (one base64 key a line, the
    /// primary first) when `encryption_keys` is unset; `serve` generates a
    /// development one, with a warning, if it does not exist.
    pub encryption_key_file: PathBuf,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            database_url: "sqlite://commonpot.db".into(),
            bind: "127.0.0.1:8080".into(),
            db_pool_size: 8,
            write_queue: crate::db::writer::DEFAULT_QUEUE,
            jwt_secret: None,
            key_file: PathBuf::from("commonpot.key"),
            jwt_issuer: "commonpot".into(),
            jwt_audience: "commonpot-api".into(),
            access_token_ttl_secs: 15 * 60,
            refresh_token_ttl_secs: 30 * 24 * 3600,
            log_format: LogFormat::Text,
            login_max_failures: 5,
            login_window_secs: 15 * 60,
            trust_forwarded_for: false,
            trusted_proxies: 1,
            pledge_grace_days: 14,
            pledge_sweep_interval_secs: 15 * 60,
            summary_min_group: 3,
            session_ttl_secs: 12 * 3600,
            events_retention_days: 30,
            webhooks_allow_http: false,
            webhooks_allowed_networks: Vec::new(),
            webhooks_rotation_grace_secs: 24 * 3600,
            webhooks_deliver: true,
            webhooks_poll_ms: 250,
            webhooks_timeout_ms: 10_000,
            webhooks_lease_secs: 60,
            webhooks_retry_base_ms: 10_000,
            webhooks_retry_max_delay_secs: 6 * 3600,
            webhooks_give_up_after_secs: 3 * 24 * 3600,
            encryption_keys: None,
            encryption_key_file: PathBuf::from("commonpot-fields.key"),
        }
    }
}

/// Every setting, as named in the file and (upper-cased, with the
/// `COMMONPOT_` prefix) in the environment.
const KEYS: &[&str] = &[
    "database_url",
    "bind",
    "db_pool_size",
    "write_queue",
    "jwt_secret",
    "key_file",
    "jwt_issuer",
    "jwt_audience",
    "access_token_ttl_secs",
    "refresh_token_ttl_secs",
    "log_format",
    "login_max_failures",
    "login_window_secs",
    "trust_forwarded_for",
    "trusted_proxies",
    "pledge_grace_days",
    "pledge_sweep_interval_secs",
    "summary_min_group",
    "session_ttl_secs",
    "events_retention_days",
    "webhooks_allow_http",
    "webhooks_allowed_networks",
    "webhooks_rotation_grace_secs",
    "webhooks_deliver",
    "webhooks_poll_ms",
    "webhooks_timeout_ms",
    "webhooks_lease_secs",
    "webhooks_retry_base_ms",
    "webhooks_retry_max_delay_secs",
    "webhooks_give_up_after_secs",
    "encryption_keys",
    "encryption_key_file",
];

impl Settings {
    /// Reads the layered configuration; `file` is the optional TOML file.
    pub fn load(file: Option<&std::path::Path>) -> Result<Self, Box<figment::Error>> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(file) = file {
            if !file.exists() {
                return Err(Box::new(figment::Error::from(format!(
                    "configuration file {} does not exist",
                    file.display()
                ))));
            }
            figment = figment.merge(Toml::file(file));
        }
        figment
            // Only our own keys: other COMMONPOT_* variables (such as the
            // COMMONPOT_PORT Kubernetes injects for a Service of that name)
            // are none of our business.
            .merge(Env::prefixed("COMMONPOT_").only(KEYS))
            .merge(Env::raw().only(&["database_url"]))
            .extract()
            .map_err(Box::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_can_come_from_the_environment() {
        let fields = serde_json::to_value(Settings::default()).unwrap();
        let mut names: Vec<&str> = fields
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        names.sort();
        let mut keys = KEYS.to_vec();
        keys.sort();
        assert_eq!(names, keys, "KEYS must list every field of Settings");
    }

    #[test]
    // The closure's error type is figment's own; its size is not ours to choose.
    #[allow(clippy::result_large_err)]
    fn unrelated_commonpot_variables_are_ignored() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("COMMONPOT_PORT", "tcp://10.0.0.1:80");
            jail.set_env("COMMONPOT_SERVICE_HOST", "10.0.0.1");
            jail.set_env("COMMONPOT_BIND", "0.0.0.0:9000");
            let settings = Settings::load(None).map_err(|e| e.to_string())?;
            assert_eq!(settings.bind, "0.0.0.0:9000");
            Ok(())
        });
    }
}
