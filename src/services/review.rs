//! The daily review's figures, each one or two indexed statements.

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Date};

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
}

pub fn headline(conn: &mut PgConnection, today: NaiveDate) -> QueryResult<Headline> {
    diesel::sql_query(
        "SELECT count(*)::int8 AS open_lines,
                coalesce(sum(qty - allocated - shipped - cancelled), 0)::int8 AS waiting_units,
                coalesce(sum((qty - allocated - shipped - cancelled) * unit_price_cents), 0)::int8 AS value_waiting_cents,
                count(*) FILTER (WHERE promised_on < $1)::int8 AS overdue_lines
           FROM order_lines
          WHERE qty > allocated + shipped + cancelled",
    )
    .bind::<Date, _>(today)
    .get_result(conn)
}
