//! The inventory pages' use cases: the product list (search, filters, sort, keyset pages,
//! CSV export), one product with its ledger, queue and incoming supply, inline settings,
//! stock adjustments with a reason, and the all-or-nothing CSV import.

use crate::db::models::MovementReason;
pub mod alternatives;
pub mod catalog;
pub mod subscriptions;
pub mod swaps;

use crate::progress::Progress;
use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Date, Int4, Nullable, Text};
use serde::Serialize;

use self::catalog::ProductChanges;
use crate::csv_cells;
use crate::db::audit::{self, Actor};
use crate::db::schema::{stock_movements, suppliers};
use crate::db::shop_settings;
use crate::db::stock::{self, IncomingRow, Product, QueueRow};
use crate::domain::{EtaCause, MAX_UNITS, MAX_UNITS_TEXT, StockStatus};
use crate::error::{AppError, AppResult, FieldError};
use crate::services::engine::{self, Ctx};
use crate::types::Sku;

/// Rows per page of the product list.
pub const PAGE_SIZE: i64 = 50;
/// Rows per page of a product's ledger.
pub const LEDGER_PAGE: i64 = 25;
/// The most rows a CSV export holds.
pub const EXPORT_LIMIT: i64 = 100_000;

/// The status filter of the product list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    InStock,
    LowStock,
    Backorder,
    OutOfStock,
}

impl StatusFilter {
    pub const ALL: [StatusFilter; 4] = [
        Self::InStock,
        Self::LowStock,
        Self::Backorder,
        Self::OutOfStock,
    ];

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        self.status().as_str()
    }

    pub fn label(self) -> &'static str {
        self.status().label()
    }

    fn status(self) -> StockStatus {
        match self {
            Self::InStock => StockStatus::InStock,
            Self::LowStock => StockStatus::LowStock,
            Self::Backorder => StockStatus::Backorder,
            Self::OutOfStock => StockStatus::OutOfStock,
        }
    }

    /// The same rule as `domain::stock_status`, as SQL over `products p` and `suppliers s`.
    fn sql(self) -> &'static str {
        match self {
            Self::InStock => "p.on_hand - p.allocated > p.reorder_point",
            Self::LowStock => {
                "p.on_hand - p.allocated > 0 AND p.on_hand - p.allocated <= p.reorder_point"
            }
            Self::Backorder => {
                "p.on_hand - p.allocated <= 0 AND p.backorderable \
                 AND (s.lead_time_days IS NOT NULL OR EXISTS (SELECT 1 FROM purchase_order_lines pl \
                      JOIN purchase_orders po ON po.id = pl.purchase_order_id WHERE pl.product_id = p.id \
                      AND pl.qty_received < pl.qty_ordered AND po.status = 'open'))"
            }
            Self::OutOfStock => {
                "p.on_hand - p.allocated <= 0 AND NOT (p.backorderable \
                 AND (s.lead_time_days IS NOT NULL OR EXISTS (SELECT 1 FROM purchase_order_lines pl \
                      JOIN purchase_orders po ON po.id = pl.purchase_order_id WHERE pl.product_id = p.id \
                      AND pl.qty_received < pl.qty_ordered AND po.status = 'open')))"
            }
        }
    }
}

/// Sortable columns of the product list; each is served by an index on (key, id).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ProductSort {
    #[default]
    Sku,
    Name,
    OnHand,
    Available,
    Waiting,
}

impl ProductSort {
    pub fn parse(text: &str) -> Self {
        match text {
            "name" => Self::Name,
            "on_hand" => Self::OnHand,
            "available" => Self::Available,
            "waiting" => Self::Waiting,
            _ => Self::Sku,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sku => "sku",
            Self::Name => "name",
            Self::OnHand => "on_hand",
            Self::Available => "available",
            Self::Waiting => "waiting",
        }
    }

    /// The sort key over the products alias `t`.
    fn key(self, t: &str) -> String {
        match self {
            Self::Sku => format!("{t}.sku"),
            Self::Name => format!("{t}.name"),
            Self::OnHand => format!("{t}.on_hand"),
            Self::Available => format!("({t}.on_hand - {t}.allocated)"),
            Self::Waiting => format!("{t}.waiting_units"),
        }
    }
}

/// Which page of the list: the first, the one after a product, or the one before it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Cursor {
    #[default]
    First,
    After(i64),
    Before(i64),
}

