use maud::{html, Markup};
use shared_ui::components::{badge, link_button, ButtonKind, Tone};

use super::{csrf_field, ViewContext};
use crate::domain::Account;

/// The `user-menu` fragment for the shell's header: a "Sign in" link, or the user's name,
/// plan and a "Sign out" button.
pub fn user_menu(ctx: &ViewContext<'_>, account: Option<&Account>) -> Markup {
    html! {
        div class="user-menu" data-fragment="accounts/user-menu" {
            @match account {
                Some(account) => {
                    span class="user-menu__name" { (account.name) }
                    " "
                    (badge(ctx.plans.get(&account.plan).map_or(account.plan.as_str(), |p| p.label.as_str()), Tone::Info))
                    form class="user-menu__sign-out" method="post" action=(ctx.url("/actions/sign-out")) {
                        (csrf_field(ctx))
                        button type="submit" class="btn btn--ghost" { "Sign out" }
                    }
                }
                None => {
                    (link_button(ctx.account_page(), "Sign in", ButtonKind::Secondary))
                }
            }
        }
    }
}
