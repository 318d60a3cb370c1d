//! `switchyard serve`: the receivers and the store, headless.

use clap::Args;

use super::telemetry::{TelemetryArgs, wait_for_stop};
use crate::runtime::Telemetry;
use crate::settings::SettingsFile;

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    telemetry: TelemetryArgs,
}

pub(super) async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let settings = SettingsFile::load_default()?;
    let telemetry = Telemetry::start(args.telemetry.options(settings.settings())?).await?;
    telemetry.announce();
    // One line on stdout that scripts and tests can wait for and parse.
    println!("listening {}", telemetry.addresses());
    wait_for_stop().await;
    telemetry.stop().await
}
