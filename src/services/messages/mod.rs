//! Customer messaging use cases: what each event queues (backorder, delay, restock,
//! shipment, cancellation, back in stock, status updates), what reps do on the Messages
//! page (preview, retry, compose, bulk update). Every email is rendered and queued in the caller's transaction, under an
//! idempotency key that names its event, so nothing is queued twice.

pub mod message_search;

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Date, Int4, Nullable, Text, Timestamptz};
use serde_json::json;

use crate::db::audit::{self, Actor};
use crate::db::models::OrderLine;
use crate::db::shop_settings;
use crate::db::stock::Product;
use crate::domain::format::human_date;
use crate::domain::{EtaCause, Told, against_told};
use crate::email::links::{LinkAction, LinkMaker};
use crate::email::outbox::{self, Kind, NewMessage};
use crate::email::render::{
    self, AlternativeLink, ChoiceLinks, DateNews, Mail, MailLine, SwapNews,
};
use crate::error::{AppError, AppResult};
use crate::services::engine::events::{Ctx, Filled};

fn user_id(actor: &Actor) -> Option<i64> {
    match actor {
        Actor::User { id, .. } => Some(*id),
        _ => None,
    }
}

/// An order line (the read model) with what its order's email says about it.
#[derive(Debug, Clone, QueryableByName)]
struct OrderLineRow {
    #[diesel(embed)]
    line: OrderLine,
    #[diesel(sql_type = Text)]
    number: String,
    #[diesel(sql_type = Text)]
    email: String,
    #[diesel(sql_type = Text)]
    customer_name: String,
    #[diesel(sql_type = Text)]
    product: String,
    #[diesel(sql_type = Text)]
    sku: String,
    #[diesel(sql_type = Nullable<Date>)]
    preorder_release_on: Option<NaiveDate>,
    /// The last date an email stated for the line.
    #[diesel(sql_type = Nullable<Date>)]
    told_on: Option<NaiveDate>,
    /// What moved the line later, while an ETA-change email is pending.
    #[diesel(sql_type = Nullable<Text>)]
    cause: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    cause_reference: Option<String>,
    /// Units moved to an alternative (counted in `cancelled`), and its name.
    #[diesel(sql_type = Int4)]
    swapped: i32,
    #[diesel(sql_type = Nullable<Text>)]
    swapped_to: Option<String>,
}

impl std::ops::Deref for OrderLineRow {
    type Target = OrderLine;

    fn deref(&self) -> &OrderLine {
        &self.line
    }
}

/// An order as an email sees it: who gets it and what it says about the lines.
#[derive(Debug, Clone)]
pub struct OrderMail {
    pub order_id: i64,
    pub customer_id: i64,
    pub recipient: String,
    pub mail: Mail,
    line_ids: Vec<i64>,
    /// The date each waiting line's email states (`None`: not waiting, or no date).
    dates: Vec<Option<NaiveDate>>,
    /// Each line is later than told (or lost its date).
    later: Vec<bool>,
}

impl OrderMail {
    fn focus(&mut self, line_id: i64, units: i32) {
        if let Some(i) = self.line_ids.iter().position(|id| *id == line_id) {
            self.mail.lines[i].focus = true;
            self.mail.lines[i].this_time += units;
        }
    }

    fn waits(&self) -> bool {
        self.mail.lines.iter().any(|l| l.waiting > 0)
    }

    /// Later than told, or no date any more: the news of an ETA-change email.
    fn has_bad_news(&self) -> bool {
        self.later.iter().any(|later| *later)
    }

    fn message(&self, kind: Kind, key: String, created_by: Option<i64>) -> AppResult<NewMessage> {
        let rendered = render::render(kind, &self.mail)?;
        Ok(NewMessage {
            kind,
            idempotency_key: key,
            order_id: Some(self.order_id),
            customer_id: Some(self.customer_id),
            recipient: self.recipient.clone(),
            subject: rendered.subject,
            body_text: rendered.text,
            body_html: rendered.html,
            created_by,
        })
    }
}

/// How a waiting line's date stands against the last one told, in the customer's words.
fn date_news(row: &OrderLineRow, today: NaiveDate) -> Option<DateNews> {
    let why = || {
        row.cause
            .as_deref()
            .and_then(|code| EtaCause::from_stored(code, row.cause_reference.clone()))
            .map(|cause| cause.customer_words().to_owned())
    };
    let (later, now, told, days, why) = match against_told(row.told_on, row.eta_worst) {
        Told::Later { told, now } => (true, Some(now), told, (now - told).num_days(), why()),
        Told::NoDateNow { told } => (true, None, told, 0, why()),
        Told::Earlier { told, now } => (false, Some(now), told, (told - now).num_days(), None),
        Told::NeverTold | Told::AsTold => return None,
    };
    Some(DateNews {
        product: row.product.clone(),
        later,
        now: now.map(|d| human_date(d, today)),
        was: human_date(told, today),
        days,
        why,
    })
}