#[derive(Debug, Clone, Default)]
pub struct ProductQuery {
    pub text: String,
    pub status: Option<StatusFilter>,
    pub supplier_id: Option<i64>,
    pub sort: ProductSort,
    pub descending: bool,
    pub cursor: Cursor,
}

/// One product as the list, the product page and the export show it: the stored product
/// (the read model) with its supplier's name, what is on its way and its stock status.
#[derive(Debug, Clone, QueryableByName)]
pub struct ProductRow {
    #[diesel(embed)]
    pub product: Product,
    #[diesel(sql_type = Nullable<Text>)]
    pub supplier: Option<String>,
    #[diesel(sql_type = Int4)]
    pub available: i32,
    #[diesel(sql_type = BigInt)]
    pub incoming: i64,
    #[diesel(sql_type = Nullable<Date>)]
    pub next_arrival: Option<NaiveDate>,
    #[diesel(sql_type = Text)]
    pub status: String,
}

/// A list row reads as its product (`row.sku`, `row.on_hand`).
impl std::ops::Deref for ProductRow {
    type Target = Product;

    fn deref(&self) -> &Product {
        &self.product
    }
}

impl ProductRow {
    pub fn status_label(&self) -> &'static str {
        if self.status == StockStatus::Preorder.as_str() {
            return StockStatus::Preorder.label();
        }
        StatusFilter::parse(&self.status)
            .map(StatusFilter::label)
            .unwrap_or("unknown")
    }
}

/// A page of the product list, with the cursors of its neighbours.
pub struct ProductPage {
    pub rows: Vec<ProductRow>,
    pub next: Option<i64>,
    pub previous: Option<i64>,
}

/// Products with their supplier, incoming units (open purchase orders) and status, over
/// `FROM`: the products to show, as `products p`. `INCOMING_PER_ROW` or `INCOMING_ALL`
/// joins the incoming units as `inc`.
const PRODUCT_COLUMNS: &str = "
    SELECT p.*, s.name AS supplier, greatest(p.on_hand - p.allocated, 0) AS available,
           coalesce(inc.units, 0)::int8 AS incoming, inc.next_arrival,
           CASE WHEN p.preorder_release_on > current_date THEN 'preorder'
                WHEN p.on_hand - p.allocated <= 0 THEN
                     CASE WHEN p.backorderable AND (s.lead_time_days IS NOT NULL OR coalesce(inc.units, 0) > 0)
                          THEN 'backorder' ELSE 'out_of_stock' END
                WHEN p.on_hand - p.allocated <= p.reorder_point THEN 'low_stock'
                ELSE 'in_stock' END AS status";

/// Incoming units of each shown row, through `purchase_order_lines_incoming_idx`: for a
/// page or one product.
const INCOMING_PER_ROW: &str = "
      LEFT JOIN LATERAL (
           SELECT sum(pl.qty_ordered - pl.qty_received) AS units, min(po.expected_on) AS next_arrival
             FROM purchase_order_lines pl
             JOIN purchase_orders po ON po.id = pl.purchase_order_id
            WHERE pl.product_id = p.id AND pl.qty_received < pl.qty_ordered AND po.status = 'open'
      ) inc ON true";

/// Incoming units of every product at once (one hash join): for the export.
const INCOMING_ALL: &str = "
      LEFT JOIN (
           SELECT pl.product_id, sum(pl.qty_ordered - pl.qty_received) AS units,
                  min(po.expected_on) AS next_arrival
             FROM purchase_order_lines pl
             JOIN purchase_orders po ON po.id = pl.purchase_order_id
            WHERE pl.qty_received < pl.qty_ordered AND po.status = 'open'
            GROUP BY pl.product_id
      ) inc ON inc.product_id = p.id";

/// The LIKE pattern for a search: a SKU prefix for one or two characters (served by the
/// `text_pattern_ops` index), a SKU or name fragment from three on (trigram indexes).
fn search_pattern(text: &str) -> Option<(String, bool)> {
    let text = text.trim().to_lowercase();
    if text.is_empty() {
        return None;
    }
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    if text.chars().count() < 3 {
        Some((format!("{escaped}%"), false))
    } else {
        Some((format!("%{escaped}%"), true))
    }
}

