//! Loading what the ETA projection needs (open purchase orders, the supplier's slip
//! history) and turning the domain's projection into what is stored and shown.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Date, Int4, Nullable, Text};

use crate::db::models::Id;
use crate::db::shop_settings::ShopSettings;
use crate::db::stock::{self, Product};
use crate::domain::{
    self, EtaSettings, IncomingPurchaseOrder, LineEta, ProductSupply, PromiseRecord, SlipHistory,
    SlipPrior, SupplierEvidence, SupplierFacts, WaitingLine,
};
use crate::error::AppResult;
use crate::services::engine::events::{Ctx, StoredEta};

pub fn eta_settings(settings: &ShopSettings) -> EtaSettings {
    EtaSettings {
        samples: settings.eta_samples.clamp(1, 5000) as u32,
        worst_percentile: settings.eta_worst_percentile.clamp(50, 99) as u8,
        handling_days: settings.handling_days.max(0) as u32,
        ..EtaSettings::default()
    }
}

/// What the dates of every product share on `today`: the shop's pooled slips and the
/// record of its recent promises. Shop-wide counts that do not depend on any product, so
/// intake reads them once for a whole batch of orders (and only when one of its lines
/// waits), not once per order while holding the product every other order waits for.
#[derive(Clone, Debug)]
pub struct ShopEvidence {
    pub prior: SlipPrior,
    pub promises: PromiseRecord,
}

pub fn shop_evidence(conn: &mut PgConnection, today: NaiveDate) -> AppResult<ShopEvidence> {
    Ok(ShopEvidence {
        prior: shop_prior(conn, today)?,
        promises: shop_promises(conn, today)?,
    })
}

/// Everything that can refill `product`, with the shop's pooled slips on `today`.
pub fn product_supply(
    conn: &mut PgConnection,
    product: &Product,
    today: NaiveDate,
) -> AppResult<ProductSupply> {
    let evidence = shop_evidence(conn, today)?;
    product_supply_with(conn, product, &evidence)
}

/// [`product_supply`] with the shop's evidence already read.
pub fn product_supply_with(
    conn: &mut PgConnection,
    product: &Product,
    evidence: &ShopEvidence,
) -> AppResult<ProductSupply> {
    products_supply_with(conn, &[product], evidence)?
        .remove(&product.id)
        .ok_or_else(|| anyhow::anyhow!("no supply read for product {}", product.id).into())
}

/// [`product_supply_with`] for several products, by product id, in two statements
/// whatever their number: their open purchase orders, and their primary suppliers.
pub fn products_supply_with(
    conn: &mut PgConnection,
    products: &[&Product],
    evidence: &ShopEvidence,
) -> AppResult<HashMap<i64, ProductSupply>> {
    let ids: Vec<i64> = products.iter().map(|p| p.id).collect();
    // Every open purchase order for the SKU, whatever its supplier (a product can be
    // bought from several): the primary's history below only shapes their slips.
    let mut incoming: HashMap<i64, Vec<IncomingPurchaseOrder>> = HashMap::new();
    for row in stock::incoming(conn, &ids)? {
        incoming
            .entry(row.product_id)
            .or_default()
            .push(IncomingPurchaseOrder {
                reference: row.reference,
                outstanding_units: row.outstanding.max(0) as u32,
                expected_on: row.expected_on,
            });
    }
    let supplied: Vec<(i64, i64)> = products
        .iter()
        .filter_map(|p| p.supplier_id.map(|supplier_id| (p.id, supplier_id)))
        .collect();
    let mut suppliers = supplier_facts(conn, &supplied)?;
    products
        .iter()
        .map(|product| {
            let supply = ProductSupply {
                sku: domain::Sku::parse(&product.sku)
                    .map_err(|e| anyhow::anyhow!("stored SKU {:?}: {e}", product.sku))?,
                available_now: product.available().max(0) as u32,
                incoming: incoming.remove(&product.id).unwrap_or_default(),
                supplier: suppliers.remove(&product.id),
                prior: evidence.prior.clone(),
                release_on: product.preorder_release_on,
                promises: evidence.promises,
            };
            Ok((product.id, supply))
        })
        .collect()
}

