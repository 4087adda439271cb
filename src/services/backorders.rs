//! The backorder queue across products: every waiting line with its age, place, ETA,
//! promise and flags; filters, counts, keyset pages, and bulk actions.

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Date, Int4, Nullable, SmallInt, Text};

use crate::db::audit::Actor;
use crate::db::models::OrderLine;
use crate::db::prepared::Prepared;
use crate::error::{AppError, AppResult};

/// What the queue page filters on; every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct QueueFilter {
    pub sku: Option<String>,
    pub supplier_id: Option<i64>,
    pub overdue: bool,
    pub no_eta: bool,
    pub lapsing: bool,
    pub too_long: bool,
    pub min_age_days: Option<i32>,
    pub tier: Option<i16>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum QueueSort {
    /// Oldest first: the order the shop serves.
    #[default]
    Oldest,
    /// Soonest worst-case date first; no ETA last.
    Eta,
    /// Most days past promise first.
    Delay,
}

impl QueueSort {
    pub fn parse(text: &str) -> Self {
        match text {
            "eta" => Self::Eta,
            "delay" => Self::Delay,
            _ => Self::Oldest,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Oldest => "oldest",
            Self::Eta => "eta",
            Self::Delay => "delay",
        }
    }

    /// The sort key as SQL, an int8 the page's cursor carries; (key, id) ascending is the
    /// page order.
    fn key_sql(self) -> &'static str {
        match self {
            Self::Oldest => "(extract(epoch FROM l.placed_at) * 1000000)::int8",
            Self::Eta => "coalesce(l.eta_worst - DATE '2000-01-01', 999999)::int8",
            Self::Delay => "(-greatest(coalesce(l.eta_worst - l.promised_on, 0), 0))::int8",
        }
    }

    /// What the page orders by, as the queue's indexes have it (each a partial index over
    /// waiting lines, `migrations/*_waiting_lines`), in the same order as `key_sql`; `$7` is
    /// the cursor's key.
    fn order_sql(self) -> (&'static str, &'static str) {
        match self {
            Self::Oldest => (
                "l.placed_at",
                "(TIMESTAMPTZ 'epoch' + $7 * INTERVAL '1 microsecond')",
            ),
            Self::Eta | Self::Delay => (self.key_sql(), "$7"),
        }
    }
}

/// A waiting line as the queue page lists it: the order-line read model with its order,
/// customer and product, and what the page computes (age, delay, flags, value).
#[derive(Debug, Clone, QueryableByName)]
pub struct QueueLine {
    #[diesel(embed)]
    pub line: OrderLine,
    #[diesel(sql_type = BigInt)]
    pub sort_key: i64,
    #[diesel(sql_type = Text)]
    pub order_number: String,
    #[diesel(sql_type = Text)]
    pub customer_name: String,
    #[diesel(sql_type = Text)]
    pub customer_email: String,
    #[diesel(sql_type = SmallInt)]
    pub customer_tier: i16,
    #[diesel(sql_type = Text)]
    pub sku: String,
    #[diesel(sql_type = Text)]
    pub product_name: String,
    #[diesel(sql_type = BigInt)]
    pub age_days: i64,
    #[diesel(sql_type = BigInt)]
    pub delay_days: i64,
    #[diesel(sql_type = Bool)]
    pub overdue: bool,
    #[diesel(sql_type = Bool)]
    pub lapsing: bool,
    #[diesel(sql_type = Bool)]
    pub too_long: bool,
    #[diesel(sql_type = BigInt)]
    pub value_cents: i64,
    /// The product's release day, while it is a pre-order not yet released.
    #[diesel(sql_type = Nullable<Date>)]
    pub preorder_release_on: Option<NaiveDate>,
}

/// A queue line reads as its order line (`l.eta_worst`, `l.waiting`).
impl std::ops::Deref for QueueLine {
    type Target = OrderLine;

    fn deref(&self) -> &OrderLine {
        &self.line
    }
}

/// Lines matching each quick filter, within the product/supplier/tier/age selection.
#[derive(Debug, Clone, Default, QueryableByName)]
pub struct QueueCounts {
    #[diesel(sql_type = BigInt)]
    pub all: i64,
    #[diesel(sql_type = BigInt)]
    pub overdue: i64,
    #[diesel(sql_type = BigInt)]
    pub no_eta: i64,
    #[diesel(sql_type = BigInt)]
    pub lapsing: i64,
    #[diesel(sql_type = BigInt)]
    pub too_long: i64,
    #[diesel(sql_type = BigInt)]
    pub customers: i64,
}

