//! Password hashes (argon2id) and the random secrets we hand out: refresh
//! tokens, client secrets, invitation tokens. Handed-out secrets are stored
//! only as SHA-256 digests: they are long and random, so a slow hash adds
//! nothing but latency.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

pub const MIN_PASSWORD_CHARS: usize = 10;

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
    fn secrets_are_unique_and_digests_stable() {
        let (a, b) = (new_secret("cps"), new_secret("cps"));
        assert_ne!(a, b);
        assert!(a.starts_with("cps_"));
        assert_eq!(digest(&a), digest(&a));
        assert!(digests_match(&digest(&a), &digest(&a)));
        assert!(!digests_match(&digest(&a), &digest(&b)));
    }
}
