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

use chrono::{DateTime, NaiveDate, SubsecRound, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Date, Nullable, SmallInt, Text, Timestamptz};
use serde::Serialize;
use serde_json::json;

use crate::db::audit::{self, Actor};
use crate::db::models::{MovementReason, OrderLine, OrderLineInsert};
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
/// under a stored number is a conflict. It is the batch of one of
/// [`place_orders_together`]: one intake for every path.
pub fn place_order(
    conn: &mut PgConnection,
    actor: &Actor,
    order: NewOrder,
    today: NaiveDate,
) -> AppResult<Placed> {
    let orders = [(actor.clone(), order)];
    conn.transaction(|conn| {
        place_together(conn, &orders, today)?
            .pop()
            .unwrap_or_else(|| {
                Err(AppError::Internal(anyhow::anyhow!(
                    "an order went unanswered"
                )))
            })
    })
}

/// Places orders that arrived together in ONE transaction (group commit, issue 17) and
/// in a constant number of statements whatever their number (`place_together`). The
/// answers, in the orders' order, hold only once the whole batch is committed. When the
/// batch itself fails (a deadlock with another writer, a lost connection, a failure of
/// ours), each order is placed again alone.
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
    match conn.transaction(|conn| place_together(conn, &orders, today)) {
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

/// An order of a batch decided in memory, before anything is written.
struct Accepted<'a> {
    actor: &'a Actor,
    order: &'a NewOrder,
    placed_at: DateTime<Utc>,
    /// What each of its lines took: (product id, units allocated, units backordered).
    taken: Vec<(i64, i32, i32)>,
}

/// What a batch answers an order before its view is read.
enum Answer {
    Created(String),
    Stored(String),
    Refused(AppError),
}

