//! The restock email, rendered when it is sent: a receipt that fills 10,000 orders queues
//! 10,000 rows in its transaction, each with the lines it filled and their units (the
//! facts the email states), and the delivery worker renders each from the order as it is
//! then (`email::at_sending`), noting the dates it states as told. An email whose units
//! were all shipped or cancelled before it went is withdrawn: it would say something no
//! longer true.

use std::collections::{BTreeMap, HashMap};

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Nullable, Text};
use serde::{Deserialize, Serialize};

use super::mail::{OrderMail, order_mails, record_told};
use super::page::{self, MessageDetail};
use super::triggers::queue_back_in_stock;
use crate::db::shop_settings;
use crate::db::stock::Product;
use crate::email::at_sending::{self, AtSending, FactsMessage};
use crate::email::outbox::{self, Kind};
use crate::email::render::{self, Rendered};
use crate::error::AppResult;
use crate::services::engine::events::{Ctx, Filled};

/// Units an event reserved for one line: what the restock email is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Reserved {
    line: i64,
    units: i32,
}

/// After free units went down a product's queue: one restock email per order that got
/// units in this event (a second product of the same order in the same event adds its
/// lines to it), and the back-in-stock emails when units are left over. Nothing is
/// rendered here; one statement per 1,000 orders.
pub fn after_fill(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    product: &Product,
    filled: &[Filled],
) -> AppResult<()> {
    if !filled.is_empty() {
        let event = outbox::event_id(conn)?;
        let mut orders: BTreeMap<i64, (&str, Vec<Reserved>)> = BTreeMap::new();
        for f in filled {
            orders
                .entry(f.order_id)
                .or_insert_with(|| (f.order_number.as_str(), Vec::new()))
                .1
                .push(Reserved {
                    line: f.line_id,
                    units: f.units,
                });
        }
        let messages: Vec<FactsMessage> = orders
            .into_iter()
            .map(|(order_id, (number, reserved))| FactsMessage {
                kind: Kind::Restock,
                idempotency_key: format!("restock:{order_id}:{event}"),
                order_id,
                subject: render::restock_subject(number),
                facts: serde_json::json!(reserved),
                created_by: ctx.user_id(),
            })
            .collect();
        at_sending::enqueue(conn, &messages)?;
    }
    if product.available() > 0 {
        queue_back_in_stock(conn, ctx, product)?;
    }
    Ok(())
}

#[derive(QueryableByName)]
struct Unrendered {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    idempotency_key: String,
    #[diesel(sql_type = Nullable<BigInt>)]
    order_id: Option<i64>,
    #[diesel(sql_type = Text)]
    facts: String,
}

/// The order's restock email as it reads now, or `None` when none of the units it is
/// about is still reserved (shipped or cancelled since).
fn restock_now(mail: Option<&OrderMail>, facts: &str) -> anyhow::Result<Option<OrderMail>> {
    let reserved: Vec<Reserved> = serde_json::from_str(facts)?;
    let Some(mut om) = mail.cloned() else {
        return Ok(None);
    };
    for r in &reserved {
        om.focus(r.line, r.units);
    }
    let still_reserved = om.mail.lines.iter().any(|l| l.focus && l.ready > 0);
    Ok(still_reserved.then_some(om))
}

/// Reads the unrendered messages among `ids` and the mails of their orders now (their
/// dates worded as seen on `today`).
fn unrendered(
    conn: &mut PgConnection,
    ids: &[i64],
    lock: bool,
    today: chrono::NaiveDate,
) -> anyhow::Result<(Vec<Unrendered>, BTreeMap<i64, OrderMail>)> {
    let rows: Vec<Unrendered> = diesel::sql_query(format!(
        "SELECT id, kind, idempotency_key, order_id, facts::text AS facts FROM messages
          WHERE id = ANY($1) AND facts IS NOT NULL {}",
        if lock {
            "AND status = 'sending' ORDER BY id FOR UPDATE"
        } else {
            ""
        }
    ))
    .bind::<Array<BigInt>, _>(ids)
    .load(conn)?;
    if rows.is_empty() {
        return Ok((rows, BTreeMap::new()));
    }
    let order_ids: Vec<i64> = rows.iter().filter_map(|r| r.order_id).collect();
    let settings = shop_settings::load(conn)?;
    let mails = order_mails(conn, &order_ids, &settings.shop_name, today)?;
    Ok((rows, mails))
}

