//! Sign-in throttling, shared by every replica through the database.
//!
//! An attempt is **claimed before its secret is checked**: the counters of
//! its keys (the account or partner app, and the caller's address) go up by
//! one, and when a counter is then over its limit the attempt is refused
//! without checking anything. The increment and the comparison happen in one
//! write transaction holding the counters' rows, so a burst of parallel
//! guesses — on one server or on many sharing one PostgreSQL — gets exactly
//! `max` checks, never more. A failed check leaves its claim counted; a
//! successful one gives it back, so people signing in correctly from one
//! shared address (a household, a NAT) never lock it.
//!
//! Keys are always claimed in the order they are given (account first, then
//! address), so two claims never wait on each other's rows in a cycle.

use std::net::IpAddr;

use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;

use crate::db::schema::login_throttle;
use crate::db::{is_unique_violation, write_tx, DbConnection};
use crate::error::{Error, Result};

/// One counter an attempt is claimed against, with its limit per window.
#[derive(Debug, Clone)]
pub struct Limit {
    pub key: String,
    pub max: u32,
}

impl Limit {
    /// The counters of a person's sign-in: their account, and the address
    /// it comes from (which may try several accounts: four times as many).
    pub fn for_account(email: &str, address: &str, max: u32) -> Vec<Limit> {
        vec![
            Limit {
                key: format!("account:{email}"),
                max,
            },
            Self::for_address(address, max),
        ]
    }

    /// The counters of a partner app's sign-in.
    pub fn for_client(client_id: &str, address: &str, max: u32) -> Vec<Limit> {
        vec![
            Limit {
                key: format!("client:{client_id}"),
                max,
            },
            Self::for_address(address, max),
        ]
    }

    fn for_address(address: &str, max: u32) -> Limit {
        Limit {
            key: format!("address:{address}"),
            max: max.saturating_mul(4),
        }
    }
}

/// An attempt that was let through; give it back if it succeeds.
#[derive(Debug, Clone)]
#[must_use = "a successful attempt gives its claim back"]
pub struct Claim {
    keys: Vec<String>,
}

/// The answer to an attempt over the limit.
pub fn locked_out(wait_secs: u64) -> Error {
    Error::RateLimited {
        code: "too_many_attempts",
        message: "too many failed sign-in attempts from this account or address; try again later"
            .into(),
        retry_after_secs: wait_secs.max(1),
    }
}

/// Claims one attempt against every limit, or refuses it (429 with the
/// seconds to wait) when any of them is locked or would go over.
pub fn claim(
    conn: &mut DbConnection,
    limits: &[Limit],
    window_secs: u64,
    at: NaiveDateTime,
) -> Result<Claim> {
    let window = TimeDelta::seconds(window_secs as i64);
    let keys: Vec<String> = limits.iter().map(|l| l.key.clone()).collect();
    // The refusal is committed too (it may set a lock), then reported.
    let outcome = write_tx(conn, |conn| -> Result<std::result::Result<(), u64>> {
        for key in &keys {
            count_one(conn, key, window, at)?;
        }
        let rows: Vec<(String, i32, Option<NaiveDateTime>)> = login_throttle::table
            .filter(login_throttle::key.eq_any(&keys))
            .select((
                login_throttle::key,
                login_throttle::failures,
                login_throttle::locked_until,
            ))
            .load(conn)?;
        let mut wait: Option<TimeDelta> = None;
        for (key, counted, locked_until) in rows {
            let max = limits
                .iter()
                .find(|l| l.key == key)
                .map_or(0, |l| l.max as i32);
            let this_wait = match locked_until.filter(|until| *until > at) {
                Some(until) => until - at,
                None if counted > max => {
                    diesel::update(login_throttle::table.filter(login_throttle::key.eq(&key)))
                        .set(login_throttle::locked_until.eq(at + window))
                        .execute(conn)?;
                    window
                }
                None => continue,
            };
            wait = Some(wait.map_or(this_wait, |w| w.max(this_wait)));
        }
        match wait {
            Some(wait) => {
                // A refused attempt checks nothing, so it does not count.
                uncount(conn, &keys)?;
                Ok(Err(wait.num_seconds().max(1) as u64))
            }
            None => Ok(Ok(())),
        }
    })?;
    match outcome {
        Ok(()) => Ok(Claim { keys }),
        Err(wait) => Err(locked_out(wait)),
    }
}

/// Gives a successful attempt's claim back.
pub fn give_back(conn: &mut DbConnection, claim: Claim) -> Result<()> {
    write_tx(conn, |conn| uncount(conn, &claim.keys))
}

fn uncount(conn: &mut DbConnection, keys: &[String]) -> Result<()> {
    for key in keys {
        diesel::update(
            login_throttle::table
                .filter(login_throttle::key.eq(key))
                .filter(login_throttle::failures.gt(0)),
        )
        .set(login_throttle::failures.eq(login_throttle::failures - 1))
        .execute(conn)?;
    }
    Ok(())
}

