//! `worker`: the scan worker binary. Settings come from flags or `FLEET_*` environment
//! variables (`worker --help`); SIGTERM or Ctrl-C stops it gracefully.

use clap::Parser;
use worker::WorkerConfig;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = WorkerConfig::parse();
    let _telemetry = shared::telemetry::init("worker", config.log.log_format);
    let shutdown = tokio_util::sync::CancellationToken::new();
    shared::signals::cancel_on_signal(shutdown.clone());
    worker::run(config, shutdown, None).await
}
