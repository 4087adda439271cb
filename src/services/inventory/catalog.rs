//! Products: create or update (API and CSV), stock adjustments, and availability for the
//! storefront.

use chrono::NaiveDate;
use diesel::prelude::*;
use serde::Serialize;

use crate::db::audit::{self, Actor};
use crate::db::models::MovementReason;
use crate::db::schema::{products, suppliers};
use crate::db::shop_settings;
use crate::db::stock::{self, NewMovement, Product};
use crate::domain::{self, StockStatus};
use crate::error::{AppError, AppResult};
use crate::services::engine::{self, Ctx};
use crate::services::purchasing::sourcing::{self, ProductSupplier, SupplierEntry};
use crate::types::Sku;

/// Fields to set on a product; `None` leaves a field as it is (or at its default on create).
#[derive(Debug, Clone)]
pub struct ProductChanges {
    pub sku: Sku,
    pub name: Option<String>,
    pub supplier: Option<String>,
    pub on_hand: Option<i32>,
    pub backorderable: Option<bool>,
    pub reorder_point: Option<i32>,
    pub safety_stock: Option<i32>,
    pub unit_price_cents: Option<i64>,
    /// Replaces the product's suppliers (the first becomes the primary) when given.
    pub suppliers: Option<Vec<SupplierEntry>>,
    /// `Some(None)` clears a pre-order's release day.
    pub preorder_release_on: Option<Option<NaiveDate>>,
    /// Replaces the product's alternatives (SKUs, in order of preference) when given.
    pub alternatives: Option<Vec<String>>,
}

impl ProductChanges {
    /// Changes nothing but names the product: the start of a change to a few fields.
    pub fn of(sku: Sku) -> Self {
        Self {
            sku,
            name: None,
            supplier: None,
            on_hand: None,
            backorderable: None,
            reorder_point: None,
            safety_stock: None,
            unit_price_cents: None,
            suppliers: None,
            preorder_release_on: None,
            alternatives: None,
        }
    }
}

pub enum Upserted {
    Created(ProductView),
    Updated(ProductView),
}

/// A product as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ProductView {
    pub sku: String,
    pub name: String,
    pub supplier: Option<String>,
    pub on_hand: i32,
    pub allocated: i32,
    pub available: i32,
    pub waiting: i32,
    pub backorderable: bool,
    pub reorder_point: i32,
    pub safety_stock: i32,
    pub unit_price_cents: i64,
    /// A pre-order's release day (null: not a pre-order).
    pub preorder_release_on: Option<NaiveDate>,
    #[schema(schema_with = stock_status_schema)]
    pub status: StockStatus,
    /// Every supplier of the product, the primary (`supplier`) first.
    pub suppliers: Vec<ProductSupplier>,
    /// Other SKUs a waiting customer may take instead, in order of preference.
    pub alternatives: Vec<String>,
}

/// A product as `PUT /api/v1/products/{sku}` takes it: what `GET` answers, so a read,
/// an edit and a write back change only what was edited.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ProductDocument {
    pub sku: String,
    pub name: String,
    pub supplier: Option<String>,
    pub on_hand: i32,
    pub backorderable: bool,
    pub reorder_point: i32,
    pub safety_stock: i32,
    pub unit_price_cents: i64,
    /// Every supplier of the product with its terms, the primary (`supplier`) first.
    pub suppliers: Vec<ProductSupplier>,
    /// A pre-order's release day (null: not a pre-order).
    pub preorder_release_on: Option<NaiveDate>,
    /// Other SKUs a waiting customer may take instead, in order of preference.
    pub alternatives: Vec<String>,
}

/// The product with `sku` as the API's PUT takes it; `None` when there is none.
pub fn document(conn: &mut PgConnection, sku: &str) -> AppResult<Option<ProductDocument>> {
    let Some(product) = stock::find_by_sku(conn, sku)? else {
        return Ok(None);
    };
    let supplier = primary_supplier(conn, &product)?;
    Ok(Some(ProductDocument {
        supplier,
        on_hand: product.on_hand,
        backorderable: product.backorderable,
        reorder_point: product.reorder_point,
        safety_stock: product.safety_stock,
        unit_price_cents: product.unit_price_cents,
        suppliers: sourcing::of_product(conn, product.id)?,
        preorder_release_on: product.preorder_release_on,
        alternatives: super::alternatives::of_product(conn, product.id)?,
        sku: product.sku,
        name: product.name,
    }))
}

