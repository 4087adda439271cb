//! Triggers: what each event queues (backorder, restock, back in stock, shipment,
//! cancellation, swap, status update, discount offer), called by the engine and the use
//! cases inside their transactions.

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};

use super::mail::{
    alternative_link, choice_links, enqueue_order_mail, enqueue_order_mails, order_mail,
    order_mails_linked, user_id,
};
use crate::db::audit::{self, Actor};
use crate::db::shop_settings;
use crate::db::stock::Product;
use crate::email::links::{LinkAction, LinkMaker};
use crate::email::outbox::{self, Kind, NewMessage};
use crate::email::render::{self, Mail, SwapNews};
use crate::error::{AppError, AppResult};
use crate::services::engine::events::Ctx;

/// The backorder notices of new orders (`(order id, created by)`) with waiting lines,
/// after their ETAs are set: the same email each would get alone, for any number of
/// orders in a constant number of statements (their lines, the link key, the
/// alternatives' candidates, the messages, the dates they state).
pub fn queue_backorder_notices(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    orders: &[(i64, Option<i64>)],
) -> AppResult<()> {
    if orders.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = orders.iter().map(|(id, _)| *id).collect();
    let links = LinkMaker::load(conn)?;
    let mut mails = order_mails_linked(conn, &ids, &ctx.settings.shop_name, ctx.today, &links)?;
    let mut offers = crate::services::inventory::alternatives::offers_of_orders(conn, ctx, &ids)?;
    let mut queued = Vec::with_capacity(orders.len());
    for &(order_id, created_by) in orders {
        let mut om = mails
            .remove(&order_id)
            .ok_or_else(|| AppError::not_found("the order"))?;
        if !om.waits() {
            continue;
        }
        om.mail.links = Some(choice_links(&links, order_id, None));
        om.mail.alternatives = offers
            .remove(&order_id)
            .unwrap_or_default()
            .into_iter()
            .map(|offer| alternative_link(ctx, &links, offer))
            .collect();
        for line in &mut om.mail.lines {
            line.focus = line.waiting > 0;
        }
        let message = om.message(
            Kind::BackorderNotice,
            format!("backorder:{order_id}"),
            created_by,
        )?;
        queued.push((om, message));
    }
    enqueue_order_mails(conn, &queued)
}

/// One back-in-stock email to each open "notify me" sign-up of the product.
pub(super) fn queue_back_in_stock(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    product: &Product,
) -> AppResult<()> {
    #[derive(QueryableByName)]
    struct SignUp {
        #[diesel(sql_type = BigInt)]
        id: i64,
        #[diesel(sql_type = Text)]
        email: String,
        #[diesel(sql_type = Nullable<BigInt>)]
        customer_id: Option<i64>,
        #[diesel(sql_type = Nullable<Text>)]
        name: Option<String>,
    }
    let signups: Vec<SignUp> = crate::db::prepared::sql(
        "WITH done AS (
             UPDATE restock_subscriptions SET notified_at = now()
              WHERE product_id = $1 AND notified_at IS NULL AND unsubscribed_at IS NULL
             RETURNING id, email)
         SELECT done.id, done.email, c.id AS customer_id, c.name
           FROM done LEFT JOIN customers c ON lower(c.email) = lower(done.email)",
    )
    .bind::<BigInt, _>(product.id)
    .load(conn)?;
    if signups.is_empty() {
        return Ok(());
    }
    let links = LinkMaker::load(conn)?;
    for signup in signups {
        let mail = Mail {
            shop: ctx.settings.shop_name.clone(),
            name: signup.name.unwrap_or_else(|| "there".to_owned()),
            product: Some(product.name.clone()),
            unsubscribe: Some(links.url(LinkAction::Unsubscribe, signup.id, None)),
            ..Mail::default()
        };
        let rendered = render::render(Kind::BackInStock, &mail)?;
        outbox::enqueue(
            conn,
            &NewMessage {
                kind: Kind::BackInStock,
                idempotency_key: format!("back-in-stock:{}", signup.id),
                order_id: None,
                customer_id: signup.customer_id,
                recipient: signup.email,
                subject: rendered.subject,
                body_text: rendered.text,
                body_html: rendered.html,
                created_by: ctx.user_id(),
            },
        )?;
    }
    Ok(())
}