/// Queues an order's email and notes the date it states for each waiting line: what the
/// customer was last told. Returns the new message's id (`None`: queued before).
fn enqueue_order_mail(
    conn: &mut PgConnection,
    om: &OrderMail,
    kind: Kind,
    key: String,
    created_by: Option<i64>,
) -> AppResult<Option<i64>> {
    let message = om.message(kind, key, created_by)?;
    let id = outbox::enqueue(conn, &message)?;
    if id.is_some() {
        record_told(conn, &[(om, message.idempotency_key.as_str())])?;
    }
    Ok(id)
}

/// Appends the dates these queued emails state (by their keys) to `told_dates`, in one
/// statement. Append-only: no row another event may hold is locked.
fn record_told(conn: &mut PgConnection, mails: &[(&OrderMail, &str)]) -> QueryResult<()> {
    let (mut lines, mut dates, mut keys) = (Vec::new(), Vec::new(), Vec::new());
    for (om, key) in mails {
        for (line_id, date) in om.line_ids.iter().zip(&om.dates) {
            if let Some(date) = date {
                lines.push(*line_id);
                dates.push(*date);
                keys.push(key.to_string());
            }
        }
    }
    if lines.is_empty() {
        return Ok(());
    }
    diesel::sql_query(
        "INSERT INTO told_dates (order_line_id, told_on, message_id)
         SELECT u.line, u.day, m.id
           FROM unnest($1::int8[], $2::date[], $3::text[]) AS u(line, day, key)
           JOIN messages m ON m.idempotency_key = u.key",
    )
    .bind::<Array<BigInt>, _>(lines)
    .bind::<Array<Date>, _>(dates)
    .bind::<Array<Text>, _>(keys)
    .execute(conn)?;
    Ok(())
}

/// The orders' mails in one query, keyed by order id.
fn order_mails(
    conn: &mut PgConnection,
    order_ids: &[i64],
    shop: &str,
    today: NaiveDate,
) -> QueryResult<BTreeMap<i64, OrderMail>> {
    let rows: Vec<OrderLineRow> = diesel::sql_query(
        "SELECT l.*, o.number, c.email, c.name AS customer_name, p.name AS product, p.sku,
                t.told_on, k.cause, k.reference AS cause_reference, p.preorder_release_on,
                coalesce(sw.units, 0)::int4 AS swapped, sw.swapped_to
           FROM orders o
           JOIN customers c ON c.id = o.customer_id
           JOIN order_lines l ON l.order_id = o.id
           JOIN products p ON p.id = l.product_id
           LEFT JOIN LATERAL (SELECT sum(s.units) AS units, string_agg(DISTINCT sp.name, ', ') AS swapped_to
                                FROM swaps s JOIN order_lines sl ON sl.id = s.to_line_id
                                JOIN products sp ON sp.id = sl.product_id
                               WHERE s.from_line_id = l.id) sw ON l.cancelled > 0
           LEFT JOIN LATERAL (SELECT told_on FROM told_dates t WHERE t.order_line_id = l.id
                               ORDER BY t.id DESC LIMIT 1) t ON l.waiting > 0
           LEFT JOIN eta_update_causes k ON k.order_line_id = l.id AND l.waiting > 0
          WHERE o.id = ANY($1)
          ORDER BY o.id, l.id",
    )
    .bind::<Array<BigInt>, _>(order_ids)
    .load(conn)?;
    let links = LinkMaker::load(conn)?;
    let mut mails: BTreeMap<i64, OrderMail> = BTreeMap::new();
    for row in rows {
        let entry = mails.entry(row.order_id).or_insert_with(|| OrderMail {
            order_id: row.order_id,
            customer_id: row.customer_id,
            recipient: row.email.clone(),
            mail: Mail {
                shop: shop.to_owned(),
                name: row.customer_name.clone(),
                order_number: Some(row.number.clone()),
                status_url: Some(links.status_url(row.order_id)),
                ..Mail::default()
            },
            line_ids: Vec::new(),
            dates: Vec::new(),
            later: Vec::new(),
        });
        let waiting = row.qty - row.allocated - row.shipped - row.cancelled;
        entry.line_ids.push(row.id);
        let date = (waiting > 0).then_some(row.eta_worst).flatten();
        entry.dates.push(date);
        let news = (waiting > 0).then(|| date_news(&row, today)).flatten();
        entry.later.push(news.as_ref().is_some_and(|n| n.later));
        entry.mail.news.extend(news);
        entry.mail.lines.push(MailLine {
            name: row.product,
            sku: row.sku,
            qty: row.line.qty,
            ready: row.line.allocated,
            shipped: row.line.shipped,
            cancelled: row.line.cancelled,
            waiting,
            date: (waiting > 0)
                .then_some(row.line.eta_worst)
                .flatten()
                .map(|d| human_date(d, today)),
            estimate: row.line.eta_is_estimate,
            // A pre-order line, while its release day is ahead.
            releases_on: (waiting > 0)
                .then_some(row.preorder_release_on)
                .flatten()
                .filter(|&d| d > today)
                .map(|d| human_date(d, today)),
            swapped: row.swapped,
            swapped_to: row.swapped_to,
            this_time: 0,
            focus: false,
        });
    }
    Ok(mails)
}

