//! tracing setup: `RUST_LOG` filters, `HUBSYNC_LOG_FORMAT=json` switches to JSON lines.
use tracing_subscriber::{filter::Directive, fmt, EnvFilter};

use crate::config::LogFormat;

const DEFAULT_FILTER: &str = "info,sqlx=warn,sea_orm=warn,sea_orm_migration=warn";

/// Targets that print what passes through them (SQL statements with their values: payloads,
/// file contents, session digests) at debug or trace. They stay at warn whatever `RUST_LOG` says.
/// (sea-orm's `debug-print`, which `migrate check` records statements with, logs from these.)
pub(crate) const NEVER_VERBOSE: &[&str] = &[
    "sea_orm::database",
    "sea_orm::driver",
    "sea_orm_migration",
    "sqlx::query",
];

/// The filter `RUST_LOG` (or the default) asks for, with `NEVER_VERBOSE` capped at warn.
pub fn filter() -> EnvFilter {
    let mut filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    for target in NEVER_VERBOSE {
        if let Ok(d) = format!("{target}=warn").parse::<Directive>() {
            filter = filter.add_directive(d);
        }
    }
    filter
}

/// Installs the global subscriber. A second call (tests spawn many apps) is a no-op.
pub fn init(format: LogFormat) {
    let builder = fmt().with_env_filter(filter()).with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
