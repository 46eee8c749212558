//! Private fields encrypted at rest (issue #24).
//!
//! What people tell a mutual aid group in confidence — a request's private
//! details, payout reference and beneficiary, a donor's name, email and
//! note, a disbursement's external reference, how a member is affected, a
//! comment on a request — and a person's second-factor secret are stored
//! sealed, so a copy of the database (a backup, a laptop, a replica's
//! disk) shows none of it. So are the copies:
//! idempotent requests' stored answers, events' private parts and audit
//! details. [`FIELDS`] is the list.
//!
//! * **Cipher**: XChaCha20-Poly1305 (RustCrypto `chacha20poly1305` 0.10),
//!   a random 192-bit nonce per value from the OS generator.
//! * **Format**: `enc:v1:<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>`,
//!   text in the column the value always lived in.
//! * **Bound to its place**: the associated data is table, column and row
//!   id, so a value copied to another row, column or table does not
//!   decrypt; reading it is the error `undecryptable`, never a panic and
//!   never the wrong person's data.
//! * **At the store boundary**: stores seal before they write and open after
//!   they read ([`seal`], [`open`]); services and handlers see clear text.
//!   A value not yet sealed (written before this version) reads as it is,
//!   and [`sweep::seal_existing`], run at every start, seals it.
//! * **Keys**: see [`keyring`]; rotation: [`sweep::reencrypt`].

pub mod holders;
pub mod keyring;
pub mod rotate;
pub mod sweep;

use base64::Engine;
use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::XNonce;
use rand::RngCore;

use crate::error::{Error, Result};
pub use keyring::{Key, Keyring, KeyringError};

/// The prefix of every sealed value.
pub const PREFIX: &str = "enc:";
const VERSION: &str = "v1";
const NONCE_BYTES: usize = 24;

/// Where a sealed value lives: a column of a table, and how a row's id is
/// written in SQL (for rows keyed by several columns, joined with `/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub table: &'static str,
    pub column: &'static str,
    pub id_sql: &'static str,
}

const fn field(table: &'static str, column: &'static str) -> Field {
    Field {
        table,
        column,
        id_sql: "id",
    }
}

/// Every sealed column.
pub const FIELDS: &[Field] = &[
    field("aid_requests", "private_details"),
    field("aid_requests", "payout_reference"),
    field("aid_requests", "beneficiary_name"),
    field("aid_requests", "beneficiary_contact"),
    field("aid_requests", "withdrawal_reason"),
    field("request_comments", "body"),
    field("contributions", "donor_name"),
    field("contributions", "donor_email"),
    field("contributions", "note"),
    field("pledges", "donor_name"),
    field("pledges", "donor_email"),
    field("pledges", "note"),
    field("disbursements", "external_reference"),
    AFFECTEDNESS_TIER,
    field("events", "private_data"),
    field("audit_records", "details"),
    IDEMPOTENT_ANSWER,
    SECOND_FACTOR_SECRET,
];

/// A person's TOTP secret; its row is the person.
pub const SECOND_FACTOR_SECRET: Field = Field {
    table: "second_factors",
    column: "secret",
    id_sql: "user_id",
};

/// A declaration's tier; its row is the member and the issue.
pub const AFFECTEDNESS_TIER: Field = Field {
    table: "affectedness",
    column: "tier",
    id_sql: "membership_id || '/' || issue_id",
};

/// A stored idempotent answer; its row is caller, endpoint and key.
pub const IDEMPOTENT_ANSWER: Field = Field {
    table: "idempotency_keys",
    column: "response_body",
    id_sql: "caller || '/' || endpoint || '/' || \"key\"",
};

/// Whether a stored value is sealed (rather than clear text written before
/// encryption, or empty).
pub fn is_sealed(stored: &str) -> bool {
    stored.starts_with(PREFIX)
}

fn associated_data(table: &str, column: &str, row: &str) -> Vec<u8> {
    format!("commonpot/{VERSION}\0{table}\0{column}\0{row}").into_bytes()
}

fn ring() -> Result<std::sync::Arc<Keyring>> {
    keyring::current().ok_or_else(|| {
        Error::Internal("no encryption keyring is loaded (crypto::startup was not run)".to_owned())
    })
}

/// Seals `plain` for `table.column` of row `row` with the primary key.
pub fn seal(table: &str, column: &str, row: &str, plain: &str) -> Result<String> {
    let ring = ring()?;
    seal_with(ring.primary(), table, column, row, plain)
}