fn order_mail(
    conn: &mut PgConnection,
    order_id: i64,
    shop: &str,
    today: NaiveDate,
) -> AppResult<OrderMail> {
    order_mails(conn, &[order_id], shop, today)?
        .remove(&order_id)
        .ok_or_else(|| AppError::not_found("the order"))
}

/// The alternatives that ship sooner than the order's waiting lines (or one line) now,
/// each with its one-use link.
fn alternative_links(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    links: &LinkMaker,
    order_id: i64,
    line_id: Option<i64>,
) -> AppResult<Vec<AlternativeLink>> {
    let offers = crate::services::inventory::alternatives::offers(conn, ctx, order_id, line_id)?;
    Ok(offers
        .into_iter()
        .map(|offer| AlternativeLink {
            url: links.url(
                LinkAction::Swap {
                    alternative: offer.alternative_id,
                },
                order_id,
                Some(offer.line_id),
            ),
            when: offer.date_words(ctx.today),
            price: offer.price_words(&ctx.settings.currency),
            instead_of: offer.product,
            name: offer.name,
            sku: offer.sku,
        })
        .collect())
}

fn choice_links(links: &LinkMaker, order_id: i64, line_id: Option<i64>) -> ChoiceLinks {
    ChoiceLinks {
        wait: links.url(LinkAction::Wait, order_id, line_id),
        ship: links.url(LinkAction::ShipReady, order_id, line_id),
        cancel: links.url(LinkAction::CancelWaiting, order_id, line_id),
    }
}

// ---------------------------------------------------------------------------------------
// Triggers: called by the engine and the use cases, inside their transactions.

/// The backorder notice for a new order with waiting lines (after its ETAs are set).
pub fn queue_backorder_notice(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    order_id: i64,
) -> AppResult<()> {
    let mut om = order_mail(conn, order_id, &ctx.settings.shop_name, ctx.today)?;
    if !om.waits() {
        return Ok(());
    }
    let links = LinkMaker::load(conn)?;
    om.mail.links = Some(choice_links(&links, order_id, None));
    om.mail.alternatives = alternative_links(conn, ctx, &links, order_id, None)?;
    for line in &mut om.mail.lines {
        line.focus = line.waiting > 0;
    }
    enqueue_order_mail(
        conn,
        &om,
        Kind::BackorderNotice,
        format!("backorder:{order_id}"),
        ctx.user_id(),
    )?;
    Ok(())
}

