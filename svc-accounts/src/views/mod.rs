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

/// The standalone preview's content (the kit puts it in its page): the user menu, as the
/// shell's header would show it, then the account fragment.
pub fn preview_content(account: Markup, menu: Markup) -> Markup {
    html! {
        div class="accounts-preview__menu" {
            p class="muted" { "The " code { "user-menu" } " fragment:" }
            (menu)
        }
        (account)
    }
}
