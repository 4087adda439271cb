//! The customer's live status page for one order (reached by the signed link in every
//! order email, no login): per line its place in line, its dates, what it waits for in
//! the customer's words, a countdown, and the choices that apply now. Read-only: viewing
//! it changes nothing. Nothing internal is shown (no supplier, no purchase-order
//! reference, no reliability, no stored reason): what a line waits for is worded here
//! from facts (the engine's own cover walk over the open purchase orders).

use chrono::{DateTime, Duration, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamptz};

use crate::db::models::{OrderLine, SwappedAway};
use crate::db::schema::products;
use crate::db::shop_settings;
use crate::db::stock::{self, Product};
use crate::domain::{self, CoveredBy, WaitingLine, human_date, ordinal, units_phrase};
use crate::email::links::{LinkAction, LinkMaker};
use crate::error::AppResult;
use crate::services::orders::choices::{self, Choice};

/// How long the page keeps working after the last line of the order finished.
pub const DAYS_AFTER_FINISHED: i64 = 30;

/// One line of the order as the customer reads it.
#[derive(Debug, Clone)]
pub struct StatusLine {
    pub product: String,
    pub qty: i32,
    /// "1 sent, 1 on its way to us", "Sent", "Cancelled".
    pub state: String,
    /// Units still waiting for stock.
    pub waiting: i32,
    /// "3rd in line" (waiting lines only).
    pub place: Option<String>,
    /// "Tue 3 Dec" (waiting lines with a date).
    pub likely: Option<String>,
    pub worst: Option<String>,
    /// The dates are an estimate (past all known deliveries).
    pub estimate: bool,
    /// "the next delivery, due Wed 9 Dec".
    pub waits_for: Option<String>,
    /// "ships within 12 days".
    pub countdown: Option<String>,
}

/// A choice the customer may make now, as the one-use self-service link.
#[derive(Debug, Clone)]
pub struct StatusChoice {
    pub label: String,
    pub hint: String,
    pub url: String,
}

/// The page for an order whose link still works.
#[derive(Debug, Clone)]
pub struct OrderStatus {
    pub shop: String,
    pub order_number: String,
    pub placed_on: String,
    /// One sentence on the order as a whole.
    pub summary: String,
    pub lines: Vec<StatusLine>,
    pub choices: Vec<StatusChoice>,
    /// When nothing waits any more: the last day the page works.
    pub works_until: Option<String>,
}

/// What the status link shows.
#[derive(Debug, Clone)]
pub enum StatusView {
    Live(Box<OrderStatus>),
    /// Finished more than `DAYS_AFTER_FINISHED` days ago, or no such order.
    Expired {
        shop: String,
    },
}

/// An order line (the read model) with its order's number and day and its product's name.
#[derive(QueryableByName)]
struct Row {
    #[diesel(embed)]
    line: OrderLine,
    #[diesel(sql_type = Text)]
    number: String,
    #[diesel(sql_type = Timestamptz)]
    order_placed_at: DateTime<Utc>,
    #[diesel(sql_type = Text)]
    product: String,
    #[diesel(embed)]
    swap: SwappedAway,
}

impl std::ops::Deref for Row {
    type Target = OrderLine;

    fn deref(&self) -> &OrderLine {
        &self.line
    }
}

