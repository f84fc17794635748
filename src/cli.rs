//! The `hubsync` command line: `serve` (default), `migrate up|status` and `replay`.
use std::path::PathBuf;

use clap::{Parser, Subcommand};
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
    Serve,
    /// Inspect or apply database migrations
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
}

#[derive(Debug, Subcommand)]
pub enum MigrateAction {
    /// Apply every pending migration (serve does this at start too)
    Up,
    /// List every migration and whether it is applied
    Status,
}

/// Runs the parsed command; the error is the one line main prints before exiting non-zero.
pub async fn run(cli: Cli) -> Result<(), String> {
    let overrides = Overrides {
        bind: cli.bind,
        database_url: cli.database_url,
    };
    let config = Config::from_env(&overrides).map_err(|e| e.to_string())?;
    let command = cli.command.unwrap_or(Command::Serve);
    telemetry::init(config.log_format);
    match command {
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
        Command::Serve => {
            let app = startup::run(config).await.map_err(|e| e.to_string())?;
            app.serve_until_signal()
                .await
                .map_err(|e| format!("server error: {e}"))
        }
        Command::Migrate { action } => {
            let db = store::connect(&config.database_url)
                .await
                .map_err(|e| e.to_string())?;
            match action {
                MigrateAction::Up => {
                    let applied = store::migrate(&db).await.map_err(|e| e.to_string())?;
                    if applied.is_empty() {
                        println!("nothing to apply: the database is up to date");
                    }
                    for name in applied {
                        println!("applied  {name}");
                    }
                }
                MigrateAction::Status => {
                    for state in store::migration_status(&db)
                        .await
                        .map_err(|e| e.to_string())?
                    {
                        match state {
                            store::MigrationState::Applied(n) => println!("applied  {n}"),
                            store::MigrationState::Pending(n) => println!("pending  {n}"),
                            store::MigrationState::Unknown(n) => {
                                println!("unknown  {n}  (applied by a newer hubsync)")
                            }
                        }
                    }
                }
            }
            Ok(())
        }
    }
}

async fn replay_file(
    config: &Config,
    event: &str,
    file: &std::path::Path,
    url: Option<Url>,
    delivery: Option<&str>,
) -> Result<String, String> {
    let base_url = match url {
        Some(u) => u,
        None => {
            let mut bind = config.bind;
            if bind.ip().is_unspecified() {
                bind.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
            }
            Url::parse(&format!("http://{bind}/")).map_err(|e| e.to_string())?
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
    .map_err(|e| e.to_string())
}
