use std::collections::HashMap;

use super::*;

fn load(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::from_lookup(&Overrides::default(), |k| map.get(k).cloned())
}

#[test]
fn defaults_work_on_a_bare_machine() {
    let c = load(&[]).unwrap();
    assert_eq!(c.bind.to_string(), "127.0.0.1:3000");
    assert_eq!(c.database_url.expose(), "sqlite://hubsync.db?mode=rwc");
    assert!(c.github.app.is_none());
    assert!(c.github.webhook_secrets.is_empty());
    assert_eq!(c.github.api_url.as_str(), "https://api.github.com/");
    assert_eq!(c.log_format, LogFormat::Text);
    assert_eq!(c.webhook.max_body_bytes, 26_214_400);
    assert!(c.webhook.process);
}

#[test]
fn the_reconcile_interval_takes_fractions_and_zero() {
    let every = |v: &str| load(&[("HUBSYNC_RECONCILE_SECS", v)]).map(|c| c.sync.reconcile_interval);
    assert_eq!(every("1.5").unwrap(), Duration::from_millis(1500));
    assert_eq!(every("0").unwrap(), Duration::ZERO);
    assert_eq!(
        load(&[]).unwrap().sync.reconcile_interval,
        Duration::from_secs(900)
    );
}

#[test]
fn flags_override_env() {
    let o = Overrides {
        bind: Some("0.0.0.0:9000".into()),
        database_url: None,
    };
    let c =
        Config::from_lookup(&o, |k| (k == "HUBSYNC_BIND").then(|| "127.0.0.1:1".into())).unwrap();
    assert_eq!(c.bind.to_string(), "0.0.0.0:9000");
}

#[test]
fn errors_name_the_variable() {
    for (var, value) in [
        ("HUBSYNC_BIND", "nope"),
        ("DATABASE_URL", "mysql://x"),
        ("GITHUB_APP_ID", "abc"),
        ("GITHUB_API_URL", "ftp://x"),
        ("HUBSYNC_LOG_FORMAT", "xml"),
        ("HUBSYNC_GITHUB_CONCURRENCY", "lots"),
        ("HUBSYNC_PUBLIC_URL", "not a url"),
        ("GITHUB_PRIVATE_KEY_PATH", "/does/not/exist.pem"),
        ("HUBSYNC_WEBHOOK_MAX_BYTES", "0"),
        ("HUBSYNC_WEBHOOK_PROCESSING", "maybe"),
        ("HUBSYNC_WEBHOOK_MAX_ATTEMPTS", "-1"),
        ("HUBSYNC_WEBHOOK_RETRY_MS", "soon"),
        ("HUBSYNC_RECONCILE_SECS", "0.01"),
        ("HUBSYNC_RECONCILE_SECS", "-1"),
    ] {
        let err = load(&[(var, value)]).unwrap_err();
        assert_eq!(err.var, var, "{err}");
    }
}

#[test]
fn a_bad_private_key_is_rejected_without_echoing_it() {
    let err = load(&[
        ("GITHUB_APP_ID", "1"),
        ("GITHUB_PRIVATE_KEY", "TOPSECRETVALUE"),
    ])
    .unwrap_err();
    assert_eq!(err.var, "GITHUB_PRIVATE_KEY");
    assert!(!err.to_string().contains("TOPSECRETVALUE"));
}

#[test]
fn webhook_secrets_are_a_list_and_never_print() {
    let c = load(&[("GITHUB_WEBHOOK_SECRET", "old-secret, new-secret")]).unwrap();
    assert_eq!(c.github.webhook_secrets.len(), 2);
    assert_eq!(c.github.webhook_secrets[1].expose(), "new-secret");
    let debug = format!("{c:?}");
    assert!(
        !debug.contains("old-secret") && !debug.contains("new-secret"),
        "{debug}"
    );
}

#[test]
fn database_password_never_prints() {
    let c = load(&[("DATABASE_URL", "postgres://hub:s3cr3tpw@db:5432/hubsync")]).unwrap();
    assert!(!format!("{c:?}").contains("s3cr3tpw"));
    assert!(!c.database_url.to_string().contains("s3cr3tpw"));
    assert_eq!(c.database_url.engine(), "postgres");
}

#[test]
fn the_credentials_file_fills_in_what_env_leaves_unset() {
    let dir = std::env::temp_dir().join(format!("hubsync-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("creds.json");
    let pem = include_str!("../../fixtures/test-app-key.pem");
    StoredCredentials {
        app_id: 99,
        private_key: Secret::new(pem),
        webhook_secret: Secret::new("from-file"),
        client_id: "Iv1.x".into(),
        client_secret: Secret::new("cs"),
        html_url: String::new(),
    }
    .save(&path)
    .unwrap();
    let p = path.to_str().unwrap();
    let c = load(&[("HUBSYNC_CREDENTIALS_PATH", p)]).unwrap();
    assert_eq!(c.github.app.as_ref().unwrap().app_id, 99);
    assert_eq!(c.github.webhook_secrets[0].expose(), "from-file");
    assert_eq!(c.github.client_id.as_deref(), Some("Iv1.x"));
    // The environment wins, and the app identity is taken whole from one place.
    let c = load(&[
        ("HUBSYNC_CREDENTIALS_PATH", p),
        ("GITHUB_WEBHOOK_SECRET", "from-env"),
        ("GITHUB_APP_ID", "5"),
        ("GITHUB_PRIVATE_KEY", pem),
    ])
    .unwrap();
    assert_eq!(c.github.app.as_ref().unwrap().app_id, 5);
    assert_eq!(c.github.webhook_secrets[0].expose(), "from-env");
    let err = load(&[("HUBSYNC_CREDENTIALS_PATH", p), ("GITHUB_APP_ID", "5")]).unwrap_err();
    assert_eq!(err.var, "GITHUB_PRIVATE_KEY");
    std::fs::write(&path, "{not json").unwrap();
    let err = load(&[("HUBSYNC_CREDENTIALS_PATH", p)]).unwrap_err();
    assert_eq!(err.var, "HUBSYNC_CREDENTIALS_PATH");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn credentials_default_next_to_the_sqlite_database() {
    let c = load(&[("DATABASE_URL", "sqlite:///var/lib/hubsync/data.db")]).unwrap();
    assert_eq!(
        c.credentials_path,
        PathBuf::from("/var/lib/hubsync/hubsync-credentials.json")
    );
    assert_eq!(c.github.concurrency, 8);
    assert!(load(&[("HUBSYNC_GITHUB_CONCURRENCY", "0")]).is_err());
}
