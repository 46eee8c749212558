//! A second factor: a TOTP authenticator app (RFC 6238), and single-use
//! recovery codes for when the phone is lost.
//!
//! * **Enrolment**: starting it makes a 160-bit secret, shown once as text
//!   and as an `otpauth://` URI (SHA-1, 6 digits, 30 s: what every
//!   authenticator app reads); it is stored sealed (see [`crate::crypto`])
//!   and stays *pending* until a code from the app confirms it. Confirming
//!   hands out [`RECOVERY_CODES`] recovery codes, once; only their SHA-256
//!   digests are kept (each is 50 random bits, so a digest is enough).
//! * **Codes**: a code is accepted for the current 30-second step or one
//!   step either side ([`SKEW_STEPS`]), and only for a step later than the
//!   last one accepted: each code works once, and a code seen over a
//!   shoulder is spent. Time comes from [`crate::ids::now`], so tests move
//!   it.
//! * **Throttle**: every check of a code is claimed against the sign-in
//!   throttle first (the account's counter and the address's, as passwords
//!   are); a wrong code stays counted.
//! * **Sign-in**: once confirmed, a password alone no longer signs in: the
//!   password grant needs `totp_code` or `recovery_code`
//!   ([`super::service::authenticate`]).
//! * **A collective's requirement**: a collective may require a second
//!   factor of its coordinators and admins. Until they enrol, a person it
//!   applies to may use their sign-in only to enrol ([`restricted`]; 403
//!   `second_factor_required` elsewhere). Partner apps are not people, and
//!   are not affected.

use chrono::NaiveDateTime;
use totp_rs::{Algorithm, TOTP};

use super::access::Principal;
use super::account::check_current_password;
use super::password::{digest, digests_match, random_bytes};
use super::second_factor_store as store;
use super::throttle::{self, Limit};
use crate::config::Settings;
use crate::db::{write_tx, Db, DbConnection};
use crate::error::{Error, Result};
use crate::ids::now;

/// Seconds in one time step.
pub const STEP_SECS: i64 = 30;
/// Steps either side of the current one whose codes are accepted.
pub const SKEW_STEPS: i64 = 1;
/// Digits in a code.
pub const DIGITS: usize = 6;
/// Recovery codes handed out at a time.
pub const RECOVERY_CODES: usize = 10;
/// The name authenticator apps show above the code.
pub const ISSUER: &str = "commonpot";
const SECRET_BYTES: usize = 20;

/// Where an enrolment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Started; not yet confirmed by a code. Sign-in is unchanged.
    Pending,
    /// Confirmed: sign-in asks for a code.
    Confirmed,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Confirmed => "confirmed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pending" => Some(Self::Pending),
            "confirmed" => Some(Self::Confirmed),
            _ => None,
        }
    }
}

/// What a person sends as their second factor.
#[derive(Clone, PartialEq, Eq)]
pub enum Answer {
    /// A code from the authenticator app, six digits.
    Code(String),
    /// One of the recovery codes.
    Recovery(String),
}

impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Code(_) => f.write_str("Answer::Code(..)"),
            Self::Recovery(_) => f.write_str("Answer::Recovery(..)"),
        }
    }
}

impl Answer {
    /// From the two optional fields a request may carry (either, not both);
    /// `None` when neither is sent. Spaces and dashes are ignored.
    pub fn from_fields(
        code_field: &str,
        code: Option<&str>,
        recovery: Option<&str>,
    ) -> Result<Option<Self>> {
        let clean = |text: &str| -> String {
            text.chars()
                .filter(|c| !c.is_whitespace() && *c != '-')
                .collect()
        };
        match (
            code.map(clean).filter(|c| !c.is_empty()),
            recovery.map(clean).filter(|c| !c.is_empty()),
        ) {
            (None, None) => Ok(None),
            (Some(_), Some(_)) => Err(Error::invalid(
                "recovery_code",
                format!("send {code_field} or recovery_code, not both"),
            )),
            (Some(code), None) => {
                if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(Error::invalid(
                        code_field,
                        format!("must be the {DIGITS} digits your authenticator app shows"),
                    ));
                }
                Ok(Some(Self::Code(code)))
            }
            (None, Some(recovery)) => {
                let recovery = recovery.to_ascii_lowercase();
                if recovery.len() != RECOVERY_CHARS
                    || !recovery.bytes().all(|b| RECOVERY_ALPHABET.contains(&b))
                {
                    return Err(Error::invalid(
                        "recovery_code",
                        "is not a recovery code (they look like abcd-efgh-23)",
                    ));
                }
                Ok(Some(Self::Recovery(recovery)))
            }
        }
    }

    /// A code only (not a recovery code), required.
    pub fn code(field: &str, code: &str) -> Result<Self> {
        Self::from_fields(field, Some(code), None)?
            .ok_or_else(|| Error::invalid(field, "must not be empty"))
    }
}

