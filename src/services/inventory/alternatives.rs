//! A product's alternatives (other SKUs a customer may take instead of waiting, in order
//! of preference) and the offers they make to a waiting line: only an alternative that
//! ships sooner than the line (in stock now, or an earlier worst-case date when queued at
//! the line's own `placed_at`) is offered, worked out at the moment it is asked (an email
//! rendered, a page shown, a link used). Taking one is `swaps::take`.

use std::collections::{HashMap, HashSet};

use chrono::{Duration, NaiveDate};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Date, Int4, Int8, Nullable, Text};

use crate::db::models::OrderLine;
use crate::db::schema::{product_alternatives, products};
use crate::db::stock::{self, Product, QueueRow};
use crate::domain::{self, human_date};
use crate::email::links::{LinkAction, LinkMaker};
use crate::error::{AppError, AppResult, FieldError};
use crate::services::engine::events::{Ctx, queue_place};
use crate::types::Sku;

/// The most alternatives a product may list.
pub const MAX_ALTERNATIVES: usize = 10;

/// The product's alternatives' SKUs, in order of preference.
pub fn of_product(conn: &mut PgConnection, product_id: i64) -> QueryResult<Vec<String>> {
    product_alternatives::table
        .inner_join(products::table.on(products::id.eq(product_alternatives::alternative_id)))
        .filter(product_alternatives::product_id.eq(product_id))
        .order(product_alternatives::position.asc())
        .select(products::sku)
        .load(conn)
}

/// The alternatives' SKUs of each of these products (for the CSV export), in one query.
pub fn of_products(
    conn: &mut PgConnection,
    product_ids: &[i64],
) -> QueryResult<HashMap<i64, Vec<String>>> {
    let rows: Vec<(i64, String)> = product_alternatives::table
        .inner_join(products::table.on(products::id.eq(product_alternatives::alternative_id)))
        .filter(product_alternatives::product_id.eq_any(product_ids))
        .order((
            product_alternatives::product_id.asc(),
            product_alternatives::position.asc(),
        ))
        .select((product_alternatives::product_id, products::sku))
        .load(conn)?;
    let mut by_product: HashMap<i64, Vec<String>> = HashMap::new();
    for (product_id, sku) in rows {
        by_product.entry(product_id).or_default().push(sku);
    }
    Ok(by_product)
}

/// The problems of a list of alternatives for product `own_sku`, each naming its entry
/// (`alternatives[1]`): not a SKU, the product itself, listed twice, too many.
pub fn check_entries(own_sku: &str, list: &[String]) -> Vec<FieldError> {
    let mut problems = Vec::new();
    let mut seen = HashSet::new();
    if list.len() > MAX_ALTERNATIVES {
        problems.push(FieldError::new(
            "alternatives",
            format!("a product may list at most {MAX_ALTERNATIVES} alternatives"),
        ));
    }
    for (i, entry) in list.iter().enumerate() {
        let field = format!("alternatives[{i}]");
        match Sku::parse(entry.trim()) {
            Err(e) => problems.push(FieldError::new(field, format!("{e}"))),
            Ok(sku) if sku.as_str() == own_sku => problems.push(FieldError::new(
                field,
                format!("{sku} is this product itself; list other products"),
            )),
            Ok(sku) if !seen.insert(sku.as_str().to_owned()) => {
                problems.push(FieldError::new(field, format!("{sku} is listed twice")))
            }
            Ok(_) => {}
        }
    }
    problems
}

/// Replaces the product's alternatives with `list` (SKUs, in order). Every entry must be
/// another existing product; otherwise nothing changes and each bad entry is named.
pub fn replace(
    conn: &mut PgConnection,
    product_id: i64,
    own_sku: &str,
    list: &[String],
) -> AppResult<()> {
    let mut problems = check_entries(own_sku, list);
    let skus: Vec<String> = list.iter().map(|s| s.trim().to_owned()).collect();
    let ids: HashMap<String, i64> = stock::ids_by_sku(conn, &skus)?.into_iter().collect();
    for (i, sku) in skus.iter().enumerate() {
        if !ids.contains_key(sku)
            && !problems
                .iter()
                .any(|p| p.field == format!("alternatives[{i}]"))
        {
            problems.push(FieldError::new(
                format!("alternatives[{i}]"),
                format!(
                    "there is no product with SKU {}",
                    crate::types::truncate(sku)
                ),
            ));
        }
    }
    if !problems.is_empty() {
        return Err(AppError::invalid_fields(problems));
    }
    diesel::delete(
        product_alternatives::table.filter(product_alternatives::product_id.eq(product_id)),
    )
    .execute(conn)?;
    let rows: Vec<_> = skus
        .iter()
        .enumerate()
        .map(|(position, sku)| {
            (
                product_alternatives::product_id.eq(product_id),
                product_alternatives::alternative_id.eq(ids[sku]),
                product_alternatives::position.eq(position as i32),
            )
        })
        .collect();
    diesel::insert_into(product_alternatives::table)
        .values(rows)
        .execute(conn)?;
    Ok(())
}