/// Seals `plain` with `key`.
pub fn seal_with(key: &Key, table: &str, column: &str, row: &str, plain: &str) -> Result<String> {
    let mut nonce = [0u8; NONCE_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let aad = associated_data(table, column, row);
    let sealed = key
        .cipher
        .encrypt(
            &XNonce::from(nonce),
            Payload {
                msg: plain.as_bytes(),
                aad: &aad,
            },
        )
        .map_err(|_| Error::Internal(format!("sealing {table}.{column} failed")))?;
    let mut bytes = nonce.to_vec();
    bytes.extend_from_slice(&sealed);
    Ok(format!(
        "{PREFIX}{VERSION}:{}:{}",
        key.id,
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    ))
}

/// The key id a sealed value names, if it is sealed.
pub fn key_id_of(stored: &str) -> Option<&str> {
    stored
        .strip_prefix(PREFIX)?
        .strip_prefix(VERSION)?
        .strip_prefix(':')?
        .split(':')
        .next()
}

/// The clear text of a value stored in `table.column` of row `row`. A value
/// that is not sealed is returned as it is (written before encryption; the
/// start-up sweep seals it).
pub fn open(table: &str, column: &str, row: &str, stored: &str) -> Result<String> {
    if !is_sealed(stored) {
        return Ok(stored.to_owned());
    }
    let unreadable = |why: &str| {
        tracing::error!(table, column, row, why, "a sealed value cannot be opened");
        Error::Undecryptable(format!("{table}.{column} of {row}: {why}"))
    };
    let rest = stored
        .strip_prefix(PREFIX)
        .and_then(|r| r.strip_prefix(VERSION))
        .and_then(|r| r.strip_prefix(':'))
        .ok_or_else(|| unreadable("an unknown format version"))?;
    let (key_id, body) = rest
        .split_once(':')
        .ok_or_else(|| unreadable("a malformed sealed value"))?;
    let mut ring = ring()?;
    if ring.get(key_id).is_none() && keyring::reload() {
        ring = self::ring()?;
    }
    let key = ring.get(key_id).ok_or_else(|| {
        unreadable(&format!(
            "sealed with key {key_id}, which is not in the keyring"
        ))
    })?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(body)
        .map_err(|_| unreadable("a malformed sealed value"))?;
    if bytes.len() < NONCE_BYTES {
        return Err(unreadable("a malformed sealed value"));
    }
    let (nonce, sealed) = bytes.split_at(NONCE_BYTES);
    let nonce: [u8; NONCE_BYTES] = nonce
        .try_into()
        .map_err(|_| unreadable("a malformed sealed value"))?;
    let aad = associated_data(table, column, row);
    let plain = key
        .cipher
        .decrypt(
            &XNonce::from(nonce),
            Payload {
                msg: sealed,
                aad: &aad,
            },
        )
        .map_err(|_| {
            unreadable("it does not decrypt here (copied from another row or column, or altered)")
        })?;
    String::from_utf8(plain).map_err(|_| unreadable("not text once decrypted"))
}

/// [`seal`] for an optional value.
pub fn seal_opt(
    table: &str,
    column: &str,
    row: &str,
    plain: Option<&str>,
) -> Result<Option<String>> {
    plain.map(|p| seal(table, column, row, p)).transpose()
}

/// [`open`] for an optional value.
pub fn open_opt(
    table: &str,
    column: &str,
    row: &str,
    stored: Option<&str>,
) -> Result<Option<String>> {
    stored.map(|s| open(table, column, row, s)).transpose()
}

/// Seals the value in place.
pub fn seal_in(table: &str, column: &str, row: &str, value: &mut String) -> Result<()> {
    *value = seal(table, column, row, value)?;
    Ok(())
}

/// Opens the value in place.
pub fn open_in(table: &str, column: &str, row: &str, value: &mut String) -> Result<()> {
    *value = open(table, column, row, value)?;
    Ok(())
}

/// Seals the optional value in place.
pub fn seal_opt_in(table: &str, column: &str, row: &str, value: &mut Option<String>) -> Result<()> {
    if let Some(v) = value {
        seal_in(table, column, row, v)?;
    }
    Ok(())
}

/// Opens the optional value in place.
pub fn open_opt_in(table: &str, column: &str, row: &str, value: &mut Option<String>) -> Result<()> {
    if let Some(v) = value {
        open_in(table, column, row, v)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn installed() {
        let ring = Keyring::parse(&Key::generate(), None).unwrap();
        keyring::install(&ring);
    }

    #[test]
    fn a_value_opens_where_it_was_sealed_and_nowhere_else() {
        installed();
        let sealed = seal("aid_requests", "private_details", "r1", "eviction notice").unwrap();
        assert!(sealed.starts_with("enc:v1:"));
        assert!(!sealed.contains("eviction"));
        assert_eq!(
            open("aid_requests", "private_details", "r1", &sealed).unwrap(),
            "eviction notice"
        );
        for (table, column, row) in [
            ("aid_requests", "private_details", "r2"),
            ("aid_requests", "payout_reference", "r1"),
            ("request_comments", "private_details", "r1"),
        ] {
            assert!(matches!(
                open(table, column, row, &sealed),
                Err(Error::Undecryptable(_))
            ));
        }
    }

    #[test]
    fn each_sealing_differs_and_clear_text_reads_as_it_is() {
        installed();
        let a = seal("t", "c", "r", "same").unwrap();
        let b = seal("t", "c", "r", "same").unwrap();
        assert_ne!(a, b);
        assert_eq!(open("t", "c", "r", "legacy text").unwrap(), "legacy text");
        assert_eq!(
            key_id_of(&a),
            Some(keyring::current().unwrap().primary().id.as_str())
        );
    }

    #[test]
    fn an_altered_or_unknown_key_value_is_undecryptable() {
        installed();
        let sealed = seal("t", "c", "r", "text").unwrap();
        let mut altered = sealed.clone().into_bytes();
        let last = altered.len() - 1;
        altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(altered).unwrap();
        assert!(matches!(
            open("t", "c", "r", &altered),
            Err(Error::Undecryptable(_))
        ));
        let unknown = format!("enc:v1:000000000000:{}", sealed.rsplit(':').next().unwrap());
        assert!(matches!(
            open("t", "c", "r", &unknown),
            Err(Error::Undecryptable(_))
        ));
    }
}
