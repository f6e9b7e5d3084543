//! The plans catalogue: a TOML document (see `svc-pricing/catalog.toml`) parsed into a
//! [`Catalog`] whose every field has been checked. Errors name the field, as in
//! `catalog plans[1].monthly_cents: must be a whole number ...`, so whoever edits the file
//! sees at once what to fix.
//!
//! The document is walked by hand rather than through serde so that a missing key, a key
//! of the wrong type and a key with a bad value all produce the same kind of message.

use std::collections::HashSet;
use std::fmt;

use toml::{Table, Value};

use super::money::{Currency, Money};
use super::plan::{Plan, PlanId};

/// Most plans a catalogue may hold (a pricing page with more is hard to read).
pub const MAX_PLANS: usize = 6;
/// Most features a plan may list.
pub const MAX_FEATURES: usize = 12;

const TOP_KEYS: &[&str] = &["currency", "plans"];
const PLAN_KEYS: &[&str] = &[
    "id",
    "name",
    "tagline",
    "monthly_cents",
    "yearly_cents",
    "features",
    "recommended",
];

/// A catalogue that cannot be used; `field` is the path of the bad field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("catalog {field}: {problem}")]
pub struct CatalogError {
    /// Path of the bad field (`plans[1].monthly_cents`), or `(document)`.
    pub field: String,
    /// What is wrong.
    pub problem: String,
}

impl CatalogError {
    fn new(field: impl fmt::Display, problem: impl Into<String>) -> Self {
        Self {
            field: field.to_string(),
            problem: problem.into(),
        }
    }
}

/// The plans on offer, in tier order (cheapest first), all in one currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalog {
    currency: Currency,
    plans: Vec<Plan>,
}

impl Catalog {
    /// Parses and checks a TOML catalogue.
    pub fn parse(source: &str) -> Result<Self, CatalogError> {
        let doc: Table = source.parse().map_err(|e: toml::de::Error| {
            let at = e
                .span()
                .map(|s| format!(" (line {})", source[..s.start].matches('\n').count() + 1))
                .unwrap_or_default();
            CatalogError::new(
                "(document)",
                format!("not valid TOML{at}: {}", e.message().trim()),
            )
        })?;
        check_keys(&doc, "", TOP_KEYS)?;

        let code = required_str(&doc, "", "currency")?;
        let currency = Currency::parse(code).map_err(|p| CatalogError::new("currency", p))?;

        let plans = match doc.get("plans") {
            None => {
                return Err(CatalogError::new(
                    "plans",
                    "is missing: add at least one [[plans]] table",
                ))
            }
            Some(Value::Array(items)) => items,
            Some(other) => {
                return Err(CatalogError::new(
                    "plans",
                    format!(
                        "must be an array of tables ([[plans]]), not a {}",
                        other.type_str()
                    ),
                ))
            }
        };
        if plans.is_empty() || plans.len() > MAX_PLANS {
            return Err(CatalogError::new(
                "plans",
                format!("must list 1 to {MAX_PLANS} plans, not {}", plans.len()),
            ));
        }

        let mut seen = HashSet::new();
        let mut parsed: Vec<Plan> = Vec::with_capacity(plans.len());
        for (i, value) in plans.iter().enumerate() {
            let at = format!("plans[{i}]");
            let Value::Table(table) = value else {
                return Err(CatalogError::new(&at, "must be a table ([[plans]])"));
            };
            let plan = parse_plan(table, &at, currency)?;
            if !seen.insert(plan.id.clone()) {
                return Err(CatalogError::new(
                    format!("{at}.id"),
                    format!("`{}` is already the id of an earlier plan", plan.id),
                ));
            }
            if let Some(before) = parsed.last() {
                if plan.monthly.minor() < before.monthly.minor() {
                    return Err(CatalogError::new(
                        format!("{at}.monthly_cents"),
                        format!(
                            "must not be less than the plan before ({}): plans are listed in tier order, cheapest first",
                            before.id
                        ),
                    ));
                }
            }
            if plan.recommended && parsed.iter().any(|p| p.recommended) {
                return Err(CatalogError::new(
                    format!("{at}.recommended"),
                    "only one plan may be recommended",
                ));
            }
            parsed.push(plan);
        }
        Ok(Self {
            currency,
            plans: parsed,
        })
    }

    /// The currency of every price.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// The plans, cheapest first.
    pub fn plans(&self) -> &[Plan] {
        &self.plans
    }

