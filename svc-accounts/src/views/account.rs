use maud::{html, Markup};
use shared_ui::components::{
    alert, button, card, error_summary, form_field, ButtonKind, Field, FieldError, Tone,
};

use super::{csrf_field, ViewContext};
use crate::domain::{Account, Email, Name, Password};

/// A message for the whole fragment.
#[derive(Debug, Clone)]
pub struct Notice {
    /// Colour and urgency.
    pub tone: Tone,
    /// The text.
    pub text: String,
    /// The query parameter that asked for it, when it is a one-time confirmation: the
    /// `flash-once` controller takes it out of the address, so a reload does not repeat it,
    /// and the shell's loader announces the text after the swap.
    pub flash: Option<&'static str>,
}

impl Notice {
    /// A success message shown once, asked for by the query parameter `param`.
    pub fn flash(text: impl Into<String>, param: &'static str) -> Self {
        Self {
            tone: Tone::Success,
            text: text.into(),
            flash: Some(param),
        }
    }

    /// A danger notice.
    pub fn danger(text: impl Into<String>) -> Self {
        Self {
            tone: Tone::Danger,
            text: text.into(),
            flash: None,
        }
    }
}

/// The sign-up form's values and inline errors.
#[derive(Debug, Clone, Default)]
pub struct SignUpForm {
    /// Name as typed.
    pub name: String,
    /// Email as typed.
    pub email: String,
    /// Chosen plan id.
    pub plan: String,
    /// Inline errors.
    pub name_error: Option<&'static str>,
    /// Inline errors.
    pub email_error: Option<&'static str>,
    /// Inline errors.
    pub password_error: Option<&'static str>,
    /// Inline errors.
    pub plan_error: Option<&'static str>,
}

impl SignUpForm {
    /// Whether any field has an error.
    pub fn has_errors(&self) -> bool {
        self.name_error.is_some()
            || self.email_error.is_some()
            || self.password_error.is_some()
            || self.plan_error.is_some()
    }
}

/// The sign-in form's values and errors.
#[derive(Debug, Clone, Default)]
pub struct SignInForm {
    /// Email as typed.
    pub email: String,
    /// Inline errors.
    pub email_error: Option<&'static str>,
    /// Inline errors.
    pub password_error: Option<&'static str>,
    /// A message above the form (too many tries).
    pub alert: Option<String>,
    /// The email and password did not match an account: both fields are marked, and the
    /// error summary says so without telling which one was wrong.
    pub credentials_wrong: bool,
}

/// The profile form's values and errors.
#[derive(Debug, Clone, Default)]
pub struct ProfileForm {
    /// Name as typed.
    pub name: String,
    /// Chosen plan id.
    pub plan: String,
    /// Inline errors.
    pub name_error: Option<&'static str>,
    /// Inline errors.
    pub plan_error: Option<&'static str>,
}

/// The account-recovery forms: ask for a reset link by email, or, from a mailed link, choose
/// a new password.
#[derive(Debug, Clone, Default)]
pub struct RecoveryForm {
    /// Email as typed (the request form).
    pub email: String,
    /// Inline error of the email.
    pub email_error: Option<&'static str>,
    /// The mailed link's token (well-formed, checked when posted): the new-password form.
    pub reset_token: Option<String>,
    /// Inline error of the new password.
    pub password_error: Option<&'static str>,
    /// A message above the form (too many requests, a used or expired link).
    pub alert: Option<String>,
}

/// What the `account` fragment shows.
#[derive(Debug, Clone)]
pub enum AccountState {
    /// Sign-up and sign-in forms side by side.
    SignedOut {
        /// The sign-up form.
        sign_up: SignUpForm,
        /// The sign-in form.
        sign_in: SignInForm,
    },
    /// The profile form and a sign-out button.
    SignedIn {
        /// Who.
        account: Account,
        /// The profile form.
        profile: ProfileForm,
    },
    /// Account recovery: the reset request, or the new password of a mailed link.
    Recovery(RecoveryForm),
}

/// The `account` fragment.
pub fn account(ctx: &ViewContext<'_>, state: &AccountState, notice: Option<&Notice>) -> Markup {
    html! {
        section class="accounts stack" data-fragment="accounts/account" aria-label="Account" {
            @if let Some(n) = notice { (notice_box(n)) }
            @match state {
                AccountState::SignedOut { sign_up, sign_in } => {
                    div class="grid accounts__forms" {
                        (card(Some("Create an account"), sign_up_form(ctx, sign_up)))
                        (card(Some("Sign in"), html! {
                            (sign_in_form(ctx, sign_in))
                            details class="accounts__forgot" {
                                summary { "Forgot your password?" }
                                (reset_request_form(ctx, &RecoveryForm::default()))
                            }
                        }))
                    }
                }
                AccountState::Recovery(form) => {
                    @if let Some(token) = &form.reset_token {
                        (card(Some("Choose a new password"), new_password_form(ctx, token, form)))
                    } @else {
                        (card(Some("Reset your password"), reset_request_form(ctx, form)))
                    }
                }
                AccountState::SignedIn { account, profile } => {
                    (card(Some("Your profile"), profile_form(ctx, account, profile)))
                }
            }
        }
    }
}

