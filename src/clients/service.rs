//! Registering, listing, rotating and disabling partner apps. Admins only.

use diesel::prelude::*;
use serde_json::json;

use super::store::{self, ClientRow};
use super::*;
use crate::audit;
use crate::auth::access::{authorize, Principal};
use crate::auth::password::{digest, new_secret};
use crate::auth::policy::Permission;
use crate::collectives::{check_if_match, check_text, etag};
use crate::db::schema::clients;
use crate::db::{write_tx, DbConnection};
use crate::events::{self, EventType};
use crate::ids::{new_id, now};
use crate::pagination::{Page, PageRequest};

pub fn register(
    conn: &mut DbConnection,
    principal: &Principal,
    collective_id: &str,
    input: NewClient,
) -> Result<ClientWithSecret> {
    let name = check_text("name", &input.name, 100)?;
    let scopes = check_scopes("scopes", &input.scopes)?;
    write_tx(conn, |conn| {
        let actor = authorize(
            conn,
            principal,
            collective_id,
            Permission::ManageClients,
            "collective",
        )?;
        let secret = new_secret("cps");
        let at = now();
        let row = ClientRow {
            collective_id: collective_id.to_owned(),
            id: client_id(&new_id()),
            name,
            secret_hash: digest(&secret),
            scopes: format_scopes(&scopes),
            status: ClientStatus::Active.as_str().to_owned(),
            created_by: actor.id().to_owned(),
            created_at: at,
            updated_at: at,
            version: 1,
        };
        diesel::insert_into(clients::table)
            .values(&row)
            .execute(conn)?;
        audit::record(
            conn,
            &actor,
            "client.registered",
            "client",
            &row.id,
            json!({"name": row.name, "scopes": row.scopes}),
        )?;
        let client: Client = row.into();
        events::record(conn, collective_id, EventType::ClientRegistered, &client)?;
        Ok(ClientWithSecret {
            client,
            client_secret: secret,
        })
    })
}

pub fn list(
    conn: &mut DbConnection,
    principal: &Principal,
    collective_id: &str,
    page: &PageRequest,
) -> Result<Page<Client>> {
    authorize(
        conn,
        principal,
        collective_id,
        Permission::ManageClients,
        "collective",
    )?;
    let rows = store::list(conn, collective_id, page)?;
    Ok(Page::from_rows(rows, page, |r| &r.id).map(Client::from))
}

fn load(conn: &mut DbConnection, collective_id: &str, id: &str) -> Result<ClientRow> {
    store::find(conn, id)?
        .filter(|c| c.collective_id == collective_id)
        .ok_or(Error::NotFound { what: "client" })
}

pub fn get(
    conn: &mut DbConnection,
    principal: &Principal,
    collective_id: &str,
    id: &str,
) -> Result<Client> {
    authorize(
        conn,
        principal,
        collective_id,
        Permission::ManageClients,
        "collective",
    )?;
    Ok(load(conn, collective_id, id)?.into())
}

pub fn update(
    conn: &mut DbConnection,
    principal: &Principal,
    collective_id: &str,
    id: &str,
    patch: ClientPatch,
    if_match: Option<&str>,
) -> Result<Client> {
    let name = patch
        .name
        .as_deref()
        .map(|n| check_text("name", n, 100))
        .transpose()?;
    let scopes = patch
        .scopes
        .as_deref()
        .map(|s| check_scopes("scopes", s))
        .transpose()?;
    write_tx(conn, |conn| {
        let actor = authorize(
            conn,
            principal,
            collective_id,
            Permission::ManageClients,
            "collective",
        )?;
        let row = load(conn, collective_id, id)?;
        check_if_match(if_match, row.version)?;
        let name = name.unwrap_or(row.name.clone());
        let scopes = scopes
            .map(|s| format_scopes(&s))
            .unwrap_or(row.scopes.clone());
        let status = patch.status.unwrap_or(row.status()).as_str().to_owned();
        let updated = diesel::update(
            clients::table
                .filter(clients::id.eq(id))
                .filter(clients::version.eq(row.version)),
        )
        .set((
            clients::name.eq(&name),
            clients::scopes.eq(&scopes),
            clients::status.eq(&status),
            clients::updated_at.eq(now()),
            clients::version.eq(row.version + 1),
        ))
        .execute(conn)?;
        if updated == 0 {
            return Err(Error::PreconditionFailed {
                current_etag: etag(row.version + 1),
            });
        }
        let client: Client = load(conn, collective_id, id)?.into();
        let before = Client::from(row);
        audit::record(
            conn,
            &actor,
            "client.updated",
            "client",
            id,
            json!({"name": name, "scopes": scopes, "status": status,
                   "changes": audit::changes(&before, &client, &[])}),
        )?;
        events::record(conn, collective_id, EventType::ClientUpdated, &client)?;
        Ok(client)
    })
}

/// Issues a new secret; the old one stops working at once.
pub fn rotate_secret(
    conn: &mut DbConnection,
    principal: &Principal,
    collective_id: &str,
    id: &str,
) -> Result<ClientWithSecret> {
    write_tx(conn, |conn| {
        let actor = authorize(
            conn,
            principal,
            collective_id,
            Permission::ManageClients,
            "collective",
        )?;
        let row = load(conn, collective_id, id)?;
        let secret = new_secret("cps");
        diesel::update(clients::table.filter(clients::id.eq(id)))
            .set((
                clients::secret_hash.eq(digest(&secret)),
                clients::updated_at.eq(now()),
                clients::version.eq(row.version + 1),
            ))
            .execute(conn)?;
        audit::record(
            conn,
            &actor,
            "client.secret_rotated",
            "client",
            id,
            json!({}),
        )?;
        let client: Client = load(conn, collective_id, id)?.into();
        events::record(conn, collective_id, EventType::ClientSecretRotated, &client)?;
        Ok(ClientWithSecret {
            client,
            client_secret: secret,
        })
    })
}
