//! What admins do: members (invite — the invitation link is shown to pass
//! on —, change roles, suspend and reinstate), pools and their rules, and
//! partner apps (register with scopes, rotate the secret — shown once —,
//! disable). Every action goes through the service the API uses, so the
//! same permission table decides (coordinators may invite members; only
//! admins change roles, pools' rules are for coordinators, apps for admins).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::{db, ok, render, see_other, Chrome, FieldErrors};
use crate::auth::policy::{MembershipStatus, Role, Scope};
use crate::clients::{self, ClientPatch, ClientStatus, NewClient};
use crate::collectives::store::MemberFilter;
use crate::collectives::{self, MembershipPatch, NewInvitation};
use crate::db::DbConnection;
use crate::error::{Error, Result};
use crate::http::AppState;
use crate::pagination::PageRequest;
use crate::personal_data::erasure::ERASED_NAME;
use crate::pools::{self, NewPool, PoolRules, Requesters};
use crate::web::errors::PageError;
use crate::web::extract::{Fields, Form, Session, SignedIn};
use crate::web::format::money;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/c/{collective}/members", web::get().to(members_page))
        .route("/c/{collective}/members", web::post().to(invite))
        .route(
            "/c/{collective}/members/{id}",
            web::post().to(change_member),
        )
        .route("/c/{collective}/pools", web::get().to(pools_page))
        .route("/c/{collective}/pools", web::post().to(create_pool))
        .route("/pools/{pool}/edit", web::get().to(pool_edit_page))
        .route("/pools/{pool}/edit", web::post().to(update_pool))
        .route("/c/{collective}/apps", web::get().to(apps_page))
        .route("/c/{collective}/apps", web::post().to(register_app))
        .route("/c/{collective}/apps/{id}", web::post().to(change_app))
        .route("/c/{collective}/settings", web::get().to(settings_page))
        .route("/c/{collective}/settings", web::post().to(save_settings));
}

#[derive(Template)]
#[template(path = "collective_settings.html")]
struct SettingsPage {
    chrome: Chrome,
    collective_id: String,
    name: String,
    require_second_factor: bool,
    retention_days: String,
    /// Why the retention period was refused, beside its field.
    retention_error: String,
    notice: String,
}

fn settings(
    conn: &mut DbConnection,
    session: &Session,
    id: &str,
    notice: &str,
) -> Result<SettingsPage> {
    // Only admins change settings: the page is theirs to see, too.
    crate::auth::access::authorize(
        conn,
        &session.principal(),
        id,
        crate::auth::policy::Permission::UpdateCollective,
        "collective",
    )?;
    let collective = collectives::service::get(conn, &session.principal(), id)?;
    Ok(SettingsPage {
        chrome: Chrome::load(conn, session, "Collective settings")?,
        collective_id: collective.id,
        name: collective.name,
        require_second_factor: collective.require_second_factor_for_coordinators,
        retention_days: collective.retention_days.to_string(),
        retention_error: String::new(),
        notice: notice.to_owned(),
    })
}

async fn settings_page(
    state: web::Data<AppState>,
    SignedIn(session): SignedIn,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    let page = db(&state, move |conn| settings(conn, &session, &id, "")).await?;
    ok(&page)
}

/// Saves the settings through the API's own update (admins only).
async fn save_settings(
    state: web::Data<AppState>,
    form: Form,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let session = form.signed_in()?.clone();
    let id = path.into_inner();
    let require = form
        .fields
        .checked("require_second_factor_for_coordinators");
    let typed = form.fields.get("retention_days").trim().to_owned();
    let page = db(&state, move |conn| {
        // Not a number is refused as out of range is: by the service's check.
        let days = typed.parse::<i64>().unwrap_or(0);
        let patch = collectives::CollectivePatch {
            name: None,
            time_zone: None,
            require_second_factor_for_coordinators: Some(require),
            retention_days: Some(days),
        };
        match collectives::service::update(conn, &session.principal(), &id, patch, None) {
            Ok(_) => settings(conn, &session, &id, "Settings saved."),
            Err(Error::Invalid { message, .. }) => {
                let mut page = settings(conn, &session, &id, "")?;
                page.retention_days = typed;
                page.retention_error = format!("The retention period {message}.");
                Ok(page)
            }
            Err(other) => Err(other),
        }
    })
    .await?;
    ok(&page)
}

