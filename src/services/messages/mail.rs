//! An order's email as the customer reads it: its lines with what each email says about
//! them, and queuing it with the dates it states (what the customer was last told).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Date, Nullable, Text};

use crate::db::audit::Actor;
use crate::db::models::{OrderLine, SwappedAway};
use crate::domain::format::human_date;
use crate::domain::{EtaCause, Told, against_told};
use crate::email::links::{LinkAction, LinkMaker};
use crate::email::outbox::{self, Kind, NewMessage};
use crate::email::render::{self, AlternativeLink, ChoiceLinks, DateNews, Mail, MailLine};
use crate::error::{AppError, AppResult};
use crate::services::engine::events::Ctx;

pub(super) fn user_id(actor: &Actor) -> Option<i64> {
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
    #[diesel(embed)]
    swap: SwappedAway,
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
    pub(super) line_ids: Vec<i64>,
    /// The date each waiting line's email states (`None`: not waiting, or no date).
    pub(super) dates: Vec<Option<NaiveDate>>,
    /// Each line is later than told (or lost its date).
    pub(super) later: Vec<bool>,
}

impl OrderMail {
    pub(super) fn focus(&mut self, line_id: i64, units: i32) {
        if let Some(i) = self.line_ids.iter().position(|id| *id == line_id) {
            self.mail.lines[i].focus = true;
            self.mail.lines[i].this_time += units;
        }
    }

    pub(super) fn waits(&self) -> bool {
        self.mail.lines.iter().any(|l| l.waiting > 0)
    }

    /// Later than told, or no date any more: the news of an ETA-change email.
    pub(super) fn has_bad_news(&self) -> bool {
        self.later.iter().any(|later| *later)
    }

    pub(super) fn message(
        &self,
        kind: Kind,
        key: String,
        created_by: Option<i64>,
    ) -> AppResult<NewMessage> {
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
pub(super) fn enqueue_order_mail(
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

/// Queues several orders' emails (each rendered already, with its key) in one statement
/// and notes the dates each states, as [`enqueue_order_mail`] does for one.
pub(super) fn enqueue_order_mails(
    conn: &mut PgConnection,
    mails: &[(OrderMail, NewMessage)],
) -> AppResult<()> {
    let messages: Vec<&NewMessage> = mails.iter().map(|(_, message)| message).collect();
    let queued: std::collections::HashSet<String> =
        outbox::enqueue_many(conn, &messages)?.into_iter().collect();
    let told: Vec<(&OrderMail, &str)> = mails
        .iter()
        .filter(|(_, message)| queued.contains(&message.idempotency_key))
        .map(|(om, message)| (om, message.idempotency_key.as_str()))
        .collect();
    record_told(conn, &told)?;
    Ok(())
}

/// Appends the dates these queued emails state (by their keys) to `told_dates`, in one
/// statement. Append-only: no row another event may hold is locked.
pub(super) fn record_told(
    conn: &mut PgConnection,
    mails: &[(&OrderMail, &str)],
) -> QueryResult<()> {
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
    crate::db::prepared::sql(
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
pub(super) fn order_mails(
    conn: &mut PgConnection,
    order_ids: &[i64],
    shop: &str,
    today: NaiveDate,
) -> QueryResult<BTreeMap<i64, OrderMail>> {
    let links = LinkMaker::load(conn)?;
    order_mails_linked(conn, order_ids, shop, today, &links)
}

/// [`order_mails`] for a caller that has the links' key already.
pub(super) fn order_mails_linked(
    conn: &mut PgConnection,
    order_ids: &[i64],
    shop: &str,
    today: NaiveDate,
    links: &LinkMaker,
) -> QueryResult<BTreeMap<i64, OrderMail>> {
    let rows: Vec<OrderLineRow> = crate::db::prepared::sql(
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
            swapped: row.swap.swapped,
            swapped_to: row.swap.swapped_to,
            this_time: 0,
            focus: false,
        });
    }
    Ok(mails)
}

pub(super) fn order_mail(
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
pub(super) fn alternative_links(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    links: &LinkMaker,
    order_id: i64,
    line_id: Option<i64>,
) -> AppResult<Vec<AlternativeLink>> {
    let offers = crate::services::inventory::alternatives::offers(conn, ctx, order_id, line_id)?;
    Ok(offers
        .into_iter()
        .map(|offer| alternative_link(ctx, links, offer))
        .collect())
}

/// An offer as an email shows it, with its one-use link.
pub(super) fn alternative_link(
    ctx: &Ctx<'_>,
    links: &LinkMaker,
    offer: crate::services::inventory::alternatives::Offer,
) -> AlternativeLink {
    AlternativeLink {
        url: links.url(
            LinkAction::Swap {
                alternative: offer.alternative_id,
            },
            offer.order_id,
            Some(offer.line_id),
        ),
        when: offer.date_words(ctx.today),
        price: offer.price_words(&ctx.settings.currency),
        instead_of: offer.product,
        name: offer.name,
        sku: offer.sku,
    }
}

pub(super) fn choice_links(links: &LinkMaker, order_id: i64, line_id: Option<i64>) -> ChoiceLinks {
    ChoiceLinks {
        wait: links.url(LinkAction::Wait, order_id, line_id),
        ship: links.url(LinkAction::ShipReady, order_id, line_id),
        cancel: links.url(LinkAction::CancelWaiting, order_id, line_id),
    }
}