/// The status page of `order_id` as of `now` (the link's signature is checked by the
/// caller; whether it still works is decided here, from the order).
pub fn view(conn: &mut PgConnection, order_id: i64, now: DateTime<Utc>) -> AppResult<StatusView> {
    let today = crate::clock::today();
    let settings = shop_settings::load(conn)?;
    let shop = settings.shop_name.clone();
    let rows: Vec<Row> = crate::db::prepared::sql(
        "SELECT l.*, o.number, o.placed_at AS order_placed_at, p.name AS product,
                coalesce(sw.units, 0)::int4 AS swapped, sw.swapped_to
           FROM orders o JOIN order_lines l ON l.order_id = o.id
           JOIN products p ON p.id = l.product_id
           LEFT JOIN LATERAL (SELECT sum(s.units) AS units, string_agg(DISTINCT sp.name, ', ') AS swapped_to
                                FROM swaps s JOIN order_lines sl ON sl.id = s.to_line_id
                                JOIN products sp ON sp.id = sl.product_id
                               WHERE s.from_line_id = l.id) sw ON l.cancelled > 0
          WHERE o.id = $1
          ORDER BY l.id",
    )
    .bind::<BigInt, _>(order_id)
    .load(conn)?;
    let Some(first) = rows.first() else {
        return Ok(StatusView::Expired { shop });
    };
    let open = rows.iter().any(|r| r.qty - r.shipped - r.cancelled > 0);
    let works_until = if open {
        None
    } else {
        match rows.iter().filter_map(|r| r.completed_at).max() {
            Some(last) if now - last <= Duration::days(DAYS_AFTER_FINISHED) => {
                Some(last + Duration::days(DAYS_AFTER_FINISHED))
            }
            _ => return Ok(StatusView::Expired { shop }),
        }
    };
    let number = first.number.clone();
    let placed_on = human_date(first.order_placed_at.date_naive(), today);

    let eta_settings = crate::services::engine::eta::eta_settings(&settings);
    let mut lines = Vec::with_capacity(rows.len());
    for row in &rows {
        let waits_for = if row.waiting > 0 {
            Some(waits_for(conn, row, today, &eta_settings)?)
        } else {
            None
        };
        lines.push(status_line(row, waits_for, today));
    }

    let standing = choices::standing(conn, order_id, None)?;
    let links = LinkMaker::load(conn)?;
    let offered = [
        (
            Choice::Wait,
            LinkAction::Wait,
            "Keep waiting",
            "We ship everything as soon as it is here.",
        ),
        (
            Choice::ShipReady,
            LinkAction::ShipReady,
            "Ship what is ready now",
            "The rest follows when it arrives, at no extra shipping cost.",
        ),
        (
            Choice::CancelWaiting,
            LinkAction::CancelWaiting,
            "Cancel the waiting items",
            "You are not charged for them.",
        ),
    ];
    let mut choices: Vec<StatusChoice> = offered
        .into_iter()
        .filter(|(choice, ..)| standing.refusal(*choice, &number).is_none())
        .map(|(_, action, label, hint)| StatusChoice {
            label: label.to_owned(),
            hint: hint.to_owned(),
            url: links.url(action, order_id, None),
        })
        .collect();
    // Alternatives that ship sooner than a waiting line, as they stand now.
    let ctx = crate::services::engine::events::Ctx {
        actor: &crate::db::audit::Actor::System,
        today,
        settings: &settings,
    };
    choices.extend(
        crate::services::inventory::alternatives::swap_choices(conn, &ctx, &links, order_id, None)?
            .into_iter()
            .map(|swap| StatusChoice {
                label: swap.label,
                hint: swap.hint,
                url: swap.url,
            }),
    );

    let waiting: i32 = rows.iter().map(|r| r.waiting).sum();
    let ready: i32 = rows.iter().map(|r| r.allocated).sum();
    let summary = if waiting > 0 {
        format!(
            "{} of this order {} on {} way to us. Each line below says when it ships.",
            units_phrase(waiting.max(0) as u64, "item"),
            if waiting == 1 { "is" } else { "are" },
            if waiting == 1 { "its" } else { "their" },
        )
    } else if ready > 0 {
        "Nothing is waiting for stock any more: what is left is reserved for you and ships soon."
            .to_owned()
    } else {
        "This order is finished: nothing is waiting any more.".to_owned()
    };
    Ok(StatusView::Live(Box::new(OrderStatus {
        shop,
        order_number: number,
        placed_on,
        summary,
        lines,
        choices,
        works_until: works_until.map(|t| human_date(t.date_naive(), today)),
    })))
}

