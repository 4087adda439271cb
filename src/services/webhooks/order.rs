//! A storefront's order as Backorder Desk reads it, whichever platform sent it: the
//! number, when it was placed, the customer, and per line the storefront's SKU, quantity
//! and unit price.

use chrono::{DateTime, Utc};

use crate::error::FieldError;

#[derive(Debug, Clone, PartialEq)]
pub struct StorefrontOrder {
    pub number: String,
    pub placed_at: DateTime<Utc>,
    pub email: String,
    pub name: String,
    pub lines: Vec<StorefrontLine>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StorefrontLine {
    /// The storefront's SKU; for a line without one, the storefront's product ("product
    /// 93", "variant 23"), so a person can still map it.
    pub sku: String,
    pub title: String,
    pub quantity: i64,
    pub unit_price_cents: i64,
}

/// The parts of a payload that are wrong, named by their path in it.
pub type PayloadProblems = Vec<FieldError>;

/// Parses a JSON body into a platform's payload type, naming the field that does not fit.
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, PayloadProblems> {
    // serde would read a struct from a list too; an order is an object.
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(vec![FieldError::new(
            "body",
            "the body is not a JSON object (an order)",
        )]);
    }
    let deserializer = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        let message = inner.to_string();
        let message = message
            .split(" at line ")
            .next()
            .unwrap_or(&message)
            .to_owned();
        if inner.is_syntax() || inner.is_eof() {
            return vec![FieldError::new(
                "body",
                format!("the body is not valid JSON: {message}"),
            )];
        }
        let field = match path.as_str() {
            "." | "?" => "body".to_owned(),
            _ => path,
        };
        vec![FieldError::new(field, message)]
    })
}

/// "89.99" (or the JSON number 89.99) as 8999 cents; `None` for anything else.
pub fn cents(amount: &str) -> Option<i64> {
    let amount = amount.trim();
    let (whole, fraction) = amount.split_once('.').unwrap_or((amount, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    if !whole.chars().all(|c| c.is_ascii_digit()) || !fraction.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut digits = fraction.chars().map(|c| i64::from(c as u8 - b'0'));
    let tenths = digits.next().unwrap_or(0);
    let hundredths = digits.next().unwrap_or(0);
    // Half a cent and more rounds up (a price computed by division may carry more digits).
    let round = i64::from(digits.next().is_some_and(|d| d >= 5));
    whole
        .checked_mul(100)?
        .checked_add(tenths * 10 + hundredths + round)
}

/// A JSON value holding an amount, as a string ("6.00") or a number (3, 12.5).
pub fn cents_of(value: &serde_json::Value) -> Option<i64> {
    match value {
        serde_json::Value::String(text) => cents(text),
        serde_json::Value::Number(number) => cents(&number.to_string()),
        _ => None,
    }
}

/// The line's storefront SKU; for a line without one, the first of the storefront's own
/// ids it has (`("variant", Some(42))` gives "variant 42").
pub fn storefront_sku(sku: Option<&str>, ids: [(&str, Option<u64>); 2]) -> String {
    match sku.map(str::trim).filter(|sku| !sku.is_empty()) {
        Some(sku) => sku.to_owned(),
        None => ids
            .iter()
            .find_map(|(kind, id)| id.filter(|id| *id != 0).map(|id| format!("{kind} {id}")))
            .unwrap_or_default(),
    }
}

/// "John Smith" from its parts, skipping the empty ones.
pub fn full_name(first: Option<&str>, last: Option<&str>) -> String {
    [first, last]
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_become_cents() {
        assert_eq!(cents("89.99"), Some(8999));
        assert_eq!(cents("199"), Some(19900));
        assert_eq!(cents("12.5"), Some(1250));
        assert_eq!(cents("0.00"), Some(0));
        assert_eq!(cents("33.335"), Some(3334));
        assert_eq!(cents_of(&serde_json::json!(3)), Some(300));
        assert_eq!(cents_of(&serde_json::json!(12.5)), Some(1250));
        for bad in ["", ".", "-1.00", "1,00", "abc", "1.2.3"] {
            assert_eq!(cents(bad), None, "{bad}");
        }
    }

    #[test]
    fn names_skip_empty_parts() {
        assert_eq!(full_name(Some("John"), Some("Smith")), "John Smith");
        assert_eq!(full_name(Some(" "), Some("Smith")), "Smith");
        assert_eq!(full_name(None, None), "");
    }
}
