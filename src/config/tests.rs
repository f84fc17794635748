use std::collections::HashMap;

use super::*;
use crate::secret::WebhookSecret;

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
    assert_eq!(c.http.body_memory, 64 << 20);
    assert!(c.http.large_body_memory() >= c.webhook.max_body_bytes);
    let c = load(&[("HUBSYNC_TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1")]).unwrap();
    assert!(c.http.trusted_proxies.trusts("10.1.2.3".parse().unwrap()));
    assert!(!c
        .http
        .trusted_proxies
        .trusts("192.168.0.1".parse().unwrap()));
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
fn redelivery_defaults_to_five_minutes_and_zero_turns_it_off() {
    let every =
        |v: &str| load(&[("HUBSYNC_REDELIVERY_SECS", v)]).map(|c| c.webhook.redelivery_interval);
    assert_eq!(every("0").unwrap(), Duration::ZERO);
    assert_eq!(every("2.5").unwrap(), Duration::from_millis(2500));
    assert_eq!(
        load(&[]).unwrap().webhook.redelivery_interval,
        Duration::from_secs(300)
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
        ("HUBSYNC_REDELIVERY_SECS", "0.5"),
        ("HUBSYNC_REDELIVERY_SECS", "often"),
        ("HUBSYNC_BODY_TIMEOUT_SECS", "0"),
        ("HUBSYNC_BODY_MEMORY_BYTES", "1048576"),
        ("HUBSYNC_MAX_CONNECTIONS", "0"),
        ("HUBSYNC_TRUSTED_PROXIES", "10.0.0.0/40"),
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
    let c = load(&[(
        "GITHUB_WEBHOOK_SECRET",
        "old-webhook-secret-value, new-webhook-secret-value",
    )])
    .unwrap();
    assert_eq!(c.github.webhook_secrets.len(), 2);
    assert_eq!(
        c.github.webhook_secrets[1].expose(),
        "new-webhook-secret-value"
    );
    let debug = format!("{c:?}");
    assert!(!debug.contains("webhook-secret-value"), "{debug}");
}

#[test]
fn short_or_empty_secrets_and_tokens_are_refused_naming_the_variable() {
    let long = "a-webhook-secret-long-enough";
    for (value, says) in [
        ("short", "the secret is 5 bytes long"),
        (&format!("{long},short") as &str, "entry 2 of 2"),
        (
            &format!("{long},") as &str,
            "entry 2 of 2 (comma-separated) is 0 bytes",
        ),
        (&format!(" ,{long}") as &str, "entry 1 of 2"),
    ] {
        let err = load(&[("GITHUB_WEBHOOK_SECRET", value)]).unwrap_err();
        assert_eq!(err.var, "GITHUB_WEBHOOK_SECRET");
        let text = err.to_string();
        assert!(
            text.contains(says) && text.contains("at least 20"),
            "{text}"
        );
        assert!(!text.contains("short"), "never echoes the value: {text}");
    }
    let err = load(&[("HUBSYNC_ADMIN_TOKEN", "hunter2hunter2")]).unwrap_err();
    assert_eq!(err.var, "HUBSYNC_ADMIN_TOKEN");
    assert!(err.to_string().contains("14 characters") && !err.to_string().contains("hunter2"));
    let ok = load(&[("HUBSYNC_ADMIN_TOKEN", &"t".repeat(32))]).unwrap();
    assert!(ok.admin_token.is_some());
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
        webhook_secret: WebhookSecret::parse("webhook-secret-from-file").unwrap(),
        client_id: "Iv1.x".into(),
        client_secret: Secret::new("cs"),
        html_url: String::new(),
    }
    .save(&path)
    .unwrap();
    let p = path.to_str().unwrap();
    let c = load(&[("HUBSYNC_CREDENTIALS_PATH", p)]).unwrap();
    assert_eq!(c.github.app.as_ref().unwrap().app_id, 99);
    assert_eq!(
        c.github.webhook_secrets[0].expose(),
        "webhook-secret-from-file"
    );
    assert_eq!(c.github.client_id.as_deref(), Some("Iv1.x"));
    // The environment wins, and the app identity is taken whole from one place.
    let c = load(&[
        ("HUBSYNC_CREDENTIALS_PATH", p),
        ("GITHUB_WEBHOOK_SECRET", "webhook-secret-from-the-env"),
        ("GITHUB_APP_ID", "5"),
        ("GITHUB_PRIVATE_KEY", pem),
    ])
    .unwrap();
    assert_eq!(c.github.app.as_ref().unwrap().app_id, 5);
    assert_eq!(
        c.github.webhook_secrets[0].expose(),
        "webhook-secret-from-the-env"
    );
    let err = load(&[("HUBSYNC_CREDENTIALS_PATH", p), ("GITHUB_APP_ID", "5")]).unwrap_err();
    assert_eq!(err.var, "GITHUB_PRIVATE_KEY");
    // A short secret in the file is refused like one in the environment.
    let file = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, file.replace("webhook-secret-from-file", "short")).unwrap();
    let err = load(&[("HUBSYNC_CREDENTIALS_PATH", p)]).unwrap_err();
    assert_eq!(err.var, "HUBSYNC_CREDENTIALS_PATH");
    assert!(
        err.to_string().contains("webhook_secret") && !err.to_string().contains("short"),
        "{err}"
    );
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

#[test]
fn metrics_token_and_bind() {
    let err = load(&[("HUBSYNC_METRICS_TOKEN", "hunter2hunter2")]).unwrap_err();
    assert_eq!(err.var, "HUBSYNC_METRICS_TOKEN");
    assert!(!err.to_string().contains("hunter2"));
    let err = load(&[("HUBSYNC_METRICS_BIND", "port 9100")]).unwrap_err();
    assert_eq!(err.var, "HUBSYNC_METRICS_BIND");
    let ok = load(&[
        ("HUBSYNC_METRICS_TOKEN", &"m".repeat(32)),
        ("HUBSYNC_METRICS_BIND", "127.0.0.1:9100"),
    ])
    .unwrap();
    assert!(ok.metrics.token.is_some());
    assert_eq!(ok.metrics.bind, Some("127.0.0.1:9100".parse().unwrap()));
    assert!(
        !format!("{ok:?}").contains("mmmm"),
        "the token never prints"
    );
}