/// The set-based intake of a batch, in the caller's transaction. The orders' numbers are
/// locked (so two requests with one number wait for each other instead of racing), then
/// their products (in id order, so two batches never wait for each other in a circle),
/// then the customers (in email order); every path of intake locks in this order. Each
/// order is then decided in memory in arrival order against the products' stock as the
/// orders before it left it, stamped after the locks are held (so the queue stays in
/// arrival order): a stored number answers the stored order or a conflict, a refusal
/// (unknown SKU, not backorderable, a bad `placed_at`) writes nothing. The accepted
/// orders are written together: a statement per table, the products' changes in one,
/// one dating of every product's new lines (`engine::date_joined_lines`), the backorder
/// notices together, and one read of every answered order's lines for the answers.
fn place_together(
    conn: &mut PgConnection,
    orders: &[(Actor, NewOrder)],
    today: NaiveDate,
) -> AppResult<Vec<AppResult<Placed>>> {
    let Some((first_actor, _)) = orders.first() else {
        return Ok(Vec::new());
    };
    let mut numbers: Vec<&str> = orders.iter().map(|(_, o)| o.number.as_str()).collect();
    numbers.sort_unstable();
    numbers.dedup();
    crate::db::prepared::sql(
        "SELECT count(pg_advisory_xact_lock(hashtext('order:' || n)::int8))
           FROM (SELECT n FROM unnest($1::text[]) n ORDER BY n) ordered",
    )
    .bind::<Array<Text>, _>(&numbers)
    .execute(conn)?;
    let stored: HashMap<String, Option<String>> = orders::table
        .filter(orders::number.eq_any(&numbers))
        .select((orders::number, orders::request_hash))
        .load::<(String, Option<String>)>(conn)?
        .into_iter()
        .collect();
    let mut skus: Vec<String> = orders
        .iter()
        .filter(|(_, o)| !stored.contains_key(o.number.as_str()))
        .flat_map(|(_, o)| o.lines.iter().map(|l| l.sku.to_string()))
        .collect();
    skus.sort_unstable();
    skus.dedup();
    let mut products = if skus.is_empty() {
        Vec::new()
    } else {
        stock::lock_products_by_sku(conn, &skus)?
    };
    let settings = shop_settings::load(conn)?;
    let ctx = Ctx {
        actor: first_actor,
        today,
        settings: &settings,
    };
    // Free units while lines wait (every restock fills the queue, so this is a repair) go
    // down the queue first, earliest placed_at first, never to a newcomer.
    let mut repaired = HashSet::new();
    for product in products.iter_mut() {
        if product.available() > 0 && product.waiting_lines > 0 {
            let restocked = engine::fill_queue(conn, &ctx, product, None)?;
            crate::services::engine::notify::restocked(conn, &ctx, product, restocked)?;
            repaired.insert(product.id);
        }
    }

    let now = crate::clock::now();
    // Whether a product can be backordered matters only when an order takes more than is
    // free; intake changes no supply, so one look serves the batch.
    let mut supplied: Option<HashSet<i64>> = None;
    // The numbers this batch places, with their request's digest.
    let mut placed_here: HashMap<&str, &str> = HashMap::new();
    let mut answers = Vec::with_capacity(orders.len());
    let mut accepted = Vec::new();
    for (actor, order) in orders {
        let number = order.number.as_str();
        let earlier = match stored.get(number) {
            Some(hash) => Some(hash.as_deref()),
            None => placed_here.get(number).map(|hash| Some(*hash)),
        };
        if let Some(hash) = earlier {
            answers.push(if hash == Some(order.request_hash.as_str()) {
                Answer::Stored(number.to_owned())
            } else {
                Answer::Refused(AppError::Conflict(format!(
                    "order {number} exists already with different contents"
                )))
            });
            continue;
        }
        if let Err(refused) = check_order(order, &products, now, settings.placed_at_max_age_days) {
            answers.push(Answer::Refused(refused));
            continue;
        }
        if supplied.is_none() && short_of_stock(&products, order, today) {
            supplied = Some(crate::services::engine::eta::supply_known(conn, &products)?);
        }
        let none = HashSet::new();
        match plan_order(
            order,
            &mut products,
            supplied.as_ref().unwrap_or(&none),
            today,
        ) {
            Ok(taken) => {
                placed_here.insert(number, order.request_hash.as_str());
                answers.push(Answer::Created(number.to_owned()));
                accepted.push(Accepted {
                    actor,
                    order,
                    // Read only now: an order that waited for these locks is stamped after
                    // the ones that held them, so lock order is time order and the queue
                    // (placed_at, then id) is first come, first served. To the microsecond
                    // PostgreSQL keeps, so the queue's order here is the one stored.
                    placed_at: order
                        .placed_at
                        .unwrap_or_else(crate::clock::now)
                        .trunc_subsecs(6),
                    taken,
                });
            }
            Err(refused) => answers.push(Answer::Refused(refused)),
        }
    }
    write_accepted(conn, &ctx, &mut products, &repaired, &accepted)?;

    let answered: Vec<&str> = answers
        .iter()
        .filter_map(|answer| match answer {
            Answer::Created(number) | Answer::Stored(number) => Some(number.as_str()),
            Answer::Refused(_) => None,
        })
        .collect();
    let views = order_views(conn, &answered)?;
    let audited: Vec<(&Actor, String, serde_json::Value)> = accepted
        .iter()
        .map(|a| {
            let number = a.order.number.to_string();
            let status = views.get(&number).map_or("", |view| view.status);
            let after = json!({ "customer": a.order.customer_email.as_str(), "status": status, "lines": a.order.lines.len() });
            (a.actor, number, after)
        })
        .collect();
    audit::record_all(conn, "order_placed", "order", &audited)?;
    let view_of = |number: &str| {
        views
            .get(number)
            .cloned()
            .ok_or_else(|| AppError::not_found("the order"))
    };
    let placed = answers
        .into_iter()
        .map(|answer| match answer {
            Answer::Created(number) => view_of(&number).map(Placed::Created),
            Answer::Stored(number) => view_of(&number).map(Placed::AlreadyStored),
            Answer::Refused(error) => Err(error),
        })
        .collect();
    Ok(placed)
}

/// What can be refused about an order before its stock is looked at: its time, a SKU the
/// shop does not sell, a quantity that is no quantity.
fn check_order(
    order: &NewOrder,
    products: &[stock::Product],
    now: DateTime<Utc>,
    max_age_days: i32,
) -> AppResult<()> {
    if let Some(given) = order.placed_at {
        check_placed_at(given, now, max_age_days)?;
    }
    let unknown: Vec<FieldError> = order
        .lines
        .iter()
        .enumerate()
        .filter(|(_, line)| !products.iter().any(|p| p.sku == line.sku.as_str()))
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
    for line in &order.lines {
        Quantity::new(line.quantity as u32)
            .map_err(|e| AppError::invalid("quantity", e.to_string()))?;
    }
    Ok(())
}

