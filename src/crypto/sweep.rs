//! Keeping the database's sealed values in step with the keyring.
//!
//! * [`startup`], at every start after the SQL migrations: loads the
//!   keyring, refuses to serve when the database holds values sealed with a
//!   key the keyring lacks, records the primary key in `field_keys`, and
//!   seals whatever is still clear text (the migration step SQL cannot do).
//! * [`reencrypt`], for key rotation: seals again under the primary every
//!   value sealed under another key, while the service runs.
//!
//! Both walk each sealed column in batches; every row is written by a
//! guarded update (`… WHERE id = ? AND column = <the value read>`), so a
//! value changed meanwhile by the service is left as the service wrote it.
//! Both are idempotent and safe with several replicas at once.

use diesel::prelude::*;
use diesel::sql_types::Text;

use super::keyring::{self, Keyring, KeyringError};
use super::{key_id_of, Field, FIELDS};
use crate::config::Settings;
use crate::db::schema::field_keys;
use crate::db::{is_unique_violation, write_tx, DbConnection};
use crate::error::{Error, Result};

/// Rows per batch (one short transaction each).
pub const BATCH: i64 = 200;

/// What a sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    /// Values (re)sealed.
    pub sealed: usize,
    /// Values changed meanwhile by the service, left as they were.
    pub skipped: usize,
    /// Values that do not open (logged with their place).
    pub unreadable: usize,
}

#[derive(QueryableByName)]
struct Cell {
    #[diesel(sql_type = Text)]
    row_id: String,
    #[diesel(sql_type = Text)]
    value: String,
}

/// The key ids the database says values may be sealed with.
pub fn keys_in_use(conn: &mut DbConnection) -> Result<Vec<String>> {
    Ok(field_keys::table
        .filter(field_keys::retired_at.is_null())
        .order(field_keys::id.asc())
        .select(field_keys::id)
        .load(conn)?)
}

