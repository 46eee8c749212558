//! The keyring: the keys private fields are sealed with, where they come
//! from, and the one the service encrypts with (the primary).
//!
//! Keys come from `encryption_keys` (base64 keys, comma or space
//! separated) or else from the file `encryption_key_file` (one base64 key a
//! line, `#` comments); in both the first key is the primary, the others
//! only decrypt. With neither, `serve` generates a development key file with
//! a warning, as it does for the JWT key. A key's id is derived from the key
//! itself (a hash prefix), so ids never clash and need no naming.
//!
//! One keyring per process: [`install`] merges a loaded keyring into it
//! (keys are only ever added; the first keyring installed sets the
//! primary), and the key file is read again every 30 s and whenever a value
//! names a key id the process does not know ([`reload`]: the file's first
//! key becomes the primary), so a key added or promoted by
//! `commonpot admin rotate-key` reaches a running service without a
//! restart.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use base64::Engine;
use chacha20poly1305::aead::KeyInit;
use chacha20poly1305::XChaCha20Poly1305;
use sha2::{Digest, Sha256};

use crate::config::Settings;

/// Length of a key: 256 bits.
pub const KEY_BYTES: usize = 32;

/// One key: its id and its cipher.
#[derive(Clone)]
pub struct Key {
    pub id: String,
    pub(super) cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Key({})", self.id)
    }
}

impl Key {
    pub fn new(bytes: &[u8]) -> Result<Self, KeyringError> {
        if bytes.len() != KEY_BYTES {
            return Err(KeyringError::Invalid(format!(
                "a key is {KEY_BYTES} bytes (base64 of 32 random bytes), not {}",
                bytes.len()
            )));
        }
        let cipher = XChaCha20Poly1305::new_from_slice(bytes)
            .map_err(|e| KeyringError::Invalid(e.to_string()))?;
        Ok(Self {
            id: key_id(bytes),
            cipher,
        })
    }

    /// A fresh random key, as base64 text for a key file.
    pub fn generate() -> String {
        base64::engine::general_purpose::STANDARD
            .encode(crate::auth::password::random_bytes(KEY_BYTES))
    }
}

/// The id of a key: a prefix of a hash of it (revealing nothing useful).
fn key_id(bytes: &[u8]) -> String {
    let mut hash = Sha256::new();
    hash.update(b"commonpot field key id\0");
    hash.update(bytes);
    let digest = hash.finalize();
    digest[..6].iter().map(|b| format!("{b:02x}")).collect()
}

/// Keys, the primary first.
#[derive(Debug, Clone)]
pub struct Keyring {
    keys: Vec<Key>,
    /// The file the keys were read from, if they were (read again on an
    /// unknown key id).
    source: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    #[error("encryption key: {0}")]
    Invalid(String),
    #[error("encryption key file {path}: {reason}")]
    File { path: String, reason: String },
    #[error(
        "no encryption key configured: set encryption_keys (COMMONPOT_ENCRYPTION_KEYS) or \
         encryption_key_file (COMMONPOT_ENCRYPTION_KEY_FILE); see README, Personal data"
    )]
    Missing,
}

