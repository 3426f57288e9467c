//! Fixed-point amounts: integer cents, never floats.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An amount of money in hundredths of the currency unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Amount {
    cents: i64,
}

/// The largest amount the original's `numeric(10, 2)` could hold.
const MAX_CENTS: i64 = 9_999_999_999;

/// Why an amount was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid amount {0:?}: expected a decimal number with at most 2 decimals, below 100,000,000")]
pub struct InvalidAmount(pub String);

impl Amount {
    /// An amount from cents.
    ///
    /// # Errors
    /// When it is out of the supported range.
    pub fn from_cents(cents: i64) -> Result<Self, InvalidAmount> {
        if cents.abs() > MAX_CENTS { Err(InvalidAmount(cents.to_string())) } else { Ok(Self { cents }) }
    }

    /// The amount in cents.
    #[must_use]
    pub const fn cents(self) -> i64 {
        self.cents
    }
}

impl FromStr for Amount {
    type Err = InvalidAmount;

    /// Parses `1234`, `1234.5`, `-12.34`; refuses exponents, more than two decimals and separators.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || InvalidAmount(text.to_owned());
        let trimmed = text.trim();
        let (negative, digits) = match trimmed.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, trimmed.strip_prefix('+').unwrap_or(trimmed)),
        };
        let (units, fraction) = digits.split_once('.').unwrap_or((digits, ""));
        let all_digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
        if units.is_empty()
            || units.len() > 8
            || fraction.len() > 2
            || !all_digits(units)
            || !all_digits(fraction)
        {
            return Err(invalid());
        }
        let units: i64 = units.parse().map_err(|_| invalid())?;
        let fraction: i64 = format!("{fraction:0<2}").parse().map_err(|_| invalid())?;
        let cents = units * 100 + fraction;
        Self::from_cents(if negative { -cents } else { cents }).map_err(|_| invalid())
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.cents < 0 { "-" } else { "" };
        let abs = self.cents.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

impl TryFrom<String> for Amount {
    type Error = InvalidAmount;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<Amount> for String {
    fn from(amount: Amount) -> Self {
        amount.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_exactly() {
        for (text, cents, shown) in [
            ("1234", 123_400, "1234.00"),
            ("1234.5", 123_450, "1234.50"),
            ("0.07", 7, "0.07"),
            ("-12.34", -1234, "-12.34"),
            ("99999999.99", MAX_CENTS, "99999999.99"),
        ] {
            let amount: Amount = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(amount.cents(), cents);
            assert_eq!(amount.to_string(), shown);
        }
        // 0.1 + 0.2 is exactly 0.30 here.
        let sum = "0.1".parse::<Amount>().map(Amount::cents).unwrap_or(0)
            + "0.2".parse::<Amount>().map(Amount::cents).unwrap_or(0);
        assert_eq!(sum, 30);
    }

    #[test]
    fn refuses_what_is_not_a_fixed_point_amount() {
        for bad in ["", ".5", "1.234", "1e3", "1,000", "abc", "100000000", "NaN", "--1"] {
            assert!(bad.parse::<Amount>().is_err(), "{bad:?}");
        }
    }
}