/// The primary supplier of each product (`(product id, supplier id)`) as its dates need
/// it, by product id, in one statement: its name, the lead time (the product's own terms
/// with it when set), the slip of every receipt (oldest first), and the expected dates of
/// its open purchase orders with nothing received yet (once overdue, the domain counts
/// them as slips still running).
fn supplier_facts(
    conn: &mut PgConnection,
    supplied: &[(i64, i64)],
) -> AppResult<HashMap<i64, SupplierFacts>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = BigInt)]
        product_id: i64,
        #[diesel(sql_type = Text)]
        name: String,
        #[diesel(sql_type = Nullable<Int4>)]
        lead_time_days: Option<i32>,
        #[diesel(sql_type = Array<Int4>)]
        slips: Vec<i32>,
        #[diesel(sql_type = Array<Date>)]
        unreceived: Vec<NaiveDate>,
    }
    if supplied.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<Row> = crate::db::prepared::sql(
        "SELECT g.product_id, s.name, coalesce(ps.lead_time_days, s.lead_time_days) AS lead_time_days,
                coalesce((SELECT array_agg((r.received_on - r.expected_on)::int4 ORDER BY r.id)
                            FROM purchase_order_receipts r
                            JOIN purchase_orders po ON po.id = r.purchase_order_id
                           WHERE po.supplier_id = s.id), '{}') AS slips,
                coalesce((SELECT array_agg(po.expected_on ORDER BY po.id)
                            FROM purchase_orders po
                           WHERE po.supplier_id = s.id AND po.status = 'open'
                             AND NOT EXISTS (SELECT 1 FROM purchase_order_receipts r
                                              WHERE r.purchase_order_id = po.id)), '{}') AS unreceived
           FROM unnest($1::int8[], $2::int8[]) AS g(product_id, supplier_id)
           JOIN suppliers s ON s.id = g.supplier_id
           LEFT JOIN product_suppliers ps ON ps.product_id = g.product_id AND ps.supplier_id = s.id",
    )
    .bind::<Array<BigInt>, _>(supplied.iter().map(|s| s.0).collect::<Vec<_>>())
    .bind::<Array<BigInt>, _>(supplied.iter().map(|s| s.1).collect::<Vec<_>>())
    .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let facts = SupplierFacts {
                name: row.name,
                lead_time_days: row.lead_time_days.map(|days| days.max(0) as u32),
                slips: SlipHistory::new(row.slips),
                unreceived_expected_on: row.unreceived,
            };
            (row.product_id, facts)
        })
        .collect())
}

/// How the shop's recent promises fared (`domain::calibration`): the same outcomes as
/// `domain::promise_outcome`, judged as the daily review judges them
/// (`services::review::promises_kept`). Counted once a day per database and kept in
/// memory, as the simulator counts it: the count reads a year of lines (half a second
/// over a million orders, too much for every order), and what it counts resolves only
/// from one day to the next. Nothing is written, so concurrent orders never wait on it.
fn shop_promises(conn: &mut PgConnection, today: NaiveDate) -> AppResult<PromiseRecord> {
    static COUNTED: Mutex<Vec<(String, NaiveDate, PromiseRecord)>> = Mutex::new(Vec::new());

    let database: String =
        diesel::select(diesel::dsl::sql::<Text>("current_database()")).get_result(conn)?;
    let counted = |database: &str| {
        COUNTED
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .iter()
            .find(|(db, day, _)| db == database && *day == today)
            .map(|(_, _, record)| *record)
    };
    if let Some(record) = counted(&database) {
        return Ok(record);
    }
    let (resolved, kept) = count_promises(conn, today)?;
    let record = PromiseRecord {
        resolved: resolved.max(0) as u64,
        kept: kept.max(0) as u64,
    };
    let mut all = COUNTED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    all.retain(|(db, day, _)| *db != database || *day > today);
    if !all
        .iter()
        .any(|(db, day, _)| *db == database && *day == today)
    {
        all.push((database, today, record));
    }
    Ok(record)
}

/// The count behind `shop_promises`: one grouped query over the promises of the window.
fn count_promises(conn: &mut PgConnection, today: NaiveDate) -> AppResult<(i64, i64)> {
    #[derive(QueryableByName)]
    struct Counts {
        #[diesel(sql_type = BigInt)]
        resolved: i64,
        #[diesel(sql_type = BigInt)]
        kept: i64,
    }
    let counts: Counts = crate::db::prepared::sql(
        "SELECT count(*) FILTER (WHERE kept OR promised_on < $1) AS resolved,
                count(*) FILTER (WHERE kept) AS kept
           FROM (SELECT promised_on,
                        coalesce(completed_at IS NOT NULL AND shipped > 0
                                 AND (completed_at AT TIME ZONE current_setting('TimeZone'))::date < $1
                                 AND (completed_at AT TIME ZONE current_setting('TimeZone'))::date <= promised_on,
                                 false) AS kept
                   FROM order_lines
                  WHERE promised_on >= $2 AND cancelled < qty) l",
    )
    .bind::<Date, _>(today)
    .bind::<Date, _>(domain::calibration::window_start(today))
    .get_result(conn)?;
    Ok((counts.resolved, counts.kept))
}

