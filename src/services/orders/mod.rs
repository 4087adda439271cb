//! Orders: intake through the engine (DESIGN §4.1), and the order as the API and the
//! pages show it.

pub mod choices;
pub mod fulfilment;
pub mod lanes;
pub mod lookup;
pub mod order_actions;
pub mod order_page;
pub mod order_status;
pub mod search;
pub mod timeline;

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, Text};
use serde::Serialize;
use serde_json::json;

use crate::db::audit::{self, Actor};
use crate::db::models::{Id, MovementReason, OrderLine, OrderLineInsert};
use crate::db::schema::{order_lines, orders, products};
use crate::db::shop_settings;
use crate::db::stock::{self, NewMovement};
use crate::domain::intake::RefusalReason;
use crate::domain::{self, ProductForIntake, Quantity, RequestedLine};
use crate::error::{AppError, AppResult, FieldError};
use crate::services::engine::{self, Ctx};
use crate::types::{Email, Reference, Sku};

pub struct NewOrder {
    pub number: Reference,
    /// When the storefront took the order. `None`: the server's clock at intake, read
    /// once the order's products are locked, so that of two orders racing for the same
    /// units the one that gets the lock first is also the earlier one in the queue.
    pub placed_at: Option<DateTime<Utc>>,
    pub customer_email: Email,
    pub customer_name: String,
    pub lines: Vec<NewOrderLine>,
    pub payment_authorized_until: Option<NaiveDate>,
    pub max_wait_until: Option<NaiveDate>,
    /// A digest of the request that made it: the same request again is the same order.
    pub request_hash: String,
}

pub struct NewOrderLine {
    pub sku: Sku,
    pub quantity: i32,
    pub unit_price_cents: i64,
}

pub enum Placed {
    Created(OrderView),
    AlreadyStored(OrderView),
}

/// An order as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OrderView {
    pub number: String,
    #[schema(schema_with = order_status_schema)]
    pub status: &'static str,
    pub lines: Vec<OrderLineView>,
}

/// A line of an order: units, what waits, and the ETA with its reason.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OrderLineView {
    pub sku: String,
    pub quantity: i32,
    pub allocated: i32,
    pub shipped: i32,
    pub cancelled: i32,
    pub waiting: i32,
    pub eta_likely: Option<NaiveDate>,
    pub eta_worst: Option<NaiveDate>,
    pub eta_is_estimate: bool,
    pub promised_on: Option<NaiveDate>,
    pub reason: Option<String>,
}

impl OrderLineView {
    /// The API's view of a stored line: dates and their reason only while units wait.
    fn of(line: &OrderLine, sku: String) -> Self {
        let waits = line.waiting > 0;
        Self {
            sku,
            quantity: line.qty,
            allocated: line.allocated,
            shipped: line.shipped,
            cancelled: line.cancelled,
            waiting: line.waiting,
            eta_likely: line.eta_likely.filter(|_| waits),
            eta_worst: line.eta_worst.filter(|_| waits),
            eta_is_estimate: waits && line.eta_is_estimate,
            promised_on: line.promised_on,
            reason: line.eta_reason.clone().filter(|_| waits),
        }
    }
}

/// The words `order_status` answers.
pub const ORDER_STATUSES: [&str; 5] = [
    "cancelled",
    "shipped",
    "backordered",
    "partially_shipped",
    "ready_to_ship",
];

fn order_status_schema() -> utoipa::openapi::Object {
    crate::services::inventory::catalog::word_schema(&ORDER_STATUSES)
}

/// The order's state in one word, from its lines.
pub fn order_status(lines: &[OrderLineView]) -> &'static str {
    let all = |f: &dyn Fn(&OrderLineView) -> bool| lines.iter().all(f);
    let any = |f: &dyn Fn(&OrderLineView) -> bool| lines.iter().any(f);
    if all(&|l| l.cancelled == l.quantity) {
        "cancelled"
    } else if all(&|l| l.shipped + l.cancelled == l.quantity) {
        "shipped"
    } else if any(&|l| l.waiting > 0) {
        "backordered"
    } else if any(&|l| l.shipped > 0) {
        "partially_shipped"
    } else {
        "ready_to_ship"
    }
}

