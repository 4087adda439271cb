//! Suppliers in the loop (issue 18, part 5): a purchase order emailed to its supplier's
//! contact address (its lines as text and as a CSV file, and a link), and the supplier's
//! page behind that link, where it confirms the expected date or gives a new one. A new
//! date takes the buyer's path (`po::move_expected_date`): previewed by the
//! same dry run, then the same ETAs and the same coalesced emails to customers.
//!
//! The link's token is random; only its hash is stored. It works while the order is open:
//! once received or cancelled, the page says so and changes nothing.

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Int4, Nullable, Text};

use crate::db::audit::{self, Actor};
use crate::db::models::{PoStatus, SupplierAnswer};
use crate::db::schema::{purchase_order_sends, purchase_orders, supplier_answers, suppliers};
use crate::db::shop_settings;
use crate::domain::format::human_date;
use crate::email::links::{self, LinkMaker};
use crate::email::outbox::{self, Attachment, Kind, NewMessage};
use crate::email::render::{self, PoMail, PoMailLine};
use crate::error::{AppError, AppResult};
use crate::services::purchasing::purchase_orders::{self as po, DateSource, PoChange};
use crate::types::Email;

/// The longest note a supplier can leave with a new date.
pub const MAX_NOTE_CHARS: usize = 1000;

/// One line of a purchase order as the supplier is sent it.
#[derive(Debug, Clone, QueryableByName)]
pub struct OrderLine {
    #[diesel(sql_type = Text)]
    pub sku: String,
    #[diesel(sql_type = Text)]
    pub name: String,
    #[diesel(sql_type = Int4)]
    pub quantity: i32,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub unit_cost_cents: Option<i64>,
}

/// What emailing the order would send, and to whom: shown before the buyer confirms.
#[derive(Debug, Clone)]
pub struct SendPreview {
    pub reference: String,
    pub supplier: String,
    /// The supplier's contact address; `None`: there is nowhere to send it.
    pub to: Option<String>,
    pub expected_on: NaiveDate,
    pub lines: Vec<OrderLine>,
    pub currency: String,
    /// Sent before (newest first): sending again is asked again.
    pub sent_before: Vec<po::SendRow>,
}

struct Header {
    id: i64,
    reference: String,
    status: PoStatus,
    supplier_id: i64,
    supplier: String,
    contact_email: Option<String>,
    expected_on: NaiveDate,
}

fn header(conn: &mut PgConnection, reference: &str) -> AppResult<Header> {
    let row: Option<(i64, PoStatus, i64, String, Option<String>, NaiveDate)> =
        purchase_orders::table
            .inner_join(suppliers::table)
            .filter(purchase_orders::reference.eq(reference))
            .select((
                purchase_orders::id,
                purchase_orders::status,
                suppliers::id,
                suppliers::name,
                suppliers::email,
                purchase_orders::expected_on,
            ))
            .first(conn)
            .optional()?;
    let (id, status, supplier_id, supplier, contact_email, expected_on) = row.ok_or_else(|| {
        AppError::NotFound(format!(
            "purchase order {}",
            crate::types::truncate(reference)
        ))
    })?;
    Ok(Header {
        id,
        reference: reference.to_owned(),
        status,
        supplier_id,
        supplier,
        contact_email,
        expected_on,
    })
}

/// The lines still to deliver, with the unit cost agreed with this supplier.
fn order_lines(
    conn: &mut PgConnection,
    po_id: i64,
    supplier_id: i64,
) -> QueryResult<Vec<OrderLine>> {
    crate::db::prepared::sql(
        "SELECT p.sku, p.name, (pl.qty_ordered - pl.qty_received) AS quantity,
                ps.unit_cost_cents
           FROM purchase_order_lines pl
           JOIN products p ON p.id = pl.product_id
           LEFT JOIN product_suppliers ps ON ps.product_id = p.id AND ps.supplier_id = $2
          WHERE pl.purchase_order_id = $1 AND pl.qty_ordered > pl.qty_received
          ORDER BY pl.id",
    )
    .bind::<BigInt, _>(po_id)
    .bind::<BigInt, _>(supplier_id)
    .load(conn)
}

fn refuse_closed(header: &Header) -> AppResult<()> {
    if header.status == PoStatus::Open {
        Ok(())
    } else {
        Err(AppError::Conflict(format!(
            "purchase order {} is {}; there is nothing to send",
            header.reference, header.status
        )))
    }
}