/// The prior of every supplier's slip estimate (DESIGN §4.7): each supplier's receipt
/// slips and unreceived open purchase orders, counted in two grouped queries.
fn shop_prior(conn: &mut PgConnection, today: NaiveDate) -> AppResult<SlipPrior> {
    #[derive(QueryableByName)]
    struct Slips {
        #[diesel(sql_type = BigInt)]
        supplier_id: i64,
        #[diesel(sql_type = Int4)]
        slip_days: i32,
        #[diesel(sql_type = BigInt)]
        receipts: i64,
    }
    #[derive(QueryableByName)]
    struct Unreceived {
        #[diesel(sql_type = BigInt)]
        supplier_id: i64,
        #[diesel(sql_type = Date)]
        expected_on: NaiveDate,
        #[diesel(sql_type = BigInt)]
        orders: i64,
    }
    let slips: Vec<Slips> = crate::db::prepared::sql(
        "SELECT po.supplier_id, (r.received_on - r.expected_on)::int4 AS slip_days, count(*) AS receipts
           FROM purchase_order_receipts r
           JOIN purchase_orders po ON po.id = r.purchase_order_id
          GROUP BY 1, 2",
    )
    .load(conn)?;
    let unreceived: Vec<Unreceived> = crate::db::prepared::sql(
        "SELECT po.supplier_id, po.expected_on, count(*) AS orders
           FROM purchase_orders po
          WHERE po.status = 'open'
            AND NOT EXISTS (SELECT 1 FROM purchase_order_receipts r WHERE r.purchase_order_id = po.id)
          GROUP BY 1, 2",
    )
    .load(conn)?;
    let mut by_supplier: BTreeMap<i64, (Vec<i32>, Vec<NaiveDate>)> = BTreeMap::new();
    for row in slips {
        let entry = by_supplier.entry(row.supplier_id).or_default();
        entry.0.extend(std::iter::repeat_n(
            row.slip_days,
            row.receipts.max(0) as usize,
        ));
    }
    for row in unreceived {
        let entry = by_supplier.entry(row.supplier_id).or_default();
        entry.1.extend(std::iter::repeat_n(
            row.expected_on,
            row.orders.max(0) as usize,
        ));
    }
    let evidence: Vec<SupplierEvidence<'_>> = by_supplier
        .values()
        .map(|(slips, unreceived)| SupplierEvidence {
            slips,
            unreceived_expected_on: unreceived,
        })
        .collect();
    Ok(SlipPrior::new(today, &evidence))
}

fn stored(eta: LineEta) -> StoredEta {
    StoredEta {
        likely: eta.likely,
        worst: eta.worst,
        is_estimate: eta.is_estimate,
        reason: eta.reason.to_sentence(),
        covering_po: match eta.reason.covered_by {
            domain::CoveredBy::PurchaseOrder {
                reference,
                expected_on,
                ..
            } => Some((reference, expected_on)),
            _ => None,
        },
    }
}

/// The ETA of each waiting line, in queue order (`waiting[i]` units for the i-th line).
pub fn project(ctx: &Ctx<'_>, supply: &ProductSupply, waiting: &[u32]) -> Vec<StoredEta> {
    project_after(ctx, supply, &domain::QueueAhead::default(), waiting)
}

/// The ETAs of lines at the back of the queue, after what waits `ahead` of them.
pub fn project_after(
    ctx: &Ctx<'_>,
    supply: &ProductSupply,
    ahead: &domain::QueueAhead,
    waiting: &[u32],
) -> Vec<StoredEta> {
    let queue: Vec<WaitingLine> = waiting
        .iter()
        .enumerate()
        .map(|(i, &units)| WaitingLine {
            line_id: i as i64,
            waiting_units: units,
        })
        .collect();
    domain::project_queue_after(
        ctx.today,
        supply,
        ahead,
        &queue,
        &eta_settings(ctx.settings),
    )
    .into_iter()
    .map(stored)
    .collect()
}

/// The ETA a new order for one unit of `product` would get. Only the total waiting ahead
/// matters for a line at the back, so the queue is one line of all its units.
pub fn new_order_eta(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    product: &Product,
) -> AppResult<StoredEta> {
    let supply = product_supply(conn, product, ctx.today)?;
    let ahead = [WaitingLine {
        line_id: 0,
        waiting_units: product.waiting_units.max(0) as u32,
    }];
    let queue = if product.waiting_units > 0 {
        &ahead[..]
    } else {
        &[][..]
    };
    Ok(stored(domain::eta_for_new_order(
        ctx.today,
        &supply,
        queue,
        &eta_settings(ctx.settings),
    )))
}

/// Which of these products can be backordered with an end in sight: an open purchase
/// order, or a supplier with a lead time (DESIGN §1).
pub fn supply_known(conn: &mut PgConnection, products: &[Product]) -> AppResult<HashSet<i64>> {
    let ids: Vec<i64> = products.iter().map(|p| p.id).collect();
    let rows: Vec<Id> = crate::db::prepared::sql(
        "SELECT p.id FROM products p
           LEFT JOIN suppliers s ON s.id = p.supplier_id
          WHERE p.id = ANY($1)
            AND (s.lead_time_days IS NOT NULL
                 OR EXISTS (SELECT 1 FROM product_suppliers ps WHERE ps.product_id = p.id AND ps.lead_time_days IS NOT NULL)
                 OR EXISTS (SELECT 1 FROM purchase_order_lines pl JOIN purchase_orders po ON po.id = pl.purchase_order_id
                             WHERE pl.product_id = p.id AND pl.qty_received < pl.qty_ordered AND po.status = 'open'))",
    )
    .bind::<Array<BigInt>, _>(ids)
    .load(conn)?;
    Ok(rows.into_iter().map(|row| row.id).collect())
}
