//! Password hashes (argon2id), the rules a new password must meet, and the
//! random secrets we hand out: refresh tokens, client secrets, invitation
//! tokens. Handed-out secrets are stored only as SHA-256 digests: they are
//! long and random, so a slow hash adds nothing but latency.
//!
//! **The list of common passwords** (`common-passwords.txt`, 19,640 lines,
//! most common first) is Django's (`django/contrib/auth/common-passwords.txt.gz`
//! in the `django` 5.2.19 wheel on PyPI, BSD-licensed, gunzipped; the gzip's
//! SHA-256 is `3c1baed6…175afe4`): Royce Williams' 20,000 most common
//! passwords, lowercased and deduplicated. It is compiled into the binary.
//! Passwords are never logged: nothing here or in its callers formats one.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The shortest password a person may choose.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// The longest, in bytes: argon2 hashes anything, but a megabyte of
/// "password" is a way to spend our CPU.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// The common passwords, one a line, lowercased.
const COMMON_PASSWORDS: &str = include_str!("common-passwords.txt");

fn common_passwords() -> &'static std::collections::HashSet<&'static str> {
    static SET: std::sync::OnceLock<std::collections::HashSet<&'static str>> =
        std::sync::OnceLock::new();
    SET.get_or_init(|| COMMON_PASSWORDS.lines().collect())
}

/// Whether the password is on the list of common passwords, ignoring case
/// and spaces (`Qwerty Uiop 1234` is `qwertyuiop1234`).
pub fn is_common(password: &str) -> bool {
    let lower = password.to_lowercase();
    let squeezed: String = lower.chars().filter(|c| !c.is_whitespace()).collect();
    let set = common_passwords();
    set.contains(lower.as_str()) || set.contains(squeezed.as_str())
}

/// The rules for a password a person chooses (accepting an invitation,
/// changing it, after a reset): at least [`MIN_PASSWORD_CHARS`] characters,
/// at most [`MAX_PASSWORD_BYTES`] bytes, not one character over and over,
/// and not on the list of common passwords. Signing in checks none of this:
/// a password chosen under older rules still signs in.
pub fn check_new_password(field: &str, password: &str) -> Result<()> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(Error::invalid(
            field,
            format!("must be at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(Error::invalid(field, "is too long"));
    }
    let mut chars = password.chars();
    let first = chars.next();
    if chars.all(|c| Some(c) == first) {
        return Err(Error::invalid(
            field,
            "is one character repeated; choose another",
        ));
    }
    if is_common(password) {
        return Err(Error::invalid(
            field,
            "is one of the most common passwords, the first ones anybody guesses; choose another",
        ));
    }
    Ok(())
}

pub fn hash_password(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 with default parameters hashes any input")
        .to_string()
}

/// Checks a password. `None` (unknown account or no password set) still
/// spends the time of a real check, so timing does not tell which it was.
pub fn verify_password(password: &str, stored: Option<&str>) -> bool {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash_password("not-a-real-password"));
    let (hash, real) = match stored {
        Some(hash) => (hash, true),
        None => (dummy.as_str(), false),
    };
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
        && real
}

/// Password checks in flight at once are bounded: each argon2 computation
/// takes ~19 MiB and a core for tens of milliseconds, so under a flood of
/// sign-ins more of them wait their turn rather than exhaust memory.
/// Waiting here holds no database connection.
pub fn hashing_slots() -> &'static tokio::sync::Semaphore {
    static SLOTS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    SLOTS.get_or_init(|| tokio::sync::Semaphore::new(hashing_slot_count()))
}

/// How many password checks may run at once: two per core.
pub fn hashing_slot_count() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get()) * 2
}

/// Runs slow password work on the blocking thread pool, holding no
/// database connection: a flood of bogus sign-ins then costs CPU, never the
/// connections every other request needs.
async fn off_connection<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    let _slot = hashing_slots()
        .acquire()
        .await
        .expect("the hashing semaphore is never closed");
    tokio::task::spawn_blocking(work)
        .await
        .expect("password hashing does not panic")
}

/// [`hash_password`], off any database connection.
pub async fn hash_off_connection(password: String) -> String {
    off_connection(move || hash_password(&password)).await
}

/// [`verify_password`], off any database connection.
pub async fn verify_off_connection(password: String, stored: Option<String>) -> bool {
    off_connection(move || verify_password(&password, stored.as_deref())).await
}

pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; n];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes
}

/// A new secret to hand out once, prefixed so people can tell kinds apart.
pub fn new_secret(prefix: &str) -> String {
    format!(
        "{prefix}_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes(32))
    )
}

/// The stored form of a handed-out secret.
pub fn digest(secret: &str) -> String {
    let hash = Sha256::digest(secret.as_bytes());
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

/// Constant-time comparison of two digests.
pub fn digests_match(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_against_their_hash() {
        let hash = hash_password("correct horse battery");
        assert!(verify_password("correct horse battery", Some(&hash)));
        assert!(!verify_password("wrong horse battery", Some(&hash)));
        assert!(!verify_password("correct horse battery", None));
    }

    #[test]
    fn new_passwords_are_long_and_not_common() {
        assert!(check_new_password("password", "correct horse battery staple").is_ok());
        for refused in [
            "short",
            "elevenchars",
            "aaaaaaaaaaaaaaaa",
            "1q2w3e4r5t6y",
            "QWERTY123456",
            "qwerty 123456",
            "justinbieber",
        ] {
            assert!(
                check_new_password("password", refused).is_err(),
                "{refused} accepted"
            );
        }
        assert!(check_new_password("password", &"long ".repeat(300)).is_err());
    }

    #[test]
    fn the_common_list_is_the_whole_file() {
        assert_eq!(common_passwords().len(), 19_640);
        assert!(is_common("password") && is_common("PassWord"));
        assert!(!is_common("correct horse battery staple"));
    }

    #[test]
    fn secrets_are_unique_and_digests_stable() {
        let (a, b) = (new_secret("cps"), new_secret("cps"));
        assert_ne!(a, b);
        assert!(a.starts_with("cps_"));
        assert_eq!(digest(&a), digest(&a));
        assert!(digests_match(&digest(&a), &digest(&a)));
        assert!(!digests_match(&digest(&a), &digest(&b)));
    }
}