/// The flags as SQL over `l` (order_lines), `o` (orders); `$1` is today, `$2` the shop's
/// wait limit in days.
const FLAGS: &str = "
    coalesce(l.promised_on < $1, false) AS overdue,
    (l.lapses_on IS NOT NULL AND (l.eta_worst IS NULL OR l.lapses_on < l.eta_worst)) AS lapsing,
    (l.placed_at < ($1 - $2)::timestamptz
        OR (l.wait_limit_on IS NOT NULL AND (l.eta_worst IS NULL OR l.eta_worst > l.wait_limit_on))) AS too_long";

/// The selection shared by the page, the counts and the bulk actions. Binds start at $3.
fn where_clause(filter: &QueueFilter, quick: bool) -> String {
    let mut sql = String::from(" WHERE l.waiting > 0");
    if filter.sku.is_some() {
        sql.push_str(" AND p.sku = $3");
    }
    if filter.supplier_id.is_some() {
        sql.push_str(" AND p.supplier_id = $4");
    }
    if filter.tier.is_some() {
        sql.push_str(" AND c.tier = $5");
    }
    if filter.min_age_days.is_some() {
        sql.push_str(" AND l.placed_at < ($1 - $6)::timestamptz");
    }
    if quick {
        if filter.overdue {
            sql.push_str(" AND l.promised_on < $1");
        }
        if filter.no_eta {
            sql.push_str(" AND l.eta_worst IS NULL");
        }
        if filter.lapsing {
            sql.push_str(
                " AND l.lapses_on IS NOT NULL AND (l.eta_worst IS NULL OR l.lapses_on < l.eta_worst)",
            );
        }
        if filter.too_long {
            sql.push_str(
                " AND (l.placed_at < ($1 - $2)::timestamptz OR (l.wait_limit_on IS NOT NULL
                  AND (l.eta_worst IS NULL OR l.eta_worst > l.wait_limit_on)))",
            );
        }
    }
    sql
}

const FROM: &str = " FROM order_lines l
    JOIN orders o ON o.id = l.order_id
    JOIN customers c ON c.id = l.customer_id
    JOIN products p ON p.id = l.product_id";

/// The tables a count over the selection needs: the lines, and a product or customer
/// only when the filter reads them (the planner keeps an inner join it could skip, and a
/// join to all orders is most of the cost of counting the whole queue).
fn from_for(filter: &QueueFilter) -> String {
    let mut sql = String::from(" FROM order_lines l");
    if filter.sku.is_some() || filter.supplier_id.is_some() {
        sql.push_str(" JOIN products p ON p.id = l.product_id");
    }
    if filter.tier.is_some() {
        sql.push_str(" JOIN customers c ON c.id = l.customer_id");
    }
    sql
}

/// The statement `sql` (a page, the counts or the bulk targets, assembled from the
/// filter's clauses: prepared once per connection for each combination) with the filter's
/// values bound as $1 to $6.
fn bind_filter<'a>(
    sql: String,
    filter: &QueueFilter,
    today: NaiveDate,
    limit_days: i32,
) -> Prepared<'a> {
    crate::db::prepared::assembled(sql)
        .bind::<Date, _>(today)
        .bind::<Int4, _>(limit_days)
        .bind::<Nullable<Text>, _>(filter.sku.clone())
        .bind::<Nullable<BigInt>, _>(filter.supplier_id)
        .bind::<Nullable<SmallInt>, _>(filter.tier)
        .bind::<Nullable<Int4>, _>(filter.min_age_days)
}

