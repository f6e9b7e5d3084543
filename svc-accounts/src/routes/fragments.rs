//! The read side of the contract: the fragments and the standalone preview (the kit serves
//! the manifest and the assets).

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use shared_ui::respond;

use super::{binding, preview_response, recovery, signed_in, AppState};
use crate::error::AppError;
use crate::views::{
    self, AccountState, Notice, ProfileForm, RecoveryForm, SignInForm, SignUpForm, ViewContext,
};
use shared_ui::components::Tone;

/// Query parameters the `account` fragment understands; others are ignored.
#[derive(Debug, Deserialize)]
pub struct AccountQuery {
    /// Plan to preselect (`?plan=pro` from the pricing page); unknown ids are ignored.
    plan: Option<String>,
    /// Set by the redirect after a profile change: "saved", shown once (the `flash-once`
    /// controller takes it out of the address).
    saved: Option<String>,
    /// Set by the redirect after a sign-out: "signed out", shown once, as `saved`.
    signed_out: Option<String>,
    /// Set by the redirect after a password-reset request.
    sent: Option<String>,
    /// A mailed password-reset link's token: the new-password form (signed out).
    reset: Option<String>,
    /// A mailed confirmation link's token: confirms the address.
    confirm: Option<String>,
    /// Set by the redirect after a sign-up (new address or taken alike).
    #[serde(rename = "signed-up")]
    signed_up: Option<String>,
}

/// The `account` fragment's state for a recovery query, if it has one: the new-password
/// form of a well-formed reset token when signed out (the form reflects the token, so never
/// beside a signed-in user's data), or the request form with a notice.
fn recovery_state(
    account: Option<&crate::domain::Account>,
    query: &AccountQuery,
) -> Option<(AccountState, Option<Notice>)> {
    if account.is_some() {
        return None;
    }
    let token = query.reset.as_deref().map(str::trim);
    let form = |reset_token: Option<String>, alert: Option<&str>| RecoveryForm {
        reset_token,
        alert: alert.map(str::to_owned),
        ..RecoveryForm::default()
    };
    match token {
        Some(t) if crate::security::session::parse(t).is_some() => {
            Some((AccountState::Recovery(form(Some(t.to_owned()), None)), None))
        }
        Some(_) => Some((
            AccountState::Recovery(form(None, Some(recovery::LINK_DEAD))),
            None,
        )),
        None => None,
    }
}

/// The notice of a `?sent=1` or `?confirm=` query, confirming the address on the way.
async fn query_notice(state: &AppState, query: &AccountQuery) -> Result<Option<Notice>, AppError> {
    if let Some(token) = &query.confirm {
        let text = recovery::confirm(state, token.trim()).await?;
        let tone = if text == recovery::CONFIRMED {
            Tone::Success
        } else {
            Tone::Warning
        };
        return Ok(Some(Notice {
            tone,
            text: text.to_owned(),
            flash: None,
        }));
    }
    let text = match (&query.sent, &query.signed_up) {
        (Some(_), _) => recovery::RESET_SENT,
        (None, Some(_)) => recovery::SIGN_UP_SENT,
        (None, None) => return Ok(None),
    };
    Ok(Some(Notice {
        tone: Tone::Success,
        text: text.to_owned(),
        flash: None,
    }))
}

fn initial_state(
    state: &AppState,
    account: Option<&crate::domain::Account>,
    query: &AccountQuery,
) -> (AccountState, Option<Notice>) {
    let wanted = query
        .plan
        .as_deref()
        .and_then(|p| state.plans.get(p.trim()));
    match account {
        None if query.signed_out.is_some() => (
            AccountState::SignedOut {
                sign_up: SignUpForm {
                    plan: state.plans.default_id().to_owned(),
                    ..SignUpForm::default()
                },
                sign_in: SignInForm::default(),
            },
            Some(Notice::flash("You are signed out.", "signed_out")),
        ),
        None => (
            AccountState::SignedOut {
                sign_up: SignUpForm {
                    plan: wanted
                        .map_or_else(|| state.plans.default_id().to_owned(), |p| p.id.clone()),
                    ..SignUpForm::default()
                },
                sign_in: SignInForm::default(),
            },
            None,
        ),
        Some(account) => {
            let switching = wanted.filter(|p| p.id != account.plan);
            let notice = match (switching, query.saved.is_some()) {
                (Some(p), _) => Some(Notice {
                    tone: Tone::Info,
                    text: format!(
                        "You picked the {} plan. Save your changes to switch to it.",
                        p.label
                    ),
                    flash: None,
                }),
                (None, true) => Some(Notice::flash("Your changes are saved.", "saved")),
                (None, false) => None,
            };
            (
                AccountState::SignedIn {
                    account: account.clone(),
                    profile: ProfileForm {
                        name: account.name.clone(),
                        plan: switching.map_or_else(|| account.plan.clone(), |p| p.id.clone()),
                        ..ProfileForm::default()
                    },
                },
                notice,
            )
        }
    }
}

/// What the `account` fragment shows for this query: recovery forms, else the usual state,
/// with the notice of the query (a confirmation link is used up here).
async fn account_state(
    state: &AppState,
    account: Option<&crate::domain::Account>,
    query: &AccountQuery,
) -> Result<(AccountState, Option<Notice>), AppError> {
    if let Some(recovery) = recovery_state(account, query) {
        return Ok(recovery);
    }
    let (account_state, notice) = initial_state(state, account, query);
    Ok((account_state, query_notice(state, query).await?.or(notice)))
}

/// `GET /fragments/account`.
pub async fn account(
    req: HttpRequest,
    query: web::Query<AccountQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    fragment(&req, "account", &query, &state).await
}

/// `GET /fragments/user-menu`.
pub async fn user_menu(
    req: HttpRequest,
    query: web::Query<AccountQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    fragment(&req, "user-menu", &query, &state).await
}

async fn fragment(
    req: &HttpRequest,
    id: &str,
    query: &AccountQuery,
    state: &AppState,
) -> Result<HttpResponse, AppError> {
    let signed = signed_in(state, req).await?;
    let account = signed.as_ref().map(|s| &s.account);
    let base = respond::base_path(req);
    let csrf = state.csrf.issue(binding(signed.as_ref()));
    let ctx = ViewContext {
        base: &base,
        in_shell: !base.is_empty(),
        csrf: &csrf,
        plans: &state.plans,
    };
    let markup = if id == "account" {
        let (account_state, notice) = account_state(state, account, query).await?;
        views::account(&ctx, &account_state, notice.as_ref())
    } else {
        views::user_menu(&ctx, account)
    };
    Ok(respond::fragment_response(
        &state.version,
        "private, no-store",
        markup,
    ))
}

/// `GET /`: both fragments in a page; the forms post to `/actions/…` and come back here.
pub async fn preview(
    req: HttpRequest,
    query: web::Query<AccountQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let signed = signed_in(&state, &req).await?;
    let account = signed.as_ref().map(|s| &s.account);
    let (account_state, notice) = account_state(&state, account, &query).await?;
    let csrf = state.csrf.issue(binding(signed.as_ref()));
    let ctx = ViewContext {
        base: "",
        in_shell: false,
        csrf: &csrf,
        plans: &state.plans,
    };
    Ok(preview_response(
        &req,
        views::preview_content(
            views::account(&ctx, &account_state, notice.as_ref()),
            views::user_menu(&ctx, account),
        ),
    ))
}
