//! Values checked once, where they enter the shop (a form, a JSON body, a CSV row, the
//! command line), and trusted everywhere after: the only way to make one is through
//! `parse`, so the engine and everything after it never re-check them.

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

macro_rules! text_newtype {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_inner(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

text_newtype!(
    /// An email address, trimmed; compared case-insensitively by the database.
    Email
);
text_newtype!(
    /// An order number or a purchase-order reference: printable, no spaces, 1 to 64 long.
    Reference
);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let email = raw.trim();
        let valid = email.len() <= 254
            && !email.chars().any(|c| {
                c.is_whitespace()
                    || c.is_control()
                    || is_direction_control(c)
                    || matches!(c, '<' | '>' | '"')
            })
            && match email.split_once('@') {
                Some((local, domain)) => {
                    !local.is_empty()
                        && local.len() <= 64
                        && !domain.contains('@')
                        && domain.contains('.')
                        && !domain.starts_with('.')
                        && !domain.ends_with('.')
                        && !domain.contains("..")
                }
                None => false,
            };
        if valid {
            Ok(Self(email.to_owned()))
        } else {
            Err(format!(
                "{:?} is not an email address like name@example.com",
                truncate(email)
            ))
        }
    }
}

impl Reference {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let reference = raw.trim();
        if reference.is_empty() {
            return Err("the number is empty".to_owned());
        }
        if reference.len() > 64 {
            return Err("a number is at most 64 characters long".to_owned());
        }
        if !reference.chars().all(|c| c.is_ascii_graphic()) {
            return Err(format!(
                "{:?} has spaces or characters that are not allowed",
                truncate(reference)
            ));
        }
        Ok(Self(reference.to_owned()))
    }
}

/// Text for a single-line field (a name, a subject): trimmed, and refused when it holds
/// a control character (CR and LF would start new header lines in a plain-text email;
/// tab, NUL and the like have no place in a name). Direction controls (see
/// [`is_direction_control`]) are removed rather than refused: a name in a right-to-left
/// script may arrive wrapped in them, and without them it still reads right.
pub fn single_line(raw: &str) -> Result<String, String> {
    if let Some(c) = raw.chars().find(|c| c.is_control()) {
        return Err(format!(
            "use one line of text without control characters (this has {})",
            control_name(c)
        ));
    }
    Ok(raw
        .chars()
        .filter(|c| !is_direction_control(*c))
        .collect::<String>()
        .trim()
        .to_owned())
}

/// A single-line field of 1 to `max` characters: [`single_line`], then the length, which
/// `length_message` explains.
pub fn single_line_of(raw: &str, max: usize, length_message: &str) -> Result<String, String> {
    let text = single_line(raw)?;
    if text.is_empty() || text.chars().count() > max {
        Err(length_message.to_owned())
    } else {
        Ok(text)
    }
}

fn control_name(c: char) -> String {
    match c {
        '\n' => "a line break (LF)".to_owned(),
        '\r' => "a carriage return (CR)".to_owned(),
        '\t' => "a tab".to_owned(),
        '\0' => "a NUL character".to_owned(),
        other => format!("the control character U+{:04X}", u32::from(other)),
    }
}

/// A short form of user input for messages, so an overlong value does not flood the page.
pub fn truncate(text: &str) -> String {
    const MAX: usize = 40;
    if text.chars().count() <= MAX {
        text.to_owned()
    } else {
        format!("{}…", text.chars().take(MAX).collect::<String>())
    }
}

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

    #[test]
    fn emails() {
        assert!(Email::parse(" Ana@Example.com ").is_ok());
        for bad in [
            "",
            "ana",
            "ana@",
            "@example.com",
            "ana@example",
            "a b@example.com",
            "ana@@x.com",
            "<a@b.c>",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn single_lines() {
        assert_eq!(single_line("  Ana López ").unwrap(), "Ana López");
        assert_eq!(single_line("\u{2067}مريم\u{2069}").unwrap(), "مريم");
        assert_eq!(single_line("Evil\u{202E}gpj.exe").unwrap(), "Evilgpj.exe");
        for bad in [
            "Ana\r\nBcc: all@example.com",
            "Ana\nB",
            "a\tb",
            "a\u{7}",
            "a\u{85}b",
        ] {
            assert!(single_line(bad).is_err(), "{bad:?} accepted");
        }
        assert!(
            single_line("Ana\r\nBcc: x")
                .unwrap_err()
                .contains("carriage return")
        );
        assert!(Email::parse("ana\u{202E}@example.com").is_err());
    }

    #[test]
    fn references() {
        assert!(Reference::parse("PO-1042").is_ok());
        assert!(Reference::parse("PO 1042").is_err());
    }
}