/// What a person sees of their second factor.
#[derive(Debug, Clone)]
pub struct Status {
    pub state: Option<State>,
    pub confirmed_at: Option<NaiveDateTime>,
    pub recovery_codes_left: i64,
}

impl Status {
    /// `none`, `pending` or `confirmed`, as the API and the export say it.
    pub fn state_name(&self) -> &'static str {
        self.state.map_or("none", State::as_str)
    }
}

/// A started enrolment: the secret, shown this once.
#[derive(Clone)]
pub struct Started {
    /// The secret in base32, to type into an app.
    pub secret: String,
    /// The `otpauth://totp/…` URI a QR code carries.
    pub otpauth_uri: String,
}

impl std::fmt::Debug for Started {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Started { .. }")
    }
}

fn generator(secret_base32: &str, account: &str) -> Result<TOTP> {
    let bytes = totp_rs::Secret::Encoded(secret_base32.to_owned())
        .to_bytes()
        .map_err(|e| Error::Internal(format!("a stored TOTP secret is not base32: {e:?}")))?;
    // An account name may not hold ':' in an otpauth URI.
    let account = account.replace(':', "_");
    TOTP::new(
        Algorithm::SHA1,
        DIGITS,
        0,
        STEP_SECS as u64,
        bytes,
        Some(ISSUER.to_owned()),
        account,
    )
    .map_err(|e| Error::Internal(format!("a TOTP generator could not be made: {e:?}")))
}

/// The code of `secret` (base32) for time step `step`. Tests use it to
/// answer as an authenticator app would.
pub fn code_for_step(secret_base32: &str, step: i64) -> Result<String> {
    let step = u64::try_from(step).map_err(|_| Error::Internal("a step before 1970".into()))?;
    Ok(generator(secret_base32, "-")?.generate(step * STEP_SECS as u64))
}

/// The time step `at` falls in.
pub fn step_at(at: NaiveDateTime) -> i64 {
    at.and_utc().timestamp().div_euclid(STEP_SECS)
}

/// The step within the window around `at` whose code is `code`, if any.
fn matching_step(secret_base32: &str, code: &str, at: NaiveDateTime) -> Result<Option<i64>> {
    let current = step_at(at);
    let mut found = None;
    // Every step is computed and compared, so the time taken does not
    // tell which one matched.
    for step in (current - SKEW_STEPS)..=(current + SKEW_STEPS) {
        if step >= 0 && digests_match(&code_for_step(secret_base32, step)?, code) {
            found = found.or(Some(step));
        }
    }
    Ok(found)
}

fn wrong_code() -> Error {
    Error::Forbidden {
        code: "wrong_second_factor_code",
        message: "the code is wrong, was used already, or is from another time; use the one your app shows now".into(),
    }
}

fn not_enrolled() -> Error {
    Error::conflict(
        "no_second_factor",
        "you have no confirmed second factor; enrol one first",
    )
}

/// Checks `answer` for a person with a confirmed second factor and uses it
/// up: the code's step is recorded (no code for it or an earlier step works
/// again), or the recovery code is spent. False for a wrong answer.
pub fn check_and_use(conn: &mut DbConnection, user_id: &str, answer: &Answer) -> Result<bool> {
    let at = now();
    write_tx(conn, |conn| match answer {
        Answer::Code(code) => {
            let Some(enrolment) = store::find(conn, user_id)? else {
                return Ok(false);
            };
            if State::parse(&enrolment.state) != Some(State::Confirmed) {
                return Ok(false);
            }
            match matching_step(&enrolment.secret, code, at)? {
                Some(step) if enrolment.last_step.is_none_or(|last| step > last) => {
                    store::accept_step(conn, user_id, State::Confirmed.as_str(), step)
                }
                _ => Ok(false),
            }
        }
        Answer::Recovery(recovery) => {
            if !store::has(conn, user_id, State::Confirmed.as_str())? {
                return Ok(false);
            }
            store::use_recovery_code(conn, user_id, &digest(recovery), at)
        }
    })
}