/// Whether a SKU can be sold now, and when a new order for one unit would ship.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Availability {
    pub sku: String,
    #[schema(schema_with = stock_status_schema)]
    pub status: StockStatus,
    pub available: i32,
    pub eta_likely: Option<NaiveDate>,
    pub eta_worst: Option<NaiveDate>,
    /// A pre-order's release day, while it is ahead (`status` is then `preorder`); left
    /// out otherwise, so the answer for other products is as it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preorder_release_on: Option<NaiveDate>,
}

/// A string schema that allows only `words` (for the API's document).
pub fn word_schema(words: &[&str]) -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(words.iter().copied()))
        .build()
}

/// The stock statuses as the domain writes them (`StockStatus`, snake_case).
fn stock_status_schema() -> utoipa::openapi::Object {
    word_schema(&[
        "in_stock",
        "low_stock",
        "backorder",
        "out_of_stock",
        "preorder",
    ])
}

pub use crate::services::purchasing::sourcing::supplier_id;

fn status_of(
    conn: &mut PgConnection,
    product: &Product,
    today: NaiveDate,
) -> AppResult<StockStatus> {
    if product.held_for_release(today) {
        return Ok(StockStatus::Preorder);
    }
    let known = crate::services::engine::eta::supply_known(conn, std::slice::from_ref(product))?
        .contains(&product.id);
    Ok(domain::stock_status(
        product.available().max(0) as u32,
        product.reorder_point.max(0) as u32,
        product.backorderable,
        known,
    ))
}

pub fn view(
    conn: &mut PgConnection,
    product: &Product,
    today: NaiveDate,
) -> AppResult<ProductView> {
    let supplier = primary_supplier(conn, product)?;
    Ok(ProductView {
        sku: product.sku.clone(),
        name: product.name.clone(),
        supplier,
        on_hand: product.on_hand,
        allocated: product.allocated,
        available: product.available(),
        waiting: product.waiting_units,
        backorderable: product.backorderable,
        reorder_point: product.reorder_point,
        safety_stock: product.safety_stock,
        unit_price_cents: product.unit_price_cents,
        suppliers: sourcing::of_product(conn, product.id)?,
        preorder_release_on: product.preorder_release_on,
        status: status_of(conn, product, today)?,
        alternatives: super::alternatives::of_product(conn, product.id)?,
    })
}

/// The name of the product's primary supplier, if it has one.
fn primary_supplier(conn: &mut PgConnection, product: &Product) -> QueryResult<Option<String>> {
    product
        .supplier_id
        .map(|id| {
            suppliers::table
                .find(id)
                .select(suppliers::name)
                .first::<String>(conn)
        })
        .transpose()
}

fn lock_by_sku(conn: &mut PgConnection, sku: &str) -> QueryResult<Option<Product>> {
    products::table
        .filter(products::sku.eq(sku))
        .for_update()
        .select(Product::as_select())
        .first(conn)
        .optional()
}