/// What `send` would send (nothing is stored).
pub fn preview_send(conn: &mut PgConnection, reference: &str) -> AppResult<SendPreview> {
    let header = header(conn, reference)?;
    refuse_closed(&header)?;
    let lines = order_lines(conn, header.id, header.supplier_id)?;
    let (sent_before, _) = po::supplier_contact(conn, header.id)?;
    Ok(SendPreview {
        reference: header.reference,
        supplier: header.supplier,
        to: header.contact_email,
        expected_on: header.expected_on,
        lines,
        currency: shop_settings::load(conn)?.currency,
        sent_before,
    })
}

/// "12.50 EUR" as the CSV's cell and the email's text give a unit cost.
fn amount(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// The order's lines as a CSV file: po_number, sku, name, quantity, unit_cost, currency.
pub fn csv_of(reference: &str, lines: &[OrderLine], currency: &str) -> AppResult<String> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let failed = |e: csv::Error| AppError::Internal(anyhow::anyhow!("writing the CSV: {e}"));
    crate::csv_cells::write_row(
        &mut writer,
        [
            "po_number",
            "sku",
            "name",
            "quantity",
            "unit_cost",
            "currency",
        ],
    )
    .map_err(failed)?;
    for line in lines {
        crate::csv_cells::write_row(
            &mut writer,
            [
                reference.to_owned(),
                line.sku.clone(),
                line.name.clone(),
                line.quantity.to_string(),
                line.unit_cost_cents.map(amount).unwrap_or_default(),
                line.unit_cost_cents
                    .map(|_| currency.to_owned())
                    .unwrap_or_default(),
            ],
        )
        .map_err(failed)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| AppError::Internal(anyhow::anyhow!("writing the CSV: {e}")))?;
    String::from_utf8(bytes).map_err(|e| AppError::Internal(anyhow::anyhow!("the CSV: {e}")))
}

/// Emails the open order to its supplier's contact address, with a fresh link; returns
/// the address. Rendered now, in the transaction that queues it, so it states the lines
/// and date as they are when the buyer confirms.
pub fn send(
    conn: &mut PgConnection,
    actor: &Actor,
    reference: &str,
    today: NaiveDate,
) -> AppResult<String> {
    conn.transaction(|conn| {
        let (po_id, _) = po::lock_open(conn, reference)?;
        let header = header(conn, reference)?;
        let to = header.contact_email.clone().ok_or_else(|| {
            AppError::invalid(
                "contact_email",
                format!(
                    "{} has no contact email address; add one where the supplier is edited (a product's Suppliers section, or the API's suppliers list)",
                    header.supplier
                ),
            )
        })?;
        let to = Email::parse(&to).map_err(|e| AppError::invalid("contact_email", e))?;
        let lines = order_lines(conn, po_id, header.supplier_id)?;
        if lines.is_empty() {
            return Err(AppError::Conflict(format!(
                "nothing is outstanding on purchase order {reference}"
            )));
        }
        let settings = shop_settings::load(conn)?;
        let (token, hash) = links::new_supplier_token();
        let link = LinkMaker::load(conn)?.supplier_url(&token);
        let attachment_name = format!("{}.csv", file_stem(reference));
        let mail = PoMail {
            shop: settings.shop_name.clone(),
            supplier: header.supplier.clone(),
            reference: reference.to_owned(),
            expected_on: format!(
                "{} {}",
                human_date(header.expected_on, today),
                header.expected_on.format("%Y")
            ),
            lines: lines
                .iter()
                .map(|l| PoMailLine {
                    sku: l.sku.clone(),
                    name: l.name.clone(),
                    quantity: l.quantity,
                    unit_cost: l
                        .unit_cost_cents
                        .map(|c| crate::format::money(c, &settings.currency)),
                })
                .collect(),
            link,
            attachment: attachment_name.clone(),
        };
        let rendered = render::render_purchase_order(&mail)?;
        let user_id = actor.user_id();
        let send_id: i64 = diesel::insert_into(purchase_order_sends::table)
            .values((
                purchase_order_sends::purchase_order_id.eq(po_id),
                purchase_order_sends::sent_to.eq(to.as_str()),
                purchase_order_sends::token_hash.eq(&hash),
                purchase_order_sends::sent_by.eq(user_id),
            ))
            .returning(purchase_order_sends::id)
            .get_result(conn)?;
        let message_id = outbox::enqueue_with_attachment(
            conn,
            &NewMessage {
                kind: Kind::PurchaseOrder,
                idempotency_key: format!("po-send:{send_id}"),
                order_id: None,
                customer_id: None,
                recipient: to.as_str().to_owned(),
                subject: rendered.subject,
                body_text: rendered.text,
                body_html: rendered.html,
                created_by: user_id,
            },
            &Attachment {
                name: attachment_name,
                content_type: "text/csv; charset=utf-8".to_owned(),
                body: csv_of(reference, &lines, &settings.currency)?,
            },
        )?;
        diesel::update(purchase_order_sends::table.find(send_id))
            .set(purchase_order_sends::message_id.eq(message_id))
            .execute(conn)?;
        audit::record(
            conn,
            actor,
            "purchase_order_sent",
            "purchase_order",
            Some(reference.to_owned()),
            None,
            Some(serde_json::json!({ "sent_to": to.as_str() })),
        )?;
        Ok(to.as_str().to_owned())
    })
}

