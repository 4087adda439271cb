//! Taking an alternative instead of waiting (a customer's one-use link, or a rep for
//! them): in one transaction the waiting units of the line move to a new line of the
//! alternative (reserved now when in stock, else queued by the order's `placed_at`), the
//! old line's place goes to the next in line through the engine, the price difference is
//! recorded for the rep (nothing is charged), it is audited, and the customer gets one
//! email about it. The offer is checked again first: what is no longer sooner is said
//! plainly and nothing changes.

use chrono::{NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Int4};
use serde_json::json;

use crate::db::audit::{self, Actor};
use crate::db::models::{MovementReason, OrderLineInsert};
use crate::db::schema::{order_lines, orders, swaps};
use crate::db::shop_settings;
use crate::db::stock::{self, NewMovement};
use crate::domain::{EtaCause, human_date};
use crate::email::render::SwapNews;
use crate::error::{AppError, AppResult};
use crate::services::engine::{self, Ctx, EtaEffects};
use crate::services::inventory::alternatives::{self, Offer, price_words};
use crate::services::orders::choices::Channel;

/// What taking an alternative did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SwapOutcome {
    Taken(SwapDone),
    /// The alternative is no longer sooner (or the line no longer waits): nothing changed;
    /// this says why, in the customer's words.
    NoLongerApplies(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwapDone {
    pub order_number: String,
    pub units: i32,
    pub instead_of: String,
    pub name: String,
    pub sku: String,
    pub in_stock: bool,
    pub ships_by: NaiveDate,
    /// (alternative's price - line's price) x units; nothing is charged automatically.
    pub difference_cents: i64,
    pub currency: String,
}

/// What the price difference of a swap means, in the customer's words.
pub fn money_sentence(difference_cents: i64, currency: &str) -> String {
    let amount = crate::format::money(difference_cents.abs(), currency);
    match difference_cents {
        0 => "The price is the same, so nothing changes in what you pay.".to_owned(),
        d if d > 0 => format!(
            "It costs {amount} more. We charge nothing without asking you: we will be in touch about the difference."
        ),
        _ => format!("It costs {amount} less: we credit you the difference."),
    }
}

/// What a rep reads about the difference (order page, audit).
pub fn rep_note(difference_cents: i64, currency: &str) -> String {
    let amount = crate::format::money(difference_cents.abs(), currency);
    match difference_cents {
        0 => "same price, nothing to settle".to_owned(),
        d if d > 0 => format!("{amount} more: to settle with the customer (not charged)"),
        _ => format!("credit of {amount} owed to the customer"),
    }
}

/// The offer a confirmation page shows, as the order stands now.
pub fn preview(
    conn: &mut PgConnection,
    order_id: i64,
    line_id: i64,
    alternative_id: i64,
    today: NaiveDate,
) -> AppResult<Result<Offer, String>> {
    let settings = shop_settings::load(conn)?;
    let ctx = Ctx {
        actor: &Actor::System,
        today,
        settings: &settings,
    };
    alternatives::offer(conn, &ctx, order_id, line_id, alternative_id)
}

/// Takes the alternative for the line in the caller's transaction (see the module).
pub fn take(
    conn: &mut PgConnection,
    actor: &Actor,
    order_id: i64,
    line_id: i64,
    alternative_id: i64,
    channel: Channel,
    today: NaiveDate,
) -> AppResult<SwapOutcome> {
    let (product_id, number): (i64, String) = order_lines::table
        .inner_join(orders::table)
        .filter(order_lines::id.eq(line_id))
        .filter(order_lines::order_id.eq(order_id))
        .select((order_lines::product_id, orders::number))
        .first(conn)
        .optional()?
        .ok_or_else(|| AppError::not_found("that line on this order"))?;
    // Both queues change: locked in id order like every other event.
    let locked = stock::lock_products(conn, &[product_id, alternative_id])?;
    let (Some(mut product), Some(mut alternative)) = (
        locked.iter().find(|p| p.id == product_id).cloned(),
        locked.iter().find(|p| p.id == alternative_id).cloned(),
    ) else {
        return Err(AppError::not_found("the alternative product"));
    };
    let settings = shop_settings::load(conn)?;
    let ctx = Ctx {
        actor,
        today,
        settings: &settings,
    };
    let offer = match alternatives::offer(conn, &ctx, order_id, line_id, alternative_id)? {
        Ok(offer) => offer,
        Err(why) => return Ok(SwapOutcome::NoLongerApplies(why)),
    };
    let units = offer.units;

    // The old line: its waiting units leave it (kept as cancelled, marked swapped).
    crate::db::prepared::sql(
        "UPDATE order_lines
            SET cancelled = cancelled + $2, waiting_ended_at = now(), waiting_ended_by = 'swapped',
                queue_position = NULL,
                completed_at = CASE WHEN allocated = 0 THEN now() ELSE completed_at END
          WHERE id = $1",
    )
    .bind::<BigInt, _>(line_id)
    .bind::<Int4, _>(units)
    .execute(conn)?;
    engine::change_product(conn, &mut product, 0, 0, -units, -1)?;

    // The new line of the alternative, placed when the order was.
    let (customer_id, placed_at): (i64, chrono::DateTime<Utc>) = order_lines::table
        .find(line_id)
        .select((order_lines::customer_id, order_lines::placed_at))
        .first(conn)?;
    let new_line_id: i64 = diesel::insert_into(order_lines::table)
        .values(OrderLineInsert {
            order_id,
            product_id: alternative.id,
            customer_id,
            placed_at,
            qty: units,
            allocated: if offer.in_stock { units } else { 0 },
            unit_price_cents: alternative.unit_price_cents,
            waiting_since: (!offer.in_stock).then(Utc::now),
        })
        .returning(order_lines::id)
        .get_result(conn)?;
    let mut effects = EtaEffects::default();
    if offer.in_stock {
        engine::change_product(conn, &mut alternative, 0, units, 0, 0)?;
        stock::record_movements(
            conn,
            &[NewMovement {
                product_id: alternative.id,
                reason: MovementReason::Allocation,
                on_hand_delta: 0,
                allocated_delta: units,
                reference: Some(number.clone()),
                note: Some(format!("taken instead of {}", offer.product_sku)),
                order_line_id: Some(new_line_id),
                user_id: ctx.user_id(),
            }],
        )?;
    } else {
        engine::change_product(conn, &mut alternative, 0, 0, units, 1)?;
        // Placed earlier than lines behind it, it may move them later: they hear why.
        effects.extend(engine::refresh_etas(
            conn,
            &ctx,
            &alternative,
            &EtaCause::QueueAhead,
        )?);
    }
    // The old line's place goes to the next in line: free units (if any) go down the
    // queue and every line behind it is dated again.
    if product.available() > 0 && product.waiting_lines > 0 {
        let restocked = engine::fill_queue(conn, &ctx, &mut product, Some(&number))?;
        crate::services::engine::notify::restocked(conn, &ctx, &product, restocked)?;
    }
    if product.waiting_lines > 0 {
        effects.extend(engine::refresh_etas(
            conn,
            &ctx,
            &product,
            &EtaCause::QueueAhead,
        )?);
    }
    crate::services::engine::notify::eta_changes(conn, &ctx, effects)?;

    let difference_cents = offer.difference_cents();
    let swap_id: i64 = diesel::insert_into(swaps::table)
        .values((
            swaps::order_id.eq(order_id),
            swaps::from_line_id.eq(line_id),
            swaps::to_line_id.eq(new_line_id),
            swaps::units.eq(units),
            swaps::price_difference_cents.eq(difference_cents),
            swaps::channel.eq(channel.code()),
            swaps::created_by.eq(ctx.user_id()),
        ))
        .returning(swaps::id)
        .get_result(conn)?;
    let currency = &settings.currency;
    let ships = human_date(offer.ships_by, today);
    audit::record(
        conn,
        actor,
        "alternative_taken",
        "order",
        Some(number.clone()),
        None,
        Some(json!({
            "line": line_id,
            "new_line": new_line_id,
            "from_sku": offer.product_sku,
            "to_sku": offer.sku,
            "units": units,
            "price_difference_cents": difference_cents,
            "channel": channel.code(),
            "outcome": format!(
                "{units} × {} instead of {}; {}; {}",
                offer.name,
                offer.product,
                if offer.in_stock { format!("reserved now, ships by {ships}") } else { format!("queued, ships by {ships}") },
                rep_note(difference_cents, currency)
            ),
        })),
    )?;
    crate::services::messages::triggers::queue_swap_confirmation(
        conn,
        &ctx,
        order_id,
        swap_id,
        new_line_id,
        SwapNews {
            units,
            instead_of: offer.product.clone(),
            name: offer.name.clone(),
            sku: offer.sku.clone(),
            when: if offer.in_stock {
                format!("is reserved for you now and ships by {ships}")
            } else {
                format!("ships by {ships}")
            },
            money: money_sentence(difference_cents, currency),
        },
    )?;
    Ok(SwapOutcome::Taken(SwapDone {
        order_number: number,
        units,
        instead_of: offer.product,
        name: offer.name,
        sku: offer.sku,
        in_stock: offer.in_stock,
        ships_by: offer.ships_by,
        difference_cents,
        currency: settings.currency.clone(),
    }))
}

/// A rep takes the alternative (by SKU) for the customer, from the order page.
pub fn take_for_customer(
    conn: &mut PgConnection,
    actor: &Actor,
    number: &str,
    line_id: i64,
    alternative_sku: &str,
    today: NaiveDate,
) -> AppResult<SwapOutcome> {
    conn.transaction(|conn| {
        let order_id = crate::services::orders::order_actions::order_id(conn, number)?;
        crate::services::orders::order_actions::check_line(conn, order_id, line_id)?;
        let alternative_id = alternatives::product_id(conn, alternative_sku)?;
        take(
            conn,
            actor,
            order_id,
            line_id,
            alternative_id,
            Channel::Rep,
            today,
        )
    })
}

/// A swap as the order page lists it (read with the order page's facts,
/// `orders/order_page_facts.sql`).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct SwapRecord {
    pub created_at: chrono::DateTime<Utc>,
    pub units: i32,
    pub from_product: String,
    pub to_product: String,
    pub price_difference_cents: i64,
    pub channel: String,
}

impl SwapRecord {
    /// "credit of €4.00 owed to the customer" and the like.
    pub fn note(&self, currency: &str) -> String {
        rep_note(self.price_difference_cents, currency)
    }

    /// "€10.00 more" for the customer's side of it.
    pub fn price(&self, currency: &str) -> String {
        price_words(self.price_difference_cents, currency)
    }
}