/// The title of an error summary for fields that failed validation.
const CHECK_FIELDS: &str = "Please correct the highlighted fields.";
/// The title of the sign-in form's summary when the email and password do not match.
/// The one answer to every failed sign-in: wrong email, wrong password, or an address not
/// confirmed yet (so a sign-in cannot tell whether a sign-up created the account).
pub const CREDENTIALS_WRONG: &str = "Email or password is wrong, or the address is not \
     confirmed yet: after signing up, open the link we emailed you, then sign in.";

/// The error summary of a form whose inputs' ids start with `prefix`, from `(name, label,
/// error)` per field; nothing when no field has an error.
fn summary(prefix: &str, title: &str, fields: &[(&str, &str, Option<&str>)]) -> Markup {
    let ids: Vec<String> = fields
        .iter()
        .map(|(name, _, _)| format!("{prefix}{name}"))
        .collect();
    let errors: Vec<FieldError<'_>> = fields
        .iter()
        .zip(&ids)
        .filter_map(|((_, label, error), id)| {
            error.map(|message| FieldError { id, label, message })
        })
        .collect();
    if errors.is_empty() {
        return html! {};
    }
    error_summary(&format!("{prefix}errors"), title, &errors)
}

/// A notice; a one-time one carries the `flash-once` controller and the text the loader
/// announces after a swap (`data-mf-announce`).
fn notice_box(n: &Notice) -> Markup {
    match n.flash {
        Some(param) => html! {
            div data-controller="flash-once" data-flash-once-param-value=(param)
                data-mf-announce=(n.text) {
                (alert(n.tone, html! { (n.text) }))
            }
        },
        None => alert(n.tone, html! { (n.text) }),
    }
}

fn plan_select(
    ctx: &ViewContext<'_>,
    id_prefix: &str,
    selected: &str,
    error: Option<&str>,
) -> Markup {
    let id = format!("{id_prefix}plan");
    let error_id = format!("{id}-error");
    html! {
        div class={ "field" @if error.is_some() { " field--invalid" } } {
            label for=(id) { "Plan" }
            select id=(id) name="plan"
                aria-invalid=[error.map(|_| "true")] aria-describedby=[error.map(|_| error_id.as_str())] {
                @for plan in ctx.plans.all() {
                    option value=(plan.id) selected[plan.id == selected] { (plan.label) }
                }
            }
            @if let Some(e) = error { p class="field__error" id=(error_id) { (e) } }
        }
    }
}

fn sign_up_form(ctx: &ViewContext<'_>, form: &SignUpForm) -> Markup {
    let plan = if ctx.plans.get(&form.plan).is_some() {
        form.plan.as_str()
    } else {
        ctx.plans.default_id()
    };
    html! {
        form class="stack" method="post" action=(ctx.url("/actions/sign-up")) {
            (csrf_field(ctx))
            (summary("sign-up-", CHECK_FIELDS, &[
                ("name", "Name", form.name_error),
                ("email", "Email", form.email_error),
                ("password", "Password", form.password_error),
                ("plan", "Plan", form.plan_error),
            ]))
            (form_field(&Field {
                name: "name", label: "Name", input_type: "text", value: &form.name,
                error: form.name_error, autocomplete: Some("name"), required: true,
                id_prefix: "sign-up-", max_length: Some(Name::MAX_CHARS), ..Field::default()
            }))
            (form_field(&Field {
                name: "email", label: "Email", input_type: "email", value: &form.email,
                error: form.email_error, autocomplete: Some("email"), required: true,
                id_prefix: "sign-up-", max_length: Some(Email::MAX_BYTES), ..Field::default()
            }))
            (form_field(&Field {
                name: "password", label: "Password", input_type: "password", value: "",
                error: form.password_error, hint: Some("At least 10 characters."),
                autocomplete: Some("new-password"), required: true, id_prefix: "sign-up-",
                min_length: Some(Password::MIN_CHARS), max_length: Some(Password::MAX_BYTES),
                ..Field::default()
            }))
            (plan_select(ctx, "sign-up-", plan, form.plan_error))
            (button("Create account", ButtonKind::Primary))
        }
    }
}