pub fn order_view(
    conn: &mut PgConnection,
    number: &str,
    _today: NaiveDate,
) -> AppResult<Option<OrderView>> {
    let lines: Vec<OrderLineView> = order_lines::table
        .inner_join(orders::table)
        .inner_join(products::table)
        .filter(orders::number.eq(number))
        .order(order_lines::id)
        .select((OrderLine::as_select(), products::sku))
        .load::<(OrderLine, String)>(conn)?
        .into_iter()
        .map(|(line, sku)| OrderLineView::of(&line, sku))
        .collect();
    if lines.is_empty() {
        return Ok(None);
    }
    Ok(Some(OrderView {
        number: number.to_owned(),
        status: order_status(&lines),
        lines,
    }))
}

fn refusal_message(sku: &str, reason: &RefusalReason) -> String {
    match reason {
        RefusalReason::UnknownProduct => format!("there is no product with SKU {sku}"),
        RefusalReason::NotBackorderable {
            available,
            requested,
        } => format!(
            "{sku} is out of stock and cannot be backordered: {available} available, {requested} asked for"
        ),
        RefusalReason::NoSupplyKnown {
            available,
            requested,
        } => format!(
            "{sku} is out of stock with no supply expected: {available} available, {requested} asked for"
        ),
    }
}

/// Places an order: takes free stock, queues the rest, projects ETAs and promises, all in
/// one transaction. The same request again returns the stored order; a different request
/// under a stored number is a conflict.
pub fn place_order(
    conn: &mut PgConnection,
    actor: &Actor,
    order: NewOrder,
    today: NaiveDate,
) -> AppResult<Placed> {
    conn.transaction(|conn| {
        // Two requests with one number wait for each other here instead of racing.
        crate::db::prepared::sql("SELECT pg_advisory_xact_lock(hashtext('order:' || $1)::int8)")
            .bind::<Text, _>(order.number.as_str())
            .execute(conn)?;
        place_with_number_locked(conn, actor, &order, today, &mut ReadOnce::default())
    })
}

/// Places orders that arrived together in ONE transaction (group commit, issue 17): their
/// numbers and products are locked once, in a fixed order (so two batches never wait for
/// each other in a circle), the shop's settings and evidence are read once, and each order
/// runs in a savepoint of its own, so a refused order (422, 409) undoes only itself. The
/// answers, in the orders' order, hold only once the whole batch is committed; orders are
/// placed in the order given, each stamped after the locks are held, so the queue stays in
/// arrival order. When the batch itself fails (a deadlock with another writer, a lost
/// connection, an order failing for a reason of ours), each order is placed again alone.
pub fn place_orders_together(
    conn: &mut PgConnection,
    orders: Vec<(Actor, NewOrder)>,
    today: NaiveDate,
) -> Vec<AppResult<Placed>> {
    if orders.len() == 1 {
        return orders
            .into_iter()
            .map(|(actor, order)| place_order(conn, &actor, order, today))
            .collect();
    }
    let batch = conn.transaction(|conn| {
        let mut numbers: Vec<&str> = orders.iter().map(|(_, o)| o.number.as_str()).collect();
        numbers.sort_unstable();
        numbers.dedup();
        crate::db::prepared::sql(
            "SELECT count(pg_advisory_xact_lock(hashtext('order:' || n)::int8))
               FROM (SELECT n FROM unnest($1::text[]) n ORDER BY n) ordered",
        )
        .bind::<Array<Text>, _>(&numbers)
        .execute(conn)?;
        let mut skus: Vec<String> = orders
            .iter()
            .flat_map(|(_, o)| o.lines.iter().map(|l| l.sku.to_string()))
            .collect();
        skus.sort_unstable();
        skus.dedup();
        stock::lock_products_by_sku(conn, &skus)?;
        let mut once = ReadOnce {
            settings: Some(shop_settings::load(conn)?),
            evidence: None,
            products_locked: true,
            supplied: HashSet::new(),
        };
        let mut placed = Vec::with_capacity(orders.len());
        for (actor, order) in &orders {
            let result = conn
                .transaction(|conn| place_with_number_locked(conn, actor, order, today, &mut once));
            if let Err(error @ (AppError::Internal(_) | AppError::Unavailable(_))) = result {
                return Err(error);
            }
            placed.push(result);
        }
        Ok(placed)
    });
    match batch {
        Ok(placed) => placed,
        Err(error) => {
            tracing::warn!(%error, orders = orders.len(), "a batch of orders failed; placing them one by one");
            orders
                .into_iter()
                .map(|(actor, order)| place_order(conn, &actor, order, today))
                .collect()
        }
    }
}

