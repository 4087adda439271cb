//! A product's inline settings (reorder point, pre-order, alternatives, price) and the
//! parsing of the units, yes/no and prices people type into forms and CSV cells.

use chrono::NaiveDate;
use diesel::prelude::*;

use super::catalog::{self, ProductChanges};
use crate::db::audit::Actor;
use crate::db::stock;
use crate::domain::{MAX_UNITS, MAX_UNITS_TEXT};
use crate::error::{AppError, AppResult, FieldError};
use crate::types::Sku;

/// A whole number of units from a form or a CSV cell, `0..=MAX_UNITS` (as the API).
pub fn parse_units(raw: &str) -> Result<i32, String> {
    let text = raw.trim();
    if text.is_empty() {
        return Err("enter a whole number of units".to_owned());
    }
    match text.parse::<i64>() {
        Ok(n) if (0..=i64::from(MAX_UNITS)).contains(&n) => Ok(n as i32),
        Ok(_) => Err(format!("must be between 0 and {MAX_UNITS_TEXT}")),
        Err(_) => Err(format!(
            "{:?} is not a whole number",
            crate::types::truncate(text)
        )),
    }
}

/// Yes or no from a form checkbox value or a CSV cell.
pub fn parse_yes_no(raw: &str) -> Result<bool, String> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "yes" | "y" | "true" | "1" | "on" => Ok(true),
        "no" | "n" | "false" | "0" | "off" | "" => Ok(false),
        other => Err(format!(
            "{:?} is not yes or no",
            crate::types::truncate(other)
        )),
    }
}

/// Money as typed: "12", "12.5", "12.50" -> cents.
pub fn parse_price(raw: &str) -> Result<i64, String> {
    let text = raw.trim();
    let bad = || {
        format!(
            "{:?} is not a price like 12.50",
            crate::types::truncate(text)
        )
    };
    let (units, fraction) = text.split_once('.').unwrap_or((text, ""));
    if units.is_empty()
        || !units.chars().all(|c| c.is_ascii_digit())
        || fraction.len() > 2
        || !fraction.chars().all(|c| c.is_ascii_digit())
        || units.len() > 10
    {
        return Err(bad());
    }
    let units: i64 = units.parse().map_err(|_| bad())?;
    let cents: i64 = format!("{fraction:0<2}").parse().map_err(|_| bad())?;
    Ok(units * 100 + cents)
}

/// Reorder point, safety stock and backorderable, checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StockSettings {
    pub reorder_point: i32,
    pub safety_stock: i32,
    pub backorderable: bool,
}

impl StockSettings {
    pub fn parse(reorder_point: &str, safety_stock: &str, backorderable: bool) -> AppResult<Self> {
        let mut problems = Vec::new();
        let reorder_point = parse_units(reorder_point)
            .map_err(|e| {
                problems.push(FieldError::new(
                    "reorder_point",
                    format!("Reorder point: {e}"),
                ))
            })
            .unwrap_or_default();
        let safety_stock = parse_units(safety_stock)
            .map_err(|e| {
                problems.push(FieldError::new(
                    "safety_stock",
                    format!("Safety stock: {e}"),
                ))
            })
            .unwrap_or_default();
        if problems.is_empty() {
            Ok(Self {
                reorder_point,
                safety_stock,
                backorderable,
            })
        } else {
            Err(AppError::invalid_fields(problems))
        }
    }
}

/// A change to an existing product's fields, from its SKU as a page gives it.
fn existing_product(conn: &mut PgConnection, sku: &str) -> AppResult<ProductChanges> {
    let sku = Sku::parse(sku).map_err(|_| AppError::not_found("that product"))?;
    if stock::find_by_sku(conn, sku.as_str())?.is_none() {
        return Err(AppError::not_found("that product"));
    }
    Ok(ProductChanges::of(sku))
}

/// Replaces a product's alternatives (SKUs, in order of preference).
pub fn set_alternatives(
    conn: &mut PgConnection,
    actor: &Actor,
    sku: &str,
    list: Vec<String>,
    today: NaiveDate,
) -> AppResult<()> {
    let changes = ProductChanges {
        alternatives: Some(list),
        ..existing_product(conn, sku)?
    };
    catalog::upsert_product(conn, actor, changes, today)?;
    Ok(())
}

/// Makes a product a pre-order released on `release_on`, or (None) an ordinary product
/// again; held stock goes down the queue once the day has come (`catalog::upsert_product`).
pub fn set_preorder(
    conn: &mut PgConnection,
    actor: &Actor,
    sku: &str,
    release_on: Option<NaiveDate>,
    today: NaiveDate,
) -> AppResult<()> {
    let changes = ProductChanges {
        preorder_release_on: Some(release_on),
        ..existing_product(conn, sku)?
    };
    catalog::upsert_product(conn, actor, changes, today)?;
    Ok(())
}

/// Sets a product's reorder point, safety stock and backorderable flag.
pub fn update_settings(
    conn: &mut PgConnection,
    actor: &Actor,
    sku: &str,
    settings: StockSettings,
    today: NaiveDate,
) -> AppResult<()> {
    let changes = ProductChanges {
        backorderable: Some(settings.backorderable),
        reorder_point: Some(settings.reorder_point),
        safety_stock: Some(settings.safety_stock),
        ..existing_product(conn, sku)?
    };
    catalog::upsert_product(conn, actor, changes, today)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_and_units_parse_like_people_type_them() {
        assert_eq!(parse_price("12.5"), Ok(1250));
        assert_eq!(parse_price("12"), Ok(1200));
        assert_eq!(parse_price("0.05"), Ok(5));
        assert!(parse_price("12.505").is_err());
        assert!(parse_price("-1").is_err());
        assert!(parse_price("abc").is_err());
        assert_eq!(parse_units(" 7 "), Ok(7));
        assert!(parse_units("-1").is_err());
        assert!(parse_units("1.5").is_err());
    }
}