    /// The plan with this id and its position.
    pub fn find(&self, id: &str) -> Option<(usize, &Plan)> {
        self.plans
            .iter()
            .enumerate()
            .find(|(_, p)| p.id.as_str() == id)
    }

    /// The plan one tier above `id`; `None` for the top plan or an unknown id.
    pub fn next_after(&self, id: &str) -> Option<&Plan> {
        self.find(id).and_then(|(i, _)| self.plans.get(i + 1))
    }

    /// The plan to suggest to a visitor: the recommended one, else the first paid one,
    /// else the first.
    pub fn suggested(&self) -> &Plan {
        self.plans
            .iter()
            .find(|p| p.recommended)
            .or_else(|| self.plans.iter().find(|p| !p.is_free()))
            .unwrap_or(&self.plans[0])
    }

    /// The best yearly saving of any plan, in whole percent.
    pub fn best_yearly_savings_percent(&self) -> Option<u64> {
        self.plans
            .iter()
            .filter_map(Plan::yearly_savings_percent)
            .max()
    }
}

fn field(at: &str, key: &str) -> String {
    if at.is_empty() {
        key.to_owned()
    } else {
        format!("{at}.{key}")
    }
}

fn check_keys(table: &Table, at: &str, allowed: &[&str]) -> Result<(), CatalogError> {
    match table.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(unknown) => Err(CatalogError::new(
            field(at, unknown),
            format!(
                "is not a known field (expected one of {})",
                allowed.join(", ")
            ),
        )),
        None => Ok(()),
    }
}

fn required_str<'a>(table: &'a Table, at: &str, key: &str) -> Result<&'a str, CatalogError> {
    match table.get(key) {
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(CatalogError::new(
            field(at, key),
            format!("must be a string, not a {}", other.type_str()),
        )),
        None => Err(CatalogError::new(field(at, key), "is missing")),
    }
}

fn text(
    table: &Table,
    at: &str,
    key: &str,
    max: usize,
    required: bool,
) -> Result<String, CatalogError> {
    let value = match (table.get(key), required) {
        (None, false) => return Ok(String::new()),
        _ => required_str(table, at, key)?,
    };
    let trimmed = value.trim();
    if (required && trimmed.is_empty()) || trimmed.chars().count() > max {
        let least = if required { 1 } else { 0 };
        return Err(CatalogError::new(
            field(at, key),
            format!("must be {least} to {max} characters"),
        ));
    }
    Ok(trimmed.to_owned())
}

fn money(table: &Table, at: &str, key: &str, currency: Currency) -> Result<Money, CatalogError> {
    match table.get(key) {
        Some(Value::Integer(n)) => {
            Money::parse(*n, currency).map_err(|p| CatalogError::new(field(at, key), p))
        }
        Some(other) => Err(CatalogError::new(
            field(at, key),
            format!(
                "must be a whole number of minor units (cents), not a {}",
                other.type_str()
            ),
        )),
        None => Err(CatalogError::new(field(at, key), "is missing")),
    }
}