fn status_line(row: &Row, waits_for: Option<String>, today: NaiveDate) -> StatusLine {
    let mut parts = Vec::new();
    if row.shipped > 0 {
        parts.push(format!("{} sent", row.shipped));
    }
    if row.allocated > 0 {
        parts.push(format!("{} reserved for you, ships soon", row.allocated));
    }
    if row.waiting > 0 {
        parts.push(format!("{} waiting for stock", row.waiting));
    }
    if let (true, Some(to)) = (row.swap.swapped > 0, &row.swap.swapped_to) {
        parts.push(format!("{} swapped for {to}", row.swap.swapped));
    }
    if row.cancelled > row.swap.swapped {
        parts.push(format!("{} cancelled", row.cancelled - row.swap.swapped));
    }
    let waits = row.waiting > 0;
    let worst = row.eta_worst.filter(|_| waits);
    StatusLine {
        product: row.product.clone(),
        qty: row.qty,
        state: parts.join("; "),
        waiting: row.waiting,
        place: row
            .queue_position
            .filter(|_| waits)
            .map(|p| format!("{} in line", ordinal(p.max(1) as u32))),
        likely: row
            .eta_likely
            .filter(|_| waits)
            .map(|d| human_date(d, today)),
        worst: worst.map(|d| human_date(d, today)),
        estimate: row.eta_is_estimate,
        waits_for,
        countdown: worst.map(|d| countdown((d - today).num_days())),
    }
}

/// "ships within 12 days".
fn countdown(days: i64) -> String {
    if days <= 0 {
        "ships any day now".to_owned()
    } else {
        format!("ships within {}", units_phrase(days as u64, "day"))
    }
}

/// What a waiting line waits for, in the customer's words, from the same walk the engine
/// dates it by: the product's queue in its stored order against its open purchase orders.
fn waits_for(
    conn: &mut PgConnection,
    row: &Row,
    today: NaiveDate,
    settings: &domain::EtaSettings,
) -> AppResult<String> {
    let product: Product = products::table
        .find(row.product_id)
        .select(Product::as_select())
        .first(conn)?;
    let supply = crate::services::engine::eta::product_supply(conn, &product, today)?;
    let mut queue = stock::waiting_lines(conn, row.product_id)?;
    queue.sort_by_key(|q| (q.queue_position.unwrap_or(i32::MAX), q.placed_at, q.id));
    let waiting: Vec<WaitingLine> = queue
        .iter()
        .map(crate::db::stock::QueueRow::as_waiting)
        .collect();
    let Some(at) = queue.iter().position(|q| q.id == row.id) else {
        return Ok("new stock; we will write with a date as soon as we have one".to_owned());
    };
    // Purchase orders on their expected dates (no slips drawn): only what covers the line
    // is read here; the dates shown are the stored ones.
    let etas = domain::eta::project_queue_with_slips(today, &supply, &waiting, settings, None);
    let next_delivery = supply
        .incoming
        .iter()
        .filter(|po| po.outstanding_units > 0)
        .map(|po| po.expected_on)
        .min();
    Ok(match etas.get(at).map(|eta| &eta.reason.covered_by) {
        Some(CoveredBy::StockNow) => "stock that has just come in, being counted".to_owned(),
        Some(CoveredBy::PurchaseOrder { expected_on, .. }) => {
            let due = human_date(*expected_on, today);
            if *expected_on < today {
                format!("a delivery that was due {due} and is running late")
            } else if Some(*expected_on) == next_delivery {
                format!("the next delivery, due {due}")
            } else {
                format!("a later delivery, due {due}")
            }
        }
        Some(CoveredBy::LeadTimeEstimate { .. }) => {
            "a new delivery we are arranging; its date is our estimate".to_owned()
        }
        Some(CoveredBy::Unknown) | None => {
            "a new delivery; we will write with a date as soon as we have one".to_owned()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_countdown_reads_in_whole_days() {
        assert_eq!(countdown(12), "ships within 12 days");
        assert_eq!(countdown(1), "ships within 1 day");
        assert_eq!(countdown(0), "ships any day now");
        assert_eq!(countdown(-3), "ships any day now");
    }
}
