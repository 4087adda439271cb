//! Values checked once where they enter the shop (a form, the API, a CSV row),
//! so the engine and everything after it never re-check them.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Database id of an order line; the engine only compares and echoes it.
pub type LineId = i64;

/// True for the characters that reorder text on screen: the bidi embeddings and
/// overrides (U+202A-U+202E) and isolates (U+2066-U+2069). In an identifier they make
/// `ABC-123` display as something else, so identifiers refuse them.
pub fn is_direction_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// A product's stock-keeping unit: 1 to 64 visible characters, no spaces.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Sku(String);

/// Why a text is not a SKU.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SkuError {
    /// Nothing but whitespace.
    Empty,
    /// Longer than [`Sku::MAX_LEN`] characters.
    TooLong,
    /// Contains whitespace, a control character or a direction control.
    BadCharacter,
}

impl Sku {
    /// Longest SKU accepted.
    pub const MAX_LEN: usize = 64;

    /// Trims surrounding whitespace and checks the rest.
    pub fn parse(raw: &str) -> Result<Sku, SkuError> {
        let sku = raw.trim();
        if sku.is_empty() {
            return Err(SkuError::Empty);
        }
        if sku.chars().count() > Self::MAX_LEN {
            return Err(SkuError::TooLong);
        }
        if sku
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || is_direction_control(c))
        {
            return Err(SkuError::BadCharacter);
        }
        Ok(Sku(sku.to_owned()))
    }

    /// The SKU as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Sku {
    type Error = SkuError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Sku::parse(&raw)
    }
}

impl From<Sku> for String {
    fn from(sku: Sku) -> String {
        sku.0
    }
}

impl AsRef<str> for Sku {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Sku {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for SkuError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkuError::Empty => f.write_str("a SKU cannot be empty"),
            SkuError::TooLong => write!(f, "a SKU has at most {} characters", Sku::MAX_LEN),
            SkuError::BadCharacter => {
                f.write_str("a SKU cannot contain spaces, control characters or direction marks")
            }
        }
    }
}

impl std::error::Error for SkuError {}

/// Units asked for on an order line: a whole number from 1 to
/// [`Quantity::MAX`]. The cap keeps every sum the engine makes far from
/// overflow and catches typos like 1000000 for 10.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "u32")]
pub struct Quantity(u32);

/// Why a number is not a quantity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuantityError {
    /// Zero or negative.
    NotPositive,
    /// Above [`Quantity::MAX`].
    TooLarge,
}

impl Quantity {
    /// Largest quantity one line may ask for.
    pub const MAX: u32 = 100_000;

    /// A quantity of `units`, if it is in range.
    pub fn new(units: u32) -> Result<Quantity, QuantityError> {
        Quantity::try_from(i64::from(units))
    }

    /// The number of units.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl TryFrom<i64> for Quantity {
    type Error = QuantityError;
    fn try_from(units: i64) -> Result<Self, Self::Error> {
        if units <= 0 {
            return Err(QuantityError::NotPositive);
        }
        match u32::try_from(units) {
            Ok(units) if units <= Quantity::MAX => Ok(Quantity(units)),
            _ => Err(QuantityError::TooLarge),
        }
    }
}

impl TryFrom<i32> for Quantity {
    type Error = QuantityError;
    fn try_from(units: i32) -> Result<Self, Self::Error> {
        Quantity::try_from(i64::from(units))
    }
}

impl TryFrom<u32> for Quantity {
    type Error = QuantityError;
    fn try_from(units: u32) -> Result<Self, Self::Error> {
        Quantity::new(units)
    }
}

impl From<Quantity> for u32 {
    fn from(quantity: Quantity) -> u32 {
        quantity.0
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for QuantityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QuantityError::NotPositive => f.write_str("quantity must be at least 1"),
            QuantityError::TooLarge => write!(f, "quantity must be at most {}", Quantity::MAX),
        }
    }
}

impl std::error::Error for QuantityError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantity_accepts_only_positive_sane_numbers() {
        assert_eq!(Quantity::try_from(0i64), Err(QuantityError::NotPositive));
        assert_eq!(Quantity::try_from(-3i32), Err(QuantityError::NotPositive));
        assert_eq!(Quantity::try_from(100_001u32), Err(QuantityError::TooLarge));
        assert_eq!(Quantity::try_from(7i64).map(Quantity::get), Ok(7));
    }

    #[test]
    fn sku_is_trimmed_and_rejects_spaces() {
        assert_eq!(
            Sku::parse("  SKU-1 ").map(String::from),
            Ok("SKU-1".to_owned())
        );
        assert_eq!(Sku::parse("   "), Err(SkuError::Empty));
        assert_eq!(Sku::parse("A B"), Err(SkuError::BadCharacter));
        assert_eq!(Sku::parse("A\u{7}B"), Err(SkuError::BadCharacter));
        assert_eq!(Sku::parse("KET\u{202E}100"), Err(SkuError::BadCharacter));
        assert_eq!(Sku::parse("KET\u{2066}100"), Err(SkuError::BadCharacter));
        assert_eq!(Sku::parse(&"x".repeat(65)), Err(SkuError::TooLong));
    }
}
