//! The `hubsync` command line: `serve` (default), `migrate up|status|check|verify`, `replay` and
//! `purge-oversized`.
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use url::Url;

use crate::{
    config::{Config, Overrides},
    startup, store, telemetry,
    webhook::replay::{replay, Replay},
};

#[derive(Debug, Parser)]
#[command(
    name = "hubsync",
    version,
    about = "Self-hosted GitHub App that keeps selected branches of your repositories synced into a database",
    long_about = "Self-hosted GitHub App that keeps selected branches of your repositories synced into a \
                  database.\n\nConfiguration comes from environment variables (see README.md); the flags \
                  below override them. Without a subcommand, hubsync serves."
)]
pub struct Cli {
    /// Address to listen on [env: HUBSYNC_BIND, default 127.0.0.1:3000]
    #[arg(long, global = true, value_name = "ADDR")]
    pub bind: Option<String>,
    /// sqlite://PATH or postgres://USER@HOST/DB [env: DATABASE_URL, default sqlite://hubsync.db]
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service: apply pending migrations, then serve webhooks, the API and status pages
    Serve(DataLossArg),
    /// Inspect, check, apply or verify database migrations
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
    },
    /// Sign a webhook payload file with GITHUB_WEBHOOK_SECRET and POST it to a running hubsync
    Replay {
        /// The event name to send as X-GitHub-Event (push, installation, repository, ...)
        #[arg(long)]
        event: String,
        /// The JSON payload, e.g. fixtures/webhooks/push.json
        file: PathBuf,
        /// Where hubsync runs [default: http://HUBSYNC_BIND]
        #[arg(long, value_name = "URL")]
        url: Option<Url>,
        /// X-GitHub-Delivery to send; repeat one to test redelivery [default: a new id]
        #[arg(long, value_name = "ID")]
        delivery: Option<String>,
    },
    /// Report stored file content over HUBSYNC_MAX_FILE_SIZE; with --apply, remove it (the
    /// files stay listed and are fetched again if the limit is raised)
    PurgeOversized {
        /// Remove the content; without it nothing changes
        #[arg(long)]
        apply: bool,
    },
}

#[derive(Debug, Default, Args)]
pub struct DataLossArg {
    /// Also apply destructive migrations (drops, truncations, renames). Only after
    /// `hubsync migrate check` and a backup; there is no environment variable for this.
    #[arg(long)]
    pub allow_data_loss: bool,
}

#[derive(Debug, Subcommand)]
pub enum MigrateAction {
    /// Apply every pending migration (serve does this at start too)
    Up(DataLossArg),
    /// List every migration and whether it is applied
    Status,
    /// Show the SQL each pending migration will run and flag every destructive step; exits
    /// non-zero when applying them is not safe
    Check,
    /// Compare the schema with what this binary expects and print row counts per table; exits
    /// non-zero on any difference
    Verify,
}

/// Runs the parsed command; the error (with its causes, on one line) is what main prints before
/// exiting non-zero.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let overrides = Overrides {
        bind: cli.bind,
        database_url: cli.database_url,
    };
    let mut config = Config::from_env(&overrides)?;
    telemetry::init(config.log_format);
    match cli
        .command
        .unwrap_or(Command::Serve(DataLossArg::default()))
    {
        Command::Replay {
            event,
            file,
            url,
            delivery,
        } => {
            let line = replay_file(&config, &event, &file, url, delivery.as_deref()).await?;
            println!("{line}");
            Ok(())
        }
        Command::Serve(arg) => {
            config.allow_data_loss = arg.allow_data_loss;
            let app = startup::run(config).await?;
            if let Some(link) = &app.setup_link {
                // Standard output, not the log: the link is a credential, and logs are shipped.
                println!(
                    "No admin yet: open {} to sign in and set hubsync up (works once, within an hour)",
                    link.expose()
                );
            }
            app.serve_until_signal().await.context("server error")
        }
        Command::PurgeOversized { apply } => {
            let db = store::connect(&config.database_url).await?;
            let result = purge_oversized(&db, config.sync.max_file_size, apply).await;
            let _ = db.close().await;
            println!("{}", result?);
            Ok(())
        }
        Command::Migrate { action } => {
            let db = store::connect(&config.database_url).await?;
            let result = migrate(&db, action).await;
            let _ = db.close().await;
            result
        }
    }
}

async fn replay_file(
    config: &Config,
    event: &str,
    file: &std::path::Path,
    url: Option<Url>,
    delivery: Option<&str>,
) -> anyhow::Result<String> {
    let base_url = match url {
        Some(u) => u,
        None => {
            let mut bind = config.bind;
            if bind.ip().is_unspecified() {
                bind.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
            }
            Url::parse(&format!("http://{bind}/"))?
        }
    };
    replay(
        Replay {
            event,
            file,
            base_url: &base_url,
            delivery,
        },
        &config.github.webhook_secrets,
    )
    .await
    .map_err(Into::into)
}

async fn purge_oversized(
    db: &sea_orm::DatabaseConnection,
    max: u64,
    apply: bool,
) -> anyhow::Result<String> {
    const FAILED: &str = "reading the blob store failed";
    if !apply {
        let found = store::purge::oversized(db, max).await.context(FAILED)?;
        return Ok(format!(
            "{} stored file(s), {} bytes, are over HUBSYNC_MAX_FILE_SIZE={max}; \
             run with --apply to remove their content",
            found.blobs, found.bytes
        ));
    }
    let done = store::purge::purge(db, max).await.context(FAILED)?;
    Ok(format!(
        "removed the content of {} stored file(s), {} bytes, over HUBSYNC_MAX_FILE_SIZE={max}; \
         they stay listed and are fetched again if the limit is raised",
        done.blobs, done.bytes
    ))
}

async fn migrate(db: &sea_orm::DatabaseConnection, action: MigrateAction) -> anyhow::Result<()> {
    match action {
        MigrateAction::Up(arg) => {
            if arg.allow_data_loss {
                tracing::warn!("--allow-data-loss given: destructive migrations will be applied");
            }
            let options = store::MigrateOptions {
                allow_data_loss: arg.allow_data_loss,
            };
            let applied = store::migrate_with(db, &store::MigrationSet::real(), options).await?;
            if applied.is_empty() {
                println!("nothing to apply: the database is up to date");
            }
            for name in applied {
                println!("applied  {name}");
            }
        }
        MigrateAction::Status => {
            for state in store::migration_status(db).await? {
                match state {
                    store::MigrationState::Applied(n) => println!("applied  {n}"),
                    store::MigrationState::Pending(n) => println!("pending  {n}"),
                    store::MigrationState::Unknown(n) => {
                        println!("unknown  {n}  (applied by a newer hubsync)")
                    }
                }
            }
        }
        MigrateAction::Check => {
            let report = store::check(db).await?;
            print!("{report}");
            let problems = report.problems();
            if !problems.is_empty() {
                bail!(
                    "{} destructive or failing step(s) pending: {}",
                    problems.len(),
                    problems.join("; ")
                );
            }
        }
        MigrateAction::Verify => {
            let report = store::verify(db).await?;
            if report.differences.is_empty() {
                println!("schema: matches this binary");
            } else {
                println!("schema: {} difference(s)", report.differences.len());
                for d in &report.differences {
                    println!("  {d}");
                }
            }
            println!("rows:");
            for (table, n) in &report.row_counts {
                println!("  {table:<20} {n}");
            }
            if !report.differences.is_empty() {
                bail!(
                    "the schema does not match this binary: {}",
                    report.differences.join("; ")
                );
            }
        }
    }
    Ok(())
}