/// Creates or updates a product. A rise in `on_hand` is an adjustment that allocates down
/// the queue like a receipt; a fall may not take units promised to orders.
pub fn upsert_product(
    conn: &mut PgConnection,
    actor: &Actor,
    changes: ProductChanges,
    today: NaiveDate,
) -> AppResult<Upserted> {
    conn.transaction(|conn| {
        let settings = shop_settings::load(conn)?;
        let ctx = Ctx {
            actor,
            today,
            settings: &settings,
        };
        let supplier_id = match &changes.supplier {
            Some(name) => Some(supplier_id(conn, name)?),
            None => None,
        };
        let existing = lock_by_sku(conn, changes.sku.as_str())?;
        let release_before = existing.as_ref().and_then(|p| p.preorder_release_on);
        let created = existing.is_none();
        let (mut product, before) = match existing {
            Some(product) => {
                let before = serde_json::to_value(view(conn, &product, today)?).ok();
                let product = diesel::update(products::table.find(product.id))
                    .set((
                        changes.name.as_ref().map(|n| products::name.eq(n.clone())),
                        supplier_id.map(|id| products::supplier_id.eq(Some(id))),
                        changes.backorderable.map(|b| products::backorderable.eq(b)),
                        changes.reorder_point.map(|n| products::reorder_point.eq(n)),
                        changes.safety_stock.map(|n| products::safety_stock.eq(n)),
                        changes
                            .unit_price_cents
                            .map(|n| products::unit_price_cents.eq(n)),
                        changes
                            .preorder_release_on
                            .map(|d| products::preorder_release_on.eq(d)),
                        products::updated_at.eq(chrono::Utc::now()),
                    ))
                    .returning(Product::as_returning())
                    .get_result(conn)?;
                (product, before)
            }
            None => {
                let name = changes
                    .name
                    .clone()
                    .ok_or_else(|| AppError::invalid("name", "a new product needs a name"))?;
                let product = diesel::insert_into(products::table)
                    .values((
                        products::sku.eq(changes.sku.as_str()),
                        products::name.eq(name),
                        products::supplier_id.eq(supplier_id),
                        products::backorderable.eq(changes.backorderable.unwrap_or(true)),
                        products::reorder_point.eq(changes.reorder_point.unwrap_or(0)),
                        products::safety_stock.eq(changes.safety_stock.unwrap_or(0)),
                        products::unit_price_cents.eq(changes.unit_price_cents.unwrap_or(0)),
                        products::preorder_release_on.eq(changes.preorder_release_on.flatten()),
                    ))
                    .returning(Product::as_returning())
                    .get_result(conn)?;
                (product, None)
            }
        };
        match (&changes.suppliers, supplier_id) {
            (Some(list), _) => {
                if let (Some(primary), Some(first)) = (&changes.supplier, list.first())
                    && !primary.eq_ignore_ascii_case(first.name.trim())
                {
                    return Err(AppError::invalid(
                        "supplier",
                        "the primary supplier must be the first of suppliers",
                    ));
                }
                sourcing::replace(conn, product.id, list)?;
            }
            (None, Some(primary)) => sourcing::make_primary(conn, product.id, primary)?,
            (None, None) => {}
        }
        if let Some(list) = &changes.alternatives {
            super::alternatives::replace(conn, product.id, &product.sku, list)?;
        }
        if changes.suppliers.is_some() {
            product =
                stock::find_by_sku(conn, &product.sku)?.ok_or(diesel::result::Error::NotFound)?;
        }
        if let Some(on_hand) = changes.on_hand {
            let change = on_hand - product.on_hand;
            if change != 0 {
                adjust(
                    conn,
                    &ctx,
                    &mut product,
                    change,
                    "stock set through the API",
                    None,
                )?;
            }
        }
        // A release day cleared or moved to today lets held stock go down the queue.
        if product.available() > 0 && product.waiting_lines > 0 {
            let restocked = engine::fill_queue(conn, &ctx, &mut product, None)?;
            crate::services::engine::notify::restocked(conn, &ctx, &product, restocked)?;
        }
        if product.waiting_lines > 0 {
            // What moved the dates: a pre-order's release day, else the stock.
            let cause = if product.preorder_release_on != release_before {
                crate::domain::EtaCause::ReleaseMoved
            } else {
                crate::domain::EtaCause::StockCorrected
            };
            let effects = engine::refresh_etas(conn, &ctx, &product, &cause)?;
            crate::services::engine::notify::eta_changes(conn, &ctx, effects)?;
        }
        let after = view(conn, &product, today)?;
        audit::record(
            conn,
            actor,
            if created {
                "product_created"
            } else {
                "product_updated"
            },
            "product",
            Some(product.sku.clone()),
            before,
            serde_json::to_value(&after).ok(),
        )?;
        Ok(if created {
            Upserted::Created(after)
        } else {
            Upserted::Updated(after)
        })
    })
}

