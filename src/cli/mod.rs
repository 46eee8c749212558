//! The `commonpot` command line: one binary for serving, migrating, tallying,
//! verifying and administration.

pub mod tally;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Settings;
use crate::db::{self, DatabaseUrl};

#[derive(Debug, Parser)]
#[command(name = "commonpot", version, about = "A mutual aid ledger service")]
struct Cli {
    /// Optional TOML configuration file (environment variables override it).
    #[arg(long, global = true, env = "COMMONPOT_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the HTTP API (creates and migrates the database if needed).
    Serve {
        /// Address to listen on, e.g. 0.0.0.0:8080.
        #[arg(long)]
        bind: Option<String>,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the OpenAPI document.
    Openapi {
        /// Write it to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Fill an empty database with a demo collective: six months of history
    /// built through the services (refuses a database that holds a
    /// collective). Prints where to go and an account per role.
    Demo {
        /// The same seed gives the same names, amounts, states and counts.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Multiplies members (40) and requests (60), for load tests;
        /// members beyond the first 40 get no password.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
        scale: u32,
    },
    /// Tally a pabulib .pb file offline.
    Tally(tally::TallyArgs),
    /// Print the table of every problem `code` the service sends (Markdown,
    /// as in the README).
    ErrorCodes,
    /// Recompute every balance from the ledger and check the invariants the
    /// stored rows show (see README, Operations), on one consistent snapshot.
    /// Opens the database read-only: never creates or migrates it, and
    /// refuses a missing SQLite file or a schema this version does not know.
    /// Exits nonzero with a report on any violation.
    Verify,
    /// Administration.
    #[command(subcommand)]
    Admin(AdminCommand),
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Create the first admin and their collective. The password is read
    /// from COMMONPOT_BOOTSTRAP_PASSWORD, or else the first line of stdin.
    Bootstrap {
        /// The admin's email (their login).
        #[arg(long)]
        email: String,
        /// The admin's display name.
        #[arg(long)]
        name: String,
        /// The collective's name.
        #[arg(long)]
        collective: String,
        /// The collective's IANA time zone, e.g. Europe/Berlin.
        #[arg(long, default_value = "UTC")]
        time_zone: String,
    },
    /// Rotate the key private fields are sealed with (README, Personal
    /// data). Without flags, all three steps for a single instance whose
    /// service reads the same key file: add, promote, wait for the service
    /// to read the file again, re-encrypt.
    RotateKey {
        /// Step 1: add a new key at the end of the key file (decrypt-only);
        /// give the file to every replica.
        #[arg(long)]
        add: bool,
        /// Step 2, once every replica has it: make the key (default: the
        /// newest) the primary.
        #[arg(long, num_args = 0..=1, default_missing_value = "")]
        promote: Option<String>,
        /// Step 3: seal everything again under the primary, in batches,
        /// while the service runs; then retire unused keys and checkpoint.
        #[arg(long)]
        reencrypt: bool,
        /// Without flags: seconds to wait between promoting and
        /// re-encrypting (running services read the key file every 30 s).
        #[arg(long, default_value_t = 35)]
        settle_secs: u64,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("commonpot: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Tally(args) => tally::run(&args),
        Command::ErrorCodes => {
            print!("{}", crate::http::codes::markdown_table());
            Ok(())
        }
        Command::Openapi { out } => {
            let json = openapi_json();
            match out {
                Some(path) => std::fs::write(&path, json)?,
                None => print!("{json}"),
            }
            Ok(())
        }
        Command::Migrate => {
            let settings = settings(cli.config)?;
            crate::telemetry::init(settings.log_format);
            let url = DatabaseUrl::parse(&settings.database_url)?;
            let pool = db::open(&url, 1)?;
            crate::crypto::sweep::startup(&mut *pool.get()?, &settings)?;
            tracing::info!(database = url.backend_name(), "migrations applied");
            Ok(())
        }
        Command::Admin(AdminCommand::Bootstrap {
            email,
            name,
            collective,
            time_zone,
        }) => {
            let settings = settings(cli.config)?;
            let password = match std::env::var("COMMONPOT_BOOTSTRAP_PASSWORD") {
                Ok(password) => password,
                Err(_) => {
                    eprintln!("password for {email} (one line on stdin):");
                    let mut line = String::new();
                    std::io::stdin().read_line(&mut line)?;
                    line.trim_end_matches(['\r', '\n']).to_owned()
                }
            };
            let db = open_db(&settings)?;
            let mut conn = db.get()?;
            let (collective, membership) = crate::collectives::service::bootstrap(
                &mut conn,
                &email,
                &name,
                &password,
                &collective,
                &time_zone,
            )?;
            println!(
                "{}",
                serde_json::json!({"collective": collective, "membership": membership})
            );
            Ok(())
        }
        Command::Admin(AdminCommand::RotateKey {
            add,
            promote,
            reencrypt,
            settle_secs,
        }) => {
            let settings = settings(cli.config)?;
            crate::telemetry::init(settings.log_format);
            rotate_key(&settings, add, promote, reencrypt, settle_secs)
        }
        Command::Demo { seed, scale } => {
            let settings = settings(cli.config)?;
            let db = open_db(&settings)?;
            let started = std::time::Instant::now();
            let demo = crate::demo::run(&db, &settings, &crate::demo::Options { seed, scale })?;
            print!("{}", demo_report(&demo, &settings, started.elapsed()));
            Ok(())
        }
        Command::Verify => {
            let settings = settings(cli.config)?;
            let url = DatabaseUrl::parse(&settings.database_url)?;
            // Read-only: never creates, migrates or changes the database.
            let mut conn = db::open_read_only(&url)?;
            db::check_schema(&mut conn)?;
            let report = crate::ledger::verify::verify(&mut conn)?;
            println!("{report}");
            if report.is_clean() {
                Ok(())
            } else {
                anyhow::bail!(
                    "the ledger violates {} invariant check(s)",
                    report.violation_count()
                )
            }
        }
        Command::Serve { bind } => {
            let mut settings = settings(cli.config)?;
            if let Some(bind) = bind {
                settings.bind = bind;
            }
            crate::telemetry::init(settings.log_format);
            serve(settings)
        }
    }
}

/// What `commonpot demo` prints: what was made, where to go, how to get in.
fn demo_report(demo: &crate::demo::Demo, settings: &Settings, took: std::time::Duration) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Demo collective \"{}\" ({}) made in {:.1} s: {} members, {} pools, {} contributions, \
         {} pledges, {} budgeting rounds.",
        demo.collective_name,
        demo.collective_id,
        took.as_secs_f64(),
        demo.members,
        demo.pools,
        demo.contributions,
        demo.pledges,
        demo.rounds,
    );
    let states: Vec<String> = demo
        .requests
        .iter()
        .map(|(state, n)| format!("{state} {n}"))
        .collect();
    let total: i64 = demo.requests.values().sum();
    let _ = writeln!(out, "Aid requests: {total} ({}).", states.join(", "));
    let url = format!("http://{}/", settings.bind.replace("0.0.0.0", "127.0.0.1"));
    let _ = writeln!(out, "\nNext: commonpot serve, then open {url}");
    let _ = writeln!(out, "Sign in as (demo passwords, shown only now):");
    for account in &demo.accounts {
        let _ = writeln!(
            out,
            "  {:<12} {:<36} {}   ({})",
            account.role, account.email, account.password, account.name
        );
    }
    let _ = writeln!(
        out,
        "Partner app (client credentials): client_id {}  client_secret {}",
        demo.partner.0, demo.partner.1
    );
    out
}

/// `admin rotate-key`: the steps asked for, in order.
fn rotate_key(
    settings: &Settings,
    add: bool,
    promote: Option<String>,
    reencrypt: bool,
    settle_secs: u64,
) -> anyhow::Result<()> {
    use crate::crypto::{rotate, sweep};
    let all = !add && promote.is_none() && !reencrypt;
    let file = &settings.encryption_key_file;
    if settings.encryption_keys.is_some() && (add || all || promote.is_some()) {
        anyhow::bail!(
            "keys come from encryption_keys (COMMONPOT_ENCRYPTION_KEYS): add this new key at \
             its end on every replica, then move it first, then run \
             `commonpot admin rotate-key --reencrypt`:\n{}",
            crate::crypto::Key::generate()
        );
    }
    let mut added = None;
    if add || all {
        let id = rotate::add_key(file)?;
        println!("added key {id} to {} (decrypt-only)", file.display());
        added = Some(id);
    }
    if promote.is_some() || all {
        let wanted = promote.filter(|p| !p.is_empty()).or(added);
        let id = rotate::to_promote(file, wanted.as_deref())?;
        let db = open_db(settings)?;
        let mut conn = db.get()?;
        // A replica that cannot open the new key's values must not meet
        // them: wait for every running one to hold it (all three steps at
        // once), or refuse (`--promote` alone).
        let waited_up_to = std::time::Instant::now()
            + if all {
                crate::crypto::holders::ANNOUNCE_EVERY * 2 + std::time::Duration::from_secs(5)
            } else {
                std::time::Duration::ZERO
            };
        loop {
            let lacking = crate::crypto::holders::lacking(&mut conn, &id, crate::clock::now())?;
            if lacking.is_empty() {
                break;
            }
            if std::time::Instant::now() >= waited_up_to {
                let names: Vec<String> = lacking
                    .iter()
                    .map(|l| format!("{} (last seen {})", l.replica, l.seen_at))
                    .collect();
                anyhow::bail!(
                    "key {id} is not the primary: {} running replica(s) do not hold it yet: {}. \
                     Give them the key file (a shared file is read again every 30 s; a copy \
                     or a variable needs a restart), then promote again.",
                    lacking.len(),
                    names.join(", ")
                );
            }
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
        let id = rotate::promote(file, Some(&id))?;
        println!("key {id} is now the primary in {}", file.display());
    }
    if all {
        println!("waiting {settle_secs} s for running services to read the key file again");
        std::thread::sleep(std::time::Duration::from_secs(settle_secs));
    }
    if reencrypt || all {
        let db = open_db(settings)?;
        let mut conn = db.get()?;
        let swept = sweep::reencrypt(&mut conn, || {
            std::thread::sleep(std::time::Duration::from_millis(20))
        })?;
        sweep::checkpoint(&mut conn)?;
        let census = sweep::census(&mut conn)?;
        println!(
            "{}",
            serde_json::json!({
                "resealed": swept.sealed,
                "changed_meanwhile": swept.skipped,
                "unreadable": swept.unreadable,
                "values_by_key": census,
                "keys_in_use": sweep::keys_in_use(&mut conn)?,
            })
        );
        if swept.unreadable > 0 {
            anyhow::bail!("{} value(s) do not decrypt; see the log", swept.unreadable);
        }
    }
    Ok(())
}

fn open_db(settings: &Settings) -> anyhow::Result<crate::db::Db> {
    let url = DatabaseUrl::parse(&settings.database_url)?;
    let pool = db::open(&url, 2)?;
    crate::crypto::sweep::startup(&mut *pool.get()?, settings)?;
    Ok(crate::db::Db::new(pool, &url))
}

fn settings(file: Option<PathBuf>) -> anyhow::Result<Settings> {
    Settings::load(file.as_deref()).map_err(|e| anyhow::anyhow!("configuration: {e}"))
}

fn serve(settings: Settings) -> anyhow::Result<()> {
    actix_web::rt::System::new().block_on(async move {
        let bind = settings.bind.clone();
        let database = db::redact(&settings.database_url);
        let app = crate::startup::Application::build(settings)?;
        tracing::info!(%bind, port = app.port(), %database, "commonpot serving");
        app.run_until_stopped().await?;
        tracing::info!("commonpot stopped");
        Ok(())
    })
}

/// The OpenAPI document as committed in `openapi/openapi.json`.
pub fn openapi_json() -> String {
    crate::http::OpenApiJson::generate().0
}