/// Whether the person has a confirmed second factor (sign-in asks for it).
pub fn enrolled(conn: &mut DbConnection, user_id: &str) -> Result<bool> {
    store::has(conn, user_id, State::Confirmed.as_str())
}

/// Whether the person's sign-in may be used only to enrol: a collective
/// they coordinate requires a second factor, and they have none confirmed.
pub fn restricted(conn: &mut DbConnection, user_id: &str) -> Result<bool> {
    Ok(store::required_of(conn, user_id)? && !enrolled(conn, user_id)?)
}

/// Refuses a [`restricted`] person (apps are never restricted).
pub fn require_unrestricted(conn: &mut DbConnection, principal: &Principal) -> Result<()> {
    match principal {
        Principal::User { user_id } if restricted(conn, user_id)? => Err(required()),
        _ => Ok(()),
    }
}

/// The refusal of everything but enrolling, for a [`restricted`] person.
pub fn required() -> Error {
    Error::Forbidden {
        code: "second_factor_required",
        message: "a collective you coordinate requires a second factor: enrol one (POST /api/v1/me/second-factor) before anything else".into(),
    }
}

pub fn status(conn: &mut DbConnection, user_id: &str) -> Result<Status> {
    let enrolment = store::find(conn, user_id)?;
    let state = enrolment.as_ref().and_then(|e| State::parse(&e.state));
    let recovery_codes_left = match state {
        Some(State::Confirmed) => store::recovery_codes_left(conn, user_id)?,
        _ => 0,
    };
    Ok(Status {
        state,
        confirmed_at: enrolment.and_then(|e| e.confirmed_at),
        recovery_codes_left,
    })
}

/// Starts (or starts over) an enrolment: a new secret, pending until
/// [`confirm`]. Refused (409 `second_factor_enrolled`) while one is
/// confirmed: disable it first.
pub fn start(conn: &mut DbConnection, user_id: &str) -> Result<Started> {
    let secret = totp_rs::Secret::Raw(random_bytes(SECRET_BYTES))
        .to_encoded()
        .to_string();
    write_tx(conn, |conn| {
        let email = store::email_of(conn, user_id)?;
        if !store::start(conn, user_id, &secret, State::Pending.as_str(), now())? {
            return Err(Error::conflict(
                "second_factor_enrolled",
                "you have a second factor already; disable it first to enrol another",
            ));
        }
        let otpauth_uri = generator(&secret, &email)?.get_url();
        Ok(Started {
            secret: secret.clone(),
            otpauth_uri,
        })
    })
}

/// A pending enrolment's secret and URI, to show its QR code again (the
/// web page after a wrong confirmation code).
pub fn pending(conn: &mut DbConnection, user_id: &str) -> Result<Option<Started>> {
    let Some(enrolment) = store::find(conn, user_id)? else {
        return Ok(None);
    };
    if State::parse(&enrolment.state) != Some(State::Pending) {
        return Ok(None);
    }
    let email = store::email_of(conn, user_id)?;
    let otpauth_uri = generator(&enrolment.secret, &email)?.get_url();
    Ok(Some(Started {
        secret: enrolment.secret,
        otpauth_uri,
    }))
}

const RECOVERY_ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
const RECOVERY_CHARS: usize = 10;

/// New recovery codes, as shown (`abcd-efgh-23`), and the digests kept.
fn new_recovery_codes() -> (Vec<String>, Vec<String>) {
    let mut shown = Vec::with_capacity(RECOVERY_CODES);
    let mut digests = Vec::with_capacity(RECOVERY_CODES);
    for _ in 0..RECOVERY_CODES {
        // 32 letters: each byte's low five bits pick one, evenly.
        let plain: String = random_bytes(RECOVERY_CHARS)
            .into_iter()
            .map(|b| RECOVERY_ALPHABET[usize::from(b & 31)] as char)
            .collect();
        digests.push(digest(&plain));
        shown.push(format!("{}-{}-{}", &plain[..4], &plain[4..8], &plain[8..]));
    }
    (shown, digests)
}

