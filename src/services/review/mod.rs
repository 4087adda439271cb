//! The daily review's figures: each one or two statements served by indexes. The trend is
//! computed from the lines' own timestamps (when each started and stopped waiting), so it
//! is right for days the server was not running.

pub mod review_notes;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Date, Double, Nullable, Text, Timestamptz};
use serde_json::json;

use crate::db::audit::{self, Actor};
use crate::db::schema::{day_reviews, users};
use crate::domain::trend::TrendDay;
use crate::error::AppResult;

/// The headline figures of the waiting queue right now.
#[derive(Debug, Clone, Default, QueryableByName)]
pub struct Headline {
    #[diesel(sql_type = BigInt)]
    pub open_lines: i64,
    #[diesel(sql_type = BigInt)]
    pub waiting_units: i64,
    #[diesel(sql_type = BigInt)]
    pub value_waiting_cents: i64,
    #[diesel(sql_type = BigInt)]
    pub overdue_lines: i64,
    #[diesel(sql_type = Nullable<Double>)]
    pub median_age_days: Option<f64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub oldest_age_days: Option<i64>,
}

pub fn headline(conn: &mut PgConnection, today: NaiveDate) -> QueryResult<Headline> {
    crate::db::prepared::sql(
        "SELECT count(*)::int8 AS open_lines,
                coalesce(sum(waiting), 0)::int8 AS waiting_units,
                coalesce(sum(waiting * unit_price_cents), 0)::int8 AS value_waiting_cents,
                count(*) FILTER (WHERE promised_on < $1)::int8 AS overdue_lines,
                percentile_cont(0.5) WITHIN GROUP (ORDER BY ($1 - placed_at::date)) AS median_age_days,
                max($1 - placed_at::date)::int8 AS oldest_age_days
           FROM order_lines
          WHERE waiting > 0",
    )
    .bind::<Date, _>(today)
    .get_result(conn)
}

/// Events of one day, for today and yesterday side by side.
#[derive(Debug, Clone, Default, QueryableByName)]
pub struct DayCounts {
    #[diesel(sql_type = BigInt)]
    pub new_lines: i64,
    #[diesel(sql_type = BigInt)]
    pub filled: i64,
    #[diesel(sql_type = BigInt)]
    pub cancelled: i64,
    #[diesel(sql_type = BigInt)]
    pub shipments: i64,
    #[diesel(sql_type = BigInt)]
    pub emails_sent: i64,
    #[diesel(sql_type = BigInt)]
    pub emails_failed: i64,
    /// Alternatives taken instead of waiting (by the customer's link or a rep).
    #[diesel(sql_type = BigInt)]
    pub swaps: i64,
}

/// `[start, end)` of a local day, as instants.
fn day_bounds(day: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = day
        .and_hms_opt(0, 0, 0)
        .and_then(|t| t.and_local_timezone(chrono::Local).earliest())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
    (start, start + Duration::days(1))
}

pub fn day_counts(conn: &mut PgConnection, day: NaiveDate) -> QueryResult<DayCounts> {
    let (start, end) = day_bounds(day);
    crate::db::prepared::sql(
        "SELECT (SELECT count(*) FROM order_lines WHERE waiting_since >= $1 AND waiting_since < $2) AS new_lines,
                (SELECT count(*) FROM order_lines WHERE waiting_ended_at >= $1 AND waiting_ended_at < $2
                                                    AND waiting_ended_by = 'filled') AS filled,
                (SELECT count(*) FROM audit_log WHERE action = 'order_line_cancelled'
                                                  AND created_at >= $1 AND created_at < $2) AS cancelled,
                (SELECT count(*) FROM shipments WHERE created_at >= $1 AND created_at < $2) AS shipments,
                (SELECT count(*) FROM messages WHERE status = 'sent' AND sent_at >= $1 AND sent_at < $2) AS emails_sent,
                (SELECT count(*) FROM messages WHERE status IN ('failed', 'dead')
                                                 AND next_attempt_at >= $1 AND next_attempt_at < $2) AS emails_failed,
                (SELECT count(*) FROM swaps WHERE created_at >= $1 AND created_at < $2) AS swaps",
    )
    .bind::<Timestamptz, _>(start)
    .bind::<Timestamptz, _>(end)
    .get_result(conn)
}

