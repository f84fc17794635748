//! `HUBSYNC_OUTBOX_*`: how outgoing webhooks are delivered.
use std::time::Duration;

use super::{invalid, vars::number, ConfigError};
use crate::outbox::OutboxSettings;

pub(super) fn outbox_settings(
    var: &impl Fn(&str) -> Option<String>,
) -> Result<OutboxSettings, ConfigError> {
    let d = OutboxSettings::default();
    let positive = |s: &f64| s.is_finite() && *s > 0.0;
    let retry_base = number(
        var,
        "HUBSYNC_OUTBOX_RETRY_BASE_SECS",
        d.retry_base.as_secs_f64(),
        |s: &f64| positive(s) && *s <= 3600.0,
        "a positive number of seconds (at most 3600)",
    )?;
    let retry_hours = number(
        var,
        "HUBSYNC_OUTBOX_RETRY_HOURS",
        d.retry_window.as_secs_f64() / 3600.0,
        |h: &f64| positive(h) && *h <= 24.0 * 365.0,
        "a positive number of hours (at most a year)",
    )?;
    let timeout = number(
        var,
        "HUBSYNC_OUTBOX_TIMEOUT_SECS",
        d.timeout.as_secs_f64(),
        |s: &f64| positive(s) && *s <= 300.0,
        "a positive number of seconds (at most 300)",
    )?;
    let allow_private = match var("HUBSYNC_OUTBOX_ALLOW_PRIVATE")
        .as_deref()
        .map(str::trim)
    {
        None | Some("0") => false,
        Some("1") => true,
        Some(other) => {
            return Err(invalid(
                "HUBSYNC_OUTBOX_ALLOW_PRIVATE",
                format!("{other:?} is not 0 or 1"),
            ))
        }
    };
    Ok(OutboxSettings {
        retry_base: Duration::from_secs_f64(retry_base),
        retry_window: Duration::from_secs_f64(retry_hours * 3600.0),
        disable_after: number(
            var,
            "HUBSYNC_OUTBOX_DISABLE_AFTER",
            d.disable_after,
            |n: &u32| *n >= 1,
            "a whole number of attempts, at least 1",
        )?,
        timeout: Duration::from_secs_f64(timeout),
        concurrency: number(
            var,
            "HUBSYNC_OUTBOX_CONCURRENCY",
            d.concurrency,
            |n: &usize| *n <= 256,
            "a whole number from 0 to 256",
        )?,
        allow_private,
    })
}