/// Changes a locked product's `on_hand` by `change` with a ledger row; an increase fills
/// the queue. A decrease that would take allocated units is refused.
pub fn adjust(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    product: &mut Product,
    change: i32,
    note: &str,
    reference: Option<&str>,
) -> AppResult<Vec<engine::Filled>> {
    let levels = domain::StockLevels {
        on_hand: product.on_hand.max(0) as u32,
        allocated: product.allocated.max(0) as u32,
    };
    levels.adjusted(i64::from(change)).map_err(|e| {
        AppError::invalid(
            "on_hand",
            match e {
                domain::StockError::RemovesAllocatedUnits { available, requested } => format!(
                    "{} cannot lose {requested} units: only {available} are not allocated to orders",
                    product.sku
                ),
                domain::StockError::TooManyUnits => format!(
                    "{} would have {} units; {e}",
                    product.sku,
                    i64::from(product.on_hand) + i64::from(change)
                ),
            },
        )
    })?;
    engine::change_product(conn, product, change, 0, 0, 0)?;
    stock::record_movements(
        conn,
        &[NewMovement {
            product_id: product.id,
            reason: MovementReason::Adjustment,
            on_hand_delta: change,
            allocated_delta: 0,
            reference: reference.map(str::to_owned),
            note: Some(note.to_owned()),
            order_line_id: None,
            user_id: ctx.user_id(),
        }],
    )?;
    if change > 0 {
        let restocked = engine::fill_queue(conn, ctx, product, reference)?;
        return crate::services::engine::notify::restocked(conn, ctx, product, restocked);
    }
    Ok(Vec::new())
}

/// Status, free units and the ETA a new order for one unit would get.
pub fn availability(
    conn: &mut PgConnection,
    sku: &str,
    today: NaiveDate,
) -> AppResult<Option<Availability>> {
    let Some(product) = stock::find_by_sku(conn, sku)? else {
        return Ok(None);
    };
    let settings = shop_settings::load(conn)?;
    let status = status_of(conn, &product, today)?;
    let (eta_likely, eta_worst) = match status {
        StockStatus::OutOfStock => (None, None),
        StockStatus::InStock | StockStatus::LowStock => {
            let ships = today + chrono::Duration::days(i64::from(settings.handling_days.max(0)));
            (Some(ships), Some(ships))
        }
        StockStatus::Backorder | StockStatus::Preorder => {
            let ctx = Ctx {
                actor: &Actor::System,
                today,
                settings: &settings,
            };
            let eta = crate::services::engine::eta::new_order_eta(conn, &ctx, &product)?;
            (eta.likely, eta.worst)
        }
    };
    Ok(Some(Availability {
        sku: product.sku.clone(),
        status,
        // Held for the release: nothing can be taken from the shelf yet.
        available: if status == StockStatus::Preorder {
            0
        } else {
            product.available()
        },
        eta_likely,
        eta_worst,
        preorder_release_on: product.preorder_release_on.filter(|&d| d > today),
    }))
}

/// What the delivery worker runs every minute (`email::worker::WorkerConfig::periodic`):
/// the pre-orders whose release day has come fill their queues, then the messages'
/// periodic jobs (`messages::periodic::periodic_jobs`) send what is due, restock emails included.
pub fn periodic_jobs(conn: &mut PgConnection) -> anyhow::Result<()> {
    let released =
        release_preorders(conn, crate::clock::today()).map_err(|e| anyhow::anyhow!("{e}"))?;
    if released > 0 {
        tracing::info!(released, "pre-order lines filled on their release day");
    }
    crate::services::messages::periodic::periodic_jobs(conn)
}

/// The periodic job's half of a pre-order's release: every product whose release day has
/// come, with stock held and lines waiting, fills its queue (each product in its own
/// transaction, locked). Returns the lines served.
pub fn release_preorders(conn: &mut PgConnection, today: NaiveDate) -> AppResult<usize> {
    let due: Vec<i64> = products::table
        .filter(products::preorder_release_on.le(today))
        .filter(products::waiting_lines.gt(0))
        .filter(products::on_hand.gt(products::allocated))
        .select(products::id)
        .load(conn)?;
    let mut served = 0;
    for id in due {
        served += conn.transaction(|conn| -> AppResult<usize> {
            let settings = shop_settings::load(conn)?;
            let ctx = Ctx {
                actor: &Actor::System,
                today,
                settings: &settings,
            };
            let Some(mut product) = stock::lock_products(conn, &[id])?.pop() else {
                return Ok(0);
            };
            let restocked = engine::fill_queue(conn, &ctx, &mut product, None)?;
            let filled =
                crate::services::engine::notify::restocked(conn, &ctx, &product, restocked)?;
            if product.waiting_lines > 0 {
                let effects = engine::refresh_etas(
                    conn,
                    &ctx,
                    &product,
                    &crate::domain::EtaCause::SupplyChanged,
                )?;
                crate::services::engine::notify::eta_changes(conn, &ctx, effects)?;
            }
            Ok(filled.len())
        })?;
    }
    Ok(served)
}
