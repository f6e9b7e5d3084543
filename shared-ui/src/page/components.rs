//! maud components every team uses. Each is a plain function returning [`Markup`]; the
//! classes they emit are styled by the shared stylesheet (`assets/shared.css`).
//!
//! User input passed in is escaped by maud; only [`Markup`] arguments are trusted.

use maud::{html, Markup, PreEscaped, DOCTYPE};

use crate::assets::{import_map_json, shared_url};
use crate::contract::ControllerAsset;

/// What a full page needs in its head.
#[derive(Debug, Clone, Default)]
pub struct PageOptions {
    /// The `<title>`.
    pub title: String,
    /// The `lang` attribute (default `en`).
    pub lang: String,
    /// The `<meta name="description">`, when there is one.
    pub description: Option<String>,
    /// Extra stylesheets after the shared one.
    pub stylesheets: Vec<String>,
    /// Stimulus controllers the boot module registers (identifier and module URL).
    pub controllers: Vec<ControllerAsset>,
    /// Extra ES modules to load (e.g. the shell's loader).
    pub modules: Vec<String>,
    /// CSP nonce for the inline import map, when the page sends a CSP.
    pub nonce: Option<String>,
}

impl PageOptions {
    /// Options with a title and the defaults.
    pub fn new(title: &str) -> Self {
        Self {
            title: title.to_owned(),
            lang: "en".to_owned(),
            ..Self::default()
        }
    }
}

/// JSON safe to embed in a `<script>` element (no `</script>` or `<!--` can form).
pub fn script_json(value: &impl serde::Serialize) -> PreEscaped<String> {
    let json = serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned());
    PreEscaped(
        json.replace('<', "\\u003c")
            .replace('>', "\\u003e")
            .replace('&', "\\u0026"),
    )
}

/// Everything of `<head>` after the title: shared CSS, stylesheets, the import map that maps
/// `@hotwired/stimulus` to the vendored file, module preloads, the controller list and the
/// boot module, every shared one at its content-hashed URL. The shell reuses it for its
/// streamed head.
pub fn head_assets(opts: &PageOptions) -> Markup {
    html! {
        link rel="icon" href=(shared_url("favicon.svg")) type="image/svg+xml";
        link rel="stylesheet" href=(shared_url("shared.css"));
        @for css in &opts.stylesheets { link rel="stylesheet" href=(css); }
        script type="importmap" nonce=[opts.nonce.as_deref()] { (PreEscaped(import_map_json())) }
        link rel="modulepreload" href=(shared_url("stimulus-3.2.2.js"));
        @for c in &opts.controllers { link rel="modulepreload" href=(c.module); }
        script type="application/json" id="mf-controllers" { (script_json(&opts.controllers)) }
        script type="module" src=(shared_url("boot.js")) {}
        @for m in &opts.modules { script type="module" src=(m) {} }
    }
}

/// A count for people, thousands grouped with commas: `1234567` -> `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// A full HTML page: for standalone previews and error pages.
pub fn page(opts: &PageOptions, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(if opts.lang.is_empty() { "en" } else { &opts.lang }) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (opts.title) }
                @if let Some(d) = &opts.description { meta name="description" content=(d); }
                (head_assets(opts))
            }
            body { (body) }
        }
    }
}

/// A link of a [`nav`].
#[derive(Debug, Clone)]
pub struct NavItem {
    /// Where it goes.
    pub href: String,
    /// What it says.
    pub label: String,
    /// Whether it is the current page (`aria-current="page"`).
    pub current: bool,
}

/// The site header: brand, navigation and an optional slot on the right (e.g. a user menu).
/// It stays one row at any width: on a narrow screen the navigation folds into a "Menu"
/// button (a `<details>`, so it opens without JavaScript too), drawn by the shared
/// stylesheet; only one of the two navigations is ever displayed.
pub fn site_header(brand: &str, brand_href: &str, nav_items: &[NavItem], aside: Markup) -> Markup {
    html! {
        header class="site-header" {
            div class="container site-header__inner" {
                a class="brand" href=(brand_href) { span class="brand__mark" aria-hidden="true" {} (brand) }
                div class="site-header__nav" { (nav(nav_items)) }
                div class="site-header__aside" { (aside) }
                @if !nav_items.is_empty() {
                    details class="site-menu" {
                        summary class="btn btn--secondary site-menu__button" {
                            span class="site-menu__icon" aria-hidden="true" {} "Menu"
                        }
                        div class="site-menu__panel" { (nav(nav_items)) }
                    }
                }
            }
        }
    }
}

/// Main navigation; the current item carries `aria-current="page"`.
pub fn nav(items: &[NavItem]) -> Markup {
    html! {
        nav class="nav" aria-label="Main" {
            ul {
                @for item in items {
                    li {
                        a href=(item.href) aria-current=[item.current.then_some("page")] { (item.label) }
                    }
                }
            }
        }
    }
}