fn all() -> PageRequest {
    PageRequest {
        limit: 200,
        after: None,
    }
}

pub struct MemberLine {
    pub id: String,
    pub name: String,
    pub email: String,
    pub role: String,
    pub status: String,
    pub active: bool,
    pub suspended: bool,
    /// The viewer may erase them (an admin), and they are not erased yet.
    pub erasable: bool,
}

#[derive(Template)]
#[template(path = "members.html")]
struct MembersPage {
    chrome: Chrome,
    collective_id: String,
    members: Vec<MemberLine>,
    /// The link of the invitation just made: shown this once.
    invitation_link: Option<String>,
    invited_email: String,
    errors: FieldErrors,
    /// What was just done, said at the top.
    notice: String,
}

fn members(
    conn: &mut DbConnection,
    session: &Session,
    collective_id: &str,
    invitation_link: Option<String>,
    invited_email: String,
    errors: FieldErrors,
) -> Result<MembersPage> {
    let list = collectives::service::list_members(
        conn,
        &session.principal(),
        collective_id,
        MemberFilter::default(),
        &all(),
    )?;
    let chrome = Chrome::load(conn, session, "Members")?;
    let admin = chrome
        .collectives
        .iter()
        .any(|c| c.id == collective_id && c.admin);
    Ok(MembersPage {
        chrome,
        collective_id: collective_id.to_owned(),
        members: list
            .items
            .into_iter()
            .map(|m| MemberLine {
                active: m.status == MembershipStatus::Active,
                suspended: m.status == MembershipStatus::Suspended,
                erasable: admin && m.display_name != ERASED_NAME,
                id: m.id,
                name: m.display_name,
                email: m.email.unwrap_or_default(),
                role: m.role.as_str().to_owned(),
                status: m.status.as_str().to_owned(),
            })
            .collect(),
        invitation_link,
        invited_email,
        errors,
        notice: String::new(),
    })
}

#[derive(serde::Deserialize)]
struct DoneQuery {
    done: Option<String>,
}

async fn members_page(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    path: web::Path<String>,
    query: crate::http::extract::Query<DoneQuery>,
) -> Result<HttpResponse, PageError> {
    let session = signed_in.0;
    let id = path.into_inner();
    let mut page = db(&state, move |conn| {
        members(
            conn,
            &session,
            &id,
            None,
            String::new(),
            FieldErrors::default(),
        )
    })
    .await?;
    if query.done.as_deref() == Some("erased") {
        page.notice =
            "The member is erased from this collective. Their amounts stay in the books, without their name."
                .into();
    }
    ok(&page)
}

fn role(text: &str) -> Result<Role> {
    Role::parse(text).ok_or_else(|| Error::invalid("role", "choose member, coordinator or admin"))
}

/// The address people open, as this request reached the service.
fn base_url(req: &HttpRequest) -> String {
    let info = req.connection_info();
    format!("{}://{}", info.scheme(), info.host())
}

async fn invite(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: Form,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let session = form.signed_in()?.clone();
    let collective_id = path.into_inner();
    let f = form.fields.clone();
    let base = base_url(&req);
    let page = db(&state, move |conn| {
        let input = NewInvitation {
            email: f.get("email").trim().to_owned(),
            display_name: f.get("display_name").trim().to_owned(),
            role: Some(role(f.get("role")).unwrap_or(Role::Member)),
        };
        let email = input.email.clone();
        match collectives::service::invite(conn, &session.principal(), &collective_id, input) {
            Ok(invitation) => {
                let link = format!(
                    "{base}/invitations/accept?{}",
                    serde_urlencoded::to_string([("token", invitation.invitation_token)])
                        .unwrap_or_default()
                );
                Ok((
                    StatusCode::OK,
                    members(
                        conn,
                        &session,
                        &collective_id,
                        Some(link),
                        email,
                        FieldErrors::default(),
                    )?,
                ))
            }
            Err(error) => {
                let errors = FieldErrors::from_error(error)?;
                Ok((
                    StatusCode::UNPROCESSABLE_ENTITY,
                    members(conn, &session, &collective_id, None, email, errors)?,
                ))
            }
        }
    })
    .await?;
    render(page.0, &page.1)
}

