//! A rep's own message to one customer, or to every order waiting on a product.

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Text};
use serde_json::json;

use super::mail::{OrderMail, order_mail, order_mails, record_told, user_id};
use crate::db::audit::{self, Actor};
use crate::db::shop_settings;
use crate::email::outbox::{self, Kind, NewMessage};
use crate::email::render::{self, Mail};
use crate::error::{AppError, AppResult};

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

pub(super) fn paragraphs(body: &str) -> Vec<String> {
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
        let waiting: Vec<Waiting> = crate::db::prepared::sql(
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