/// A card: a surface with an optional heading.
pub fn card(heading: Option<&str>, body: Markup) -> Markup {
    html! {
        section class="card" {
            @if let Some(h) = heading { h2 class="card__title" { (h) } }
            (body)
        }
    }
}

/// A table with a caption, column headers and rows of cells.
pub fn table(caption: &str, headers: &[&str], rows: &[Vec<Markup>]) -> Markup {
    html! {
        div class="table-wrap" {
            table class="table" {
                caption { (caption) }
                thead { tr { @for h in headers { th scope="col" { (h) } } } }
                tbody {
                    @for row in rows { tr { @for cell in row { td { (cell) } } } }
                }
            }
        }
    }
}

/// Visual weight of a button.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ButtonKind {
    /// The main action.
    Primary,
    /// A secondary action.
    Secondary,
    /// A quiet action (text-like).
    Ghost,
}

impl ButtonKind {
    fn class(self) -> &'static str {
        match self {
            ButtonKind::Primary => "btn btn--primary",
            ButtonKind::Secondary => "btn btn--secondary",
            ButtonKind::Ghost => "btn btn--ghost",
        }
    }
}

/// A submit button.
pub fn button(label: &str, kind: ButtonKind) -> Markup {
    html! { button type="submit" class=(kind.class()) { (label) } }
}

/// A link that looks like a button.
pub fn link_button(href: &str, label: &str, kind: ButtonKind) -> Markup {
    html! { a class=(kind.class()) href=(href) { (label) } }
}

/// A form field: label, input and, when there is one, an inline error tied to the input.
#[derive(Debug, Clone, Default)]
pub struct Field<'a> {
    /// The input's `name` (and `id`, prefixed with `id_prefix`).
    pub name: &'a str,
    /// Visible label.
    pub label: &'a str,
    /// Input type (`text`, `email`, `password`).
    pub input_type: &'a str,
    /// Value to show again (never pass a password back).
    pub value: &'a str,
    /// The inline error, if the last submit had one.
    pub error: Option<&'a str>,
    /// A hint under the label.
    pub hint: Option<&'a str>,
    /// `autocomplete` token.
    pub autocomplete: Option<&'a str>,
    /// Whether the field is required.
    pub required: bool,
    /// Prefix for element ids, so two forms on a page do not clash.
    pub id_prefix: &'a str,
    /// `maxlength`, if any.
    pub max_length: Option<usize>,
    /// `minlength`, if any.
    pub min_length: Option<usize>,
    /// Marked invalid without a message of its own (the form's error summary says why).
    pub invalid: bool,
}

/// Renders a [`Field`].
pub fn form_field(f: &Field<'_>) -> Markup {
    let id = format!("{}{}", f.id_prefix, f.name);
    let error_id = format!("{id}-error");
    let hint_id = format!("{id}-hint");
    let invalid = f.error.is_some() || f.invalid;
    let described = match (f.error.is_some(), f.hint.is_some()) {
        (true, true) => Some(format!("{hint_id} {error_id}")),
        (true, false) => Some(error_id.clone()),
        (false, true) => Some(hint_id.clone()),
        (false, false) => None,
    };
    html! {
        div class={ "field" @if invalid { " field--invalid" } } {
            label for=(id) { (f.label) }
            @if let Some(h) = f.hint { p class="field__hint" id=(hint_id) { (h) } }
            input id=(id) name=(f.name) type=(if f.input_type.is_empty() { "text" } else { f.input_type })
                value=(f.value) autocomplete=[f.autocomplete] required[f.required]
                maxlength=[f.max_length] minlength=[f.min_length]
                aria-invalid=[invalid.then_some("true")] aria-describedby=[described];
            @if let Some(e) = f.error { p class="field__error" id=(error_id) { (e) } }
        }
    }
}

/// One entry of an [`error_summary`]: the field's element id, its label and what is wrong.
#[derive(Debug, Clone, Copy)]
pub struct FieldError<'a> {
    /// The `id` of the field's input (the summary links to it).
    pub id: &'a str,
    /// The field's label, as the form shows it.
    pub label: &'a str,
    /// What is wrong with it.
    pub message: &'a str,
}

/// The box above a form that failed: a title and one link per invalid field ("Email: Enter
/// an email address."), so a keyboard or screen reader user hears every problem at once and
/// can jump to each field. `data-error-summary` tells the shell's loader to move focus here
/// after a swap; `autofocus` does the same on a full page load.
pub fn error_summary(id: &str, title: &str, errors: &[FieldError<'_>]) -> Markup {
    let title_id = format!("{id}-title");
    html! {
        div class="error-summary" id=(id) role="alert" tabindex="-1" autofocus
            aria-labelledby=(title_id) data-error-summary {
            p class="error-summary__title" id=(title_id) { (title) }
            ul class="error-summary__list" {
                @for e in errors {
                    li { a href={ "#" (e.id) } { strong { (e.label) } ": " (e.message) } }
                }
            }
        }
    }
}

/// Colour and meaning of an alert or badge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Neutral information.
    Info,
    /// Something went well.
    Success,
    /// Needs attention.
    Warning,
    /// Something failed.
    Danger,
}

