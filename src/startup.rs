//! Builds the whole application. `main` and the integration tests both go through `run`.
use std::{net::SocketAddr, sync::Arc, time::Duration};

use actix_web::{dev::ServerHandle, web};
use sea_orm::DatabaseConnection;
use tokio::{sync::Notify, task::JoinHandle};
use tokio_util::sync::CancellationToken;

use crate::{
    config::Config,
    github::{GithubApp, GithubError, GithubOptions, GithubSlot},
    healing::{self, Healing},
    http::{self, AppState},
    metrics::{Activity, Metrics},
    outbox::Outbox,
    progress,
    secret::Secret,
    store::{self, DatabaseUrl, StoreError},
    sync::{reconcile, worker::Workers, Nudge},
    tasks::Tasks,
    webhook::{
        inbox::{Inbox, Waiting},
        process::{Processor, SyncHandoff},
    },
};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot set up the GitHub client: {0}")]
    Github(#[from] GithubError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// A started hubsync: the HTTP server and background work, with the handles to stop them.
pub struct RunningApp {
    pub addr: SocketAddr,
    /// Where `HUBSYNC_METRICS_BIND`'s listener serves /metrics, when set.
    pub metrics_addr: Option<SocketAddr>,
    metrics_server: Option<(ServerHandle, JoinHandle<std::io::Result<()>>)>,
    pub db: DatabaseConnection,
    /// The GitHub App client (None until credentials exist) for the sync worker.
    pub github: GithubSlot,
    /// The progress hub: what SSE subscribers of this process receive.
    pub hub: progress::Hub,
    /// The background loops' pass counts, as /metrics reports them.
    pub activity: Activity,
    /// The first run's one-time setup link (`http://HOST/setup?token=...`), when no admin exists
    /// yet; `serve` prints it.
    pub setup_link: Option<Secret>,
    server: ServerHandle,
    server_task: JoinHandle<std::io::Result<()>>,
    /// Cancelled on shutdown; background workers and open event streams watch it.
    shutdown: CancellationToken,
    /// Background tasks (webhook processor, workers); `stop` waits for them.
    background: Tasks,
}

/// Connects to the database, applies pending migrations, binds and starts serving.
pub async fn run(config: Config) -> Result<RunningApp, StartupError> {
    let db = store::connect(&config.database_url).await?;
    if config.allow_data_loss {
        tracing::warn!("--allow-data-loss given: destructive migrations will be applied");
    }
    let options = store::MigrateOptions {
        allow_data_loss: config.allow_data_loss,
    };
    let applied = store::migrate_with(&db, &store::MigrationSet::real(), options)
        .await
        .map_err(StoreError::from)?;
    tracing::info!(
        engine = config.database_url.engine(),
        applied = applied.len(),
        "database ready"
    );
    // A changed admin token ends the sessions opened with the old one, on every replica.
    let token_id = config.admin_token.as_ref().map(http::auth::token_id);
    store::sessions::revoke_other_tokens(&db, token_id.as_deref())
        .await
        .map_err(StoreError::from)?;
    if config.github.app.is_none() || config.github.webhook_secrets.is_empty() {
        tracing::warn!(
            "GitHub App credentials are not set (GITHUB_APP_ID, GITHUB_PRIVATE_KEY[_PATH], \
             GITHUB_WEBHOOK_SECRET, or the credentials file): webhooks and syncs stay off until \
             they are; GET /setup creates the app"
        );
    }
    let metrics = Metrics::new();
    let activity = metrics.activity().clone();
    let app = match &config.github.app {
        Some(creds) => Some(Arc::new(GithubApp::new(
            creds,
            GithubOptions::from_config(&config.github, &metrics),
        )?)),
        None => None,
    };
    let github = GithubSlot::new(app, config.github.webhook_secrets.clone());
    github.set_oauth(oauth_client(&config.github, &metrics)?);
    if let Some(page) = &config.github.app_page {
        github.set_app_page(page.clone());
    }

    let shutdown = CancellationToken::new();
    let background = Tasks::default();
    let ingest_waiting = Waiting::default();
    if let DatabaseUrl::Sqlite(url) = &config.database_url {
        let waiting = ingest_waiting.clone();
        let busy = move || waiting.is_burst();
        background.spawn(store::checkpoint::run(
            url.clone(),
            db.clone(),
            busy,
            shutdown.clone(),
        ));
    }
    let (hub, tailer) = progress::Hub::start(&db, config.sse_buffer)
        .await
        .map_err(StoreError::from)?;
    background.spawn(tailer.run(shutdown.clone()));
    background.spawn(progress::run_pruner(
        db.clone(),
        config.event_retention,
        shutdown.clone(),
    ));
    background.spawn(store::changes::run_pruner(
        db.clone(),
        config.changes_retention,
        shutdown.clone(),
    ));
    // Outgoing webhooks: its own task, apart from the sync workers.
    let outbox = Outbox::new(config.outbox.clone(), activity.outbox.clone());
    background.spawn(
        outbox
            .clone()
            .run(db.clone(), hub.clone(), shutdown.clone()),
    );
    let workers = Workers {
        db: db.clone(),
        github: github.clone(),
        settings: Arc::new(config.sync.clone()),
        wake: Arc::new(Notify::new()),
        discover: Arc::new(Notify::new()),
        hub: hub.clone(),
        metrics: metrics.clone(),
    };
    let nudge = Nudge::new(&workers, hub.clone());
    workers.clone().spawn(&background, &shutdown);
    background.spawn(reconcile::run(workers.clone(), shutdown.clone()));
    let healing = Healing::new(
        db.clone(),
        github.clone(),
        nudge.clone(),
        config.sync.auto_select,
        activity.healing.clone(),
    );
    let (install_requests, asked) = healing::InstallRequests::new();
    background.spawn(healing::run(
        healing,
        config.webhook.redelivery_interval,
        config.sync.reconcile_interval,
        asked,
        shutdown.clone(),
    ));
    let webhook_wakeup = Arc::new(Notify::new());
    if config.webhook.process {
        let handoff = SyncHandoff {
            auto_select: config.sync.auto_select,
            nudge: nudge.clone(),
        };
        let processor = Processor::new(
            db.clone(),
            config.webhook.clone(),
            webhook_wakeup.clone(),
            ingest_waiting.clone(),
            handoff,
            activity.webhooks.clone(),
        );
        background.spawn(processor.run(shutdown.clone()));
    } else {
        tracing::warn!("HUBSYNC_WEBHOOK_PROCESSING=off: deliveries are stored, not processed");
    }

    let addr = config.bind;
    let metrics_bind = config.metrics.bind;
    let http_limits = config.http.clone();
    let listener = listen(addr).map_err(|source| StartupError::Bind { addr, source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| StartupError::Bind { addr, source })?;
    let public_url = match &config.public_url {
        Some(u) => u.clone(),
        None => url::Url::parse(&format!("http://{addr}")).map_err(|e| StartupError::Bind {
            addr,
            source: std::io::Error::other(e),
        })?,
    };
    let setup_link = first_run_link(&db, &config, &public_url).await?;
    let state = web::Data::new(AppState {
        db: db.clone(),
        config: Arc::new(config),
        github: github.clone(),
        public_url,
        setup_states: Default::default(),
        install_requests,
        inbox: Inbox::start(db.clone(), webhook_wakeup, ingest_waiting, &background),
        hub: hub.clone(),
        nudge,
        outbox,
        shutdown: shutdown.clone(),
        metrics: metrics.clone(),
    });
    let metrics_server = match metrics_bind {
        None => None,
        Some(bind) => {
            let bound = listen(bind)
                .and_then(|l| http::metrics::serve_separately(l, db.clone(), metrics))
                .map_err(|source| StartupError::Bind { addr: bind, source })?;
            tracing::info!(addr = %bound.1, "serving /metrics");
            Some(bound)
        }
    };
    let server = http::server::start(listener, state, &http_limits)
        .map_err(|source| StartupError::Bind { addr, source })?;
    let handle = server.handle();
    let server_task = tokio::spawn(server);
    tracing::info!(%addr, "listening");
    let (metrics_addr, metrics_server) = match metrics_server {
        Some((server, addr)) => {
            let handle = server.handle();
            (Some(addr), Some((handle, tokio::spawn(server))))
        }
        None => (None, None),
    };
    Ok(RunningApp {
        addr,
        metrics_addr,
        metrics_server,
        db,
        github,
        hub,
        activity,
        setup_link,
        server: handle,
        server_task,
        shutdown,
        background,
    })
}

/// While no admin exists (no admin token, nobody signed in through a setup link), a new
/// one-time link that signs its opener in as the first admin.
async fn first_run_link(
    db: &DatabaseConnection,
    config: &Config,
    public_url: &url::Url,
) -> Result<Option<Secret>, StartupError> {
    if config.admin_token.is_some()
        || store::setup_links::first_admin_signed_in(db)
            .await
            .map_err(StoreError::from)?
    {
        return Ok(None);
    }
    let token = store::setup_links::issue(db)
        .await
        .map_err(StoreError::from)?;
    // The token is hex: nothing to escape. The public URL may carry a path (behind a proxy).
    let link = format!(
        "{}/setup?token={}",
        public_url.as_str().trim_end_matches('/'),
        token.expose()
    );
    tracing::info!("no admin yet: the one-time setup link is printed on standard output");
    Ok(Some(Secret::new(link)))
}

impl RunningApp {
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Serves until SIGTERM or SIGINT, then shuts down gracefully.
    pub(crate) async fn serve_until_signal(self) -> std::io::Result<()> {
        shutdown_signal().await;
        tracing::info!("shutdown signal received; finishing in-flight requests");
        self.stop().await
    }

    /// Stops accepting connections, lets in-flight requests finish, stops background work.
    pub async fn stop(self) -> std::io::Result<()> {
        self.shutdown.cancel();
        if let Some((handle, task)) = self.metrics_server {
            handle.stop(true).await;
            let _ = task.await;
        }
        self.server.stop(true).await;
        let result = match tokio::time::timeout(Duration::from_secs(35), self.server_task).await {
            Ok(Ok(r)) => r,
            Ok(Err(join)) => Err(std::io::Error::other(join)),
            Err(_) => Err(std::io::Error::other("server did not stop in time")),
        };
        self.background.close();
        if tokio::time::timeout(Duration::from_secs(30), self.background.wait())
            .await
            .is_err()
        {
            tracing::warn!("background tasks did not stop in time");
        }
        let _ = self.db.close_by_ref().await;
        match self.background.panicked() {
            0 => result,
            n => Err(std::io::Error::other(format!(
                "{n} background task(s) panicked"
            ))),
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

/// A burst of deliveries opens many connections at once. std's listen backlog of 128 dropped
/// the SYNs past it, and those senders waited a second to retry (seen at 256 senders).
const BACKLOG: i32 = 2048;

fn listen(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    // As std does on Unix: a restarted hubsync rebinds while old connections linger in TIME_WAIT.
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}

/// Sign in with GitHub is offered once the app's OAuth client id and secret are known.
fn oauth_client(
    config: &crate::github::GithubConfig,
    metrics: &Metrics,
) -> Result<Option<crate::github::oauth::OAuthClient>, crate::github::GithubError> {
    match (&config.client_id, &config.client_secret) {
        (Some(id), Some(secret)) => Ok(Some(crate::github::oauth::OAuthClient::new(
            &GithubOptions::from_config(config, metrics),
            config.web_url.clone(),
            id.clone(),
            secret.clone(),
        )?)),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use std::{net::TcpStream, time::Duration};

    use super::*;

    #[test]
    fn the_listener_queues_a_burst_of_connections_while_none_is_accepted() {
        let cap: usize = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(usize::MAX);
        if cap < 300 {
            eprintln!("skipped: the kernel caps listen backlogs at {cap} (net.core.somaxconn)");
            return;
        }
        let listener = listen("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        // Nothing accepts, as when the workers are busy: each connection waits in the backlog.
        // Past a full backlog the kernel drops the SYN and connect() retries after a second.
        let _held: Vec<TcpStream> = (0..300)
            .map(|i| {
                TcpStream::connect_timeout(&addr, Duration::from_secs(5))
                    .unwrap_or_else(|e| panic!("connection {i}: {e}"))
            })
            .collect();
    }
}
