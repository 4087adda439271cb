//! The Messages page's list: counts by status and kind, and one page of messages, newest
//! first, narrowed by status, kind and a search that takes an order number (in any of
//! the forms order search forgives) or an email (any case, or its start).

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Nullable, Text};

use crate::db::models::Count;
use crate::error::AppResult;
use crate::services::messages::{page::CountRow, page::MessageRow};
use crate::services::orders::search::{self, Needle};

pub const PAGE_SIZE: i64 = 50;

#[derive(Debug, Clone, Default)]
pub struct MessageFilter {
    pub status: Option<String>,
    pub kind: Option<String>,
    /// An order number or an email, as typed.
    pub query: String,
    /// The id to continue after.
    pub before: Option<i64>,
}

/// What the search was read as, for the page to say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchedFor {
    Nothing,
    /// The orders whose numbers matched.
    Orders(Vec<String>),
    Email(String),
}

pub struct Overview {
    pub counts: Vec<CountRow>,
    pub rows: Vec<MessageRow>,
    /// How many messages match the filter, when there is a search.
    pub matching: Option<i64>,
    pub searched_for: SearchedFor,
    /// The id to continue after, when there are more.
    pub next_before: Option<i64>,
}

#[derive(QueryableByName)]
struct OrderHit {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    number: String,
}

/// Orders a message search means: the exact numbers if any match, else up to 50 whose
/// numbers start so (the same candidates as order search).
fn orders_for(conn: &mut PgConnection, candidates: &[String]) -> QueryResult<Vec<OrderHit>> {
    let exact: Vec<OrderHit> = crate::db::prepared::sql(
        "SELECT id, number FROM orders WHERE lower(number) = ANY($1) ORDER BY id",
    )
    .bind::<Array<Text>, _>(candidates)
    .load(conn)?;
    if !exact.is_empty() {
        return Ok(exact);
    }
    crate::db::prepared::sql(
        "SELECT hit.id, hit.number FROM unnest($1::text[]) AS c(prefix)
           CROSS JOIN LATERAL (
               SELECT id, number FROM orders
                WHERE lower(number) ~>=~ c.prefix AND lower(number) ~<~ (c.prefix || chr(1114111))
                ORDER BY lower(number) USING ~>~ LIMIT 50) hit
          LIMIT 50",
    )
    .bind::<Array<Text>, _>(candidates)
    .load(conn)
}

pub fn overview(conn: &mut PgConnection, filter: &MessageFilter) -> AppResult<Overview> {
    let counts: Vec<CountRow> = crate::db::prepared::sql(
        "SELECT status, kind, count(*) AS count FROM messages GROUP BY status, kind ORDER BY status, kind",
    )
    .load(conn)?;
    let shape = search::number_shape(conn)?;
    let (order_ids, email, searched_for) = match search::parse(&filter.query, shape.as_ref()) {
        Needle::Nothing => (None, None, SearchedFor::Nothing),
        Needle::Number(candidates) => {
            let hits = orders_for(conn, &candidates)?;
            let ids: Vec<i64> = hits.iter().map(|h| h.id).collect();
            let numbers = hits.into_iter().map(|h| h.number).collect();
            (Some(ids), None, SearchedFor::Orders(numbers))
        }
        Needle::Customer { whole, .. } => {
            let email = whole.replace(' ', "");
            (None, Some(email.clone()), SearchedFor::Email(email))
        }
    };
    // Each narrowing is on an index: the order's messages (order_id, id), the
    // recipient's start (lower(recipient) text_pattern_ops), or status and kind.
    let filtered = "FROM messages m LEFT JOIN orders o ON o.id = m.order_id
          WHERE ($1::text IS NULL OR m.status = $1) AND ($2::text IS NULL OR m.kind = $2)
            AND ($3::int8[] IS NULL OR m.order_id = ANY($3))
            AND ($4::text IS NULL OR (lower(m.recipient) ~>=~ $4 AND lower(m.recipient) ~<~ ($4 || chr(1114111))))";
    let mut rows: Vec<MessageRow> = diesel::sql_query(format!(
        "SELECT m.id, m.kind, m.idempotency_key, m.order_id, m.customer_id, m.recipient, m.subject,
                m.status, m.attempts, m.next_attempt_at, m.last_error, m.smtp_response, m.sent_at,
                m.created_by, m.created_at, o.number AS order_number
           {filtered}
            AND ($5::int8 IS NULL OR m.id < $5)
          ORDER BY m.id DESC
          LIMIT $6"
    ))
    .bind::<Nullable<Text>, _>(&filter.status)
    .bind::<Nullable<Text>, _>(&filter.kind)
    .bind::<Nullable<Array<BigInt>>, _>(&order_ids)
    .bind::<Nullable<Text>, _>(&email)
    .bind::<Nullable<BigInt>, _>(filter.before)
    .bind::<BigInt, _>(PAGE_SIZE + 1)
    .load(conn)?;
    let matching = if searched_for == SearchedFor::Nothing {
        None
    } else {
        let counted: Count = diesel::sql_query(format!("SELECT count(*) AS count {filtered}"))
            .bind::<Nullable<Text>, _>(&filter.status)
            .bind::<Nullable<Text>, _>(&filter.kind)
            .bind::<Nullable<Array<BigInt>>, _>(&order_ids)
            .bind::<Nullable<Text>, _>(&email)
            .get_result(conn)?;
        Some(counted.count)
    };
    let next_before = if rows.len() as i64 > PAGE_SIZE {
        rows.truncate(PAGE_SIZE as usize);
        rows.last().map(|r| r.id)
    } else {
        None
    };
    Ok(Overview {
        counts,
        rows,
        matching,
        searched_for,
        next_before,
    })
}