async fn change_member(
    state: web::Data<AppState>,
    form: Form,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let session = form.signed_in()?.clone();
    let (collective_id, id) = path.into_inner();
    let f = form.fields.clone();
    let back = format!("/c/{collective_id}/members");
    db(&state, move |conn| {
        let patch = MembershipPatch {
            role: match f.get("role") {
                "" => None,
                r => Some(role(r)?),
            },
            status: match f.get("status") {
                "active" => Some(MembershipStatus::Active),
                "suspended" => Some(MembershipStatus::Suspended),
                "" => None,
                _ => return Err(Error::invalid("status", "choose active or suspended")),
            },
        };
        collectives::service::update_member(
            conn,
            &session.principal(),
            &collective_id,
            &id,
            patch,
            None,
        )
        .map(drop)
    })
    .await?;
    Ok(see_other(&back))
}

pub struct PoolLine {
    pub name: String,
    pub currency: String,
    pub available: String,
    pub goal: String,
    pub rules: String,
    pub public: bool,
    pub id: String,
}

/// A refusal of a pool's rule names its form field (`rules.max_request` is
/// the field `max_request`); any other error stays an error.
fn pool_errors(error: Error) -> Result<FieldErrors> {
    FieldErrors::from_error(match error {
        Error::Invalid { field, message } => Error::Invalid {
            field: field.strip_prefix("rules.").unwrap_or(&field).to_owned(),
            message,
        },
        other => other,
    })
}

/// The rules as a form sends them; a malformed number of approvals is
/// refused by its field.
fn rules_from(f: &Fields) -> Result<PoolRules> {
    let approvals_needed = f
        .opt("approvals_needed")
        .map(|n| {
            n.parse::<i32>()
                .map_err(|_| Error::invalid("approvals_needed", "give a whole number from 1 to 10"))
        })
        .transpose()?;
    Ok(PoolRules {
        max_request: f.opt("max_request"),
        approvals_needed,
        fast_track_limit: f.opt("fast_track_limit"),
        requesters: Some(if f.get("requesters") == "coordinators" {
            Requesters::Coordinators
        } else {
            Requesters::Members
        }),
    })
}

#[derive(Template)]
#[template(path = "pool_edit.html")]
struct PoolEditPage {
    chrome: Chrome,
    pool_id: String,
    pool_name: String,
    collective_id: String,
    currency: String,
    /// The version shown, sent back as `If-Match`: a change made meanwhile
    /// is not overwritten.
    version: i64,
    form: Fields,
    errors: FieldErrors,
}

/// The edit form of a pool, filled from the pool as it is (or with what was
/// sent, when it comes back with messages).
fn pool_edit(
    conn: &mut DbConnection,
    session: &Session,
    pool_id: &str,
    sent: Option<(Fields, FieldErrors)>,
) -> Result<PoolEditPage> {
    let principal = session.principal();
    let pool = pools::service::get(conn, &principal, pool_id)?;
    // Only those who may manage pools see the form (a readable 403 for others).
    crate::auth::access::authorize(
        conn,
        &principal,
        &pool.collective_id,
        crate::auth::policy::Permission::ManagePools,
        "pool",
    )?;
    let (form, errors) = sent.unwrap_or_else(|| {
        let mut fields = vec![
            ("name".to_owned(), pool.name.clone()),
            ("description".to_owned(), pool.description.clone()),
            ("goal".to_owned(), pool.goal.clone().unwrap_or_default()),
            (
                "max_request".to_owned(),
                pool.rules.max_request.clone().unwrap_or_default(),
            ),
            (
                "approvals_needed".to_owned(),
                pool.rules.approvals_needed.unwrap_or(2).to_string(),
            ),
            (
                "fast_track_limit".to_owned(),
                pool.rules.fast_track_limit.clone().unwrap_or_default(),
            ),
            (
                "requesters".to_owned(),
                pool.rules
                    .requesters
                    .map(|r| r.as_str())
                    .unwrap_or("members")
                    .to_owned(),
            ),
        ];
        if pool.public {
            fields.push(("public".to_owned(), "1".to_owned()));
        }
        (Fields(fields), FieldErrors::default())
    });
    Ok(PoolEditPage {
        chrome: Chrome::load(conn, session, &format!("{}: settings and rules", pool.name))?,
        pool_id: pool.id,
        pool_name: pool.name,
        collective_id: pool.collective_id,
        currency: pool.currency,
        version: pool.version,
        form,
        errors,
    })
}