/// One page of the queue after the cursor `(key, id)`, and whether more follow.
pub fn page(
    conn: &mut PgConnection,
    filter: &QueueFilter,
    sort: QueueSort,
    after: Option<(i64, i64)>,
    page_size: i64,
    today: NaiveDate,
    limit_days: i32,
) -> QueryResult<(Vec<QueueLine>, bool)> {
    let key = sort.key_sql();
    let mut sql = format!(
        "SELECT l.*, {key} AS sort_key, o.number AS order_number, c.name AS customer_name,
                c.email AS customer_email, c.tier AS customer_tier, p.sku, p.name AS product_name,
                ($1 - l.placed_at::date)::int8 AS age_days,
                greatest(coalesce(l.eta_worst - l.promised_on, 0), 0)::int8 AS delay_days,
                (l.waiting * l.unit_price_cents)::int8 AS value_cents,
                CASE WHEN p.preorder_release_on > $1 THEN p.preorder_release_on END AS preorder_release_on,
                {FLAGS}
           {FROM}{}",
        where_clause(filter, true)
    );
    let (order, cursor) = sort.order_sql();
    if after.is_some() {
        sql.push_str(&format!(" AND ({order}, l.id) > ({cursor}, $8)"));
    }
    // The limit is written into the text, not bound: it is one of the program's page sizes
    // (a page, the export), and a prepared statement planned once for every request (a
    // generic plan) is only chosen when the planner knows how many rows it stops after.
    sql.push_str(&format!(" ORDER BY {order}, l.id LIMIT {}", page_size + 1));
    // Without a cursor $7 and $8 are bound but not in the text, so nothing is sent for them.
    let (after_key, after_id) = after.unwrap_or((0, 0));
    let query = bind_filter(sql, filter, today, limit_days)
        .bind::<BigInt, _>(after_key)
        .bind::<BigInt, _>(after_id);
    let mut lines: Vec<QueueLine> = query.load(conn)?;
    let more = lines.len() as i64 > page_size;
    lines.truncate(page_size as usize);
    Ok((lines, more))
}

pub fn counts(
    conn: &mut PgConnection,
    filter: &QueueFilter,
    today: NaiveDate,
    limit_days: i32,
) -> QueryResult<QueueCounts> {
    let sql = format!(
        "SELECT count(*) AS all,
                count(*) FILTER (WHERE l.promised_on < $1) AS overdue,
                count(*) FILTER (WHERE l.eta_worst IS NULL) AS no_eta,
                count(*) FILTER (WHERE l.lapses_on IS NOT NULL
                                   AND (l.eta_worst IS NULL OR l.lapses_on < l.eta_worst)) AS lapsing,
                count(*) FILTER (WHERE l.placed_at < ($1 - $2)::timestamptz OR (l.wait_limit_on IS NOT NULL
                                   AND (l.eta_worst IS NULL OR l.eta_worst > l.wait_limit_on))) AS too_long,
                count(DISTINCT l.customer_id) AS customers
           {}{}",
        from_for(filter),
        where_clause(filter, false)
    );
    bind_filter(sql, filter, today, limit_days).get_result(conn)
}

/// What a bulk action would touch: the selected lines that still wait, or every line the
/// filter matches.
#[derive(Debug, Clone, QueryableByName)]
pub struct Target {
    #[diesel(sql_type = BigInt)]
    pub line_id: i64,
    #[diesel(sql_type = BigInt)]
    pub order_id: i64,
    #[diesel(sql_type = BigInt)]
    pub customer_id: i64,
    #[diesel(sql_type = Text)]
    pub customer_name: String,
    #[diesel(sql_type = Text)]
    pub order_number: String,
}

pub fn targets(
    conn: &mut PgConnection,
    filter: &QueueFilter,
    selected: Option<&[i64]>,
    today: NaiveDate,
    limit_days: i32,
) -> QueryResult<Vec<Target>> {
    let mut sql = format!(
        "SELECT l.id AS line_id, l.order_id, l.customer_id, c.name AS customer_name,
                o.number AS order_number {FROM}{}",
        where_clause(filter, true)
    );
    sql.push_str(" AND ($7::int8[] IS NULL OR l.id = ANY($7)) ORDER BY l.placed_at, l.id");
    bind_filter(sql, filter, today, limit_days)
        .bind::<Nullable<Array<BigInt>>, _>(selected.map(<[i64]>::to_vec))
        .load(conn)
}

/// How many customers a preview names before "and N more".
pub const PREVIEW_CUSTOMERS: usize = 10;