/// Sends the ETA-change emails that are due at `now` (the delivery worker's clock; tests
/// set it): one per order, rendered from the order as it is now, covering every line later
/// than its customer was told, with the cause of each. An order with nothing left to tell
/// (the dates moved back, an email since stated them, nothing waits) sends nothing. Each
/// pending order is claimed with `FOR UPDATE SKIP LOCKED` and removed in the transaction
/// that queues its email, so any number of workers send each once. Returns the emails
/// queued.
pub fn send_due_eta_updates(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    today: NaiveDate,
) -> AppResult<usize> {
    #[derive(QueryableByName)]
    struct Pending {
        #[diesel(sql_type = BigInt)]
        order_id: i64,
        #[diesel(sql_type = Timestamptz)]
        first_changed_at: DateTime<Utc>,
    }
    let mut queued = 0;
    // A bounded round, so one tick never holds the worker for long.
    for _ in 0..500 {
        let done = conn.transaction(|conn| {
            let pending: Option<Pending> = diesel::sql_query(
                "SELECT order_id, first_changed_at FROM eta_updates_pending
                  WHERE due_at <= $1
                  ORDER BY due_at, order_id
                  LIMIT 1
                  FOR UPDATE SKIP LOCKED",
            )
            .bind::<Timestamptz, _>(now)
            .get_result(conn)
            .optional()?;
            let Some(pending) = pending else {
                return Ok::<_, AppError>(None);
            };
            let settings = shop_settings::load(conn)?;
            let window =
                chrono::Duration::hours(i64::from(settings.eta_update_window_hours.max(1)));
            // At most one date-change email per customer in a window, too: a customer
            // with two orders waiting on one delivery hears of them a window apart, not
            // seconds apart. Another worker on the same customer: try again in a minute.
            let (locked, last_sent) = customer_turn(conn, pending.order_id)?;
            let postpone_to = if !locked {
                Some(now + chrono::Duration::minutes(1))
            } else {
                last_sent
                    .filter(|last| *last > now - window)
                    .map(|last| last.min(now) + window)
            };
            if let Some(due) = postpone_to {
                diesel::sql_query("UPDATE eta_updates_pending SET due_at = $2 WHERE order_id = $1")
                    .bind::<BigInt, _>(pending.order_id)
                    .bind::<Timestamptz, _>(due)
                    .execute(conn)?;
                return Ok(Some(false));
            }
            let shop = settings.shop_name.clone();
            let mail =
                order_mails(conn, &[pending.order_id], &shop, today)?.remove(&pending.order_id);
            // Read first: the causes go with the pending row.
            diesel::sql_query("DELETE FROM eta_updates_pending WHERE order_id = $1")
                .bind::<BigInt, _>(pending.order_id)
                .execute(conn)?;
            let Some(mut om) = mail.filter(OrderMail::has_bad_news) else {
                return Ok(Some(false));
            };
            om.mail.news_in_body = true;
            let links = LinkMaker::load(conn)?;
            let later_lines: Vec<usize> = (0..om.later.len()).filter(|i| om.later[*i]).collect();
            // One line: the email and its links are about it; several: about the order.
            let line_id = match later_lines.as_slice() {
                [one] => {
                    om.mail.lines[*one].focus = true;
                    om.mail.product = Some(om.mail.lines[*one].name.clone());
                    Some(om.line_ids[*one])
                }
                _ => None,
            };
            om.mail.links = Some(choice_links(&links, pending.order_id, line_id));
            let ctx = Ctx {
                actor: &Actor::System,
                today,
                settings: &settings,
            };
            om.mail.alternatives =
                alternative_links(conn, &ctx, &links, pending.order_id, line_id)?;
            let key = format!(
                "eta-change:{}:{}",
                pending.order_id,
                pending.first_changed_at.timestamp_micros()
            );
            enqueue_order_mail(conn, &om, Kind::DelayNotice, key, None)?;
            Ok(Some(true))
        })?;
        match done {
            None => break,
            Some(true) => queued += 1,
            Some(false) => {}
        }
    }
    Ok(queued)
}

/// Whether this transaction may send the order's customer a date-change email now
/// (an advisory lock per customer: row locks on customers are taken by intake, which
/// also waits on pending rows), and when their last one was queued.
fn customer_turn(
    conn: &mut PgConnection,
    order_id: i64,
) -> QueryResult<(bool, Option<DateTime<Utc>>)> {
    #[derive(QueryableByName)]
    struct Turn {
        #[diesel(sql_type = Bool)]
        locked: bool,
        #[diesel(sql_type = Nullable<Timestamptz>)]
        last_sent: Option<DateTime<Utc>>,
    }
    let turn: Turn = diesel::sql_query(
        "SELECT pg_try_advisory_xact_lock(hashtextextended('backorder-desk:eta-change:' || o.customer_id, 0)) AS locked,
                (SELECT max(m.created_at) FROM messages m
                  WHERE m.customer_id = o.customer_id AND m.kind = 'delay_notice') AS last_sent
           FROM orders o WHERE o.id = $1",
    )
    .bind::<BigInt, _>(order_id)
    .get_result(conn)?;
    Ok((turn.locked, turn.last_sent))
}

