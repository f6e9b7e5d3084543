//! `spawn_app()`: a real svc-pricing on a free port in this process (the kit's test kit),
//! and the helpers the tests share. Logs go to stderr only with `TEST_LOG=1`.

use shared_ui::testkit;
pub use shared_ui::testkit::{ada, assert_sound_html, header, TestApp};
use svc_pricing::settings::Settings;
use svc_pricing::Pricing;

/// The settings a user would pass, plus `extra` flags.
pub fn settings(extra: &[&str]) -> Result<Settings, clap::Error> {
    testkit::cli::<Pricing>(extra)
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

pub async fn spawn_app_with(extra: &[&str]) -> TestApp {
    testkit::spawn::<Pricing>(extra).await
}
