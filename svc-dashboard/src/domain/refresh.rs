//! How often the live figures refresh.

/// Seconds between two refreshes of the live figures: 2 to 300, default 5.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshInterval(u32);

impl Default for RefreshInterval {
    fn default() -> Self {
        Self(5)
    }
}

impl RefreshInterval {
    /// Fewest seconds between refreshes.
    pub const MIN: u32 = 2;
    /// Most seconds between refreshes.
    pub const MAX: u32 = 300;

    /// A `?refresh=` value; anything else is refused with a message that quotes it.
    pub fn parse(value: &str) -> Result<Self, String> {
        match value.parse::<u32>() {
            Ok(n) if (Self::MIN..=Self::MAX).contains(&n) => Ok(Self(n)),
            _ => Err(format!(
                "The refresh interval “{value}” is not a whole number of seconds from {} to {}.",
                Self::MIN,
                Self::MAX
            )),
        }
    }

    /// The `?refresh=` value, if any.
    pub fn from_query(value: Option<&str>) -> Result<Self, String> {
        value.map_or(Ok(Self::default()), Self::parse)
    }

    /// The seconds.
    pub fn secs(self) -> u32 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_two_to_three_hundred_seconds_only() {
        assert_eq!(RefreshInterval::from_query(None).unwrap().secs(), 5);
        assert_eq!(RefreshInterval::parse("2").unwrap().secs(), 2);
        assert_eq!(RefreshInterval::parse("300").unwrap().secs(), 300);
        for bad in ["1", "301", "-5", "5.5", "", "<b>"] {
            let err = RefreshInterval::parse(bad).unwrap_err();
            assert!(err.contains(&format!("“{bad}”")), "{err}");
        }
    }
}
