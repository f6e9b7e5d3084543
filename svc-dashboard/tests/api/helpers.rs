//! `spawn_app()`: a real svc-dashboard on a free port in this process (the kit's test kit),
//! and the helpers the tests share. Logs go to stderr only with `TEST_LOG=1`.

pub use shared_ui::testkit::{ada, assert_sound_html, header, TestApp};
use svc_dashboard::Dashboard;

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

pub async fn spawn_app_with(extra: &[&str]) -> TestApp {
    shared_ui::testkit::spawn::<Dashboard>(extra).await
}