/// A bulk action as asked for on the queue page.
pub struct BulkRequest {
    pub action: BulkAction,
    pub filter: QueueFilter,
    /// The lines ticked; `None` for every line the filter matches.
    pub selected: Option<Vec<i64>>,
    /// Run it (otherwise only preview).
    pub confirm: bool,
    pub reason: String,
    pub discount_kind: String,
    pub discount_value: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkAction {
    Cancel,
    EtaUpdate,
    Discount,
}

/// What a bulk action touches, what it did, or why it may not run for this person.
#[derive(Debug, Clone, Default)]
pub struct BulkOutcome {
    pub lines: usize,
    pub customers: usize,
    /// The first customers affected, in queue order, with their lines' order numbers.
    pub first_customers: Vec<(String, Vec<String>)>,
    /// The shop's limit on a bulk cancel without a manager.
    pub cancel_limit: usize,
    /// Set when the action is a cancel over the limit: said to a manager as a note, to
    /// anyone else as the reason it cannot run.
    pub over_limit: bool,
    /// What was done, once confirmed.
    pub done: Option<String>,
    /// Why a confirmation changed nothing (a field to fill in).
    pub refused: Option<String>,
}

impl BulkOutcome {
    /// Customers beyond those named.
    pub fn more_customers(&self) -> usize {
        self.customers.saturating_sub(self.first_customers.len())
    }
}

/// Previews a bulk action over exactly the lines the filter (and the ticks) select, and
/// runs it when confirmed. Cancelling more lines than the shop's limit needs a manager:
/// for anyone else the preview says so and a confirmation changes nothing.
pub fn run_bulk(
    conn: &mut PgConnection,
    actor: &Actor,
    by_manager: bool,
    request: &BulkRequest,
    today: NaiveDate,
) -> AppResult<BulkOutcome> {
    let settings = crate::db::shop_settings::load(conn)?;
    let targets = targets(
        conn,
        &request.filter,
        request.selected.as_deref(),
        today,
        settings.expiry_limit_days,
    )?;
    let mut customers: Vec<(i64, String, Vec<String>)> = Vec::new();
    for target in &targets {
        match customers
            .iter_mut()
            .find(|(id, _, _)| *id == target.customer_id)
        {
            Some((_, _, orders)) => {
                if !orders.contains(&target.order_number) {
                    orders.push(target.order_number.clone());
                }
            }
            None => customers.push((
                target.customer_id,
                target.customer_name.clone(),
                vec![target.order_number.clone()],
            )),
        }
    }
    let cancel_limit = settings.bulk_cancel_max_lines.max(0) as usize;
    let mut outcome = BulkOutcome {
        lines: targets.len(),
        customers: customers.len(),
        first_customers: customers
            .into_iter()
            .take(PREVIEW_CUSTOMERS)
            .map(|(_, name, orders)| (name, orders))
            .collect(),
        cancel_limit,
        over_limit: request.action == BulkAction::Cancel && targets.len() > cancel_limit,
        done: None,
        refused: None,
    };
    if !request.confirm || (outcome.over_limit && !by_manager) {
        return Ok(outcome);
    }
    let customers = outcome.customers;
    let done = match request.action {
        BulkAction::Cancel => cancel_lines(conn, actor, &targets, &request.reason, today).map(
            |done| format!("Cancelled the waiting units of {done} lines for {customers} customers."),
        ),
        BulkAction::EtaUpdate => send_eta_updates(conn, actor, &targets, today).map(|queued| {
            format!(
                "Queued {queued} ETA update emails ({customers} customers; an order gets at most one a day)."
            )
        }),
        BulkAction::Discount => propose_discounts(
            conn,
            actor,
            &targets,
            &request.discount_kind,
            &request.discount_value,
            &request.reason,
        )
        .map(|proposed| format!("Proposed {proposed} discounts for approval.")),
    };
    match done {
        Ok(done) => outcome.done = Some(done),
        // Bad input (no reason, no value): nothing changed; the preview stays, with why.
        Err(AppError::Invalid { message, .. }) => outcome.refused = Some(message),
        Err(other) => return Err(other),
    }
    Ok(outcome)
}

/// Cancels the waiting part of every target line, in one transaction.
pub fn cancel_lines(
    conn: &mut PgConnection,
    actor: &Actor,
    targets: &[Target],
    reason: &str,
    today: NaiveDate,
) -> AppResult<usize> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(AppError::invalid(
            "reason",
            "give a reason for the cancellation (up to 500 characters)",
        ));
    }
    conn.transaction(|conn| {
        for target in targets {
            let waiting: i32 = crate::db::schema::order_lines::table
                .find(target.line_id)
                .select(
                    crate::db::schema::order_lines::qty
                        - crate::db::schema::order_lines::allocated
                        - crate::db::schema::order_lines::shipped
                        - crate::db::schema::order_lines::cancelled,
                )
                .first(conn)?;
            if waiting > 0 {
                crate::services::orders::fulfilment::cancel_line(
                    conn,
                    actor,
                    target.line_id,
                    Some(waiting),
                    reason,
                    today,
                )?;
            }
        }
        Ok(targets.len())
    })
}