/// After free units went down a product's queue: one restock email per order that got
/// units in this event, and the back-in-stock emails when units are left over.
pub fn after_fill(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    product: &Product,
    filled: &[Filled],
) -> AppResult<()> {
    if !filled.is_empty() {
        let event = outbox::event_id(conn)?;
        let order_ids: Vec<i64> = filled.iter().map(|f| f.order_id).collect();
        let mut mails = order_mails(conn, &order_ids, &ctx.settings.shop_name, ctx.today)?;
        for f in filled {
            if let Some(om) = mails.get_mut(&f.order_id) {
                om.focus(f.line_id, f.units);
            }
        }
        // A receipt that fills two lines of one order (two products) re-renders the
        // email it queued for the first: one email per order per event. Rendered and
        // written a thousand at a time, so a receipt for 10,000 orders does not hold
        // 10,000 rendered emails in memory at once.
        let orders: Vec<&OrderMail> = mails.values().collect();
        for chunk in orders.chunks(1000) {
            let messages = chunk
                .iter()
                .map(|om| {
                    let key = format!("restock:{}:{event}", om.order_id);
                    om.message(Kind::Restock, key, ctx.user_id())
                })
                .collect::<AppResult<Vec<_>>>()?;
            outbox::enqueue_or_rerender(conn, &messages)?;
            let told: Vec<(&OrderMail, &str)> = chunk
                .iter()
                .zip(&messages)
                .map(|(om, m)| (*om, m.idempotency_key.as_str()))
                .collect();
            record_told(conn, &told)?;
        }
    }
    if product.available() > 0 {
        queue_back_in_stock(conn, ctx, product)?;
    }
    Ok(())
}

/// One back-in-stock email to each open "notify me" sign-up of the product.
fn queue_back_in_stock(conn: &mut PgConnection, ctx: &Ctx<'_>, product: &Product) -> AppResult<()> {
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
    let signups: Vec<SignUp> = diesel::sql_query(
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

/// What the delivery worker runs every minute (`email::worker::WorkerConfig::periodic`):
/// the date-change emails whose window is over (each order claimed with SKIP LOCKED, so
/// every worker may run this at once), then the status updates (`run_periodic`).
pub fn periodic_jobs(conn: &mut PgConnection) -> anyhow::Result<()> {
    let today = crate::clock::today();
    let changes = send_due_eta_updates(conn, crate::clock::now(), today)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if changes > 0 {
        tracing::info!(changes, "ETA-change emails queued");
    }
    let queued = run_periodic(conn, today).map_err(|e| anyhow::anyhow!("{e}"))?;
    if queued > 0 {
        tracing::info!(queued, "periodic status updates queued");
    }
    Ok(())
}

/// The periodic jobs: give back claims of vanished workers, and queue a status update for
/// every order still waiting whose customer heard nothing for the shop's number of days.
/// An advisory lock makes one instance do each round. Returns the updates queued.
pub fn run_periodic(conn: &mut PgConnection, today: NaiveDate) -> AppResult<usize> {
    outbox::release_stale_claims(conn)?;
    conn.transaction(|conn| {
        #[derive(QueryableByName)]
        struct Locked {
            #[diesel(sql_type = Bool)]
            locked: bool,
        }
        let lock: Locked = diesel::sql_query(
            "SELECT pg_try_advisory_xact_lock(hashtext('backorder-desk:status-updates')::int8) AS locked",
        )
        .get_result(conn)?;
        if !lock.locked {
            return Ok(0);
        }
        let settings = shop_settings::load(conn)?;
        #[derive(QueryableByName)]
        struct Due {
            #[diesel(sql_type = BigInt)]
            order_id: i64,
        }
        let due: Vec<Due> = diesel::sql_query(
            "SELECT l.order_id FROM order_lines l
              WHERE l.waiting > 0
              GROUP BY l.order_id
             HAVING greatest(max(coalesce(l.waiting_since, l.placed_at)),
                             coalesce((SELECT max(m.created_at) FROM messages m WHERE m.order_id = l.order_id),
                                      '-infinity'::timestamptz))
                    < now() - make_interval(days => $1)
              LIMIT 500",
        )
        .bind::<Int4, _>(settings.status_update_after_days)
        .load(conn)?;
        let ids: Vec<i64> = due.iter().map(|d| d.order_id).collect();
        let mails = order_mails(conn, &ids, &settings.shop_name, today)?;
        let mut queued = 0;
        for om in mails.values() {
            let key = format!("status:{}:{today}", om.order_id);
            if enqueue_order_mail(conn, om, Kind::StatusUpdate, key, None)?.is_some() {
                queued += 1;
            }
        }
        Ok(queued)
    })
}

// ---------------------------------------------------------------------------------------
// The Messages page.

#[derive(Debug, Clone, QueryableByName)]
pub struct CountRow {
    #[diesel(sql_type = Text)]
    pub status: String,
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = BigInt)]
    pub count: i64,
}

