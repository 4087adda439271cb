//! Stock adjusted by hand with a reason: the ledger row, the audit entry and what the
//! engine does with the new stock, in one transaction.

use chrono::NaiveDate;
use diesel::prelude::*;

use super::catalog;
use crate::db::audit::{self, Actor};
use crate::db::shop_settings;
use crate::db::stock;
use crate::domain::EtaCause;
use crate::error::{AppError, AppResult};
use crate::services::engine::{self, Ctx};

/// Why stock was adjusted by hand; kept on the ledger row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdjustmentReason {
    CountCorrection,
    Damaged,
    FoundStock,
    CustomerReturn,
    Other,
}

impl AdjustmentReason {
    pub const ALL: [AdjustmentReason; 5] = [
        Self::CountCorrection,
        Self::Damaged,
        Self::FoundStock,
        Self::CustomerReturn,
        Self::Other,
    ];

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::CountCorrection => "count_correction",
            Self::Damaged => "damaged",
            Self::FoundStock => "found_stock",
            Self::CustomerReturn => "customer_return",
            Self::Other => "other",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::CountCorrection => "Count correction",
            Self::Damaged => "Damaged",
            Self::FoundStock => "Found stock",
            Self::CustomerReturn => "Customer return",
            Self::Other => "Other",
        }
    }
}

/// What an adjustment did.
#[derive(Debug, Clone)]
pub struct Adjusted {
    pub on_hand: i32,
    /// Units handed to waiting lines, and how many lines.
    pub allocated_units: i32,
    pub lines_served: usize,
}

/// Changes a product's stock by `change` units with a reason. A decrease may not take
/// units allocated to orders; an increase goes down the queue (catalog::adjust).
pub fn adjust_stock(
    conn: &mut PgConnection,
    actor: &Actor,
    sku: &str,
    change: i32,
    reason: AdjustmentReason,
    note: &str,
    today: NaiveDate,
) -> AppResult<Adjusted> {
    if change == 0 {
        return Err(AppError::invalid(
            "change",
            "enter a change other than 0 (negative to remove units)",
        ));
    }
    let note = note.trim();
    if reason == AdjustmentReason::Other && note.is_empty() {
        return Err(AppError::invalid(
            "note",
            "say what happened when the reason is Other",
        ));
    }
    if note.chars().count() > 500 {
        return Err(AppError::invalid(
            "note",
            "keep the note under 500 characters",
        ));
    }
    conn.transaction(|conn| {
        let settings = shop_settings::load(conn)?;
        let ctx = Ctx {
            actor,
            today,
            settings: &settings,
        };
        let id = stock::find_by_sku(conn, sku)?
            .ok_or_else(|| AppError::not_found("that product"))?
            .id;
        let mut product = stock::lock_products(conn, &[id])?
            .pop()
            .ok_or_else(|| AppError::not_found("that product"))?;
        let before =
            serde_json::json!({ "on_hand": product.on_hand, "allocated": product.allocated });
        let text = if note.is_empty() {
            reason.label().to_owned()
        } else {
            format!("{}: {note}", reason.label())
        };
        let filled = catalog::adjust(conn, &ctx, &mut product, change, &text, None)?;
        if product.waiting_lines > 0 {
            let effects = engine::refresh_etas(conn, &ctx, &product, &EtaCause::StockCorrected)?;
            crate::services::engine::notify::eta_changes(conn, &ctx, effects)?;
        }
        audit::record(
            conn,
            actor,
            "stock_adjusted",
            "product",
            Some(product.sku.clone()),
            Some(before),
            Some(serde_json::json!({
                "on_hand": product.on_hand,
                "allocated": product.allocated,
                "change": change,
                "reason": reason.as_str(),
                "note": note,
            })),
        )?;
        Ok(Adjusted {
            on_hand: product.on_hand,
            allocated_units: filled.iter().map(|f| f.units).sum(),
            lines_served: filled.len(),
        })
    })
}
