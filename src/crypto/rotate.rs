//! Key rotation, as `commonpot admin rotate-key` runs it (see README,
//! "Personal data"):
//!
//! 1. [`add_key`]: a new key is added at the end of the key file, where it
//!    only decrypts. Every replica must get it (a shared file is read again
//!    by running services every 30 s and whenever they meet a value sealed
//!    with a key they do not know; a copied file or a variable needs a
//!    restart).
//! 2. [`promote`]: once every replica has it, the new key moves to the top
//!    of the file and becomes the primary: new values are sealed with it.
//!    The command checks first that every running replica says it holds
//!    the key ([`super::holders`]) and refuses otherwise.
//! 3. [`super::sweep::reencrypt`]: everything sealed with an older key is
//!    sealed again with the primary, in batches, while the service runs;
//!    keys no value uses any more are marked retired; SQLite's write-ahead
//!    log is checkpointed and truncated. The old key can then leave the
//!    file.

use std::path::Path;

use super::keyring::{Key, Keyring, KeyringError};

/// The keys of a key file, as lines, the primary first.
fn key_lines(path: &Path) -> Result<Vec<String>, KeyringError> {
    let text = std::fs::read_to_string(path).map_err(|e| KeyringError::File {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    Ok(text
        .lines()
        .map(|l| l.split('#').next().unwrap_or_default().trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect())
}

/// Rewrites the key file with these keys (the first the primary), through
/// a new file renamed over the old one, so a reader never sees half.
fn write_keys(path: &Path, keys: &[String]) -> Result<(), KeyringError> {
    let mut text = String::from(
        "# commonpot field encryption keys (base64, 32 bytes each).\n\
         # The first is the primary; the others only decrypt. Keep this file\n\
         # secret, backed up apart from the database, the same on every replica.\n",
    );
    for key in keys {
        text.push_str(key);
        text.push('\n');
    }
    Keyring::parse(&text, None)?;
    let temporary = path.with_extension(format!("new-{}", std::process::id()));
    let _ = std::fs::remove_file(&temporary);
    super::keyring::write_new_file(&temporary, &text)?;
    std::fs::rename(&temporary, path).map_err(|e| KeyringError::File {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

fn id_of(base64_key: &str) -> Result<String, KeyringError> {
    Ok(Keyring::parse(base64_key, None)?.primary().id.clone())
}

/// Adds a new key at the end of the key file (decrypt-only for now);
/// returns its id.
pub fn add_key(path: &Path) -> Result<String, KeyringError> {
    let mut keys = key_lines(path)?;
    let key = Key::generate();
    let id = id_of(&key)?;
    keys.push(key);
    write_keys(path, &keys)?;
    Ok(id)
}

/// Makes the key `id` (by default the last one added) the primary; returns
/// its id.
pub fn promote(path: &Path, id: Option<&str>) -> Result<String, KeyringError> {
    let mut keys = key_lines(path)?;
    let position = position_of(path, &keys, id)?;
    let key = keys.remove(position);
    let id = id_of(&key)?;
    keys.insert(0, key);
    write_keys(path, &keys)?;
    Ok(id)
}

/// The id of the key [`promote`] would make the primary, without changing
/// the file (to check first that every replica holds it).
pub fn to_promote(path: &Path, id: Option<&str>) -> Result<String, KeyringError> {
    let keys = key_lines(path)?;
    id_of(&keys[position_of(path, &keys, id)?])
}

fn position_of(path: &Path, keys: &[String], id: Option<&str>) -> Result<usize, KeyringError> {
    match id {
        Some(id) => keys
            .iter()
            .position(|k| id_of(k).is_ok_and(|i| i == id))
            .ok_or_else(|| KeyringError::Invalid(format!("no key {id} in {}", path.display()))),
        None => keys.len().checked_sub(1).ok_or(KeyringError::Missing),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_added_behind_and_promoted_to_the_front() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fields.key");
        let first = Key::generate();
        std::fs::write(&path, format!("{first}\n")).unwrap();
        let old = Keyring::read_file(&path).unwrap().primary().id.clone();
        let new = add_key(&path).unwrap();
        let ring = Keyring::read_file(&path).unwrap();
        assert_eq!(ring.ids(), [old.clone(), new.clone()]);
        assert_eq!(to_promote(&path, None).unwrap(), new);
        assert_eq!(promote(&path, None).unwrap(), new);
        let ring = Keyring::read_file(&path).unwrap();
        assert_eq!(ring.ids(), [new.clone(), old.clone()]);
        assert_eq!(promote(&path, Some(&old)).unwrap(), old);
        assert!(promote(&path, Some("nope")).is_err());
    }
}
