//! A product's units on the shelf and the one-word status the storefront,
//! the inventory page and the API show for it (DESIGN §1).

use std::fmt;

use serde::Serialize;

/// The most units a product may hold, and the most a stock figure (reorder point, safety
/// stock) or a purchase-order line may name: one rule for the pages, the CSV import and
/// the API.
pub const MAX_UNITS: i32 = 10_000_000;
/// [`MAX_UNITS`] as people read it, for messages.
pub const MAX_UNITS_TEXT: &str = "10,000,000";

/// The two stock columns of a product; available = on_hand - allocated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StockLevels {
    /// Units physically in the warehouse.
    pub on_hand: u32,
    /// Units of `on_hand` reserved for order lines, not yet shipped.
    pub allocated: u32,
}

/// Why a change to the stock columns was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StockError {
    /// A downward adjustment larger than the free units: allocated units
    /// belong to customers, so the lines must be cancelled first.
    RemovesAllocatedUnits {
        /// Free units that could have been removed.
        available: u32,
        /// Units the adjustment tried to remove.
        requested: u64,
    },
    /// The result would be more than [`MAX_UNITS`] (or less than none).
    TooManyUnits,
}

impl StockLevels {
    /// Units free to promise.
    pub fn available(&self) -> u32 {
        self.on_hand.saturating_sub(self.allocated)
    }

    /// The levels after a stock count or correction of `change` units.
    /// Going down may only remove free units (see [`StockError`]).
    pub fn adjusted(self, change: i64) -> Result<StockLevels, StockError> {
        if change < 0 {
            let removed = change.unsigned_abs();
            if removed > u64::from(self.available()) {
                return Err(StockError::RemovesAllocatedUnits {
                    available: self.available(),
                    requested: removed,
                });
            }
        }
        let on_hand = i64::from(self.on_hand) + change;
        let on_hand = u32::try_from(on_hand)
            .ok()
            .filter(|units| i64::from(*units) <= i64::from(MAX_UNITS))
            .ok_or(StockError::TooManyUnits)?;
        Ok(StockLevels { on_hand, ..self })
    }

    /// The levels after `units` arrive from a purchase order.
    pub fn received(self, units: u32) -> Result<StockLevels, StockError> {
        self.adjusted(i64::from(units))
    }
}

impl fmt::Display for StockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StockError::RemovesAllocatedUnits {
                available,
                requested,
            } => write!(
                f,
                "cannot remove {requested} units: only {available} are not reserved for orders"
            ),
            StockError::TooManyUnits => {
                write!(f, "a product holds at most {MAX_UNITS_TEXT} units")
            }
        }
    }
}

impl std::error::Error for StockError {}

/// What the shop can say about selling a product now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StockStatus {
    /// More available than the reorder point.
    InStock,
    /// Some available, at or below the reorder point.
    LowStock,
    /// None available, but orders are taken and queued.
    Backorder,
    /// None available and orders are refused.
    OutOfStock,
    /// A pre-order before its release day: orders are taken and queued.
    Preorder,
}

impl StockStatus {
    /// The API's spelling: `in_stock`, `low_stock`, `backorder`, `out_of_stock`, `preorder`.
    pub fn as_str(self) -> &'static str {
        match self {
            StockStatus::InStock => "in_stock",
            StockStatus::LowStock => "low_stock",
            StockStatus::Backorder => "backorder",
            StockStatus::OutOfStock => "out_of_stock",
            StockStatus::Preorder => "preorder",
        }
    }

    /// Words for pages: "in stock", "low stock", "backorder", "out of stock".
    pub fn label(self) -> &'static str {
        match self {
            StockStatus::InStock => "in stock",
            StockStatus::LowStock => "low stock",
            StockStatus::Backorder => "backorder",
            StockStatus::OutOfStock => "out of stock",
            StockStatus::Preorder => "pre-order",
        }
    }
}

impl fmt::Display for StockStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Supply is known when a purchase order is open for the product or its
/// supplier has a lead time; without either a backorder has no end.
pub fn supply_known(has_open_purchase_order: bool, supplier_lead_time_days: Option<u32>) -> bool {
    has_open_purchase_order || supplier_lead_time_days.is_some()
}

/// The status of a product from its free units and what can refill them.
pub fn stock_status(
    available: u32,
    reorder_point: u32,
    backorderable: bool,
    supply_known: bool,
) -> StockStatus {
    match available {
        0 if backorderable && supply_known => StockStatus::Backorder,
        0 => StockStatus::OutOfStock,
        n if n <= reorder_point => StockStatus::LowStock,
        _ => StockStatus::InStock,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_follows_the_design_words() {
        assert_eq!(stock_status(20, 5, false, false), StockStatus::InStock);
        assert_eq!(stock_status(5, 5, false, false), StockStatus::LowStock);
        assert_eq!(stock_status(1, 0, true, true), StockStatus::InStock);
        assert_eq!(stock_status(0, 0, true, true), StockStatus::Backorder);
        assert_eq!(stock_status(0, 5, true, false), StockStatus::OutOfStock);
        assert_eq!(stock_status(0, 5, false, true), StockStatus::OutOfStock);
        assert_eq!(StockStatus::LowStock.as_str(), "low_stock");
    }

    #[test]
    fn adjusting_down_never_takes_reserved_units() {
        let levels = StockLevels {
            on_hand: 10,
            allocated: 7,
        };
        assert_eq!(levels.adjusted(-3).map(|l| l.on_hand), Ok(7));
        assert_eq!(
            levels.adjusted(-4),
            Err(StockError::RemovesAllocatedUnits {
                available: 3,
                requested: 4
            })
        );
        assert_eq!(levels.received(5).map(|l| l.available()), Ok(8));
    }

    #[test]
    fn no_product_holds_more_than_the_most_units() {
        let levels = StockLevels {
            on_hand: 10,
            allocated: 0,
        };
        let room = i64::from(MAX_UNITS) - 10;
        assert_eq!(
            levels.adjusted(room).map(|l| l.on_hand),
            Ok(MAX_UNITS as u32)
        );
        assert_eq!(levels.adjusted(room + 1), Err(StockError::TooManyUnits));
        assert_eq!(
            levels.adjusted(i64::from(i32::MAX)),
            Err(StockError::TooManyUnits)
        );
        assert_eq!(MAX_UNITS_TEXT.replace(',', ""), MAX_UNITS.to_string());
    }
}
