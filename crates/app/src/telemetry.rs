//! Structured logs with tracing: readable in dev, one JSON object per line in prod, on stderr.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

use platform::config::LogFormat;

/// Installs the global subscriber. `RUST_LOG`, when set, wins over `LOG_LEVEL`.
/// Calling it twice (tests) keeps the first subscriber.
pub fn init(format: LogFormat, filter: &str) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let installed = match format {
        LogFormat::Pretty => builder
            .with_ansi(std::io::stderr().is_terminal())
            .with_target(false)
            .with_span_events(FmtSpan::NONE)
            .try_init(),
        LogFormat::Json => {
            builder.json().flatten_event(true).with_current_span(true).with_span_list(false).try_init()
        }
    };
    // Already installed (a second call in one process): keep the first.
    drop(installed);
}