/// Queues an ETA update email for each order among the targets (one per order); returns
/// how many were queued. One transaction.
pub fn send_eta_updates(
    conn: &mut PgConnection,
    actor: &Actor,
    targets: &[Target],
    today: NaiveDate,
) -> AppResult<usize> {
    let mut orders: Vec<i64> = targets.iter().map(|t| t.order_id).collect();
    orders.sort_unstable();
    orders.dedup();
    conn.transaction(|conn| {
        let mut queued = 0;
        for order_id in orders {
            queued += usize::from(super::messages::triggers::queue_eta_update(
                conn, actor, order_id, today,
            )?);
        }
        Ok(queued)
    })
}

/// Proposes the same discount for each order among the targets; all or nothing.
pub fn propose_discounts(
    conn: &mut PgConnection,
    actor: &Actor,
    targets: &[Target],
    kind: &str,
    value: &str,
    reason: &str,
) -> AppResult<usize> {
    let value = match kind {
        "free_shipping" => 0,
        _ => crate::services::approvals::proposals::parse_value(kind, value)?
            .ok_or_else(|| AppError::invalid("value", "enter a value"))?,
    };
    let mut orders: Vec<i64> = targets.iter().map(|t| t.order_id).collect();
    orders.sort_unstable();
    orders.dedup();
    conn.transaction(|conn| {
        for order_id in &orders {
            let number: String = crate::db::schema::orders::table
                .find(order_id)
                .select(crate::db::schema::orders::number)
                .first(conn)?;
            crate::services::approvals::proposals::propose(
                conn, actor, &number, kind, value, reason,
            )?;
        }
        Ok(orders.len())
    })
}

/// What the queue page shows: a page of lines, whether more follow, the quick filters'
/// counts, the suppliers to filter by and the shop's currency.
pub struct QueueData {
    pub lines: Vec<QueueLine>,
    pub more: bool,
    pub counts: QueueCounts,
    pub suppliers: Vec<(i64, String)>,
    pub currency: String,
}

/// The queue page after `cursor`. `count` gives the filter's counts under the shop's wait
/// limit (the caller may share one count between requests; `counts` counts).
pub fn queue_page(
    conn: &mut PgConnection,
    filter: &QueueFilter,
    sort: QueueSort,
    cursor: Option<(i64, i64)>,
    page_size: i64,
    today: NaiveDate,
    count: impl FnOnce(&mut PgConnection, i32) -> AppResult<QueueCounts>,
) -> AppResult<QueueData> {
    use crate::db::schema::suppliers;
    let settings = crate::db::shop_settings::load(conn)?;
    let limit = settings.expiry_limit_days;
    let (lines, more) = page(conn, filter, sort, cursor, page_size, today, limit)?;
    let counts = count(conn, limit)?;
    let suppliers = suppliers::table
        .order(suppliers::name)
        .select((suppliers::id, suppliers::name))
        .load(conn)?;
    Ok(QueueData {
        lines,
        more,
        counts,
        suppliers,
        currency: settings.currency,
    })
}

/// Every line the filter matches, in the page's order, for the CSV export.
pub fn export_lines(
    conn: &mut PgConnection,
    filter: &QueueFilter,
    sort: QueueSort,
    today: NaiveDate,
) -> AppResult<Vec<QueueLine>> {
    let limit = crate::db::shop_settings::load(conn)?.expiry_limit_days;
    let (lines, _) = page(conn, filter, sort, None, 1_000_000, today, limit)?;
    Ok(lines)
}