/// Adds one to `key`'s counter, starting a new window when the last one is
/// over and no lock holds. Every step is a guarded update, so concurrent
/// claims all count on both databases: on PostgreSQL a claim that waited for
/// another's row lock re-checks its guard against the row as committed.
fn count_one(
    conn: &mut DbConnection,
    key: &str,
    window: TimeDelta,
    at: NaiveDateTime,
) -> Result<()> {
    for _ in 0..3 {
        let in_window = diesel::update(
            login_throttle::table
                .filter(login_throttle::key.eq(key))
                .filter(login_throttle::window_started_at.gt(at - window)),
        )
        .set(login_throttle::failures.eq(login_throttle::failures + 1))
        .execute(conn)?;
        if in_window > 0 {
            return Ok(());
        }
        let restarted = diesel::update(
            login_throttle::table
                .filter(login_throttle::key.eq(key))
                .filter(login_throttle::window_started_at.le(at - window))
                .filter(
                    login_throttle::locked_until
                        .is_null()
                        .or(login_throttle::locked_until.le(at)),
                ),
        )
        .set((
            login_throttle::failures.eq(1),
            login_throttle::window_started_at.eq(at),
            login_throttle::locked_until.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?;
        if restarted > 0 {
            return Ok(());
        }
        // The window is over but a lock still holds, or another claim
        // restarted the window meanwhile: count on the row as it is.
        let counted = diesel::update(login_throttle::table.filter(login_throttle::key.eq(key)))
            .set(login_throttle::failures.eq(login_throttle::failures + 1))
            .execute(conn)?;
        if counted > 0 {
            return Ok(());
        }
        let inserted = conn.transaction(|conn| {
            diesel::insert_into(login_throttle::table)
                .values((
                    login_throttle::key.eq(key),
                    login_throttle::failures.eq(1),
                    login_throttle::window_started_at.eq(at),
                ))
                .execute(conn)
        });
        match inserted {
            Ok(_) => return Ok(()),
            // Another claim made the row first: count on it.
            Err(e) if is_unique_violation(&e) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::Internal(format!(
        "the sign-in counter {key} could not be claimed"
    )))
}

/// Deletes counters whose window is over and that hold no lock: they no
/// longer say anything. Run now and then by `serve`.
pub fn purge(conn: &mut DbConnection, window_secs: u64, at: NaiveDateTime) -> Result<usize> {
    let window = TimeDelta::seconds(window_secs as i64);
    Ok(diesel::delete(
        login_throttle::table
            .filter(login_throttle::window_started_at.le(at - window))
            .filter(
                login_throttle::locked_until
                    .is_null()
                    .or(login_throttle::locked_until.le(at)),
            ),
    )
    .execute(conn)?)
}

/// The caller's address for throttling.
///
/// Without trusted proxies it is the TCP peer. Behind `trusted_proxies`
/// reverse proxies, each appending the address it was called from to
/// `X-Forwarded-For`, the client is the entry that many places from the
/// right: the address the outermost trusted proxy saw. Entries further left
/// were written by the client and are never believed. A header shorter
/// than the chain (or unreadable) means the request did not come through
/// it, and the peer is used.
pub fn client_address(
    peer: Option<IpAddr>,
    forwarded_for: &[&str],
    trusted_proxies: u32,
) -> String {
    let peer = || peer.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
    if trusted_proxies == 0 {
        return peer();
    }
    let hops: Vec<&str> = forwarded_for
        .iter()
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect();
    let Some(at) = hops.len().checked_sub(trusted_proxies as usize) else {
        return peer();
    };
    parse_hop(hops[at]).map_or_else(peer, |ip| ip.to_string())
}

/// An address as proxies write it: `203.0.113.7`, `2001:db8::1`,
/// `[2001:db8::1]:443` or `203.0.113.7:443`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer() -> Option<IpAddr> {
        Some("10.0.0.9".parse().unwrap())
    }

    #[test]
    fn without_trusted_proxies_the_header_is_ignored() {
        assert_eq!(client_address(peer(), &["203.0.113.7"], 0), "10.0.0.9");
    }

    #[test]
    fn one_proxy_means_the_rightmost_entry() {
        assert_eq!(
            client_address(peer(), &["6.6.6.6, 203.0.113.7"], 1),
            "203.0.113.7"
        );
        assert_eq!(client_address(peer(), &["203.0.113.7"], 1), "203.0.113.7");
        // Several header lines read as one list, in order.
        assert_eq!(
            client_address(peer(), &["6.6.6.6", "198.51.100.2"], 1),
            "198.51.100.2"
        );
    }

    #[test]
    fn a_chain_of_proxies_counts_from_the_right() {
        assert_eq!(
            client_address(peer(), &["6.6.6.6, 203.0.113.7, 10.0.0.1"], 2),
            "203.0.113.7"
        );
        // Shorter than the chain: not through the proxies; the peer.
        assert_eq!(client_address(peer(), &["203.0.113.7"], 2), "10.0.0.9");
        assert_eq!(client_address(peer(), &[], 1), "10.0.0.9");
    }

    #[test]
    fn ports_and_brackets_are_dropped_and_garbage_is_not_believed() {
        assert_eq!(
            client_address(peer(), &["[2001:db8::1]:443"], 1),
            "2001:db8::1"
        );
        assert_eq!(
            client_address(peer(), &["203.0.113.7:5000"], 1),
            "203.0.113.7"
        );
        assert_eq!(client_address(peer(), &["not-an-address"], 1), "10.0.0.9");
    }
}