/// Records that values may now be sealed with `id`.
fn register(conn: &mut DbConnection, id: &str) -> Result<()> {
    let inserted = conn.transaction(|conn| {
        diesel::insert_into(field_keys::table)
            .values((
                field_keys::id.eq(id),
                field_keys::added_at.eq(crate::ids::now()),
                field_keys::retired_at.eq(None::<chrono::NaiveDateTime>),
            ))
            .execute(conn)
    });
    match inserted {
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e) => {
            diesel::update(field_keys::table.find(id))
                .set(field_keys::retired_at.eq(None::<chrono::NaiveDateTime>))
                .execute(conn)?;
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// Loads and installs the keyring, checks it against the database, records
/// its primary and seals what is still clear text. Run after the SQL
/// migrations by everything that writes (`serve`, `migrate`, `demo`,
/// `admin`). Refuses (with a message an operator can act on) when no key is
/// configured for a database that holds sealed values, or when a key the
/// database uses is missing.
pub fn startup(conn: &mut DbConnection, settings: &Settings) -> anyhow::Result<Keyring> {
    let in_use = keys_in_use(conn)?;
    let ring = Keyring::from_settings(settings, in_use.is_empty()).map_err(|e| match e {
        KeyringError::Missing if !in_use.is_empty() => anyhow::anyhow!(
            "{e}; this database holds private fields sealed with key(s) {}, so the service \
             refuses to start without them",
            in_use.join(", ")
        ),
        other => anyhow::anyhow!(other),
    })?;
    let missing: Vec<&String> = in_use.iter().filter(|id| ring.get(id).is_none()).collect();
    if !missing.is_empty() {
        anyhow::bail!(
            "the database holds private fields sealed with key(s) {} that the configured \
             keyring ({}) lacks: add them to encryption_keys or encryption_key_file (the \
             primary first); refusing to start rather than serve unreadable data",
            missing
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            ring.ids().join(", ")
        );
    }
    register(conn, &ring.primary().id)?;
    keyring::install(&ring);
    let swept = seal_existing(conn)?;
    if swept.sealed > 0 {
        tracing::info!(
            sealed = swept.sealed,
            "private fields written in clear text sealed"
        );
    }
    Ok(ring)
}

/// Seals every value still in clear text.
pub fn seal_existing(conn: &mut DbConnection) -> Result<Swept> {
    let mut total = Swept::default();
    for field in FIELDS {
        let swept = sweep(conn, field, "substr({col}, 1, 4) <> 'enc:'")?;
        total.sealed += swept.sealed;
        total.skipped += swept.skipped;
        total.unreadable += swept.unreadable;
    }
    Ok(total)
}

/// Seals again, under the primary key, every value sealed with another key
/// (or not sealed yet), then marks the keys no stored value names any more
/// as retired. `pause` runs between batches (to leave room to the service).
pub fn reencrypt(conn: &mut DbConnection, mut pause: impl FnMut()) -> Result<Swept> {
    let ring = keyring::current().ok_or_else(|| Error::Internal("no keyring loaded".into()))?;
    let primary = ring.primary().id.clone();
    register(conn, &primary)?;
    let mut total = Swept::default();
    let condition = format!(
        "substr({{col}}, 1, {}) <> 'enc:v1:{primary}:'",
        8 + primary.len()
    );
    for field in FIELDS {
        let swept = sweep_paced(conn, field, &condition, &mut pause)?;
        total.sealed += swept.sealed;
        total.skipped += swept.skipped;
        total.unreadable += swept.unreadable;
    }
    // Retired: keys no stored value names any more, counted now (a replica
    // still sealing with an old key keeps that key in use).
    let census = census(conn)?;
    for id in keys_in_use(conn)? {
        if id != primary && !census.contains_key(&id) {
            diesel::update(field_keys::table.find(&id))
                .set(field_keys::retired_at.eq(Some(crate::ids::now())))
                .execute(conn)?;
        }
    }
    Ok(total)
}

/// How many stored values are sealed under each key id (`""`: clear text).
pub fn census(conn: &mut DbConnection) -> Result<std::collections::BTreeMap<String, usize>> {
    let mut counts = std::collections::BTreeMap::new();
    for field in FIELDS {
        let mut after = String::new();
        loop {
            let cells = batch(conn, field, "1 = 1", &after)?;
            let Some(last) = cells.last() else { break };
            after = last.row_id.clone();
            for cell in &cells {
                let id = key_id_of(&cell.value).unwrap_or_default().to_owned();
                *counts.entry(id).or_insert(0) += 1;
            }
        }
    }
    Ok(counts)
}

fn sweep(conn: &mut DbConnection, field: &Field, condition: &str) -> Result<Swept> {
    sweep_paced(conn, field, condition, &mut || {})
}

fn batch(
    conn: &mut DbConnection,
    field: &Field,
    condition: &str,
    after: &str,
) -> Result<Vec<Cell>> {
    let Field {
        table,
        column,
        id_sql,
    } = *field;
    let condition = condition.replace("{col}", column);
    let sql = format!(
        "SELECT {id_sql} AS row_id, {column} AS value FROM {table} \
         WHERE {column} IS NOT NULL AND {column} <> '' AND {condition} AND {id_sql} > $1 \
         ORDER BY {id_sql} LIMIT {BATCH}"
    );
    Ok(diesel::sql_query(sql)
        .bind::<Text, _>(after)
        .load::<Cell>(conn)?)
}

fn sweep_paced(
    conn: &mut DbConnection,
    field: &Field,
    condition: &str,
    pause: &mut dyn FnMut(),
) -> Result<Swept> {
    let Field {
        table,
        column,
        id_sql,
    } = *field;
    let update = format!("UPDATE {table} SET {column} = $1 WHERE {id_sql} = $2 AND {column} = $3");
    let mut swept = Swept::default();
    let mut after = String::new();
    loop {
        let cells = batch(conn, field, condition, &after)?;
        let Some(last) = cells.last() else { break };
        after = last.row_id.clone();
        let done = write_tx(conn, |conn| -> Result<Swept> {
            let mut done = Swept::default();
            for cell in &cells {
                let plain = match super::open(table, column, &cell.row_id, &cell.value) {
                    Ok(plain) => plain,
                    Err(Error::Undecryptable(_)) => {
                        done.unreadable += 1;
                        continue;
                    }
                    Err(e) => return Err(e),
                };
                let sealed = super::seal(table, column, &cell.row_id, &plain)?;
                let written = diesel::sql_query(&update)
                    .bind::<Text, _>(&sealed)
                    .bind::<Text, _>(&cell.row_id)
                    .bind::<Text, _>(&cell.value)
                    .execute(conn)?;
                if written == 1 {
                    done.sealed += 1;
                } else {
                    done.skipped += 1;
                }
            }
            Ok(done)
        })?;
        swept.sealed += done.sealed;
        swept.skipped += done.skipped;
        swept.unreadable += done.unreadable;
        if (cells.len() as i64) < BATCH {
            break;
        }
        pause();
    }
    if swept.unreadable > 0 {
        tracing::error!(
            table,
            column,
            unreadable = swept.unreadable,
            "values that do not open were left as they are"
        );
    }
    Ok(swept)
}

/// SQLite: moves the write-ahead log into the file and truncates it, so old
/// clear text or old ciphertext does not linger in the log (free pages are
/// zeroed by `secure_delete`). Nothing to do on PostgreSQL.
pub fn checkpoint(conn: &mut DbConnection) -> Result<()> {
    if let DbConnection::Sqlite(c) = conn {
        use diesel::connection::SimpleConnection;
        c.batch_execute("PRAGMA wal_checkpoint(TRUNCATE);")
            .map_err(Error::Storage)?;
    }
    Ok(())
}
