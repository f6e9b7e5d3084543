//! The smallest fragment service on the kit: one fragment, one stylesheet.

use maud::html;
use shared_ui::context::current_user;
use shared_ui::kit::{NoSettings, Service, Team};
use shared_ui::server::StartError;
use shared_ui::settings::Common;

/// The `minimal-rust` binary.
#[derive(Debug)]
pub struct Hello;

impl Team for Hello {
    const BINARY: &'static str = "minimal-rust";
    const ABOUT: &'static str = "Greets the signed-in user: a whole fragment service.";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const PORT: u16 = 5050;
    type Settings = NoSettings;

    async fn service(_: NoSettings, _: &Common) -> Result<Service, StartError> {
        Ok(Service::new("hello", Self::VERSION)
            .fragment_fn("greeting", "Greeting", |req| {
                let name = current_user(req).map_or("stranger".to_owned(), |u| u.name);
                html! { p class="hello" data-fragment="hello/greeting" { "Hello, " (name) "!" } }
            })
            // One line of text: the shell reserves this much for the slot (CSS pixels), so
            // an async or lazy placeholder swapped for it shifts nothing. The greeting names
            // the user, so it stays personal (the default; `.impersonal()` would say not).
            .min_height(48)
            .css("hello.css", include_bytes!("../assets/hello.css")))
    }
}