/// The shipment email (part or whole): `shipped` is (line id, units) in this shipment.
pub fn queue_shipment(
    conn: &mut PgConnection,
    actor: &Actor,
    today: NaiveDate,
    order_id: i64,
    shipment_id: i64,
    is_partial: bool,
    shipped: &[(i64, i32)],
) -> AppResult<()> {
    let shop = shop_settings::load(conn)?.shop_name;
    let mut om = order_mail(conn, order_id, &shop, today)?;
    for (line_id, units) in shipped {
        om.focus(*line_id, *units);
    }
    om.mail.partial = is_partial;
    enqueue_order_mail(
        conn,
        &om,
        Kind::Shipment,
        format!("shipment:{shipment_id}"),
        user_id(actor),
    )?;
    Ok(())
}

/// The cancellation email for `units` of a line; `cancelled_after` (the line's cancelled
/// total afterwards) makes each cancellation its own event.
pub fn queue_cancellation(
    conn: &mut PgConnection,
    actor: &Actor,
    today: NaiveDate,
    order_id: i64,
    line_id: i64,
    units: i32,
    cancelled_after: i32,
) -> AppResult<()> {
    let shop = shop_settings::load(conn)?.shop_name;
    let mut om = order_mail(conn, order_id, &shop, today)?;
    om.focus(line_id, units);
    om.mail.product = om
        .line_ids
        .iter()
        .position(|id| *id == line_id)
        .map(|i| om.mail.lines[i].name.clone());
    let key = format!("cancel:{line_id}:{cancelled_after}");
    enqueue_order_mail(conn, &om, Kind::Cancellation, key, user_id(actor))?;
    Ok(())
}

/// The one email about a swap the customer (or a rep for them) took, rendered from the
/// order as it is after it: the alternative's line is the one it is about.
pub fn queue_swap_confirmation(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    order_id: i64,
    swap_id: i64,
    new_line_id: i64,
    news: SwapNews,
) -> AppResult<()> {
    let mut om = order_mail(conn, order_id, &ctx.settings.shop_name, ctx.today)?;
    om.focus(new_line_id, news.units);
    om.mail.product = Some(news.name.clone());
    om.mail.swap = Some(news);
    enqueue_order_mail(
        conn,
        &om,
        Kind::SwapConfirmation,
        format!("swap:{swap_id}"),
        ctx.user_id(),
    )?;
    Ok(())
}

/// An "ETA update" for an order with waiting lines (order page, queue bulk action); at
/// most one a day per order. True when one was queued.
pub fn queue_eta_update(
    conn: &mut PgConnection,
    actor: &Actor,
    order_id: i64,
    today: NaiveDate,
) -> AppResult<bool> {
    conn.transaction(|conn| {
        let shop = shop_settings::load(conn)?.shop_name;
        let mut om = order_mail(conn, order_id, &shop, today)?;
        if !om.waits() {
            return Ok(false);
        }
        for line in &mut om.mail.lines {
            line.focus = line.waiting > 0;
        }
        let key = format!("eta-update:{order_id}:{today}");
        let queued = enqueue_order_mail(conn, &om, Kind::StatusUpdate, key, user_id(actor))?;
        if queued.is_some() {
            audit::record(
                conn,
                actor,
                "eta_update_queued",
                "order",
                om.mail.order_number.clone(),
                None,
                None,
            )?;
        }
        Ok(queued.is_some())
    })
}

/// The discount offer of an approved proposal (with its coupon code). True when queued;
/// the same proposal never queues two.
pub fn queue_discount_offer(
    conn: &mut PgConnection,
    actor: &Actor,
    proposal_id: i64,
    today: NaiveDate,
) -> AppResult<bool> {
    use crate::db::schema::discount_proposals::dsl as d;
    conn.transaction(|conn| {
        let (order_id, kind, value, coupon): (i64, String, i32, Option<String>) =
            d::discount_proposals
                .find(proposal_id)
                .select((d::order_id, d::kind, d::value, d::coupon_code))
                .first(conn)
                .optional()?
                .ok_or_else(|| AppError::not_found("the discount proposal"))?;
        let settings = shop_settings::load(conn)?;
        let mut om = order_mail(conn, order_id, &settings.shop_name, today)?;
        om.mail.offer = Some(match kind.as_str() {
            "percent" => format!("{value}% off"),
            "amount" => format!(
                "{} off",
                crate::format::money(i64::from(value), &settings.currency)
            ),
            _ => "free shipping".to_owned(),
        });
        om.mail.coupon = coupon;
        let key = format!("discount:{proposal_id}");
        Ok(enqueue_order_mail(conn, &om, Kind::DiscountOffer, key, user_id(actor))?.is_some())
    })
}