async fn pool_edit_page(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let session = signed_in.0;
    let id = path.into_inner();
    let page = db(&state, move |conn| pool_edit(conn, &session, &id, None)).await?;
    ok(&page)
}

/// Saves a pool's settings and rules through the API's `pools::service::
/// update`, guarded by the version the form was shown with.
async fn update_pool(
    state: web::Data<AppState>,
    form: Form,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let session = form.signed_in()?.clone();
    let pool_id = path.into_inner();
    let f = form.fields.clone();
    let outcome = db(&state, move |conn| {
        let if_match = collectives::etag(f.get("version").trim().parse::<i64>().unwrap_or(0));
        let result = rules_from(&f).and_then(|rules| {
            let patch = pools::PoolPatch {
                name: Some(f.get("name").to_owned()),
                description: Some(f.get("description").to_owned()),
                // An empty goal clears it ("0" is the API's way).
                goal: Some(f.opt("goal").unwrap_or_else(|| "0".into())),
                rules: Some(rules),
                public: Some(f.checked("public")),
                currency: None,
            };
            pools::service::update(conn, &session.principal(), &pool_id, patch, Some(&if_match))
        });
        match result {
            Ok(pool) => Ok(Ok(format!("/c/{}/pools", pool.collective_id))),
            Err(error) => {
                let errors = pool_errors(error)?;
                Ok(Err(pool_edit(conn, &session, &pool_id, Some((f, errors)))?))
            }
        }
    })
    .await?;
    match outcome {
        Ok(location) => Ok(see_other(&location)),
        Err(page) => render(StatusCode::UNPROCESSABLE_ENTITY, &page),
    }
}

#[derive(Template)]
#[template(path = "pools_admin.html")]
struct PoolsPage {
    chrome: Chrome,
    collective_id: String,
    pools: Vec<PoolLine>,
    /// Whether the reader may start pools and change their rules.
    manager: bool,
    errors: FieldErrors,
    form: Fields,
}

fn pools_list(
    conn: &mut DbConnection,
    session: &Session,
    collective_id: &str,
    errors: FieldErrors,
    form: Fields,
) -> Result<PoolsPage> {
    let list = pools::service::list(conn, &session.principal(), collective_id, &all())?;
    let manager = crate::auth::access::authorize(
        conn,
        &session.principal(),
        collective_id,
        crate::auth::policy::Permission::ManagePools,
        "collective",
    )
    .is_ok();
    Ok(PoolsPage {
        manager,
        chrome: Chrome::load(conn, session, "Pools")?,
        collective_id: collective_id.to_owned(),
        pools: list
            .items
            .into_iter()
            .map(|p| PoolLine {
                available: money(&p.balances.available, &p.currency),
                goal: p
                    .goal
                    .as_deref()
                    .map(|g| money(g, &p.currency))
                    .unwrap_or_else(|| "none".into()),
                rules: format!(
                    "largest request {}; {}; emergencies up to {} need one; {} may ask",
                    p.rules
                        .max_request
                        .as_deref()
                        .map(|m| money(m, &p.currency))
                        .unwrap_or_else(|| "no limit".into()),
                    match p.rules.approvals_needed.unwrap_or(2) {
                        1 => "1 approval".to_owned(),
                        n => format!("{n} approvals"),
                    },
                    p.rules
                        .fast_track_limit
                        .as_deref()
                        .map(|m| money(m, &p.currency))
                        .unwrap_or_else(|| "—".into()),
                    p.rules.requesters.map(|r| r.as_str()).unwrap_or("members"),
                ),
                public: p.public,
                currency: p.currency,
                name: p.name,
                id: p.id,
            })
            .collect(),
        errors,
        form,
    })
}

async fn pools_page(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let session = signed_in.0;
    let id = path.into_inner();
    let page = db(&state, move |conn| {
        // The form is for those who may manage pools; the list for members too.
        pools_list(
            conn,
            &session,
            &id,
            FieldErrors::default(),
            Fields::default(),
        )
    })
    .await?;
    ok(&page)
}

