//! maud views: the `account` fragment ([`account`]), the `user-menu` fragment
//! ([`user_menu`]) and the standalone preview page ([`preview_page`]). Views take plain data
//! and return `Markup`; every user string goes through maud's escaping (nothing here uses
//! `PreEscaped`).

mod account;
mod user_menu;

pub use account::{
    account, AccountState, Notice, ProfileForm, RecoveryForm, SignInForm, SignUpForm,
};
pub use user_menu::user_menu;

use maud::{html, Markup};
use shared_ui::components::{self, PageOptions};

use crate::domain::PlanList;

/// What every view needs about the request.
#[derive(Debug)]
pub struct ViewContext<'a> {
    /// The public base path (`/svc/accounts` through the shell, `""` standalone).
    pub base: &'a str,
    /// Whether the request came through the shell (a base path was sent).
    pub in_shell: bool,
    /// The CSRF token for forms rendered now.
    pub csrf: &'a str,
    /// The plans offered.
    pub plans: &'a PlanList,
}

impl ViewContext<'_> {
    /// A URL of this service.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Where the account page lives: the shell's section, or the preview.
    pub fn account_page(&self) -> &'static str {
        if self.in_shell {
            "/accounts"
        } else {
            "/"
        }
    }
}

/// The hidden CSRF field every form carries.
pub fn csrf_field(ctx: &ViewContext<'_>) -> Markup {
    html! { input type="hidden" name="csrf_token" value=(ctx.csrf); }
}

/// The standalone preview: both fragments in a shared-ui page.
pub fn preview_page(stylesheet: &str, account: Markup, menu: Markup) -> Markup {
    let mut opts = PageOptions::new("Accounts · preview");
    opts.stylesheets.push(stylesheet.to_owned());
    components::page(
        &opts,
        html! {
            (components::site_header("Accounts", "/", &[], menu))
            main class="container stack" id="main" {
                h1 { "Account" }
                p class="muted" { "Standalone preview of svc-accounts: the " code { "account" } " fragment, with " code { "user-menu" } " in the header." }
                (account)
            }
        },
    )
}