fn parse_plan(table: &Table, at: &str, currency: Currency) -> Result<Plan, CatalogError> {
    check_keys(table, at, PLAN_KEYS)?;
    let id = PlanId::parse(required_str(table, at, "id")?)
        .map_err(|p| CatalogError::new(field(at, "id"), p))?;
    let name = text(table, at, "name", 40, true)?;
    let tagline = text(table, at, "tagline", 120, false)?;
    let monthly = money(table, at, "monthly_cents", currency)?;
    let yearly = money(table, at, "yearly_cents", currency)?;
    if yearly.minor() > monthly.times_twelve().minor() {
        return Err(CatalogError::new(
            field(at, "yearly_cents"),
            format!(
                "must not be more than 12 × monthly_cents ({}), or paying yearly would cost more",
                monthly.times_twelve().minor()
            ),
        ));
    }
    if yearly.is_zero() != monthly.is_zero() {
        return Err(CatalogError::new(
            field(at, "yearly_cents"),
            "must be 0 exactly when monthly_cents is 0 (a plan is free both ways or neither)",
        ));
    }
    let features = match table.get("features") {
        None => return Err(CatalogError::new(field(at, "features"), "is missing")),
        Some(Value::Array(items)) => items,
        Some(other) => {
            return Err(CatalogError::new(
                field(at, "features"),
                format!("must be an array of strings, not a {}", other.type_str()),
            ))
        }
    };
    if features.is_empty() || features.len() > MAX_FEATURES {
        return Err(CatalogError::new(
            field(at, "features"),
            format!(
                "must list 1 to {MAX_FEATURES} features, not {}",
                features.len()
            ),
        ));
    }
    let features = features
        .iter()
        .enumerate()
        .map(|(j, f)| {
            let here = format!("{}[{j}]", field(at, "features"));
            match f {
                Value::String(s) if !s.trim().is_empty() && s.trim().chars().count() <= 120 => {
                    Ok(s.trim().to_owned())
                }
                Value::String(_) => Err(CatalogError::new(here, "must be 1 to 120 characters")),
                other => Err(CatalogError::new(
                    here,
                    format!("must be a string, not a {}", other.type_str()),
                )),
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    let recommended = match table.get("recommended") {
        None => false,
        Some(Value::Boolean(b)) => *b,
        Some(other) => {
            return Err(CatalogError::new(
                field(at, "recommended"),
                format!("must be true or false, not a {}", other.type_str()),
            ))
        }
    };
    Ok(Plan {
        id,
        name,
        tagline,
        monthly,
        yearly,
        features,
        recommended,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
currency = "USD"
[[plans]]
id = "free"
name = "Free"
monthly_cents = 0
yearly_cents = 0
features = ["One project"]
[[plans]]
id = "pro"
name = "Pro"
monthly_cents = 1200
yearly_cents = 12000
features = ["Unlimited projects"]
recommended = true
"#;

    fn err(source: &str) -> CatalogError {
        Catalog::parse(source).unwrap_err()
    }

    #[test]
    fn the_built_in_catalogue_parses_with_at_least_three_plans() {
        let catalog = Catalog::parse(crate::BUILT_IN_CATALOG).unwrap();
        assert!(catalog.plans().len() >= 3);
        assert!(catalog.plans()[0].is_free());
    }

    #[test]
    fn a_good_catalogue_answers_lookups() {
        let c = Catalog::parse(GOOD).unwrap();
        assert_eq!(c.suggested().id().as_str(), "pro");
        assert_eq!(c.next_after("free").unwrap().id().as_str(), "pro");
        assert!(c.next_after("pro").is_none());
        assert!(c.next_after("nope").is_none());
        assert_eq!(c.best_yearly_savings_percent(), Some(17));
    }

    #[test]
    fn errors_name_the_bad_field() {
        let e = err(&GOOD.replace("monthly_cents = 1200", "monthly_cents = -5"));
        assert_eq!(e.field, "plans[1].monthly_cents");
        assert!(
            e.to_string()
                .starts_with("catalog plans[1].monthly_cents: must be"),
            "{e}"
        );

        let e = err(&GOOD.replace("monthly_cents = 1200", "monthly_cents = \"12\""));
        assert_eq!(e.field, "plans[1].monthly_cents");
        assert!(e.problem.contains("not a string"), "{e}");

        let e = err(&GOOD.replace("yearly_cents = 12000", "yearly_cents = 99999"));
        assert_eq!(e.field, "plans[1].yearly_cents");

        assert_eq!(
            err(&GOOD.replace("\"pro\"", "\"free\"")).field,
            "plans[1].id"
        );
        assert_eq!(
            err(&GOOD.replace("\"pro\"", "\"Pro!\"")).field,
            "plans[1].id"
        );
        assert_eq!(err(&GOOD.replace("USD", "XYZ")).field, "currency");
        assert_eq!(
            err(&GOOD.replace("features = [\"One project\"]", "features = []")).field,
            "plans[0].features"
        );
        assert_eq!(
            err(&GOOD.replace("\"One project\"", "3")).field,
            "plans[0].features[0]"
        );
        assert_eq!(
            err(&GOOD.replace("name = \"Free\"", "colour = \"red\"")).field,
            "plans[0].colour"
        );
        assert_eq!(
            err(&GOOD.replace("name = \"Free\"\n", "")).field,
            "plans[0].name"
        );
        assert_eq!(err("currency = \"USD\"").field, "plans");
        assert_eq!(err("currency = ").field, "(document)");
    }

    #[test]
    fn tier_order_and_one_recommendation_are_enforced() {
        let swapped = GOOD.replace(
            "monthly_cents = 0\nyearly_cents = 0",
            "monthly_cents = 5000\nyearly_cents = 50000",
        );
        assert_eq!(err(&swapped).field, "plans[1].monthly_cents");
        let two = GOOD.replace(
            "features = [\"One project\"]",
            "features = [\"One project\"]\nrecommended = true",
        );
        assert_eq!(err(&two).field, "plans[1].recommended");
    }
}