/// Open backorder lines at the end of each of the last `days` days, oldest first, with
/// what moved them each day. Walks back from today's count:
/// open(d-1) = open(d) - started(d) + ended(d).
pub fn open_lines_trend(
    conn: &mut PgConnection,
    today: NaiveDate,
    days: i64,
    open_now: i64,
) -> QueryResult<Vec<TrendDay>> {
    #[derive(QueryableByName)]
    struct PerDay {
        #[diesel(sql_type = Date)]
        day: NaiveDate,
        #[diesel(sql_type = BigInt)]
        started: i64,
        #[diesel(sql_type = BigInt)]
        filled: i64,
        #[diesel(sql_type = BigInt)]
        cancelled: i64,
    }
    let (since, _) = day_bounds(today - Duration::days(days - 1));
    let rows: Vec<PerDay> = crate::db::prepared::sql(
        "SELECT day, sum(started)::int8 AS started, sum(filled)::int8 AS filled,
                sum(cancelled)::int8 AS cancelled FROM (
             SELECT (waiting_since AT TIME ZONE current_setting('TimeZone'))::date AS day,
                    1 AS started, 0 AS filled, 0 AS cancelled
               FROM order_lines WHERE waiting_since >= $1
             UNION ALL
             SELECT (waiting_ended_at AT TIME ZONE current_setting('TimeZone'))::date, 0,
                    (coalesce(waiting_ended_by, 'filled') = 'filled')::int, (waiting_ended_by IN ('cancelled', 'swapped'))::int
               FROM order_lines WHERE waiting_ended_at >= $1
         ) e GROUP BY day",
    )
    .bind::<Timestamptz, _>(since)
    .load(conn)?;
    let mut open = open_now;
    let mut trend = Vec::with_capacity(days as usize);
    for back in 0..days {
        let day = today - Duration::days(back);
        let row = rows.iter().find(|r| r.day == day);
        let (started, filled, cancelled) =
            row.map_or((0, 0, 0), |r| (r.started, r.filled, r.cancelled));
        trend.push(TrendDay {
            day,
            open: open.max(0),
            started,
            filled,
            cancelled,
        });
        open = open - started + filled + cancelled;
    }
    trend.reverse();
    Ok(trend)
}

#[derive(Debug, Clone, QueryableByName)]
pub struct TopSku {
    #[diesel(sql_type = Text)]
    pub sku: String,
    #[diesel(sql_type = Text)]
    pub name: String,
    #[diesel(sql_type = BigInt)]
    pub customers: i64,
    #[diesel(sql_type = BigInt)]
    pub units: i64,
}

/// The ten SKUs with the most waiting customers.
pub fn top_skus(conn: &mut PgConnection) -> QueryResult<Vec<TopSku>> {
    crate::db::prepared::sql(
        "SELECT p.sku, p.name, t.customers, t.units FROM (
             SELECT product_id, count(DISTINCT customer_id) AS customers,
                    sum(waiting)::int8 AS units
               FROM order_lines WHERE waiting > 0
              GROUP BY product_id ORDER BY customers DESC, units DESC LIMIT 10
         ) t JOIN products p ON p.id = t.product_id
         ORDER BY t.customers DESC, t.units DESC, p.sku",
    )
    .load(conn)
}

/// Promises due in the last 30 days and how many were kept (shipped by the promised day).
#[derive(Debug, Clone, Default, QueryableByName)]
pub struct PromisesKept {
    #[diesel(sql_type = BigInt)]
    pub due: i64,
    #[diesel(sql_type = BigInt)]
    pub kept: i64,
}

impl PromisesKept {
    pub fn share_percent(&self) -> Option<i64> {
        (self.due > 0).then(|| (self.kept * 100 + self.due / 2) / self.due)
    }
}

pub fn promises_kept(conn: &mut PgConnection, today: NaiveDate) -> QueryResult<PromisesKept> {
    crate::db::prepared::sql(
        "SELECT count(*) AS due,
                count(*) FILTER (WHERE completed_at IS NOT NULL AND shipped > 0
                                   AND (completed_at AT TIME ZONE current_setting('TimeZone'))::date <= promised_on) AS kept
           FROM order_lines
          WHERE promised_on >= $1 - 30 AND promised_on < $1 AND cancelled < qty",
    )
    .bind::<Date, _>(today)
    .get_result(conn)
}