#[derive(Debug, Clone, QueryableByName)]
pub struct MessageRow {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = Text)]
    pub status: String,
    #[diesel(sql_type = Text)]
    pub recipient: String,
    #[diesel(sql_type = Text)]
    pub subject: String,
    #[diesel(sql_type = Int4)]
    pub attempts: i32,
    #[diesel(sql_type = Nullable<Text>)]
    pub last_error: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub smtp_response: Option<String>,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    pub next_attempt_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub sent_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Text>)]
    pub order_number: Option<String>,
}

#[derive(Debug, Clone, QueryableByName)]
pub struct MessageDetail {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = Text)]
    pub status: String,
    #[diesel(sql_type = Text)]
    pub idempotency_key: String,
    #[diesel(sql_type = Text)]
    pub recipient: String,
    #[diesel(sql_type = Text)]
    pub subject: String,
    #[diesel(sql_type = Text)]
    pub body_text: String,
    #[diesel(sql_type = Text)]
    pub body_html: String,
    #[diesel(sql_type = Int4)]
    pub attempts: i32,
    #[diesel(sql_type = Nullable<Text>)]
    pub last_error: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub smtp_response: Option<String>,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    pub next_attempt_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub sent_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Text>)]
    pub order_number: Option<String>,
}

pub fn detail(conn: &mut PgConnection, id: i64) -> AppResult<MessageDetail> {
    diesel::sql_query(
        "SELECT m.id, m.kind, m.status, m.idempotency_key, m.recipient, m.subject, m.body_text,
                m.body_html, m.attempts, m.last_error, m.smtp_response, m.created_at,
                m.next_attempt_at, m.sent_at, o.number AS order_number
           FROM messages m LEFT JOIN orders o ON o.id = m.order_id
          WHERE m.id = $1",
    )
    .bind::<BigInt, _>(id)
    .get_result(conn)
    .optional()?
    .ok_or_else(|| AppError::not_found("the message"))
}

/// Puts a failed (or dead) message back in the queue with a fresh set of attempts.
pub fn retry(conn: &mut PgConnection, actor: &Actor, id: i64) -> AppResult<()> {
    conn.transaction(|conn| {
        let changed = diesel::sql_query(
            "UPDATE messages SET status = 'queued', attempts = 0, next_attempt_at = now()
              WHERE id = $1 AND status IN ('failed', 'dead')",
        )
        .bind::<BigInt, _>(id)
        .execute(conn)?;
        if changed == 0 {
            return Err(AppError::Conflict(
                "only a failed message can be retried".to_owned(),
            ));
        }
        diesel::sql_query(format!("NOTIFY {}", outbox::CHANNEL)).execute(conn)?;
        audit::record(
            conn,
            actor,
            "message_retried",
            "message",
            Some(id.to_string()),
            None,
            None,
        )?;
        Ok(())
    })
}

/// Who a rep's message goes to.
#[derive(Debug, Clone)]
pub enum ComposeTarget {
    Order(String),
    Customer(String),
}

/// A rep's message, rendered for preview or queued.
#[derive(Debug, Clone)]
pub struct Composed {
    pub recipients: Vec<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub count: usize,
}

fn paragraphs(body: &str) -> Vec<String> {
    body.replace("\r\n", "\n")
        .split("\n\n")
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .collect()
}