/// What the orders of one transaction read once for all of them; for a single order it is
/// read when first needed.
#[derive(Default)]
struct ReadOnce {
    settings: Option<shop_settings::ShopSettings>,
    evidence: Option<crate::services::engine::eta::ShopEvidence>,
    /// The batch holds every product's lock already: an order locks its products at once
    /// instead of looking first and locking after.
    products_locked: bool,
    /// Products known to have supply coming (an open purchase order or a supplier's lead
    /// time): intake changes neither, so within one transaction the answer stands.
    supplied: HashSet<i64>,
}

impl ReadOnce {
    fn settings(&mut self, conn: &mut PgConnection) -> AppResult<shop_settings::ShopSettings> {
        if self.settings.is_none() {
            self.settings = Some(shop_settings::load(conn)?);
        }
        self.settings
            .clone()
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("shop settings not read")))
    }

    fn evidence(
        &mut self,
        conn: &mut PgConnection,
        today: NaiveDate,
    ) -> AppResult<&crate::services::engine::eta::ShopEvidence> {
        if self.evidence.is_none() {
            self.evidence = Some(crate::services::engine::eta::shop_evidence(conn, today)?);
        }
        self.evidence
            .as_ref()
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("shop evidence not read")))
    }

    /// Which of `products` can be backordered with an end in sight, asking only about the
    /// ones not yet known to.
    fn supplied(
        &mut self,
        conn: &mut PgConnection,
        products: &[stock::Product],
    ) -> AppResult<HashSet<i64>> {
        let unknown: Vec<stock::Product> = products
            .iter()
            .filter(|p| !self.supplied.contains(&p.id))
            .cloned()
            .collect();
        if !unknown.is_empty() {
            self.supplied
                .extend(crate::services::engine::eta::supply_known(conn, &unknown)?);
        }
        Ok(products
            .iter()
            .map(|p| p.id)
            .filter(|id| self.supplied.contains(id))
            .collect())
    }
}

/// The order once its number is locked: the stored one again, a conflict, or a new order.
fn place_with_number_locked(
    conn: &mut PgConnection,
    actor: &Actor,
    order: &NewOrder,
    today: NaiveDate,
    once: &mut ReadOnce,
) -> AppResult<Placed> {
    let existing: Option<Option<String>> = orders::table
        .filter(orders::number.eq(order.number.as_str()))
        .select(orders::request_hash)
        .first(conn)
        .optional()?;
    if let Some(stored_hash) = existing {
        let view = order_view(conn, order.number.as_str(), today)?
            .ok_or_else(|| AppError::not_found("the order"))?;
        return if stored_hash.as_deref() == Some(order.request_hash.as_str()) {
            Ok(Placed::AlreadyStored(view))
        } else {
            Err(AppError::Conflict(format!(
                "order {} exists already with different contents",
                order.number
            )))
        };
    }
    let view = intake(conn, actor, order, today, once)?;
    Ok(Placed::Created(view))
}

/// How far ahead of the server's clock an order's time may be (clocks differ a little).
pub const PLACED_AT_MAX_AHEAD_MINUTES: i64 = 5;

/// An order's time decides its place in line, so one from the future, or older than the
/// shop accepts (`placed_at_max_age_days`), would jump the queue: refused, naming
/// `placed_at`. Every intake path goes through here.
pub fn check_placed_at(
    placed_at: DateTime<Utc>,
    now: DateTime<Utc>,
    max_age_days: i32,
) -> AppResult<()> {
    if placed_at > now + chrono::Duration::minutes(PLACED_AT_MAX_AHEAD_MINUTES) {
        return Err(AppError::invalid(
            "placed_at",
            format!(
                "the order time {} is in the future (more than {PLACED_AT_MAX_AHEAD_MINUTES} minutes after now, {})",
                placed_at.to_rfc3339(),
                now.format("%Y-%m-%dT%H:%M:%SZ")
            ),
        ));
    }
    if placed_at < now - chrono::Duration::days(i64::from(max_age_days)) {
        return Err(AppError::invalid(
            "placed_at",
            format!(
                "the order time {} is more than {max_age_days} days ago; the shop accepts orders placed within {max_age_days} days",
                placed_at.to_rfc3339()
            ),
        ));
    }
    Ok(())
}