/// The SQL and whether rows come back reversed (a page before a cursor is read backwards).
/// The page's ids are chosen first (filters, sort, limit) and only they get the incoming
/// units, so a broad search does not look up purchase orders for every match.
fn list_sql(
    query: &ProductQuery,
    with_cursor: bool,
    search: Option<bool>,
    export: bool,
) -> (String, bool) {
    let key = query.sort.key("p");
    let backwards = matches!(query.cursor, Cursor::Before(_));
    let descending = query.descending != backwards;
    let dir = if descending { "DESC" } else { "ASC" };
    let mut sql = String::from(
        "WITH shown AS (SELECT p.id FROM products p LEFT JOIN suppliers s ON s.id = p.supplier_id",
    );
    // Every parameter is bound on every query; an unused one is still typed here.
    sql.push_str(" WHERE ($2::int8 IS NULL OR p.supplier_id = $2)");
    // The search stays in the same query as the sort, so the planner, which estimates
    // trigram matches well, chooses: a broad search walks the sort index and stops at
    // the page (1 ms for 5,000 matches of 50,000), a narrow one takes the few matches
    // from the trigram index and sorts them. Matching first in a materialized CTE cost
    // 17 ms for the broad search (every match fetched and sorted).
    match search {
        Some(true) => sql.push_str(" AND (lower(p.sku) LIKE $1 OR lower(p.name) LIKE $1)"),
        Some(false) => sql.push_str(" AND lower(p.sku) LIKE $1"),
        None => sql.push_str(" AND $1::text IS NULL"),
    }
    if let Some(status) = query.status {
        sql.push_str(" AND ");
        sql.push_str(status.sql());
    }
    if with_cursor {
        let op = if descending { "<" } else { ">" };
        let cursor_key = query.sort.key("c");
        sql.push_str(&format!(
            " AND ({key}, p.id) {op} ((SELECT {cursor_key} FROM products c WHERE c.id = $3), $3)"
        ));
    } else {
        sql.push_str(" AND $3::int8 IS NULL");
    }
    sql.push_str(&format!(" ORDER BY {key} {dir}, p.id {dir} LIMIT $4) "));
    sql.push_str(PRODUCT_COLUMNS);
    sql.push_str(
        " FROM shown JOIN products p ON p.id = shown.id LEFT JOIN suppliers s ON s.id = p.supplier_id",
    );
    sql.push_str(if export {
        INCOMING_ALL
    } else {
        INCOMING_PER_ROW
    });
    sql.push_str(&format!(" ORDER BY {key} {dir}, p.id {dir}"));
    (sql, backwards)
}

/// One page of the product list.
pub fn product_page(conn: &mut PgConnection, query: &ProductQuery) -> QueryResult<ProductPage> {
    let cursor_id = match query.cursor {
        Cursor::First => None,
        Cursor::After(id) | Cursor::Before(id) => Some(id),
    };
    let search = search_pattern(&query.text);
    let (sql, backwards) = list_sql(
        query,
        cursor_id.is_some(),
        search.as_ref().map(|s| s.1),
        false,
    );
    let mut rows: Vec<ProductRow> = diesel::sql_query(sql)
        .bind::<Nullable<Text>, _>(search.map(|s| s.0))
        .bind::<Nullable<BigInt>, _>(query.supplier_id)
        .bind::<Nullable<BigInt>, _>(cursor_id)
        .bind::<BigInt, _>(PAGE_SIZE + 1)
        .load(conn)?;
    let more = rows.len() as i64 > PAGE_SIZE;
    rows.truncate(PAGE_SIZE as usize);
    if backwards {
        rows.reverse();
    }
    let first = rows.first().map(|r| r.id);
    let last = rows.last().map(|r| r.id);
    let (next, previous) = match query.cursor {
        Cursor::First => (last.filter(|_| more), None),
        Cursor::After(_) => (last.filter(|_| more), first),
        Cursor::Before(_) => (last, first.filter(|_| more)),
    };
    Ok(ProductPage {
        rows,
        next,
        previous,
    })
}

/// Every product the list's filters match (no paging), for the CSV export.
pub fn export_rows(conn: &mut PgConnection, query: &ProductQuery) -> QueryResult<Vec<ProductRow>> {
    let query = ProductQuery {
        cursor: Cursor::First,
        ..query.clone()
    };
    let search = search_pattern(&query.text);
    let (sql, _) = list_sql(&query, false, search.as_ref().map(|s| s.1), true);
    diesel::sql_query(sql)
        .bind::<Nullable<Text>, _>(search.map(|s| s.0))
        .bind::<Nullable<BigInt>, _>(query.supplier_id)
        .bind::<Nullable<BigInt>, _>(None::<i64>)
        .bind::<BigInt, _>(EXPORT_LIMIT)
        .load(conn)
}