fn sign_in_form(ctx: &ViewContext<'_>, form: &SignInForm) -> Markup {
    let wrong = form.credentials_wrong;
    let errors: [(&str, &str, Option<&str>); 2] = if wrong {
        [
            (
                "email",
                "Email",
                Some("check the address you signed up with"),
            ),
            (
                "password",
                "Password",
                Some("check it; passwords are case-sensitive"),
            ),
        ]
    } else {
        [
            ("email", "Email", form.email_error),
            ("password", "Password", form.password_error),
        ]
    };
    let title = if wrong {
        CREDENTIALS_WRONG
    } else {
        CHECK_FIELDS
    };
    html! {
        form class="stack" method="post" action=(ctx.url("/actions/sign-in")) {
            (csrf_field(ctx))
            @if let Some(a) = &form.alert { (alert(Tone::Danger, html! { (a) })) }
            (summary("sign-in-", title, &errors))
            (form_field(&Field {
                name: "email", label: "Email", input_type: "email", value: &form.email,
                error: form.email_error, autocomplete: Some("email"), required: true,
                id_prefix: "sign-in-", max_length: Some(Email::MAX_BYTES), invalid: wrong,
                ..Field::default()
            }))
            (form_field(&Field {
                name: "password", label: "Password", input_type: "password", value: "",
                error: form.password_error, autocomplete: Some("current-password"),
                required: true, id_prefix: "sign-in-", max_length: Some(Password::MAX_BYTES),
                invalid: wrong, ..Field::default()
            }))
            (button("Sign in", ButtonKind::Primary))
        }
    }
}

fn reset_request_form(ctx: &ViewContext<'_>, form: &RecoveryForm) -> Markup {
    html! {
        form class="stack" method="post" action=(ctx.url("/actions/request-reset")) {
            (csrf_field(ctx))
            @if let Some(a) = &form.alert { (alert(Tone::Danger, html! { (a) })) }
            (summary("forgot-", CHECK_FIELDS, &[("email", "Email", form.email_error)]))
            p class="muted" { "We will email you a link to choose a new password." }
            (form_field(&Field {
                name: "email", label: "Email", input_type: "email", value: &form.email,
                error: form.email_error, autocomplete: Some("email"), required: true,
                id_prefix: "forgot-", max_length: Some(Email::MAX_BYTES), ..Field::default()
            }))
            (button("Email me a link", ButtonKind::Secondary))
        }
    }
}

fn new_password_form(ctx: &ViewContext<'_>, token: &str, form: &RecoveryForm) -> Markup {
    html! {
        form class="stack" method="post" action=(ctx.url("/actions/reset-password")) {
            (csrf_field(ctx))
            input type="hidden" name="token" value=(token);
            @if let Some(a) = &form.alert { (alert(Tone::Danger, html! { (a) })) }
            (summary("reset-", CHECK_FIELDS, &[("password", "New password", form.password_error)]))
            p class="muted" { "Choosing a new password signs you out everywhere else." }
            (form_field(&Field {
                name: "password", label: "New password", input_type: "password", value: "",
                error: form.password_error, hint: Some("At least 10 characters."),
                autocomplete: Some("new-password"), required: true, id_prefix: "reset-",
                min_length: Some(Password::MIN_CHARS), max_length: Some(Password::MAX_BYTES),
                ..Field::default()
            }))
            (button("Set the new password", ButtonKind::Primary))
        }
    }
}

fn profile_form(ctx: &ViewContext<'_>, account: &Account, form: &ProfileForm) -> Markup {
    let plan = if ctx.plans.get(&form.plan).is_some() {
        form.plan.as_str()
    } else {
        account.plan.as_str()
    };
    html! {
        p class="muted" { "Signed in as " strong { (account.email) } "." }
        form class="stack" method="post" action=(ctx.url("/actions/profile")) {
            (csrf_field(ctx))
            (summary("profile-", CHECK_FIELDS, &[
                ("name", "Name", form.name_error),
                ("plan", "Plan", form.plan_error),
            ]))
            (form_field(&Field {
                name: "name", label: "Name", input_type: "text", value: &form.name,
                error: form.name_error, autocomplete: Some("name"), required: true,
                id_prefix: "profile-", max_length: Some(Name::MAX_CHARS), ..Field::default()
            }))
            (plan_select(ctx, "profile-", plan, form.plan_error))
            (button("Save changes", ButtonKind::Primary))
        }
        form class="accounts__sign-out" method="post" action=(ctx.url("/actions/sign-out")) {
            (csrf_field(ctx))
            (button("Sign out", ButtonKind::Secondary))
        }
    }
}