fn intake(
    conn: &mut PgConnection,
    actor: &Actor,
    order: &NewOrder,
    today: NaiveDate,
    once: &mut ReadOnce,
) -> AppResult<OrderView> {
    let settings = once.settings(conn)?;
    if let Some(given) = order.placed_at {
        check_placed_at(given, crate::clock::now(), settings.placed_at_max_age_days)?;
    }
    let ctx = Ctx {
        actor,
        today,
        settings: &settings,
    };
    let skus: Vec<String> = order
        .lines
        .iter()
        .map(|l| l.sku.to_string())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let unlocked = if once.products_locked {
        stock::lock_products_by_sku(conn, &skus)?
    } else {
        stock::by_skus(conn, &skus)?
    };
    let ids: HashMap<String, i64> = unlocked.iter().map(|p| (p.sku.clone(), p.id)).collect();
    let unknown: Vec<FieldError> = order
        .lines
        .iter()
        .enumerate()
        .filter(|(_, line)| !ids.contains_key(line.sku.as_str()))
        .map(|(i, line)| {
            FieldError::new(
                format!("lines[{i}].sku"),
                format!("there is no product with SKU {}", line.sku),
            )
        })
        .collect();
    if !unknown.is_empty() {
        return Err(AppError::invalid_fields(unknown));
    }
    // Everything that does not depend on the products' stock is done before they are
    // locked: every other order for them waits while they are.
    let customer_id = upsert_customer(conn, &order.customer_email, &order.customer_name)?;
    if short_of_stock(&unlocked, order, &ids, today) {
        once.evidence(conn, today)?;
    }
    let mut products = if once.products_locked {
        unlocked
    } else {
        let id_list: Vec<i64> = ids.values().copied().collect();
        stock::lock_products(conn, &id_list)?
    };
    // Read only now: an order that waited for these locks is stamped after the one that
    // held them, so lock order is time order and the queue (placed_at, then id) is
    // first come, first served under any concurrency.
    let placed_at = order.placed_at.unwrap_or_else(crate::clock::now);
    // Free units while lines wait (every restock fills the queue, so this is a repair) go
    // down the queue first, earliest placed_at first, never to the newcomer.
    let mut repaired = HashSet::new();
    for product in products.iter_mut() {
        if product.available() > 0 && product.waiting_lines > 0 {
            let restocked = engine::fill_queue(conn, &ctx, product, None)?;
            crate::services::engine::notify::restocked(conn, &ctx, product, restocked)?;
            repaired.insert(product.id);
        }
    }
    // Whether a product can be backordered matters only when the order takes more than
    // is free; most orders are served from the shelf and skip the question.
    let short = short_of_stock(&products, order, &ids, today);
    let supplied = if short {
        once.supplied(conn, &products)?
    } else {
        HashSet::new()
    };
    let for_intake: Vec<ProductForIntake> = products
        .iter()
        .map(|p| {
            Ok(ProductForIntake {
                sku: domain::Sku::parse(&p.sku)
                    .map_err(|e| anyhow::anyhow!("stored SKU {:?}: {e}", p.sku))?,
                // Before its release a pre-order takes every order into the queue.
                available: if p.held_for_release(today) {
                    0
                } else {
                    p.available().max(0) as u32
                },
                backorderable: p.backorderable || p.held_for_release(today),
                supply_known: supplied.contains(&p.id) || p.held_for_release(today),
            })
        })
        .collect::<AppResult<_>>()?;
    let requested: Vec<RequestedLine> = order
        .lines
        .iter()
        .map(|l| {
            Ok(RequestedLine {
                sku: l.sku.clone(),
                quantity: Quantity::new(l.quantity as u32)
                    .map_err(|e| AppError::invalid("quantity", e.to_string()))?,
            })
        })
        .collect::<AppResult<_>>()?;
    let plan = domain::take_order(&for_intake, &requested).map_err(|refused| {
        AppError::invalid_fields(
            refused
                .refusals
                .iter()
                .map(|r| {
                    FieldError::new(
                        format!("lines[{}].sku", r.line_index),
                        refusal_message(r.sku.as_str(), &r.reason),
                    )
                })
                .collect(),
        )
    })?;

    let order_id: i64 = diesel::insert_into(orders::table)
        .values((
            orders::number.eq(order.number.as_str()),
            orders::customer_id.eq(customer_id),
            orders::placed_at.eq(placed_at),
            orders::payment_authorized_until.eq(order.payment_authorized_until),
            orders::max_wait_until.eq(order.max_wait_until),
            orders::request_hash.eq(&order.request_hash),
        ))
        .returning(orders::id)
        .get_result(conn)?;

    let rows: Vec<OrderLineInsert> = order
        .lines
        .iter()
        .zip(&plan.lines)
        .map(|(line, taken)| OrderLineInsert {
            order_id,
            product_id: ids[line.sku.as_str()],
            customer_id,
            placed_at,
            qty: line.quantity,
            allocated: taken.allocated as i32,
            unit_price_cents: line.unit_price_cents,
            waiting_since: (taken.backordered > 0).then_some(placed_at),
        })
        .collect();
    let line_ids: Vec<i64> = diesel::insert_into(order_lines::table)
        .values(rows)
        .returning(order_lines::id)
        .get_results(conn)?;

    let mut movements = Vec::new();
    let mut effects = engine::EtaEffects::default();
    for product in &mut products {
        let mut allocated = 0;
        let mut backordered = 0;
        let mut joined = Vec::new();
        for ((line, taken), line_id) in order.lines.iter().zip(&plan.lines).zip(&line_ids) {
            if ids[line.sku.as_str()] != product.id {
                continue;
            }
            allocated += taken.allocated as i32;
            backordered += taken.backordered as i32;
            if taken.backordered > 0 {
                joined.push(*line_id);
            }
            if taken.allocated > 0 {
                movements.push(NewMovement {
                    product_id: product.id,
                    reason: MovementReason::Allocation,
                    on_hand_delta: 0,
                    allocated_delta: taken.allocated as i32,
                    reference: Some(order.number.to_string()),
                    note: None,
                    order_line_id: Some(*line_id),
                    user_id: ctx.user_id(),
                });
            }
        }
        engine::change_product(
            conn,
            product,
            0,
            allocated,
            backordered,
            joined.len() as i32,
        )?;
        let cause = crate::domain::EtaCause::QueueAhead;
        if joined.is_empty() {
            continue;
        }
        if repaired.contains(&product.id) {
            // Free units went down the queue first: places ahead changed, date it all.
            effects.extend(engine::refresh_etas(conn, &ctx, product, &cause)?);
        } else {
            // The new lines and, when they go in ahead of others (an earlier
            // `placed_at`, a higher tier), the lines they move back. (Read now if stock
            // went between the first look and the lock.)
            let evidence = once.evidence(conn, today)?;
            effects.extend(engine::date_joined_lines(
                conn, &ctx, product, &joined, evidence, &cause,
            )?);
        }
    }
    crate::services::engine::notify::eta_changes(conn, &ctx, effects)?;
    stock::record_movements(conn, &movements)?;
    if plan.lines.iter().any(|taken| taken.backordered > 0) {
        crate::services::messages::triggers::queue_backorder_notice(conn, &ctx, order_id)?;
    }
    let view = order_view(conn, order.number.as_str(), today)?
        .ok_or_else(|| AppError::not_found("the order"))?;
    audit::record(
        conn,
        actor,
        "order_placed",
        "order",
        Some(order.number.to_string()),
        None,
        Some(
            json!({ "customer": order.customer_email.as_str(), "status": view.status, "lines": order.lines.len() }),
        ),
    )?;
    Ok(view)
}

/// Whether the order asks any of its products for more than is free (or one is a
/// pre-order not yet released): then lines wait, and need dates.
fn short_of_stock(
    products: &[stock::Product],
    order: &NewOrder,
    ids: &HashMap<String, i64>,
    today: NaiveDate,
) -> bool {
    products.iter().any(|p| {
        let requested: i64 = order
            .lines
            .iter()
            .filter(|l| ids.get(l.sku.as_str()) == Some(&p.id))
            .map(|l| i64::from(l.quantity))
            .sum();
        requested > i64::from(p.available().max(0)) || p.held_for_release(today)
    })
}

/// The customer's id, creating the customer on first order (email compared without case).
pub fn upsert_customer(conn: &mut PgConnection, email: &Email, name: &str) -> QueryResult<i64> {
    let row: Id = crate::db::prepared::sql(
        "INSERT INTO customers (email, name) VALUES ($1, $2)
         ON CONFLICT ((lower(email))) DO UPDATE SET name = customers.name
         RETURNING id",
    )
    .bind::<Text, _>(email.as_str())
    .bind::<Text, _>(name)
    .get_result(conn)?;
    Ok(row.id)
}