fn check_compose(subject: &str, body: &str) -> AppResult<()> {
    let mut problems = Vec::new();
    if let Err(message) =
        crate::types::single_line_of(subject, 200, "a subject of 1 to 200 characters")
    {
        problems.push(crate::error::FieldError::new("subject", message));
    }
    if body.trim().is_empty() || body.chars().count() > 10_000 {
        problems.push(crate::error::FieldError::new(
            "body",
            "a message of 1 to 10,000 characters",
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(AppError::invalid_fields(problems))
    }
}

fn compose_mail(
    conn: &mut PgConnection,
    target: &ComposeTarget,
    shop: &str,
    today: NaiveDate,
) -> AppResult<(Option<OrderMail>, Mail, String, Option<i64>)> {
    match target {
        ComposeTarget::Order(number) => {
            use crate::db::schema::orders::dsl as o;
            let order_id: i64 = o::orders
                .filter(o::number.eq(number.trim()))
                .select(o::id)
                .first(conn)
                .optional()?
                .ok_or_else(|| {
                    AppError::invalid(
                        "target",
                        format!("there is no order {}", crate::types::truncate(number)),
                    )
                })?;
            let om = order_mail(conn, order_id, shop, today)?;
            let mail = om.mail.clone();
            let recipient = om.recipient.clone();
            let customer = Some(om.customer_id);
            Ok((Some(om), mail, recipient, customer))
        }
        ComposeTarget::Customer(email) => {
            use crate::db::schema::customers::dsl as c;
            let (id, address, name): (i64, String, String) = c::customers
                .filter(
                    diesel::dsl::sql::<Bool>("lower(email) = lower(")
                        .bind::<Text, _>(email.trim().to_owned())
                        .sql(")"),
                )
                .select((c::id, c::email, c::name))
                .first(conn)
                .optional()?
                .ok_or_else(|| {
                    AppError::invalid(
                        "target",
                        format!("there is no customer {}", crate::types::truncate(email)),
                    )
                })?;
            let mail = Mail {
                shop: shop.to_owned(),
                name,
                ..Mail::default()
            };
            Ok((None, mail, address, Some(id)))
        }
    }
}

/// A rep's words: `compose_id` comes from the form, so a double submit queues once.
#[derive(Debug, Clone)]
pub struct Draft {
    pub subject: String,
    pub body: String,
    pub compose_id: String,
}

/// Renders (and with `send`, queues) a rep's message to an order's customer or to a
/// customer.
pub fn compose(
    conn: &mut PgConnection,
    actor: &Actor,
    target: &ComposeTarget,
    draft: &Draft,
    send: bool,
    today: NaiveDate,
) -> AppResult<Composed> {
    let (subject, body, compose_id) = (
        draft.subject.as_str(),
        draft.body.as_str(),
        draft.compose_id.as_str(),
    );
    check_compose(subject, body)?;
    conn.transaction(|conn| {
        let shop = shop_settings::load(conn)?.shop_name;
        let (om, mut mail, recipient, customer_id) = compose_mail(conn, target, &shop, today)?;
        mail.subject = Some(subject.trim().to_owned());
        mail.paragraphs = paragraphs(body);
        let rendered = render::render(Kind::Custom, &mail)?;
        if send {
            let key = format!("custom:{compose_id}");
            let queued = outbox::enqueue(
                conn,
                &NewMessage {
                    kind: Kind::Custom,
                    idempotency_key: key,
                    order_id: om.as_ref().map(|o| o.order_id),
                    customer_id,
                    recipient: recipient.clone(),
                    subject: rendered.subject.clone(),
                    body_text: rendered.text.clone(),
                    body_html: rendered.html.clone(),
                    created_by: user_id(actor),
                },
            )?;
            if let (Some(_), Some(om)) = (queued, &om) {
                record_told(conn, &[(om, &format!("custom:{compose_id}"))])?;
            }
            if let Some(id) = queued {
                audit::record(
                    conn,
                    actor,
                    "message_composed",
                    "message",
                    Some(id.to_string()),
                    None,
                    Some(json!({ "to": recipient })),
                )?;
            }
        }
        Ok(Composed {
            recipients: vec![recipient],
            subject: rendered.subject,
            text: rendered.text,
            html: rendered.html,
            count: 1,
        })
    })
}

/// Renders (and with `send`, queues) one message to every order waiting on `sku`, each
/// with that order's lines. The preview shows the first.
pub fn bulk_update(
    conn: &mut PgConnection,
    actor: &Actor,
    sku: &str,
    draft: &Draft,
    send: bool,
    today: NaiveDate,
) -> AppResult<Composed> {
    let (subject, body, compose_id) = (
        draft.subject.as_str(),
        draft.body.as_str(),
        draft.compose_id.as_str(),
    );
    check_compose(subject, body)?;
    conn.transaction(|conn| {
        #[derive(QueryableByName)]
        struct Waiting {
            #[diesel(sql_type = BigInt)]
            order_id: i64,
            #[diesel(sql_type = BigInt)]
            line_id: i64,
        }
        let waiting: Vec<Waiting> = diesel::sql_query(
            "SELECT l.order_id, l.id AS line_id FROM order_lines l JOIN products p ON p.id = l.product_id
              WHERE lower(p.sku) = lower($1) AND l.waiting > 0
              ORDER BY l.placed_at, l.id",
        )
        .bind::<Text, _>(sku.trim())
        .load(conn)?;
        if waiting.is_empty() {
            return Err(AppError::invalid("sku", format!("nobody is waiting on {}", crate::types::truncate(sku))));
        }
        let shop = shop_settings::load(conn)?.shop_name;
        let ids: Vec<i64> = waiting.iter().map(|w| w.order_id).collect();
        let mut mails = order_mails(conn, &ids, &shop, today)?;
        for w in &waiting {
            if let Some(om) = mails.get_mut(&w.order_id) {
                om.focus(w.line_id, 0);
                om.mail.subject = Some(subject.trim().to_owned());
                om.mail.paragraphs = paragraphs(body);
            }
        }
        let mut first = None;
        let mut recipients = Vec::new();
        for om in mails.values() {
            let message = om.message(Kind::Custom, format!("bulk:{compose_id}:{}", om.order_id), user_id(actor))?;
            if first.is_none() {
                first = Some(message.clone());
            }
            recipients.push(om.recipient.clone());
            if send && outbox::enqueue(conn, &message)?.is_some() {
                record_told(conn, &[(om, &message.idempotency_key)])?;
            }
        }
        if send {
            audit::record(conn, actor, "bulk_message_queued", "product", Some(sku.trim().to_owned()), None, Some(json!({ "orders": mails.len() })))?;
        }
        let first = first.ok_or_else(|| AppError::not_found("a waiting order"))?;
        Ok(Composed {
            count: recipients.len(),
            recipients,
            subject: first.subject,
            text: first.body_text,
            html: first.body_html,
        })
    })
}

// ---------------------------------------------------------------------------------------
// The demo shop.

/// Gives the demo shop messages in every state: the seed calls it after the orders, so
/// the Messages page has sent, queued, sending, failed and dead rows to show.
pub fn seed_messages(conn: &mut PgConnection) -> AppResult<usize> {
    conn.transaction(|conn| {
        let settings = shop_settings::load(conn)?;
        let today = crate::clock::today();
        #[derive(QueryableByName)]
        struct Id {
            #[diesel(sql_type = BigInt)]
            id: i64,
        }
        let orders: Vec<Id> = diesel::sql_query("SELECT id FROM orders ORDER BY id DESC LIMIT 12").load(conn)?;
        let ids: Vec<i64> = orders.iter().map(|o| o.id).collect();
        let mails = order_mails(conn, &ids, &settings.shop_name, today)?;
        let mut made = 0;
        let states = [
            ("sent", None, Some("250 2.0.0 Ok: queued as 4F2A1")),
            ("sent", None, Some("250 OK")),
            ("queued", None, None),
            ("sending", None, None),
            ("failed", Some("550 5.1.1 <{to}>: Recipient address rejected: User unknown"), None),
            ("failed", Some("gave up after 8 attempts: Connection refused (os error 111)"), None),
            ("dead", Some("the recipient is not an address"), None),
            ("queued", Some("421 4.7.0 Try again later, closing connection"), None),
        ];
        for (om, (status, error, response)) in mails.values().zip(states) {
            let mut mail = om.mail.clone();
            mail.subject = Some(format!("About your order {}", om.mail.order_number.clone().unwrap_or_default()));
            mail.paragraphs = vec!["A short note from the demo shop: this message shows how an email looks in each state of the outbox.".to_owned()];
            let kind = if status == "sent" { Kind::StatusUpdate } else { Kind::Custom };
            let message = om.message(kind, format!("demo:{}:{status}:{made}", om.order_id), None)?;
            if let Some(id) = outbox::enqueue(conn, &message)? {
                diesel::sql_query(
                    "UPDATE messages SET status = $2, last_error = $3, smtp_response = $4,
                            attempts = CASE WHEN $2 = 'queued' AND $3 IS NULL THEN 0 WHEN $2 = 'failed' THEN 8 ELSE 1 END,
                            sent_at = CASE WHEN $2 = 'sent' THEN now() END,
                            next_attempt_at = CASE WHEN $2 = 'queued' AND $3 IS NOT NULL THEN now() + interval '10 minutes'
                                                   WHEN $2 = 'sending' THEN now() + interval '5 minutes' ELSE now() END
                      WHERE id = $1",
                )
                .bind::<BigInt, _>(id)
                .bind::<Text, _>(status)
                .bind::<Nullable<Text>, _>(error.map(|e| e.replace("{to}", &om.recipient)))
                .bind::<Nullable<Text>, _>(response)
                .execute(conn)?;
                made += 1;
            }
        }
        Ok(made)
    })
}