pub fn product_row(conn: &mut PgConnection, sku: &str) -> AppResult<ProductRow> {
    diesel::sql_query(format!(
        "{PRODUCT_COLUMNS} FROM products p LEFT JOIN suppliers s ON s.id = p.supplier_id \
         {INCOMING_PER_ROW} WHERE p.sku = $1"
    ))
    .bind::<Text, _>(sku)
    .get_result(conn)
    .optional()?
    .ok_or_else(|| AppError::NotFound(format!("product {}", crate::types::truncate(sku))))
}

/// Suppliers for the filter and the purchase-order form, by name.
pub fn suppliers(conn: &mut PgConnection) -> QueryResult<Vec<(i64, String)>> {
    suppliers::table
        .order(suppliers::name)
        .select((suppliers::id, suppliers::name))
        .load(conn)
}

/// One row of a product's ledger, with who made it and for which order.
#[derive(Debug, Clone, QueryableByName)]
#[diesel(table_name = stock_movements)]
pub struct LedgerRow {
    pub id: i64,
    pub created_at: DateTime<Utc>,
    pub reason: MovementReason,
    pub on_hand_delta: i32,
    pub allocated_delta: i32,
    pub reference: Option<String>,
    pub note: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub user_name: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub order_number: Option<String>,
}

/// Everything the product page shows.
pub struct ProductDetail {
    pub product: ProductRow,
    pub ledger: Vec<LedgerRow>,
    /// The cursor of the next (older) ledger page.
    pub ledger_older: Option<i64>,
    /// Waiting lines in the shop's queue order.
    pub queue: Vec<QueueRow>,
    pub incoming: Vec<IncomingRow>,
    pub recent_subscriptions: i64,
    /// The "notify me" list (see `subscriptions::sign_ups`) and how many there are in all.
    pub sign_ups: Vec<crate::services::inventory::subscriptions::SignUp>,
    pub sign_ups_total: i64,
    /// Its suppliers, the primary first, with their terms and reliability.
    pub suppliers: Vec<crate::services::purchasing::sourcing::ProductSupplier>,
    /// Its alternatives' SKUs, in order of preference.
    pub alternatives: Vec<String>,
}

impl ProductDetail {
    /// The alternatives as the form shows them ("SKU-B, SKU-C").
    pub fn product_alternatives_text(&self) -> String {
        self.alternatives.join(", ")
    }
}

/// The product's ledger, newest first, `LEDGER_PAGE` rows before `before` (a movement id).
pub fn ledger_page(
    conn: &mut PgConnection,
    product_id: i64,
    before: Option<i64>,
) -> QueryResult<(Vec<LedgerRow>, Option<i64>)> {
    let mut rows: Vec<LedgerRow> = crate::db::prepared::sql(
        "SELECT m.id, m.created_at, m.reason, m.on_hand_delta, m.allocated_delta, m.reference,
                m.note, u.name AS user_name, o.number AS order_number
           FROM stock_movements m
           LEFT JOIN users u ON u.id = m.user_id
           LEFT JOIN order_lines l ON l.id = m.order_line_id
           LEFT JOIN orders o ON o.id = l.order_id
          WHERE m.product_id = $1 AND ($2::int8 IS NULL OR m.id < $2)
          ORDER BY m.id DESC
          LIMIT $3",
    )
    .bind::<BigInt, _>(product_id)
    .bind::<Nullable<BigInt>, _>(before)
    .bind::<BigInt, _>(LEDGER_PAGE + 1)
    .load(conn)?;
    let more = rows.len() as i64 > LEDGER_PAGE;
    rows.truncate(LEDGER_PAGE as usize);
    let older = rows.last().map(|r| r.id).filter(|_| more);
    Ok((rows, older))
}

