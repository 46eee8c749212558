//! Identity and access: who is calling, and what they may do.
//!
//! * [`policy`] — roles, scopes and permissions: the one table of who may do
//!   what. Every endpoint names a [`policy::Permission`].
//! * [`access`] — turns a verified token into an [`access::Actor`] of one
//!   collective, reading role and status from the database at each request.
//! * [`tokens`] — JWT access tokens (HS256 only; `exp`, `iss`, `aud` required).
//! * [`password`] — argon2 hashes, and the random secrets we hand out.
//! * [`service`] — signing in, the grants: password, refresh (rotating),
//!   client credentials; revocation; purging what expired.
//! * [`throttle`] — sign-in attempts claimed before any secret is checked,
//!   shared by every replica; the caller's address behind proxies.
//! * [`http`] — the token endpoints and the bearer-token extractor.
//! * [`account`], [`account_http`] — a person's own account: change the
//!   password, sign out everywhere.
//! * [`profile`], [`profile_http`] — name, contact details, an email change
//!   confirmed by a single-use token.
//! * [`reset`], [`reset_http`] — password-reset links an admin passes on.
//! * [`second_factor`], [`second_factor_store`], [`second_factor_http`] — a
//!   TOTP second factor, its recovery codes, and a collective's requirement
//!   of it.

pub mod access;
pub mod account;
pub mod account_http;
pub mod http;
pub mod oauth;
pub mod password;
pub mod policy;
pub mod profile;
pub mod profile_http;
pub mod reset;
pub mod reset_http;
pub mod second_factor;
pub mod second_factor_http;
pub mod second_factor_store;
pub mod service;
pub mod throttle;
pub mod tokens;