/// Claims a check of `user_id`'s second factor against the sign-in
/// throttle, runs `check`, and gives the claim back only when it passed.
async fn throttled<F>(
    db: &Db,
    settings: &Settings,
    user_id: &str,
    address: &str,
    check: F,
) -> Result<bool>
where
    F: FnOnce(&mut DbConnection) -> Result<bool> + Send + 'static,
{
    let (max, window) = (settings.login_max_failures, settings.login_window_secs);
    let (user_id, address) = (user_id.to_owned(), address.to_owned());
    db.run(move |conn| {
        let email = store::email_of(conn, &user_id)?;
        let claim = throttle::claim(
            conn,
            &Limit::for_account(&email, &address, max),
            window,
            now(),
        )?;
        let passed = check(conn)?;
        if passed {
            throttle::give_back(conn, claim)?;
        }
        // A failed check leaves its claim counted.
        Ok(passed)
    })
    .await
}

/// Confirms a pending enrolment with a code from the app; answers the
/// recovery codes, shown this once. A wrong code counts toward the
/// sign-in throttle.
pub async fn confirm(
    db: &Db,
    settings: &Settings,
    user_id: &str,
    answer: Answer,
    address: &str,
) -> Result<Vec<String>> {
    let Answer::Code(code) = answer else {
        return Err(Error::invalid("code", "confirm with a code from your app"));
    };
    let owner = user_id.to_owned();
    let pending = db
        .run(move |conn| store::has(conn, &owner, State::Pending.as_str()))
        .await?;
    if !pending {
        return Err(no_pending());
    }
    let (shown, digests) = new_recovery_codes();
    let owner = user_id.to_owned();
    let confirmed = throttled(db, settings, user_id, address, move |conn| {
        write_tx(conn, |conn| {
            let Some(enrolment) = store::find(conn, &owner)? else {
                return Ok(false);
            };
            if State::parse(&enrolment.state) != Some(State::Pending) {
                return Ok(false);
            }
            let at = now();
            let Some(step) = matching_step(&enrolment.secret, &code, at)? else {
                return Ok(false);
            };
            // Only over the pending enrolment: of two confirmations at
            // once, one wins.
            let moved = store::confirm(
                conn,
                &owner,
                State::Pending.as_str(),
                State::Confirmed.as_str(),
                step,
                at,
            )?;
            if moved {
                store::replace_recovery_codes(conn, &owner, &digests, at)?;
                audited(conn, &owner, "second_factor.enrolled")?;
            }
            Ok(moved)
        })
    })
    .await?;
    if confirmed {
        Ok(shown)
    } else {
        Err(wrong_code())
    }
}

/// Records a change to the person's second factor in the audit trail of
/// every collective they are an active member of, by them: their admins see
/// who enrolled, turned it off or replaced their recovery codes, and when
/// (nothing of the secret or the codes). A person in no collective leaves
/// no record.
fn audited(conn: &mut DbConnection, user_id: &str, action: &str) -> Result<()> {
    for membership in crate::collectives::store::active_memberships_of(conn, user_id)? {
        let actor = membership.actor();
        crate::audit::record(conn, &actor, action, "user", user_id, serde_json::json!({}))?;
    }
    Ok(())
}

fn no_pending() -> Error {
    Error::conflict(
        "no_second_factor",
        "there is no enrolment waiting to be confirmed; start one first",
    )
}

/// Checks a second-factor answer of a person with a confirmed second
/// factor, throttled, and uses it up; 403 `wrong_second_factor_code` when
/// wrong, 409 `no_second_factor` when they have none. The web app's
/// sign-in checks its code page with it.
pub async fn check_answer(
    db: &Db,
    settings: &Settings,
    user_id: &str,
    answer: Answer,
    address: &str,
) -> Result<()> {
    let owner = user_id.to_owned();
    if !db.run(move |conn| enrolled(conn, &owner)).await? {
        return Err(not_enrolled());
    }
    let owner = user_id.to_owned();
    let passed = throttled(db, settings, user_id, address, move |conn| {
        check_and_use(conn, &owner, &answer)
    })
    .await?;
    if passed {
        Ok(())
    } else {
        Err(wrong_code())
    }
}