impl Tone {
    fn name(self) -> &'static str {
        match self {
            Tone::Info => "info",
            Tone::Success => "success",
            Tone::Warning => "warning",
            Tone::Danger => "danger",
        }
    }
}

/// An alert box; danger alerts are announced at once (`role="alert"`), others politely.
pub fn alert(tone: Tone, body: Markup) -> Markup {
    let role = if tone == Tone::Danger {
        "alert"
    } else {
        "status"
    };
    html! { div class={ "alert alert--" (tone.name()) } role=(role) { (body) } }
}

/// The "unavailable" box a slot shows when its service cannot answer: "Pricing is
/// unavailable right now", with a retry link.
pub fn unavailable(title: &str, retry_href: &str) -> Markup {
    html! {
        div class="alert alert--warning unavailable" role="status" {
            p { strong { (title) " is unavailable right now." } " The rest of the page works; try again in a moment." }
            a class="btn btn--secondary" href=(retry_href) { "Retry" }
        }
    }
}

/// A small label.
pub fn badge(text: &str, tone: Tone) -> Markup {
    html! { span class={ "badge badge--" (tone.name()) } { (text) } }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_has_import_map_boot_module_and_escaped_title() {
        let mut opts = PageOptions::new("Plans <&>");
        opts.controllers.push(ControllerAsset {
            identifier: "pricing-toggle".into(),
            module: "/assets/pricing-toggle.js".into(),
        });
        let html = page(&opts, html! { p { "hi" } }).into_string();
        assert!(html.starts_with("<!DOCTYPE html><html lang=\"en\">"));
        assert!(html.contains("<title>Plans &lt;&amp;&gt;</title>"));
        let map = format!(r#"<script type="importmap">{}</script>"#, import_map_json());
        assert!(html.contains(&map), "{html}");
        assert!(html.contains(r#"<link rel="modulepreload" href="/assets/pricing-toggle.js">"#));
        let boot = format!(
            r#"<script type="module" src="{}"></script>"#,
            shared_url("boot.js")
        );
        assert!(html.contains(&boot), "{html}");
        assert!(boot.contains("/assets/shared/boot.js?v="));
        assert!(html.contains(r#""identifier":"pricing-toggle""#));
    }

    #[test]
    fn thousands_are_grouped_with_commas() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn script_json_cannot_close_the_script_element() {
        let out = script_json(&"</script><script>alert(1)</script>").0;
        assert!(!out.contains("</script"), "{out}");
    }

    #[test]
    fn nav_marks_only_the_current_item() {
        let html = nav(&[
            NavItem {
                href: "/a".into(),
                label: "A".into(),
                current: true,
            },
            NavItem {
                href: "/b".into(),
                label: "B".into(),
                current: false,
            },
        ])
        .into_string();
        assert!(html.contains(r#"<a href="/a" aria-current="page">A</a>"#));
        assert!(html.contains(r#"<a href="/b">B</a>"#));
    }

    #[test]
    fn form_field_ties_the_error_to_the_input_and_escapes_the_value() {
        let html = form_field(&Field {
            name: "email",
            label: "Email",
            input_type: "email",
            value: "\"><script>",
            error: Some("Enter a valid email"),
            required: true,
            ..Field::default()
        })
        .into_string();
        assert!(html.contains(r#"aria-invalid="true""#));
        assert!(html.contains(r#"aria-describedby="email-error""#));
        assert!(
            html.contains(r#"<p class="field__error" id="email-error">Enter a valid email</p>"#)
        );
        assert!(html.contains("value=\"&quot;&gt;&lt;script&gt;\""));
        assert!(html.contains("required"));
    }

    #[test]
    fn card_table_button_badge_alert_render_their_parts() {
        let c = card(Some("Usage"), html! { p { "x" } }).into_string();
        assert_eq!(
            c,
            r#"<section class="card"><h2 class="card__title">Usage</h2><p>x</p></section>"#
        );
        let t = table("Stats", &["k", "v"], &[vec![html! { "a" }, html! { "1" }]]).into_string();
        assert!(t.contains("<caption>Stats</caption>"));
        assert!(t.contains(r#"<th scope="col">k</th>"#));
        assert!(t.contains("<td>a</td><td>1</td>"));
        assert_eq!(
            button("Save", ButtonKind::Primary).into_string(),
            r#"<button type="submit" class="btn btn--primary">Save</button>"#
        );
        assert_eq!(
            badge("Current", Tone::Success).into_string(),
            r#"<span class="badge badge--success">Current</span>"#
        );
        assert!(alert(Tone::Danger, html! { "no" })
            .into_string()
            .contains(r#"role="alert""#));
    }

    #[test]
    fn unavailable_names_the_service_and_offers_a_retry() {
        let html = unavailable("Pricing", "/pricing").into_string();
        assert!(html.contains("Pricing is unavailable right now."));
        assert!(html.contains(r#"href="/pricing">Retry</a>"#));
    }
}
