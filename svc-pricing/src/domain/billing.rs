//! The billing period a visitor looks at: monthly or yearly.

/// Monthly or yearly prices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Billing {
    /// Prices per month (the default).
    #[default]
    Monthly,
    /// Prices per year.
    Yearly,
}

impl Billing {
    /// `monthly` or `yearly`; anything else is refused with a message that quotes it.
    pub fn parse(value: &str) -> Result<Self, String> {
        match value {
            "monthly" => Ok(Self::Monthly),
            "yearly" => Ok(Self::Yearly),
            other => Err(format!(
                "The billing period “{other}” is not one we offer: use billing=monthly or billing=yearly."
            )),
        }
    }

    /// The `?billing=` value, if any; absent means monthly.
    pub fn from_query(value: Option<&str>) -> Result<Self, String> {
        value.map_or(Ok(Self::default()), Self::parse)
    }

    /// The query value (`monthly`, `yearly`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Monthly => "monthly",
            Self::Yearly => "yearly",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_two_periods_and_quotes_anything_else() {
        assert_eq!(Billing::from_query(None), Ok(Billing::Monthly));
        assert_eq!(Billing::from_query(Some("yearly")), Ok(Billing::Yearly));
        let err = Billing::parse("weekly").unwrap_err();
        assert!(err.contains("“weekly”"), "{err}");
    }
}