impl Keyring {
    /// A keyring of these base64 keys, the first the primary.
    pub fn parse(text: &str, source: Option<PathBuf>) -> Result<Self, KeyringError> {
        let engine = base64::engine::general_purpose::STANDARD;
        let mut keys: Vec<Key> = Vec::new();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or_default();
            for word in line.split([',', ' ', '\t']).filter(|w| !w.is_empty()) {
                let bytes = engine
                    .decode(word)
                    .map_err(|e| KeyringError::Invalid(format!("not base64: {e}")))?;
                let key = Key::new(&bytes)?;
                if !keys.iter().any(|k| k.id == key.id) {
                    keys.push(key);
                }
            }
        }
        if keys.is_empty() {
            return Err(KeyringError::Missing);
        }
        Ok(Self { keys, source })
    }

    /// The configured keyring. `may_generate`: with no key configured and no
    /// key file, generate a development key file (with a warning) instead
    /// of refusing.
    pub fn from_settings(settings: &Settings, may_generate: bool) -> Result<Self, KeyringError> {
        if let Some(text) = &settings.encryption_keys {
            return Self::parse(text, None);
        }
        let path = &settings.encryption_key_file;
        if !path.exists() {
            if !may_generate {
                return Err(KeyringError::Missing);
            }
            write_new_file(path, &format!("{}\n", Key::generate()))?;
            tracing::warn!(
                key_file = %path.display(),
                "no encryption key configured: generated a development key for private fields; \
                 keep it with the database (without it the data cannot be read) and set \
                 COMMONPOT_ENCRYPTION_KEYS or encryption_key_file in production"
            );
        }
        Self::read_file(path)
    }

    pub fn read_file(path: &Path) -> Result<Self, KeyringError> {
        let text = std::fs::read_to_string(path).map_err(|e| KeyringError::File {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Self::parse(&text, Some(path.to_owned())).map_err(|e| KeyringError::File {
            path: path.display().to_string(),
            reason: e.to_string(),
        })
    }

    pub fn primary(&self) -> &Key {
        &self.keys[0]
    }

    pub fn get(&self, id: &str) -> Option<&Key> {
        self.keys.iter().find(|k| k.id == id)
    }

    pub fn ids(&self) -> Vec<String> {
        self.keys.iter().map(|k| k.id.clone()).collect()
    }

    /// `self` with `other`'s keys added; `other`'s primary first if
    /// `promote`, else `self`'s primary stays.
    fn merged(&self, other: &Keyring, promote: bool) -> Keyring {
        let (first, second) = if promote {
            (other, self)
        } else {
            (self, other)
        };
        let mut keys = first.keys.clone();
        for key in &second.keys {
            if !keys.iter().any(|k| k.id == key.id) {
                keys.push(key.clone());
            }
        }
        Keyring {
            keys,
            source: other.source.clone().or_else(|| self.source.clone()),
        }
    }
}

/// Creates `path` with `text`, readable by its owner only.
pub fn write_new_file(path: &Path, text: &str) -> Result<(), KeyringError> {
    use std::io::Write;
    let fail = |e: std::io::Error| KeyringError::File {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(path)
        .map_err(fail)?
        .write_all(text.as_bytes())
        .map_err(fail)
}

static RING: RwLock<Option<Arc<Keyring>>> = RwLock::new(None);
static LAST_RELOAD: Mutex<Option<Instant>> = Mutex::new(None);

/// Makes `ring`'s keys available to this process; its primary seals new
/// values unless a keyring was installed before (another service started in
/// this process keeps its primary; see [`install_primary`]).
pub fn install(ring: &Keyring) {
    put(ring, false);
}

/// Like [`install`], and `ring`'s primary now seals new values.
pub fn install_primary(ring: &Keyring) {
    put(ring, true);
}

fn put(ring: &Keyring, promote: bool) {
    let mut slot = RING.write().unwrap_or_else(|e| e.into_inner());
    let next = match slot.as_deref() {
        Some(current) => current.merged(ring, promote),
        None => ring.clone(),
    };
    *slot = Some(Arc::new(next));
}

/// The process's keyring, if one was installed.
pub fn current() -> Option<Arc<Keyring>> {
    RING.read().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Reads the key file again (at most once a second): a key added to it
/// since the start becomes known. True if something new was learnt.
pub fn reload() -> bool {
    {
        let mut last = LAST_RELOAD.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_some_and(|t| t.elapsed() < Duration::from_secs(1)) {
            return false;
        }
        *last = Some(Instant::now());
    }
    let Some(path) = current().and_then(|r| r.source.clone()) else {
        return false;
    };
    match Keyring::read_file(&path) {
        Ok(ring) => {
            let before = current().map(|r| r.ids()).unwrap_or_default();
            install_primary(&ring);
            let after = current().map(|r| r.ids()).unwrap_or_default();
            if after != before {
                tracing::info!(keys = ?after, "encryption keyring reloaded from its file");
            }
            after != before
        }
        Err(error) => {
            tracing::warn!(%error, "encryption keyring could not be reloaded");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_key_is_primary_and_ids_come_from_the_key() {
        let (a, b) = (Key::generate(), Key::generate());
        let ring = Keyring::parse(&format!("# comment\n{a}\n{b} # old\n"), None).unwrap();
        let again = Keyring::parse(&format!("{a}, {b}"), None).unwrap();
        assert_eq!(ring.ids(), again.ids());
        assert_eq!(ring.ids().len(), 2);
        assert_eq!(ring.primary().id, ring.ids()[0]);
        assert_eq!(ring.primary().id.len(), 12);
    }

    #[test]
    fn short_or_missing_keys_are_refused() {
        assert!(matches!(
            Keyring::parse("", None),
            Err(KeyringError::Missing)
        ));
        assert!(Keyring::parse("c2hvcnQ=", None).is_err());
        assert!(Keyring::parse("not base64!", None).is_err());
    }
}