/// A reference fit for a file name ("PO-20261202-1").
fn file_stem(reference: &str) -> String {
    reference
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The supplier's page: its order's lines and expected date, nothing internal.
#[derive(Debug, Clone)]
pub struct SupplierView {
    pub shop: String,
    pub supplier: String,
    pub reference: String,
    pub expected_on: NaiveDate,
    pub lines: Vec<OrderLine>,
    /// What it answered before through a link of this order (newest first).
    pub answers: Vec<po::AnswerRow>,
}

/// Where a supplier's link leads.
#[derive(Debug, Clone)]
pub enum SupplierLink {
    Open(SupplierView),
    /// The order was received or cancelled: the link no longer works.
    Closed {
        reference: String,
        status: PoStatus,
    },
}

/// The send a token belongs to, and its order's reference; `NotFound` for a token that
/// was never sent.
fn send_of(conn: &mut PgConnection, token: &str) -> AppResult<(i64, String)> {
    purchase_order_sends::table
        .inner_join(purchase_orders::table)
        .filter(purchase_order_sends::token_hash.eq(links::supplier_token_hash(token)))
        .select((purchase_order_sends::id, purchase_orders::reference))
        .first(conn)
        .optional()?
        .ok_or_else(|| AppError::not_found("that link"))
}

/// The page behind a supplier's link.
pub fn supplier_link(conn: &mut PgConnection, token: &str) -> AppResult<SupplierLink> {
    let (_, reference) = send_of(conn, token)?;
    let header = header(conn, &reference)?;
    if header.status != PoStatus::Open {
        return Ok(SupplierLink::Closed {
            reference,
            status: header.status,
        });
    }
    let lines = order_lines(conn, header.id, header.supplier_id)?;
    let (_, answers) = po::supplier_contact(conn, header.id)?;
    Ok(SupplierLink::Open(SupplierView {
        shop: shop_settings::load(conn)?.shop_name,
        supplier: header.supplier,
        reference,
        expected_on: header.expected_on,
        lines,
        answers,
    }))
}

/// What the supplier's answer recorded, for its confirmation page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answered {
    Confirmed {
        reference: String,
        expected_on: NaiveDate,
    },
    NewDate {
        reference: String,
        was: NaiveDate,
        expected_on: NaiveDate,
        note: Option<String>,
    },
    /// The order was received or cancelled before the answer: nothing was recorded.
    Closed { reference: String, status: PoStatus },
}

/// The supplier's new date as typed, checked: a real date, not in the past, within the
/// range any purchase order accepts.
pub fn check_supplier_date(raw: &str, today: NaiveDate) -> AppResult<NaiveDate> {
    let date = NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d").map_err(|_| {
        AppError::invalid(
            "expected_on",
            "enter the new delivery date, like 2026-12-24",
        )
    })?;
    if date < today {
        return Err(AppError::invalid(
            "expected_on",
            format!(
                "{} is in the past; enter the day you expect to deliver",
                human_date(date, today)
            ),
        ));
    }
    crate::services::purchasing::check_expected_date(date, today)
}

/// The note as given: trimmed, empty is none, at most `MAX_NOTE_CHARS`.
pub fn check_note(raw: &str) -> AppResult<Option<String>> {
    let note = raw.trim();
    if note.chars().count() > MAX_NOTE_CHARS {
        return Err(AppError::invalid(
            "note",
            format!("a note can be at most {MAX_NOTE_CHARS} characters"),
        ));
    }
    Ok((!note.is_empty()).then(|| note.to_owned()))
}