pub fn product_detail(
    conn: &mut PgConnection,
    sku: &str,
    ledger_before: Option<i64>,
) -> AppResult<ProductDetail> {
    let product = product_row(conn, sku)?;
    let (ledger, ledger_older) = ledger_page(conn, product.id, ledger_before)?;
    let settings = shop_settings::load(conn)?;
    let ctx = Ctx {
        actor: &Actor::System,
        today: crate::clock::today(),
        settings: &settings,
    };
    let queue = engine::queue(conn, product.id, &ctx.queue_policy())?;
    let incoming = stock::incoming(conn, product.id)?;
    use crate::db::schema::restock_subscriptions as rs;
    let recent_subscriptions = rs::table
        .filter(rs::product_id.eq(product.id))
        .filter(rs::notified_at.is_null())
        .filter(rs::unsubscribed_at.is_null())
        .count()
        .get_result(conn)?;
    let (sign_ups, sign_ups_total) =
        crate::services::inventory::subscriptions::sign_ups(conn, product.id)?;
    let suppliers = crate::services::purchasing::sourcing::of_product(conn, product.id)?;
    let alternatives = crate::services::inventory::alternatives::of_product(conn, product.id)?;
    Ok(ProductDetail {
        alternatives,
        suppliers,
        sign_ups,
        sign_ups_total,
        product,
        ledger,
        ledger_older,
        queue,
        incoming,
        recent_subscriptions,
    })
}

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

/// A problem in an uploaded CSV file: spreadsheet row (the header is row 1) and column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportProblem {
    pub row: usize,
    pub column: String,
    pub message: String,
}

pub enum ImportOutcome {
    Imported { created: usize, updated: usize },
    Rejected(Vec<ImportProblem>),
}

/// Columns an import may set. `sku` is required; `name` for new products.
pub const IMPORT_COLUMNS: [&str; 8] = [
    "sku",
    "name",
    "supplier",
    "reorder_point",
    "safety_stock",
    "backorderable",
    "unit_price",
    "alternatives",
];
/// Columns of the export that an import accepts and ignores (stock changes go through
/// adjustments with a reason, and the rest is computed).
pub const EXPORT_ONLY_COLUMNS: [&str; 9] = [
    "on_hand",
    "allocated",
    "available",
    "waiting_units",
    "waiting_lines",
    "incoming",
    "next_arrival",
    "status",
    "unit_price_cents",
];

/// The export's header, in order; an exported file imports back unchanged.
pub const EXPORT_HEADER: [&str; 14] = [
    "sku",
    "name",
    "supplier",
    "on_hand",
    "allocated",
    "available",
    "waiting_units",
    "waiting_lines",
    "incoming",
    "next_arrival",
    "status",
    "reorder_point",
    "safety_stock",
    "backorderable",
];

/// The export of `rows` as CSV text (the import's columns plus read-only figures).
pub fn export_csv(
    rows: &[ProductRow],
    alternatives: &HashMap<i64, Vec<String>>,
) -> anyhow::Result<Vec<u8>> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<&str> = EXPORT_HEADER.to_vec();
    header.push("unit_price");
    // SKUs separated by spaces, in order of preference (as the import reads them).
    header.push("alternatives");
    csv_cells::write_row(&mut writer, &header)?;
    for r in rows {
        csv_cells::write_row(
            &mut writer,
            [
                r.sku.clone(),
                r.name.clone(),
                r.supplier.clone().unwrap_or_default(),
                r.on_hand.to_string(),
                r.allocated.to_string(),
                r.available.to_string(),
                r.waiting_units.to_string(),
                r.waiting_lines.to_string(),
                r.incoming.to_string(),
                r.next_arrival.map(|d| d.to_string()).unwrap_or_default(),
                r.status.clone(),
                r.reorder_point.to_string(),
                r.safety_stock.to_string(),
                if r.backorderable { "yes" } else { "no" }.to_owned(),
                format!(
                    "{}.{:02}",
                    r.unit_price_cents / 100,
                    r.unit_price_cents % 100
                ),
                alternatives
                    .get(&r.id)
                    .map(|list| list.join(" "))
                    .unwrap_or_default(),
            ],
        )?;
    }
    Ok(writer.into_inner()?)
}

/// The CSV export of every product the list's filters match, alternatives included.
pub fn export_file(conn: &mut PgConnection, query: &ProductQuery) -> AppResult<Vec<u8>> {
    let rows = export_rows(conn, query)?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let alternatives = crate::services::inventory::alternatives::of_products(conn, &ids)?;
    Ok(export_csv(&rows, &alternatives)?)
}