/// Decides an order against the products' stock as the orders before it in the batch
/// left it (`domain::take_order`), and takes what it takes from `products`, in memory:
/// what each line took, or why the order is refused.
fn plan_order(
    order: &NewOrder,
    products: &mut [stock::Product],
    supplied: &HashSet<i64>,
    today: NaiveDate,
) -> AppResult<Vec<(i64, i32, i32)>> {
    let own: Vec<&stock::Product> = products
        .iter()
        .filter(|p| order.lines.iter().any(|l| l.sku.as_str() == p.sku))
        .collect();
    let for_intake: Vec<ProductForIntake> = own
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
    let mut taken = Vec::with_capacity(order.lines.len());
    for (line, took) in order.lines.iter().zip(&plan.lines) {
        let product = products
            .iter_mut()
            .find(|p| p.sku == line.sku.as_str())
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("a planned SKU went missing")))?;
        let (allocated, backordered) = (took.allocated as i32, took.backordered as i32);
        product.allocated += allocated;
        product.waiting_units += backordered;
        product.waiting_lines += i32::from(backordered > 0);
        taken.push((product.id, allocated, backordered));
    }
    Ok(taken)
}

/// Writes the accepted orders of a batch, a statement per table: customers, orders,
/// lines, the products' summed changes, the ledger, the new lines' dates (one dating for
/// all products), the ETA effects and the backorder notices.
fn write_accepted(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    products: &mut [stock::Product],
    repaired: &HashSet<i64>,
    accepted: &[Accepted<'_>],
) -> AppResult<()> {
    if accepted.is_empty() {
        return Ok(());
    }
    let customers = upsert_customers(
        conn,
        &accepted
            .iter()
            .map(|a| {
                (
                    a.order.customer_email.as_str(),
                    a.order.customer_name.as_str(),
                )
            })
            .collect::<Vec<_>>(),
    )?;
    let order_ids = insert_orders(conn, accepted, &customers)?;
    let rows: Vec<OrderLineInsert> = accepted
        .iter()
        .zip(&order_ids)
        .zip(&customers)
        .flat_map(|((a, &order_id), &(customer_id, _))| {
            a.order.lines.iter().zip(&a.taken).map(
                move |(line, &(product_id, allocated, backordered))| OrderLineInsert {
                    order_id,
                    product_id,
                    customer_id,
                    placed_at: a.placed_at,
                    qty: line.quantity,
                    allocated,
                    unit_price_cents: line.unit_price_cents,
                    waiting_since: (backordered > 0).then_some(a.placed_at),
                },
            )
        })
        .collect();
    let line_ids: Vec<i64> = diesel::insert_into(order_lines::table)
        .values(rows)
        .returning(order_lines::id)
        .get_results(conn)?;

    // Each line with its order: (line id, index of its order, product, allocated, backordered).
    let lines: Vec<(i64, usize, i64, i32, i32)> = accepted
        .iter()
        .enumerate()
        .flat_map(|(i, a)| a.taken.iter().map(move |&(p, al, b)| (i, p, al, b)))
        .zip(&line_ids)
        .map(|((i, p, al, b), &id)| (id, i, p, al, b))
        .collect();
    let movements: Vec<NewMovement> = lines
        .iter()
        .filter(|line| line.3 > 0)
        .map(|&(line_id, i, product_id, allocated, _)| NewMovement {
            product_id,
            reason: MovementReason::Allocation,
            on_hand_delta: 0,
            allocated_delta: allocated,
            reference: Some(accepted[i].order.number.to_string()),
            note: None,
            order_line_id: Some(line_id),
            user_id: accepted[i].actor.user_id(),
        })
        .collect();
    // Each product's summed change, in one statement for all.
    let mut touched: Vec<&mut stock::Product> = products
        .iter_mut()
        .filter(|p| lines.iter().any(|line| line.2 == p.id))
        .collect();
    let changes: Vec<(i32, i32, i32)> = touched
        .iter()
        .map(|product| {
            let own = lines.iter().filter(|line| line.2 == product.id);
            own.fold((0, 0, 0), |(allocated, units, waiting), line| {
                (
                    allocated + line.3,
                    units + line.4,
                    waiting + i32::from(line.4 > 0),
                )
            })
        })
        .collect();
    engine::change_products(conn, &mut touched, &changes)?;
    let policy = ctx.queue_policy();
    let cause = crate::domain::EtaCause::QueueAhead;
    let mut effects = engine::EtaEffects::default();
    let mut joined = Vec::new();
    for product in touched {
        let mut lines_in: Vec<(i64, usize)> = lines
            .iter()
            .filter(|line| line.2 == product.id && line.4 > 0)
            .map(|line| (line.0, line.1))
            .collect();
        if lines_in.is_empty() {
            continue;
        }
        if repaired.contains(&product.id) {
            // Free units went down the queue first: places ahead changed, date it all.
            effects.extend(engine::refresh_etas(conn, ctx, product, &cause)?);
            continue;
        }
        // The new lines, and any lines behind the first of them in the shop's order
        // (one that goes in ahead: an earlier `placed_at`, a higher tier), in one dating.
        let place = |&(line_id, i): &(i64, usize)| crate::domain::QueuePlace {
            line_id,
            placed_at: accepted[i].placed_at,
            customer_tier: i32::from(customers[i].1),
            authorized_until: accepted[i]
                .order
                .payment_authorized_until
                .and_then(|day| day.and_hms_opt(23, 59, 59))
                .map(|t| t.and_utc()),
        };
        domain::sort_queue(&policy, &mut lines_in, place);
        let Some(first) = lines_in.first().map(place) else {
            continue;
        };
        joined.push(engine::Joined {
            product,
            first,
            joined: lines_in.into_iter().map(|(id, _)| id).collect(),
        });
    }
    if !joined.is_empty() {
        let evidence = crate::services::engine::eta::shop_evidence(conn, ctx.today)?;
        effects.extend(engine::date_joined_lines(
            conn, ctx, &joined, &evidence, &cause,
        )?);
    }
    crate::services::engine::notify::eta_changes(conn, ctx, effects)?;
    stock::record_movements(conn, &movements)?;
    let waiting: Vec<(i64, Option<i64>)> = accepted
        .iter()
        .zip(&order_ids)
        .filter(|(a, _)| a.taken.iter().any(|&(_, _, backordered)| backordered > 0))
        .map(|(a, &order_id)| (order_id, a.actor.user_id()))
        .collect();
    crate::services::messages::triggers::queue_backorder_notices(conn, ctx, &waiting)?;
    Ok(())
}

/// Stores the orders (each with its customer, `customers[i]` for `accepted[i]`) in one
/// statement; their ids in the same order.
fn insert_orders(
    conn: &mut PgConnection,
    accepted: &[Accepted<'_>],
    customers: &[(i64, i16)],
) -> AppResult<Vec<i64>> {
    #[derive(QueryableByName)]
    struct Stored {
        #[diesel(sql_type = BigInt)]
        id: i64,
        #[diesel(sql_type = Text)]
        number: String,
    }
    let stored: Vec<Stored> = crate::db::prepared::sql(
        "INSERT INTO orders (number, customer_id, placed_at, payment_authorized_until,
                             max_wait_until, request_hash)
         SELECT * FROM unnest($1::text[], $2::int8[], $3::timestamptz[], $4::date[], $5::date[],
                              $6::text[])
         RETURNING id, number",
    )
    .bind::<Array<Text>, _>(
        accepted
            .iter()
            .map(|a| a.order.number.as_str())
            .collect::<Vec<_>>(),
    )
    .bind::<Array<BigInt>, _>(customers.iter().map(|c| c.0).collect::<Vec<_>>())
    .bind::<Array<Timestamptz>, _>(accepted.iter().map(|a| a.placed_at).collect::<Vec<_>>())
    .bind::<Array<Nullable<Date>>, _>(
        accepted
            .iter()
            .map(|a| a.order.payment_authorized_until)
            .collect::<Vec<_>>(),
    )
    .bind::<Array<Nullable<Date>>, _>(
        accepted
            .iter()
            .map(|a| a.order.max_wait_until)
            .collect::<Vec<_>>(),
    )
    .bind::<Array<Text>, _>(
        accepted
            .iter()
            .map(|a| a.order.request_hash.as_str())
            .collect::<Vec<_>>(),
    )
    .load(conn)?;
    let by_number: HashMap<String, i64> = stored.into_iter().map(|o| (o.number, o.id)).collect();
    accepted
        .iter()
        .map(|a| {
            by_number
                .get(a.order.number.as_str())
                .copied()
                .ok_or_else(|| {
                    AppError::Internal(anyhow::anyhow!("order {} was not stored", a.order.number))
                })
        })
        .collect()
}

/// The views of these orders, by number, from one read of their lines.
fn order_views(conn: &mut PgConnection, numbers: &[&str]) -> AppResult<HashMap<String, OrderView>> {
    if numbers.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(String, OrderLine, String)> = order_lines::table
        .inner_join(orders::table)
        .inner_join(products::table)
        .filter(orders::number.eq_any(numbers))
        .order((orders::id, order_lines::id))
        .select((orders::number, OrderLine::as_select(), products::sku))
        .load(conn)?;
    let mut lines: HashMap<String, Vec<OrderLineView>> = HashMap::new();
    for (number, line, sku) in rows {
        lines
            .entry(number)
            .or_default()
            .push(OrderLineView::of(&line, sku));
    }
    Ok(lines
        .into_iter()
        .map(|(number, lines)| {
            let view = OrderView {
                number: number.clone(),
                status: order_status(&lines),
                lines,
            };
            (number, view)
        })
        .collect())
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

/// Whether the order asks any of its products for more than is free (or one is a
/// pre-order not yet released): then lines wait, and need dates.
fn short_of_stock(products: &[stock::Product], order: &NewOrder, today: NaiveDate) -> bool {
    products.iter().any(|p| {
        let requested: i64 = order
            .lines
            .iter()
            .filter(|l| l.sku.as_str() == p.sku)
            .map(|l| i64::from(l.quantity))
            .sum();
        requested > 0 && (requested > i64::from(p.available().max(0)) || p.held_for_release(today))
    })
}

/// The customers' ids and tiers, one for each `(email, name)` given and in their order,
/// creating a customer on first order (email compared without case), in one statement
/// that locks them in email order.
pub fn upsert_customers(
    conn: &mut PgConnection,
    customers: &[(&str, &str)],
) -> QueryResult<Vec<(i64, i16)>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = BigInt)]
        i: i64,
        #[diesel(sql_type = BigInt)]
        id: i64,
        #[diesel(sql_type = SmallInt)]
        tier: i16,
    }
    // One row per customer: an upsert may not touch a row twice.
    let mut seen = HashSet::new();
    let (emails, names): (Vec<&str>, Vec<&str>) = customers
        .iter()
        .filter(|(email, _)| seen.insert(email.to_lowercase()))
        .copied()
        .unzip();
    let rows: Vec<Row> = crate::db::prepared::sql(
        "WITH given AS (SELECT * FROM unnest($1::text[]) WITH ORDINALITY AS g(email, i)),
              upserted AS (
                  INSERT INTO customers (email, name)
                  SELECT u.email, u.name FROM unnest($2::text[], $3::text[]) AS u(email, name)
                   ORDER BY lower(u.email)
                  ON CONFLICT ((lower(email))) DO UPDATE SET name = customers.name
                  RETURNING id, lower(email) AS key, tier)
         SELECT given.i, upserted.id, upserted.tier
           FROM given JOIN upserted ON upserted.key = lower(given.email)",
    )
    .bind::<Array<Text>, _>(
        customers
            .iter()
            .map(|(email, _)| *email)
            .collect::<Vec<_>>(),
    )
    .bind::<Array<Text>, _>(emails)
    .bind::<Array<Text>, _>(names)
    .load(conn)?;
    let mut found = vec![None; customers.len()];
    for row in rows {
        if let Some(slot) = usize::try_from(row.i - 1)
            .ok()
            .and_then(|i| found.get_mut(i))
        {
            *slot = Some((row.id, row.tier));
        }
    }
    found
        .into_iter()
        .map(|customer| customer.ok_or(diesel::result::Error::NotFound))
        .collect()
}
