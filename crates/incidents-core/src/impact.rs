//! Business impact levels and the rule that turns them into a priority.
//!
//! The impact matrix (which levels exist for which impact type, and their wording) is data, stored in
//! the database and seeded from [`crate::reference`]. The mapping from a level code to a priority value
//! is fixed here, in code, because every entry point must derive the same priority from the same impacts.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::status::UnknownValue;

/// The code of an impact level, from the highest impact to none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ImpactLevelCode {
    #[serde(rename = "HT")]
    Highest,
    #[serde(rename = "HI")]
    High,
    #[serde(rename = "MD")]
    Medium,
    #[serde(rename = "LO")]
    Low,
    #[serde(rename = "LT")]
    Lowest,
    #[serde(rename = "NO")]
    NoImpact,
}

impl ImpactLevelCode {
    /// Every code, from the most to the least severe.
    pub const ALL: [Self; 6] =
        [Self::Highest, Self::High, Self::Medium, Self::Low, Self::Lowest, Self::NoImpact];

    /// The two-letter code stored in the database.
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            Self::Highest => "HT",
            Self::High => "HI",
            Self::Medium => "MD",
            Self::Low => "LO",
            Self::Lowest => "LT",
            Self::NoImpact => "NO",
        }
    }

    /// The generic label of the level ("Highest" … "N/A").
    #[must_use]
    pub const fn label(self) -> &'static str {
        match self {
            Self::Highest => "Highest",
            Self::High => "High",
            Self::Medium => "Medium",
            Self::Low => "Low",
            Self::Lowest => "Lowest",
            Self::NoImpact => "N/A",
        }
    }

    /// The priority value (1 = P1 … 5 = P5) this level calls for; `None` for no impact.
    #[must_use]
    pub const fn priority_value(self) -> Option<i32> {
        match self {
            Self::Highest => Some(1),
            Self::High => Some(2),
            Self::Medium => Some(3),
            Self::Low => Some(4),
            Self::Lowest => Some(5),
            Self::NoImpact => None,
        }
    }

    /// Parses a two-letter code.
    ///
    /// # Errors
    /// When `code` is not one of HT, HI, MD, LO, LT, NO.
    pub fn parse(code: &str) -> Result<Self, UnknownValue> {
        Self::ALL
            .into_iter()
            .find(|level| level.code() == code)
            .ok_or_else(|| UnknownValue { kind: "impact level", value: code.to_owned() })
    }
}

impl fmt::Display for ImpactLevelCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Every impact was "no impact": there is nothing to declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("at least one impact must be above \"no impact\" to derive a priority")]
pub struct NoImpactError;

/// The priority value called for by a set of impact levels: the most severe level wins.
///
/// # Errors
/// [`NoImpactError`] when there is no level, or every level is "no impact".
pub fn priority_value_from_impacts(
    levels: impl IntoIterator<Item = ImpactLevelCode>,
) -> Result<i32, NoImpactError> {
    levels.into_iter().filter_map(ImpactLevelCode::priority_value).min().ok_or(NoImpactError)
}

#[cfg(test)]
mod tests {
    use super::ImpactLevelCode::*;
    use super::*;

    fn parse_all(codes: [&str; 4]) -> Result<Vec<ImpactLevelCode>, UnknownValue> {
        codes.into_iter().map(ImpactLevelCode::parse).collect()
    }

    #[test]
    fn most_severe_level_wins_as_in_the_original_table() {
        // business, sellers, customers, employees → priority
        let table = [
            (["HT", "LT", "LT", "LT"], 1),
            (["LO", "LO", "HI", "LT"], 2),
            (["LO", "LO", "MD", "LT"], 3),
            (["LO", "LT", "LT", "LT"], 4),
            (["LT", "LT", "LT", "LT"], 5),
        ];
        for (codes, expected) in table {
            let levels = parse_all(codes).unwrap_or_default();
            assert_eq!(priority_value_from_impacts(levels), Ok(expected), "{codes:?}");
        }
    }

    #[test]
    fn invalid_code_is_rejected() {
        assert!(parse_all(["INVALID", "LT", "LT", "LT"]).is_err());
    }

    #[test]
    fn no_impact_everywhere_is_refused() {
        assert_eq!(priority_value_from_impacts([NoImpact, NoImpact]), Err(NoImpactError));
        assert_eq!(priority_value_from_impacts([]), Err(NoImpactError));
        assert_eq!(priority_value_from_impacts([NoImpact, Medium]), Ok(3));
    }
}
