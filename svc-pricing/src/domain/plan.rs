//! A plan of the catalogue and its identifier.

use std::fmt;

use super::money::{yearly_savings_percent, Money};

/// A plan identifier: 1 to 32 of `a-z`, `0-9` and `-`, starting with a letter (`pro`).
/// It appears in URLs (`/accounts?plan=pro`) and in the signed user context.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PlanId(String);

impl PlanId {
    /// Checks an identifier.
    pub fn parse(value: &str) -> Result<Self, String> {
        let ok = (1..=32).contains(&value.len())
            && value.starts_with(|c: char| c.is_ascii_lowercase())
            && value
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(Self(value.to_owned()))
        } else {
            Err(format!(
                "`{}` must be 1 to 32 of a-z, 0-9 and `-`, starting with a letter",
                value.escape_default()
            ))
        }
    }

    /// The identifier.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PlanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One plan: built only by [`super::Catalog::parse`], so its prices and texts are checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub(super) id: PlanId,
    pub(super) name: String,
    pub(super) tagline: String,
    pub(super) monthly: Money,
    pub(super) yearly: Money,
    pub(super) features: Vec<String>,
    pub(super) recommended: bool,
}

impl Plan {
    /// The identifier.
    pub fn id(&self) -> &PlanId {
        &self.id
    }
    /// Display name (`Pro`).
    pub fn name(&self) -> &str {
        &self.name
    }
    /// One line on who it is for (may be empty).
    pub fn tagline(&self) -> &str {
        &self.tagline
    }
    /// Price per month when billed monthly.
    pub fn monthly(&self) -> Money {
        self.monthly
    }
    /// Price per year when billed yearly.
    pub fn yearly(&self) -> Money {
        self.yearly
    }
    /// What the plan includes.
    pub fn features(&self) -> &[String] {
        &self.features
    }
    /// Whether the catalogue marks it as the one to pick.
    pub fn is_recommended(&self) -> bool {
        self.recommended
    }
    /// Whether it costs nothing.
    pub fn is_free(&self) -> bool {
        self.monthly.is_zero() && self.yearly.is_zero()
    }
    /// Whole percent saved by paying yearly, if anything.
    pub fn yearly_savings_percent(&self) -> Option<u64> {
        yearly_savings_percent(self.monthly, self.yearly)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_ids_are_url_safe_names() {
        assert_eq!(PlanId::parse("pro").unwrap().as_str(), "pro");
        assert!(PlanId::parse("team-2").is_ok());
        for bad in ["", "Pro", "2fast", "a b", "<script>", &"x".repeat(33)] {
            assert!(PlanId::parse(bad).is_err(), "{bad:?}");
        }
    }
}