fn render_one(
    row: &Unrendered,
    mails: &BTreeMap<i64, OrderMail>,
) -> anyhow::Result<Option<(OrderMail, Rendered)>> {
    anyhow::ensure!(
        row.kind == Kind::Restock.as_str(),
        "no renderer at sending for {} emails",
        row.kind
    );
    let mail = row.order_id.and_then(|id| mails.get(&id));
    let Some(om) = restock_now(mail, &row.facts)? else {
        return Ok(None);
    };
    let rendered = render::render(Kind::Restock, &om.mail)?;
    Ok(Some((om, rendered)))
}

/// The worker's renderer (`email::at_sending::Renderer`): in one transaction, renders the
/// claimed unrendered messages from their orders as they are now, stores each rendering
/// and the dates it states (told), and withdraws the ones with nothing left to say.
pub fn render_at_sending(
    conn: &mut PgConnection,
    ids: &[i64],
) -> anyhow::Result<HashMap<i64, AtSending>> {
    render_on(conn, ids, crate::clock::today())
}

/// `render_at_sending` on the shop's day `today`: the demo's replay sends a past day's
/// emails through it, worded as on that day.
pub fn render_on(
    conn: &mut PgConnection,
    ids: &[i64],
    today: chrono::NaiveDate,
) -> anyhow::Result<HashMap<i64, AtSending>> {
    conn.transaction(|conn| {
        let (rows, mails) = unrendered(conn, ids, true, today)?;
        let mut done = HashMap::new();
        let mut told: Vec<(OrderMail, String)> = Vec::new();
        let (mut stored, mut subjects, mut texts, mut htmls) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut withdrawn = Vec::new();
        for row in &rows {
            match render_one(row, &mails)? {
                Some((om, rendered)) => {
                    stored.push(row.id);
                    subjects.push(rendered.subject.clone());
                    texts.push(rendered.text.clone());
                    htmls.push(rendered.html.clone());
                    told.push((om, row.idempotency_key.clone()));
                    done.insert(row.id, AtSending::Rendered(rendered));
                }
                None => {
                    withdrawn.push(row.id);
                    done.insert(row.id, AtSending::Withdrawn);
                }
            }
        }
        crate::db::prepared::sql(
            "UPDATE messages m SET subject = u.subject, body_text = u.text, body_html = u.html,
                    facts = NULL
               FROM unnest($1::int8[], $2::text[], $3::text[], $4::text[]) AS u(id, subject, text, html)
              WHERE m.id = u.id",
        )
        .bind::<Array<BigInt>, _>(stored)
        .bind::<Array<Text>, _>(subjects)
        .bind::<Array<Text>, _>(texts)
        .bind::<Array<Text>, _>(htmls)
        .execute(conn)?;
        crate::db::prepared::sql(
            "UPDATE messages SET status = 'withdrawn',
                    last_error = 'not sent: the units it was about were shipped or cancelled before it went'
              WHERE id = ANY($1)",
        )
        .bind::<Array<BigInt>, _>(withdrawn)
        .execute(conn)?;
        let told: Vec<(&OrderMail, &str)> =
            told.iter().map(|(om, key)| (om, key.as_str())).collect();
        record_told(conn, &told)?;
        Ok(done)
    })
}

/// A message for the Messages page: one queued unrendered shows what it would say if it
/// were sent now (nothing is stored).
pub fn detail(conn: &mut PgConnection, id: i64) -> AppResult<MessageDetail> {
    let mut detail = page::detail(conn, id)?;
    let (rows, mails) = unrendered(conn, &[id], false, crate::clock::today())?;
    if let Some(row) = rows.first() {
        match render_one(row, &mails)? {
            Some((_, rendered)) => {
                detail.body.body_text = rendered.text;
                detail.body.body_html = rendered.html;
            }
            None => {
                detail.body.body_text =
                    "Nothing to send now: the units this email is about were shipped or cancelled."
                        .to_owned();
            }
        }
    }
    Ok(detail)
}