/// One checked row of an import.
#[derive(Debug, Clone)]
struct ImportRow {
    row: usize,
    sku: Sku,
    name: Option<String>,
    supplier: Option<String>,
    reorder_point: Option<i32>,
    safety_stock: Option<i32>,
    backorderable: Option<bool>,
    unit_price_cents: Option<i64>,
    /// Replaces the product's alternatives when the cell is not empty.
    alternatives: Option<Vec<String>>,
}

/// Reads and checks every row; returns the rows only when all are valid.
fn parse_import(bytes: &[u8]) -> Result<Vec<ImportRow>, Vec<ImportProblem>> {
    let problem = |row: usize, column: &str, message: String| ImportProblem {
        row,
        column: column.to_owned(),
        message,
    };
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(vec![problem(1, "", "the file is empty".to_owned())]);
    }
    // A spreadsheet never writes one, and PostgreSQL cannot store it.
    if let Some(at) = bytes.iter().position(|b| *b == 0) {
        let row = bytes[..at].iter().filter(|b| **b == b'\n').count() + 1;
        return Err(vec![problem(
            row,
            "",
            "this row has a NUL character, which text cannot hold; is this a CSV file?".to_owned(),
        )]);
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut records = reader.byte_records();
    let header = match records.next() {
        Some(Ok(header)) => header,
        Some(Err(e)) => {
            return Err(vec![problem(
                1,
                "",
                format!("the header cannot be read: {e}"),
            )]);
        }
        None => return Err(vec![problem(1, "", "the file is empty".to_owned())]),
    };
    let mut problems = Vec::new();
    let mut columns: Vec<String> = Vec::new();
    for (i, cell) in header.iter().enumerate() {
        match std::str::from_utf8(cell) {
            Ok(name) => {
                let name = name.trim().to_ascii_lowercase();
                if !IMPORT_COLUMNS.contains(&name.as_str())
                    && !EXPORT_ONLY_COLUMNS.contains(&name.as_str())
                {
                    problems.push(problem(
                        1,
                        &name,
                        format!(
                            "unknown column {:?} (column {}); the columns are {}",
                            crate::types::truncate(&name),
                            i + 1,
                            IMPORT_COLUMNS.join(", ")
                        ),
                    ));
                } else if columns.contains(&name) {
                    problems.push(problem(1, &name, "this column appears twice".to_owned()));
                }
                columns.push(name);
            }
            Err(_) => {
                problems.push(problem(
                    1,
                    &format!("column {}", i + 1),
                    "the header is not UTF-8 text; save the file as CSV UTF-8".to_owned(),
                ));
                columns.push(String::new());
            }
        }
    }
    if !columns.iter().any(|c| c == "sku") {
        problems.push(problem(1, "sku", "the sku column is missing".to_owned()));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut rows = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (index, record) in records.enumerate() {
        let row = index + 2;
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                problems.push(problem(row, "", format!("this row cannot be read: {e}")));
                continue;
            }
        };
        if record
            .iter()
            .all(|cell| cell.iter().all(u8::is_ascii_whitespace))
        {
            continue;
        }
        if record.len() != columns.len() {
            problems.push(problem(
                row,
                "",
                format!(
                    "this row has {} cells; the header has {}",
                    record.len(),
                    columns.len()
                ),
            ));
            continue;
        }
        let mut cells: HashMap<&str, &str> = HashMap::new();
        let mut readable = true;
        for (column, cell) in columns.iter().zip(record.iter()) {
            match std::str::from_utf8(cell) {
                Ok(text) => {
                    cells.insert(column.as_str(), csv_cells::restore(text.trim()));
                }
                Err(_) => {
                    readable = false;
                    problems.push(problem(
                        row,
                        column,
                        "is not UTF-8 text; save the file as CSV UTF-8".to_owned(),
                    ));
                }
            }
        }
        if !readable {
            continue;
        }
        let before = problems.len();
        let sku = match Sku::parse(cells.get("sku").copied().unwrap_or_default()) {
            Ok(sku) => Some(sku),
            Err(e) => {
                problems.push(problem(row, "sku", e.to_string()));
                None
            }
        };
        if let Some(sku) = &sku {
            if let Some(first) = seen.insert(sku.as_str().to_owned(), row) {
                problems.push(problem(
                    row,
                    "sku",
                    format!("{sku} appears twice in the file (rows {first} and {row})"),
                ));
            }
        }
        let text =
            |column: &str, max: usize, problems: &mut Vec<ImportProblem>| -> Option<String> {
                let value = cells.get(column).copied().filter(|v| !v.is_empty())?;
                let value = match crate::types::single_line(value) {
                    Ok(value) => value,
                    Err(message) => {
                        problems.push(problem(row, column, message));
                        return None;
                    }
                };
                if value.chars().count() > max {
                    problems.push(problem(
                        row,
                        column,
                        format!("is longer than {max} characters"),
                    ));
                    return None;
                }
                Some(value)
            };
        let name = text("name", 300, &mut problems);
        let supplier = text("supplier", 200, &mut problems);
        let number = |column: &str, problems: &mut Vec<ImportProblem>| -> Option<i32> {
            let value = cells.get(column).copied().filter(|v| !v.is_empty())?;
            parse_units(value)
                .map_err(|e| problems.push(problem(row, column, e)))
                .ok()
        };
        let reorder_point = number("reorder_point", &mut problems);
        let safety_stock = number("safety_stock", &mut problems);
        let backorderable = cells
            .get("backorderable")
            .copied()
            .filter(|v| !v.is_empty())
            .and_then(|v| {
                parse_yes_no(v)
                    .map_err(|e| problems.push(problem(row, "backorderable", e)))
                    .ok()
            });
        let unit_price_cents = cells
            .get("unit_price")
            .copied()
            .filter(|v| !v.is_empty())
            .and_then(|v| {
                parse_price(v)
                    .map_err(|e| problems.push(problem(row, "unit_price", e)))
                    .ok()
            });
        let alternatives = cells
            .get("alternatives")
            .copied()
            .filter(|v| !v.is_empty())
            .map(crate::services::inventory::alternatives::parse_list);
        if let (Some(sku), Some(list)) = (&sku, &alternatives) {
            for found in crate::services::inventory::alternatives::check_entries(sku.as_str(), list)
            {
                problems.push(problem(row, "alternatives", found.message));
            }
        }
        if problems.len() == before
            && let Some(sku) = sku
        {
            rows.push(ImportRow {
                row,
                sku,
                name,
                supplier,
                reorder_point,
                safety_stock,
                backorderable,
                unit_price_cents,
                alternatives,
            });
        }
    }
    if rows.is_empty() && problems.is_empty() {
        problems.push(problem(
            2,
            "",
            "the file has a header but no products".to_owned(),
        ));
    }
    if problems.is_empty() {
        Ok(rows)
    } else {
        Err(problems)
    }
}