/// The supplier answers through its link: `None` confirms the expected date as it is,
/// a date gives a new one (with an optional note). A new date is previewed by the
/// buyer's dry run, then made through the buyer's path, in one transaction with the
/// answer; customers whose dates move later hear of it in the coalesced date-change
/// email ("Our supplier moved its delivery to a later date.").
pub fn answer(
    conn: &mut PgConnection,
    token: &str,
    new_date: Option<(NaiveDate, Option<String>)>,
    today: NaiveDate,
) -> AppResult<Answered> {
    conn.transaction(|conn| {
        let (send_id, reference) = send_of(conn, token)?;
        let (po_id, was) = match po::lock_open(conn, &reference) {
            Ok(open) => open,
            Err(AppError::Conflict(_)) => {
                let header = header(conn, &reference)?;
                return Ok(Answered::Closed {
                    reference,
                    status: header.status,
                });
            }
            Err(other) => return Err(other),
        };
        let supplier: String = purchase_orders::table
            .inner_join(suppliers::table)
            .filter(purchase_orders::id.eq(po_id))
            .select(suppliers::name)
            .first(conn)?;
        let actor = Actor::Supplier { name: supplier };
        let (answer, expected_on, note) = match new_date {
            Some((date, note)) if date != was => {
                let source = DateSource::Supplier {
                    note: note.as_deref(),
                };
                let preview = po::preview_change_by(
                    conn,
                    &actor,
                    &reference,
                    PoChange::MoveTo(date),
                    today,
                    source,
                )?;
                tracing::info!(
                    reference,
                    later_lines = preview.later_lines(),
                    emails = preview.emails,
                    "a supplier gave a new date"
                );
                po::move_expected_date(conn, &actor, &reference, date, today, source)?;
                (SupplierAnswer::NewDate, date, note)
            }
            // The date it already has: a confirmation (its note is kept with it).
            Some((_, note)) => (SupplierAnswer::Confirmed, was, note),
            None => (SupplierAnswer::Confirmed, was, None),
        };
        diesel::insert_into(supplier_answers::table)
            .values((
                supplier_answers::purchase_order_id.eq(po_id),
                supplier_answers::send_id.eq(send_id),
                supplier_answers::answer.eq(answer),
                supplier_answers::expected_on.eq(expected_on),
                supplier_answers::note.eq(&note),
            ))
            .execute(conn)?;
        if answer == SupplierAnswer::Confirmed {
            audit::record(
                conn,
                &actor,
                "purchase_order_confirmed",
                "purchase_order",
                Some(reference.clone()),
                None,
                Some(serde_json::json!({ "expected_on": expected_on, "note": note })),
            )?;
            Ok(Answered::Confirmed {
                reference,
                expected_on,
            })
        } else {
            Ok(Answered::NewDate {
                reference,
                was,
                expected_on,
                note,
            })
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(sku: &str, name: &str, quantity: i32, cost: Option<i64>) -> OrderLine {
        OrderLine {
            sku: sku.to_owned(),
            name: name.to_owned(),
            quantity,
            unit_cost_cents: cost,
        }
    }

    #[test]
    fn the_csv_has_a_header_and_one_row_per_line_with_formulas_neutralised() {
        let csv = csv_of(
            "PO-1",
            &[
                line("KET-1", "Kettle, steel", 12, Some(1250)),
                line("MUG-2", "=HYPERLINK(1)", 3, None),
            ],
            "EUR",
        )
        .unwrap();
        assert_eq!(
            csv,
            "po_number,sku,name,quantity,unit_cost,currency\n\
             PO-1,KET-1,\"Kettle, steel\",12,12.50,EUR\n\
             PO-1,MUG-2,'=HYPERLINK(1),3,,\n"
        );
    }

    #[test]
    fn a_supplier_date_must_be_a_date_today_or_later() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 2).unwrap();
        assert!(check_supplier_date("2026-12-01", today).is_err());
        assert!(check_supplier_date("soon", today).is_err());
        assert_eq!(check_supplier_date(" 2026-12-02 ", today).unwrap(), today);
        assert!(check_supplier_date("2031-01-01", today).is_err());
        assert_eq!(check_note("  ").unwrap(), None);
        assert!(check_note(&"x".repeat(1001)).is_err());
    }
}