async fn create_pool(
    state: web::Data<AppState>,
    form: Form,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let session = form.signed_in()?.clone();
    let collective_id = path.into_inner();
    let f = form.fields.clone();
    let outcome = db(&state, move |conn| {
        let result = rules_from(&f).and_then(|rules| {
            let input = NewPool {
                name: f.get("name").to_owned(),
                description: f.get("description").to_owned(),
                currency: f.get("currency").trim().to_uppercase(),
                goal: f.opt("goal"),
                rules: Some(rules),
                public: f.checked("public"),
            };
            pools::service::create(conn, &session.principal(), &collective_id, input)
        });
        match result {
            Ok(_) => Ok(Ok(format!("/c/{collective_id}/pools"))),
            Err(error) => {
                let errors = pool_errors(error)?;
                Ok(Err(pools_list(conn, &session, &collective_id, errors, f)?))
            }
        }
    })
    .await?;
    match outcome {
        Ok(location) => Ok(see_other(&location)),
        Err(page) => render(StatusCode::UNPROCESSABLE_ENTITY, &page),
    }
}

pub struct AppLine {
    pub id: String,
    pub name: String,
    pub scopes: String,
    pub active: bool,
}

pub struct ScopeChoice {
    pub name: &'static str,
    pub description: &'static str,
}

#[derive(Template)]
#[template(path = "apps.html")]
struct AppsPage {
    chrome: Chrome,
    collective_id: String,
    apps: Vec<AppLine>,
    scopes: Vec<ScopeChoice>,
    /// A secret just issued: shown this once, with its app's id.
    secret: Option<(String, String)>,
    errors: FieldErrors,
}

fn apps(
    conn: &mut DbConnection,
    session: &Session,
    collective_id: &str,
    secret: Option<(String, String)>,
    errors: FieldErrors,
) -> Result<AppsPage> {
    let list = clients::service::list(conn, &session.principal(), collective_id, &all())?;
    Ok(AppsPage {
        chrome: Chrome::load(conn, session, "Partner apps")?,
        collective_id: collective_id.to_owned(),
        apps: list
            .items
            .into_iter()
            .map(|c| AppLine {
                active: c.status == ClientStatus::Active,
                scopes: c.scopes.join(", "),
                id: c.id,
                name: c.name,
            })
            .collect(),
        scopes: Scope::ALL
            .iter()
            .map(|s| ScopeChoice {
                name: s.as_str(),
                description: s.description(),
            })
            .collect(),
        secret,
        errors,
    })
}

async fn apps_page(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let session = signed_in.0;
    let id = path.into_inner();
    let page = db(&state, move |conn| {
        apps(conn, &session, &id, None, FieldErrors::default())
    })
    .await?;
    ok(&page)
}

async fn register_app(
    state: web::Data<AppState>,
    form: Form,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let session = form.signed_in()?.clone();
    let collective_id = path.into_inner();
    let f = form.fields.clone();
    let (status, page) = db(&state, move |conn| {
        let input = NewClient {
            name: f.get("name").to_owned(),
            scopes: f.all("scope"),
        };
        match clients::service::register(conn, &session.principal(), &collective_id, input) {
            Ok(c) => Ok((
                StatusCode::OK,
                apps(
                    conn,
                    &session,
                    &collective_id,
                    Some((c.client.id, c.client_secret)),
                    FieldErrors::default(),
                )?,
            )),
            Err(error) => {
                let errors = FieldErrors::from_error(error)?;
                Ok((
                    StatusCode::UNPROCESSABLE_ENTITY,
                    apps(conn, &session, &collective_id, None, errors)?,
                ))
            }
        }
    })
    .await?;
    render(status, &page)
}

async fn change_app(
    state: web::Data<AppState>,
    form: Form,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let session = form.signed_in()?.clone();
    let (collective_id, id) = path.into_inner();
    let action = form.fields.get("action").to_owned();
    let page = db(&state, move |conn| {
        let principal = session.principal();
        let secret = match action.as_str() {
            "rotate" => {
                let c = clients::service::rotate_secret(conn, &principal, &collective_id, &id)?;
                Some((c.client.id, c.client_secret))
            }
            "disable" | "enable" => {
                let status = if action == "disable" {
                    ClientStatus::Disabled
                } else {
                    ClientStatus::Active
                };
                clients::service::update(
                    conn,
                    &principal,
                    &collective_id,
                    &id,
                    ClientPatch {
                        name: None,
                        scopes: None,
                        status: Some(status),
                    },
                    None,
                )?;
                None
            }
            _ => return Err(Error::invalid("action", "choose rotate, disable or enable")),
        };
        apps(
            conn,
            &session,
            &collective_id,
            secret,
            FieldErrors::default(),
        )
    })
    .await?;
    ok(&page)
}