/// Turns the second factor off: the current password and a code (or a
/// recovery code) are both needed, each checked like a sign-in.
pub async fn disable(
    db: &Db,
    settings: &Settings,
    user_id: &str,
    current_password: String,
    answer: Answer,
    address: &str,
) -> Result<()> {
    check_current_password(db, settings, user_id, current_password, address).await?;
    check_answer(db, settings, user_id, answer, address).await?;
    let owner = user_id.to_owned();
    db.run(move |conn| {
        write_tx(conn, |conn| {
            store::remove(conn, &owner)?;
            audited(conn, &owner, "second_factor.disabled")
        })
    })
    .await?;
    Ok(())
}

/// New recovery codes for old ones (all of which stop working), with a
/// code from the app.
pub async fn regenerate_recovery_codes(
    db: &Db,
    settings: &Settings,
    user_id: &str,
    answer: Answer,
    address: &str,
) -> Result<Vec<String>> {
    check_answer(db, settings, user_id, answer, address).await?;
    let (shown, digests) = new_recovery_codes();
    let owner = user_id.to_owned();
    db.run(move |conn| {
        write_tx(conn, |conn| {
            store::replace_recovery_codes(conn, &owner, &digests, now())?;
            audited(conn, &owner, "second_factor.recovery_codes_replaced")
        })
    })
    .await?;
    Ok(shown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_from_either_field_but_not_both() {
        assert_eq!(
            Answer::from_fields("totp_code", Some(" 123 456 "), None).unwrap(),
            Some(Answer::Code("123456".into()))
        );
        assert_eq!(
            Answer::from_fields("totp_code", None, Some("ABCD-efgh-23")).unwrap(),
            Some(Answer::Recovery("abcdefgh23".into()))
        );
        assert_eq!(
            Answer::from_fields("totp_code", None, Some("")).unwrap(),
            None
        );
        assert!(Answer::from_fields("totp_code", Some("12345"), None).is_err());
        assert!(Answer::from_fields("totp_code", Some("12345a"), None).is_err());
        assert!(Answer::from_fields("totp_code", Some("123456"), Some("abcd-efgh-23")).is_err());
        assert!(Answer::from_fields("totp_code", None, Some("abcd-efgh-2l")).is_err());
    }

    #[test]
    fn codes_match_the_rfc_6238_test_vector_and_only_within_the_window() {
        // RFC 6238 appendix B, SHA-1: "12345678901234567890" at 59 s is
        // 94287082; its last six digits are 287082.
        let secret = totp_rs::Secret::Raw(b"12345678901234567890".to_vec())
            .to_encoded()
            .to_string();
        assert_eq!(code_for_step(&secret, 1).unwrap(), "287082");
        let at = chrono::DateTime::from_timestamp(59, 0).unwrap().naive_utc();
        assert_eq!(matching_step(&secret, "287082", at).unwrap(), Some(1));
        let later = chrono::DateTime::from_timestamp(59 + 30, 0)
            .unwrap()
            .naive_utc();
        assert_eq!(matching_step(&secret, "287082", later).unwrap(), Some(1));
        let too_late = chrono::DateTime::from_timestamp(59 + 60, 0)
            .unwrap()
            .naive_utc();
        assert_eq!(matching_step(&secret, "287082", too_late).unwrap(), None);
    }

    #[test]
    fn recovery_codes_are_ten_different_and_readable() {
        let (shown, digests) = new_recovery_codes();
        assert_eq!(shown.len(), RECOVERY_CODES);
        let unique: std::collections::BTreeSet<_> = digests.iter().collect();
        assert_eq!(unique.len(), RECOVERY_CODES);
        for code in &shown {
            let answer = Answer::from_fields("code", None, Some(code))
                .unwrap()
                .unwrap();
            let Answer::Recovery(plain) = answer else {
                panic!("{code} is not read as a recovery code")
            };
            assert!(digests.contains(&digest(&plain)));
        }
    }
}