#[derive(Debug, Clone, QueryableByName)]
pub struct DuePurchaseOrder {
    #[diesel(sql_type = Text)]
    pub reference: String,
    #[diesel(sql_type = Text)]
    pub supplier: String,
    #[diesel(sql_type = Date)]
    pub expected_on: NaiveDate,
    #[diesel(sql_type = BigInt)]
    pub outstanding: i64,
}

/// Open purchase orders overdue or due within a week, soonest first.
pub fn purchase_orders_due(
    conn: &mut PgConnection,
    today: NaiveDate,
) -> QueryResult<Vec<DuePurchaseOrder>> {
    crate::db::prepared::sql(
        "SELECT po.reference, s.name AS supplier, po.expected_on,
                coalesce(sum(pl.qty_ordered - pl.qty_received), 0)::int8 AS outstanding
           FROM purchase_orders po
           JOIN suppliers s ON s.id = po.supplier_id
           JOIN purchase_order_lines pl ON pl.purchase_order_id = po.id
          WHERE po.status = 'open' AND po.expected_on <= $1 + 7
          GROUP BY po.id, s.name ORDER BY po.expected_on, po.reference LIMIT 50",
    )
    .bind::<Date, _>(today)
    .load(conn)
}

#[derive(Debug, Clone, QueryableByName)]
pub struct LowStock {
    #[diesel(sql_type = Text)]
    pub sku: String,
    #[diesel(sql_type = Text)]
    pub name: String,
    #[diesel(sql_type = BigInt)]
    pub available: i64,
    #[diesel(sql_type = BigInt)]
    pub reorder_point: i64,
}

pub fn low_stock(conn: &mut PgConnection) -> QueryResult<(Vec<LowStock>, i64)> {
    let rows = crate::db::prepared::sql(
        "SELECT sku, name, (on_hand - allocated)::int8 AS available, reorder_point::int8 AS reorder_point
           FROM products WHERE on_hand - allocated > 0 AND on_hand - allocated <= reorder_point
          ORDER BY (on_hand - allocated), sku LIMIT 8",
    )
    .load(conn)?;
    let count = diesel::dsl::sql::<BigInt>(
        "SELECT count(*) FROM products WHERE on_hand - allocated > 0 AND on_hand - allocated <= reorder_point",
    )
    .get_result(conn)?;
    Ok((rows, count))
}

/// Counts of what needs a person, each a link on the page.
#[derive(Debug, Clone, Default, QueryableByName)]
pub struct Attention {
    #[diesel(sql_type = BigInt)]
    pub no_eta: i64,
    #[diesel(sql_type = BigInt)]
    pub lapsing: i64,
    #[diesel(sql_type = BigInt)]
    pub failed_emails: i64,
    #[diesel(sql_type = BigInt)]
    pub pending_approvals: i64,
}

pub fn attention(conn: &mut PgConnection) -> QueryResult<Attention> {
    crate::db::prepared::sql(
        "SELECT (SELECT count(*) FROM order_lines WHERE waiting > 0 AND eta_worst IS NULL) AS no_eta,
                (SELECT count(*) FROM order_lines
                  WHERE waiting > 0 AND lapses_on IS NOT NULL
                    AND (eta_worst IS NULL OR lapses_on < eta_worst)) AS lapsing,
                (SELECT count(*) FROM messages WHERE status IN ('failed', 'dead')) AS failed_emails,
                (SELECT count(*) FROM discount_proposals WHERE status = 'proposed') AS pending_approvals",
    )
    .get_result(conn)
}

/// Who marked `day` reviewed, and when.
pub fn reviewed(
    conn: &mut PgConnection,
    day: NaiveDate,
) -> QueryResult<Option<(String, DateTime<Utc>)>> {
    day_reviews::table
        .inner_join(users::table)
        .filter(day_reviews::day.eq(day))
        .select((users::name, day_reviews::reviewed_at))
        .first(conn)
        .optional()
}