/// Creates or updates products by SKU from a CSV file: every row valid or nothing changes.
pub fn import_csv(
    conn: &mut PgConnection,
    actor: &Actor,
    bytes: &[u8],
    today: NaiveDate,
) -> AppResult<ImportOutcome> {
    import_csv_with(conn, actor, bytes, today, &Progress::hidden())
}

/// `import_csv`, reporting each row as it is stored (the command line's import).
pub fn import_csv_with(
    conn: &mut PgConnection,
    actor: &Actor,
    bytes: &[u8],
    today: NaiveDate,
    progress: &Progress,
) -> AppResult<ImportOutcome> {
    let rows = match parse_import(bytes) {
        Ok(rows) => rows,
        Err(problems) => return Ok(ImportOutcome::Rejected(problems)),
    };
    progress.stage("Importing products", rows.len() as u64);
    let outcome = conn.transaction::<_, ImportError, _>(|conn| {
        let skus: Vec<String> = rows.iter().map(|r| r.sku.as_str().to_owned()).collect();
        let existing: HashMap<String, i64> = stock::ids_by_sku(conn, &skus)?.into_iter().collect();
        let missing_names: Vec<ImportProblem> = rows
            .iter()
            .filter(|r| r.name.is_none() && !existing.contains_key(r.sku.as_str()))
            .map(|r| ImportProblem {
                row: r.row,
                column: "name".to_owned(),
                message: format!("{} is a new product and needs a name", r.sku),
            })
            .collect();
        if !missing_names.is_empty() {
            return Err(ImportError::Rows(missing_names));
        }
        let (mut created, mut updated) = (0, 0);
        // Alternatives after every row is stored: they may name products of this file.
        let mut alternatives = Vec::new();
        for row in rows {
            let number = row.row;
            if let Some(list) = row.alternatives {
                alternatives.push((number, row.sku.clone(), list));
            }
            let changes = ProductChanges {
                sku: row.sku,
                name: row.name,
                supplier: row.supplier,
                on_hand: None,
                backorderable: row.backorderable,
                reorder_point: row.reorder_point,
                safety_stock: row.safety_stock,
                unit_price_cents: row.unit_price_cents,
                suppliers: None,
                preorder_release_on: None,
                alternatives: None,
            };
            progress.advance(1);
            match catalog::upsert_product(conn, actor, changes, today) {
                Ok(catalog::Upserted::Created(_)) => created += 1,
                Ok(catalog::Upserted::Updated(_)) => updated += 1,
                // Anything the checks above missed still names its row, and rolls back all.
                Err(AppError::Invalid { details, .. }) => {
                    return Err(ImportError::Rows(
                        details
                            .into_iter()
                            .map(|d| ImportProblem {
                                row: number,
                                column: d.field,
                                message: d.message,
                            })
                            .collect(),
                    ));
                }
                Err(other) => return Err(ImportError::App(other)),
            }
        }
        for (number, sku, list) in alternatives {
            let product_id = stock::find_by_sku(conn, sku.as_str())?
                .ok_or(diesel::result::Error::NotFound)?
                .id;
            match crate::services::inventory::alternatives::replace(
                conn,
                product_id,
                sku.as_str(),
                &list,
            ) {
                Ok(()) => {}
                Err(AppError::Invalid { details, .. }) => {
                    return Err(ImportError::Rows(
                        details
                            .into_iter()
                            .map(|d| ImportProblem {
                                row: number,
                                column: "alternatives".to_owned(),
                                message: d.message,
                            })
                            .collect(),
                    ));
                }
                Err(other) => return Err(ImportError::App(other)),
            }
        }
        audit::record(
            conn,
            actor,
            "products_imported",
            "product",
            None,
            None,
            Some(serde_json::json!({ "created": created, "updated": updated })),
        )?;
        Ok(ImportOutcome::Imported { created, updated })
    });
    match outcome {
        Ok(outcome) => Ok(outcome),
        Err(ImportError::Rows(problems)) => Ok(ImportOutcome::Rejected(problems)),
        Err(ImportError::App(error)) => Err(error),
    }
}

