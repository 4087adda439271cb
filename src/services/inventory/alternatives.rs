//! A product's alternatives (other SKUs a customer may take instead of waiting, in order
//! of preference) and the offers they make to a waiting line: only an alternative that
//! ships sooner than the line (in stock now, or an earlier worst-case date when queued at
//! the line's own `placed_at`) is offered, worked out at the moment it is asked (an email
//! rendered, a page shown, a link used). Taking one is `swaps::take`.

use std::collections::{HashMap, HashSet};

use chrono::{Duration, NaiveDate};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Date, Int4, Int8, Nullable, Text};

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
        "SELECT l.order_id, l.id AS line_id, p.name AS product, p.sku AS product_sku,
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
/// took them now, for each `(alternative, line, units)` asked, in their order: at once
/// from stock, else where its place puts it in the alternative's queue, dated by the
/// engine's projection from what waits ahead of it (DESIGN §4.6: the whole queue's
/// dating gives it the same date). `None`: it cannot be had (not in stock and not
/// backorderable, or no date). Whatever their number, in a constant number of
/// statements: what waits ahead of each, the shop's evidence and the alternatives'
/// supply.
fn dates_if_taken(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    asked: &[(&Product, &QueueRow, i32)],
) -> AppResult<Vec<Option<(NaiveDate, bool)>>> {
    let ships = ctx.today + Duration::days(i64::from(ctx.settings.handling_days.max(0)));
    let queued: Vec<usize> = (0..asked.len())
        .filter(|&i| {
            let (alternative, _, units) = asked[i];
            // Held for its release, or short of stock and backorderable: it queues.
            alternative.held_for_release(ctx.today)
                || (alternative.available() < units && alternative.backorderable)
        })
        .collect();
    let mut dated: Vec<Option<(NaiveDate, bool)>> = asked
        .iter()
        .map(|&(alternative, _, units)| {
            (!alternative.held_for_release(ctx.today) && alternative.available() >= units)
                .then_some((ships, true))
        })
        .collect();
    if queued.is_empty() {
        return Ok(dated);
    }
    // A newcomer placed like the line, before every line of the same time.
    const NEWCOMER: i64 = -1;
    let starts: Vec<stock::StretchStart> = queued
        .iter()
        .map(|&i| {
            let (alternative, line, _) = asked[i];
            stock::StretchStart {
                product_id: alternative.id,
                place: domain::QueuePlace {
                    line_id: NEWCOMER,
                    ..queue_place(line)
                },
            }
        })
        .collect();
    let ahead = stock::waiting_ahead(conn, &starts, &ctx.queue_policy())?;
    let evidence = crate::services::engine::eta::shop_evidence(conn, ctx.today)?;
    let products: Vec<&Product> = queued.iter().map(|&i| asked[i].0).collect();
    let supplies = crate::services::engine::eta::products_supply_with(conn, &products, &evidence)?;
    for (&i, (lines, units)) in queued.iter().zip(ahead) {
        let (alternative, _, asked_units) = asked[i];
        let Some(supply) = supplies.get(&alternative.id) else {
            continue;
        };
        // The lines ahead as one line of all their units, as intake dates a new line.
        let queue_ahead = domain::QueueAhead {
            lines: lines.saturating_sub(1),
            ..domain::QueueAhead::default()
        };
        let waiting: Vec<u32> = (lines > 0)
            .then_some(units)
            .into_iter()
            .chain([asked_units.max(0) as u32])
            .collect();
        dated[i] = crate::services::engine::eta::project_after(ctx, supply, &queue_ahead, &waiting)
            .last()
            .and_then(|eta| eta.worst)
            .map(|worst| (worst, false));
    }
    Ok(dated)
}