/// A manager marks the day reviewed (once; the first sign-off stands).
pub fn sign_off(
    conn: &mut PgConnection,
    actor: &Actor,
    user_id: i64,
    day: NaiveDate,
) -> AppResult<()> {
    conn.transaction(|conn| {
        let inserted = diesel::insert_into(day_reviews::table)
            .values((
                day_reviews::day.eq(day),
                day_reviews::reviewed_by.eq(user_id),
            ))
            .on_conflict_do_nothing()
            .execute(conn)?;
        if inserted > 0 {
            audit::record(
                conn,
                actor,
                "day_reviewed",
                "day_review",
                Some(day.to_string()),
                None,
                Some(json!({ "day": day })),
            )?;
        }
        Ok(())
    })
}

/// Keeps today's headline as it stands now and returns yesterday's, if the server kept
/// one (it does whenever anyone opened the review that day).
pub fn snapshot(
    conn: &mut PgConnection,
    today: NaiveDate,
    now: &Headline,
) -> QueryResult<Option<Headline>> {
    use crate::db::schema::review_snapshots::dsl as s;
    diesel::insert_into(s::review_snapshots)
        .values((
            s::day.eq(today),
            s::open_lines.eq(now.open_lines),
            s::waiting_units.eq(now.waiting_units),
            s::value_waiting_cents.eq(now.value_waiting_cents),
            s::overdue_lines.eq(now.overdue_lines),
            s::median_age_days.eq(now.median_age_days),
            s::oldest_age_days.eq(now.oldest_age_days),
        ))
        .on_conflict(s::day)
        .do_update()
        .set((
            s::open_lines.eq(now.open_lines),
            s::waiting_units.eq(now.waiting_units),
            s::value_waiting_cents.eq(now.value_waiting_cents),
            s::overdue_lines.eq(now.overdue_lines),
            s::median_age_days.eq(now.median_age_days),
            s::oldest_age_days.eq(now.oldest_age_days),
            s::taken_at.eq(Utc::now()),
        ))
        .execute(conn)?;
    let yesterday = s::review_snapshots
        .find(today - Duration::days(1))
        .select((
            s::open_lines,
            s::waiting_units,
            s::value_waiting_cents,
            s::overdue_lines,
            s::median_age_days,
            s::oldest_age_days,
        ))
        .first::<(i64, i64, i64, i64, Option<f64>, Option<i64>)>(conn)
        .optional()?;
    Ok(yesterday.map(
        |(
            open_lines,
            waiting_units,
            value_waiting_cents,
            overdue_lines,
            median_age_days,
            oldest_age_days,
        )| {
            Headline {
                open_lines,
                waiting_units,
                value_waiting_cents,
                overdue_lines,
                median_age_days,
                oldest_age_days,
            }
        },
    ))
}

/// Everything the review shows, counted together; which the web layer shares between
/// requests for a moment.
#[derive(Clone)]
pub struct ReviewData {
    pub headline: Headline,
    pub yesterday: Option<Headline>,
    pub today_counts: DayCounts,
    pub yesterday_counts: DayCounts,
    pub trend: Vec<TrendDay>,
    pub trend_notes: Vec<String>,
    pub top: Vec<TopSku>,
    pub kept: PromisesKept,
    pub due: Vec<DuePurchaseOrder>,
    pub low: (Vec<LowStock>, i64),
    pub attention: Attention,
    pub reviewed: Option<(String, DateTime<Utc>)>,
    pub currency: String,
}

/// Counts everything the review shows (a dozen statements over the whole queue).
pub fn daily(conn: &mut PgConnection, today: NaiveDate) -> AppResult<ReviewData> {
    let headline = headline(conn, today)?;
    let trend = open_lines_trend(conn, today, 30, headline.open_lines)?;
    Ok(ReviewData {
        trend_notes: crate::services::review::review_notes::explain(conn, &trend, today)?,
        // Yesterday's figures come from the snapshot, a write the caller makes on the primary.
        yesterday: None,
        today_counts: day_counts(conn, today)?,
        yesterday_counts: day_counts(conn, today - Duration::days(1))?,
        top: top_skus(conn)?,
        kept: promises_kept(conn, today)?,
        due: purchase_orders_due(conn, today)?,
        low: low_stock(conn)?,
        attention: attention(conn)?,
        reviewed: reviewed(conn, today)?,
        currency: crate::db::shop_settings::load(conn)?.currency,
        headline,
        trend,
    })
}