/// "SKU-B, SKU-C" (or "SKU-B SKU-C", one a line) as typed in a form or a CSV cell.
pub fn parse_list(text: &str) -> Vec<String> {
    text.split([',', ';', '\n', ' ', '\t'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// An alternative a waiting line may take now, and what taking it means.
#[derive(Debug, Clone)]
pub struct Offer {
    pub order_id: i64,
    pub line_id: i64,
    /// The waiting product's name and SKU.
    pub product: String,
    pub product_sku: String,
    /// Units waiting on the line (all of them move).
    pub units: i32,
    /// When the waiting line ships at the latest now (`None`: no date).
    pub waiting_worst: Option<NaiveDate>,
    pub alternative_id: i64,
    pub sku: String,
    pub name: String,
    /// When the alternative ships at the latest if taken now.
    pub ships_by: NaiveDate,
    /// In stock now: taken, the units are reserved at once.
    pub in_stock: bool,
    /// The alternative's unit price now and the line's.
    pub unit_price_cents: i64,
    pub line_unit_price_cents: i64,
}

impl Offer {
    /// (alternative's price - line's price) x units: above zero the customer would owe
    /// it, below zero it is theirs as a credit.
    pub fn difference_cents(&self) -> i64 {
        (self.unit_price_cents - self.line_unit_price_cents) * i64::from(self.units)
    }

    /// "€10.00 more" / "€4.00 less" / "the same price", for the customer.
    pub fn price_words(&self, currency: &str) -> String {
        price_words(self.difference_cents(), currency)
    }

    /// "in stock now, ships by Tue 3 Dec" / "ships by Tue 3 Dec".
    pub fn date_words(&self, today: NaiveDate) -> String {
        let date = human_date(self.ships_by, today);
        if self.in_stock {
            format!("in stock now, ships by {date}")
        } else {
            format!("ships by {date}")
        }
    }

    /// The waiting line's date, for "instead of ...".
    pub fn waiting_words(&self, today: NaiveDate) -> String {
        match self.waiting_worst {
            Some(date) => human_date(date, today),
            None => "no date yet".to_owned(),
        }
    }
}

/// A price difference in the customer's words.
pub fn price_words(difference_cents: i64, currency: &str) -> String {
    match difference_cents {
        0 => "the same price".to_owned(),
        d if d > 0 => format!("{} more", crate::format::money(d, currency)),
        d => format!("{} less", crate::format::money(-d, currency)),
    }
}

#[derive(QueryableByName)]
struct Candidate {
    #[diesel(sql_type = Int8)]
    order_id: i64,
    #[diesel(sql_type = Int8)]
    line_id: i64,
    #[diesel(sql_type = Int8)]
    product_id: i64,
    #[diesel(sql_type = Text)]
    product: String,
    #[diesel(sql_type = Text)]
    product_sku: String,
    #[diesel(sql_type = Int8)]
    unit_price_cents: i64,
    #[diesel(sql_type = Int4)]
    waiting: i32,
    #[diesel(sql_type = Nullable<Date>)]
    eta_worst: Option<NaiveDate>,
    #[diesel(sql_type = Int8)]
    alternative_id: i64,
}

/// The waiting lines of the order (or one line of it) with each alternative of their
/// product, in the order of the lines and then of preference.
fn candidates(
    conn: &mut PgConnection,
    order_id: i64,
    line_id: Option<i64>,
    alternative_id: Option<i64>,
) -> QueryResult<Vec<Candidate>> {
    crate::db::prepared::sql(
        "SELECT l.order_id, l.id AS line_id, l.product_id, p.name AS product, p.sku AS product_sku,
                l.unit_price_cents, l.waiting, l.eta_worst, a.alternative_id
           FROM order_lines l
           JOIN products p ON p.id = l.product_id
           JOIN product_alternatives a ON a.product_id = l.product_id
          WHERE l.order_id = $1 AND ($2::int8 IS NULL OR l.id = $2)
            AND ($3::int8 IS NULL OR a.alternative_id = $3) AND l.waiting > 0
          ORDER BY l.id, a.position",
    )
    .bind::<BigInt, _>(order_id)
    .bind::<Nullable<BigInt>, _>(line_id)
    .bind::<Nullable<BigInt>, _>(alternative_id)
    .load(conn)
}

/// When `units` of `alternative` would ship at the latest if a line placed like `line`
/// took them now: at once from stock, else where its `placed_at` puts it in the
/// alternative's queue, dated by the engine's projection. `None`: it cannot be had (not
/// in stock and not backorderable, or no date).
pub fn date_if_taken(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    alternative: &Product,
    line: &QueueRow,
    units: i32,
) -> AppResult<Option<(NaiveDate, bool)>> {
    let held = alternative.held_for_release(ctx.today);
    if !held && alternative.available() >= units {
        let ships = ctx.today + Duration::days(i64::from(ctx.settings.handling_days.max(0)));
        return Ok(Some((ships, true)));
    }
    if !alternative.backorderable && !held {
        return Ok(None);
    }
    let mut queue = stock::waiting_lines(conn, alternative.id)?;
    const NEWCOMER: i64 = -1;
    queue.push(QueueRow {
        line: OrderLine {
            id: NEWCOMER,
            qty: units,
            allocated: 0,
            shipped: 0,
            cancelled: 0,
            waiting: units,
            ..line.line.clone()
        },
        ..line.clone()
    });
    domain::sort_queue(&ctx.queue_policy(), &mut queue, queue_place);
    let supply = crate::services::engine::eta::product_supply(conn, alternative, ctx.today)?;
    let waiting: Vec<u32> = queue
        .iter()
        .map(|row| row.waiting().max(0) as u32)
        .collect();
    let etas = crate::services::engine::eta::project(ctx, &supply, &waiting);
    Ok(queue
        .iter()
        .position(|row| row.id == NEWCOMER)
        .and_then(|at| etas.get(at))
        .and_then(|eta| eta.worst)
        .map(|worst| (worst, false)))
}

/// Whether `candidate` is sooner than the line's own date, as an offer.
fn offer_of(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    candidate: &Candidate,
    lines: &mut HashMap<i64, Vec<QueueRow>>,
) -> AppResult<Result<Offer, String>> {
    let alternative: Product = products::table
        .find(candidate.alternative_id)
        .select(Product::as_select())
        .first(conn)?;
    if let std::collections::hash_map::Entry::Vacant(entry) = lines.entry(candidate.product_id) {
        entry.insert(stock::waiting_lines(conn, candidate.product_id)?);
    }
    let Some(line) = lines
        .get(&candidate.product_id)
        .and_then(|queue| queue.iter().find(|row| row.id == candidate.line_id))
        .cloned()
    else {
        return Ok(Err(format!(
            "Nothing of {} is waiting any more, so there is nothing to swap.",
            candidate.product
        )));
    };
    let dated = date_if_taken(conn, ctx, &alternative, &line, candidate.waiting)?;
    let sooner = match (dated, candidate.eta_worst) {
        (Some((date, _)), Some(waiting)) => date < waiting,
        (Some(_), None) => true,
        (None, _) => false,
    };
    let Some((ships_by, in_stock)) = dated.filter(|_| sooner) else {
        let waiting = candidate
            .eta_worst
            .map(|d| format!(" (it ships by {})", human_date(d, ctx.today)))
            .unwrap_or_default();
        return Ok(Err(format!(
            "{} ({}) can no longer ship sooner than your {}{waiting}, so taking it would not help.",
            alternative.name, alternative.sku, candidate.product
        )));
    };
    Ok(Ok(Offer {
        order_id: candidate.order_id,
        line_id: candidate.line_id,
        product: candidate.product.clone(),
        product_sku: candidate.product_sku.clone(),
        units: candidate.waiting,
        waiting_worst: candidate.eta_worst,
        alternative_id: alternative.id,
        sku: alternative.sku.clone(),
        name: alternative.name.clone(),
        ships_by,
        in_stock,
        unit_price_cents: alternative.unit_price_cents,
        line_unit_price_cents: candidate.unit_price_cents,
    }))
}

/// Every alternative the order's waiting lines (or one line) may take now: those that
/// ship sooner, in the order of the lines and then of preference.
pub fn offers(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    order_id: i64,
    line_id: Option<i64>,
) -> AppResult<Vec<Offer>> {
    let mut lines = HashMap::new();
    let mut offers = Vec::new();
    for candidate in candidates(conn, order_id, line_id, None)? {
        if let Ok(offer) = offer_of(conn, ctx, &candidate, &mut lines)? {
            offers.push(offer);
        }
    }
    Ok(offers)
}

/// [`offers`] for the waiting lines of several orders (a batch of new orders' backorder
/// notices): their candidates in one query, and their lines in another.
pub fn offers_of_orders(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    order_ids: &[i64],
) -> AppResult<HashMap<i64, Vec<Offer>>> {
    let candidates: Vec<Candidate> = crate::db::prepared::sql(
        "SELECT l.order_id, l.id AS line_id, l.product_id, p.name AS product, p.sku AS product_sku,
                l.unit_price_cents, l.waiting, l.eta_worst, a.alternative_id
           FROM order_lines l
           JOIN products p ON p.id = l.product_id
           JOIN product_alternatives a ON a.product_id = l.product_id
          WHERE l.order_id = ANY($1) AND l.waiting > 0
          ORDER BY l.order_id, l.id, a.position",
    )
    .bind::<diesel::sql_types::Array<BigInt>, _>(order_ids)
    .load(conn)?;
    if candidates.is_empty() {
        return Ok(HashMap::new());
    }
    // The candidates' own lines, not their products' whole queues (a launch's queue is
    // long): an offer needs only the line it is made to.
    let mut line_ids: Vec<i64> = candidates.iter().map(|c| c.line_id).collect();
    line_ids.dedup();
    let mut lines: HashMap<i64, Vec<QueueRow>> = candidates
        .iter()
        .map(|c| (c.product_id, Vec::new()))
        .collect();
    for row in stock::waiting_rows(conn, &line_ids)? {
        lines.entry(row.product_id).or_default().push(row);
    }
    let mut by_order: HashMap<i64, Vec<Offer>> = HashMap::new();
    for candidate in candidates {
        if let Ok(offer) = offer_of(conn, ctx, &candidate, &mut lines)? {
            by_order.entry(candidate.order_id).or_default().push(offer);
        }
    }
    Ok(by_order)
}

/// "Take SKU-B instead" as a page offers it: a one-use swap link and what taking it means.
#[derive(Debug, Clone)]
pub struct SwapChoice {
    pub label: String,
    pub hint: String,
    pub url: String,
}

/// The swaps the order's waiting lines (or one line) may take now, each with its link.
pub fn swap_choices(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    links: &LinkMaker,
    order_id: i64,
    line_id: Option<i64>,
) -> AppResult<Vec<SwapChoice>> {
    Ok(offers(conn, ctx, order_id, line_id)?
        .into_iter()
        .map(|offer| SwapChoice {
            label: format!("Take {} instead", offer.sku),
            hint: format!(
                "{} instead of {}: {}; {}.",
                offer.name,
                offer.product,
                offer.date_words(ctx.today),
                offer.price_words(&ctx.settings.currency)
            ),
            url: links.url(
                LinkAction::Swap {
                    alternative: offer.alternative_id,
                },
                order_id,
                Some(offer.line_id),
            ),
        })
        .collect())
}

/// The offer of `alternative_id` to line `line_id` of the order as it stands now, or why
/// there is none, in the customer's words.
pub fn offer(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    order_id: i64,
    line_id: i64,
    alternative_id: i64,
) -> AppResult<Result<Offer, String>> {
    let found = candidates(conn, order_id, Some(line_id), Some(alternative_id))?;
    match found.first() {
        Some(candidate) => offer_of(conn, ctx, candidate, &mut HashMap::new()),
        None => Ok(Err(
            "That item is not waiting any more, or this alternative is no longer offered for it, so there is nothing to swap."
                .to_owned(),
        )),
    }
}

/// The id of the product with `sku`, for a rep's swap (a form names the SKU).
pub fn product_id(conn: &mut PgConnection, sku: &str) -> AppResult<i64> {
    products::table
        .filter(products::sku.eq(sku))
        .select(products::id)
        .first(conn)
        .optional()?
        .ok_or_else(|| AppError::not_found(format!("product {}", crate::types::truncate(sku))))
}
