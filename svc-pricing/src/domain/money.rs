//! Money as an integer number of minor units (cents) and a currency: never floats, so
//! $0.10 + $0.20 is exactly $0.30 and a yearly price divides without drift.

use std::fmt;

/// A supported currency: ISO 4217 code, the symbol people expect, and its minor unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Currency {
    code: &'static str,
    symbol: &'static str,
    /// Digits after the decimal point (2 for cents, 0 for yen).
    exponent: u32,
}

const CURRENCIES: &[Currency] = &[
    Currency {
        code: "USD",
        symbol: "$",
        exponent: 2,
    },
    Currency {
        code: "EUR",
        symbol: "€",
        exponent: 2,
    },
    Currency {
        code: "GBP",
        symbol: "£",
        exponent: 2,
    },
    Currency {
        code: "CAD",
        symbol: "CA$",
        exponent: 2,
    },
    Currency {
        code: "AUD",
        symbol: "A$",
        exponent: 2,
    },
    Currency {
        code: "CHF",
        symbol: "CHF\u{a0}",
        exponent: 2,
    },
    Currency {
        code: "JPY",
        symbol: "¥",
        exponent: 0,
    },
];

impl Currency {
    /// The currency for an ISO 4217 code this service can format.
    pub fn parse(code: &str) -> Result<Self, String> {
        CURRENCIES
            .iter()
            .find(|c| c.code == code)
            .copied()
            .ok_or_else(|| {
                let known: Vec<&str> = CURRENCIES.iter().map(|c| c.code).collect();
                format!(
                    "`{}` is not a supported currency (use one of {})",
                    code.escape_default(),
                    known.join(", ")
                )
            })
    }

    /// The ISO 4217 code (`USD`).
    pub fn code(&self) -> &'static str {
        self.code
    }

    fn unit(&self) -> u64 {
        10u64.pow(self.exponent)
    }
}

/// An amount of money in minor units (cents for USD).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Money {
    minor: u64,
    currency: Currency,
}

impl Money {
    /// The largest amount a catalogue may hold, in minor units.
    pub const MAX_MINOR: u64 = 100_000_000;

    /// An amount from minor units; refuses negative and absurdly large values.
    pub fn parse(minor: i64, currency: Currency) -> Result<Self, String> {
        match u64::try_from(minor) {
            Ok(m) if m <= Self::MAX_MINOR => Ok(Self { minor: m, currency }),
            _ => Err(format!(
                "must be a whole number of minor units (cents) from 0 to {}, not {minor}",
                Self::MAX_MINOR
            )),
        }
    }

    /// The amount in minor units.
    pub fn minor(&self) -> u64 {
        self.minor
    }

    /// The currency.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// Whether the amount is zero.
    pub fn is_zero(&self) -> bool {
        self.minor == 0
    }

    /// This amount divided by twelve, rounded half up: the monthly equivalent of a yearly
    /// price.
    pub fn per_month(&self) -> Money {
        Money {
            minor: (self.minor + 6) / 12,
            currency: self.currency,
        }
    }

    /// Twelve times this amount (saturating).
    pub fn times_twelve(&self) -> Money {
        Money {
            minor: self.minor.saturating_mul(12),
            currency: self.currency,
        }
    }
}

impl fmt::Display for Money {
    /// `$12`, `$12.50`, `$1,200`, `¥1,200`; whole amounts drop the minor digits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = self.currency.unit();
        let major = shared_ui::components::thousands(self.minor / unit);
        let minor = self.minor % unit;
        f.write_str(self.currency.symbol)?;
        f.write_str(&major)?;
        if minor != 0 {
            write!(
                f,
                ".{minor:0width$}",
                width = self.currency.exponent as usize
            )?;
        }
        Ok(())
    }
}

/// How much a yearly price saves over twelve monthly payments, in whole percent (rounded
/// half up); `None` when it saves nothing.
pub fn yearly_savings_percent(monthly: Money, yearly: Money) -> Option<u64> {
    let full = monthly.times_twelve().minor;
    if full == 0 || yearly.minor >= full {
        return None;
    }
    let saved = full - yearly.minor;
    Some((saved * 100 + full / 2) / full).filter(|p| *p > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(minor: i64) -> Money {
        Money::parse(minor, Currency::parse("USD").unwrap()).unwrap()
    }

    #[test]
    fn formats_whole_and_fractional_amounts_with_grouping() {
        assert_eq!(usd(1200).to_string(), "$12");
        assert_eq!(usd(1250).to_string(), "$12.50");
        assert_eq!(usd(1205).to_string(), "$12.05");
        assert_eq!(usd(120_000).to_string(), "$1,200");
        assert_eq!(usd(0).to_string(), "$0");
        let yen = Money::parse(1200, Currency::parse("JPY").unwrap()).unwrap();
        assert_eq!(yen.to_string(), "¥1,200");
    }

    #[test]
    fn refuses_negative_and_huge_amounts_and_unknown_currencies() {
        let usd_c = Currency::parse("USD").unwrap();
        assert!(Money::parse(-1, usd_c).unwrap_err().contains("from 0 to"));
        assert!(Money::parse(Money::MAX_MINOR as i64 + 1, usd_c).is_err());
        assert!(Currency::parse("usd").is_err());
        assert!(Currency::parse("XYZ").unwrap_err().contains("USD"));
    }

    #[test]
    fn per_month_and_savings_use_integer_rounding() {
        assert_eq!(usd(12000).per_month().to_string(), "$10");
        assert_eq!(usd(29000).per_month().to_string(), "$24.17");
        assert_eq!(yearly_savings_percent(usd(1200), usd(12000)), Some(17));
        assert_eq!(yearly_savings_percent(usd(1200), usd(14400)), None);
        assert_eq!(yearly_savings_percent(usd(0), usd(0)), None);
    }
}