/// Row problems leave the transaction as an error, so it rolls back.
enum ImportError {
    Rows(Vec<ImportProblem>),
    App(AppError),
}

impl From<diesel::result::Error> for ImportError {
    fn from(error: diesel::result::Error) -> Self {
        Self::App(error.into())
    }
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

    #[test]
    fn an_import_names_row_and_column_of_each_problem() {
        let file = b"sku,name,reorder_point\nA-1,Anvil,5\nA-2,Bolt,lots\nA-1,Again,1\n";
        let problems = parse_import(file).unwrap_err();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert_eq!(
            (problems[0].row, problems[0].column.as_str()),
            (3, "reorder_point")
        );
        assert_eq!((problems[1].row, problems[1].column.as_str()), (4, "sku"));
    }

    #[test]
    fn wrong_headers_and_bad_bytes_are_reported() {
        let problems = parse_import(b"sku,colour\nA-1,red\n").unwrap_err();
        assert_eq!(problems[0].column, "colour");
        let problems = parse_import(b"sku,name\nA-1,Caf\xe9\n").unwrap_err();
        assert_eq!((problems[0].row, problems[0].column.as_str()), (2, "name"));
    }

    #[test]
    fn an_export_imports_back() {
        let header = EXPORT_HEADER.join(",") + ",unit_price\n";
        let file = header + "A-1,Anvil,Acme,3,1,2,0,0,0,,in_stock,1,0,yes,9.99\n";
        let rows = parse_import(file.as_bytes()).unwrap();
        assert_eq!(rows[0].alternatives, None);
        let header = EXPORT_HEADER.join(",") + ",unit_price,alternatives\n";
        let file = header + "A-1,Anvil,Acme,3,1,2,0,0,0,,in_stock,1,0,yes,9.99,A-2 A-3\n";
        let rows = parse_import(file.as_bytes()).unwrap();
        assert_eq!(rows[0].unit_price_cents, Some(999));
        assert_eq!(rows[0].backorderable, Some(true));
        assert_eq!(
            rows[0].alternatives,
            Some(vec!["A-2".to_owned(), "A-3".to_owned()])
        );
    }
}