/// What each candidate offers, in their order: the offer when the alternative ships
/// sooner than the line, else why not, in the customer's words. Whatever their number,
/// in a constant number of statements: their lines, the alternatives, and their dates
/// if taken (`dates_if_taken`).
fn offers_of(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    candidates: &[Candidate],
) -> AppResult<Vec<Result<Offer, String>>> {
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    // The candidates' own lines, not their products' whole queues (a launch's queue is
    // long): an offer needs only the line it is made to.
    let mut line_ids: Vec<i64> = candidates.iter().map(|c| c.line_id).collect();
    line_ids.sort_unstable();
    line_ids.dedup();
    let lines: HashMap<i64, QueueRow> = stock::waiting_rows(conn, &line_ids)?
        .into_iter()
        .map(|row| (row.id, row))
        .collect();
    let alternative_ids: Vec<i64> = candidates.iter().map(|c| c.alternative_id).collect();
    let alternatives: HashMap<i64, Product> = products::table
        .filter(products::id.eq_any(&alternative_ids))
        .select(Product::as_select())
        .load::<Product>(conn)?
        .into_iter()
        .map(|product| (product.id, product))
        .collect();
    let mut asked = Vec::new();
    for candidate in candidates {
        let alternative = alternatives.get(&candidate.alternative_id).ok_or_else(|| {
            anyhow::anyhow!("alternative {} went missing", candidate.alternative_id)
        })?;
        if let Some(line) = lines.get(&candidate.line_id) {
            asked.push((alternative, line, candidate.waiting));
        }
    }
    let mut dated = dates_if_taken(conn, ctx, &asked)?.into_iter();
    Ok(candidates
        .iter()
        .map(|candidate| {
            let alternative = &alternatives[&candidate.alternative_id];
            if !lines.contains_key(&candidate.line_id) {
                return Err(format!(
                    "Nothing of {} is waiting any more, so there is nothing to swap.",
                    candidate.product
                ));
            }
            let dated = dated.next().flatten();
            offer_of(ctx, candidate, alternative, dated)
        })
        .collect())
}

/// Whether `candidate`'s alternative, shipping by `dated` if taken, is sooner than the
/// line's own date, as an offer.
fn offer_of(
    ctx: &Ctx<'_>,
    candidate: &Candidate,
    alternative: &Product,
    dated: Option<(NaiveDate, bool)>,
) -> Result<Offer, String> {
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
        return Err(format!(
            "{} ({}) can no longer ship sooner than your {}{waiting}, so taking it would not help.",
            alternative.name, alternative.sku, candidate.product
        ));
    };
    Ok(Offer {
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
    })
}

/// Every alternative the order's waiting lines (or one line) may take now: those that
/// ship sooner, in the order of the lines and then of preference.
pub fn offers(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    order_id: i64,
    line_id: Option<i64>,
) -> AppResult<Vec<Offer>> {
    let found = candidates(conn, order_id, line_id, None)?;
    Ok(offers_of(conn, ctx, &found)?
        .into_iter()
        .filter_map(Result::ok)
        .collect())
}

/// [`offers`] for the waiting lines of several orders (a batch of new orders' backorder
/// notices), by order, in a constant number of statements whatever their number: their
/// candidates in one query, then [`offers_of`].
pub fn offers_of_orders(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    order_ids: &[i64],
) -> AppResult<HashMap<i64, Vec<Offer>>> {
    let candidates: Vec<Candidate> = crate::db::prepared::sql(
        "SELECT l.order_id, l.id AS line_id, p.name AS product, p.sku AS product_sku,
                l.unit_price_cents, l.waiting, l.eta_worst, a.alternative_id
           FROM order_lines l
           JOIN products p ON p.id = l.product_id
           JOIN product_alternatives a ON a.product_id = l.product_id
          WHERE l.order_id = ANY($1) AND l.waiting > 0
          ORDER BY l.order_id, l.id, a.position",
    )
    .bind::<diesel::sql_types::Array<BigInt>, _>(order_ids)
    .load(conn)?;
    let mut by_order: HashMap<i64, Vec<Offer>> = HashMap::new();
    for offer in offers_of(conn, ctx, &candidates)?.into_iter().flatten() {
        by_order.entry(offer.order_id).or_default().push(offer);
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
    match offers_of(conn, ctx, &found)?.into_iter().next() {
        Some(offer) => Ok(offer),
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
