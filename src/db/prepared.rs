//! Hand-written SQL that PostgreSQL parses and plans once per connection.
//!
//! Diesel caches a prepared statement for every query built with its DSL, but never for
//! `diesel::sql_query`: each call sends the text again and the server plans it again.
//! For the pages' hand-tuned joins the planning costs more than the run (BENCHMARKS.md,
//! issue 17). [`sql`] takes a fixed statement (`&'static str`: a literal or an
//! `include_str!`), so each connection's statement cache holds one prepared statement per
//! text. [`assembled`] does the same for a statement put together at run time from fixed
//! pieces (which filters a page applies, its sort order: a small set of texts); SQL that
//! carries values or has no such bound keeps `diesel::sql_query` and is planned each time.
//!
//! Binds work as with `sql_query`: `db::prepared::sql(SQL).bind::<BigInt, _>(id).load(conn)`.
//! Diesel lets a query outside it add a parameter only together with its placeholder, so
//! the text is cut at its `$n` placeholders and each one is written back with its value.

use std::borrow::Cow;

use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{HasSqlType, Untyped};
use diesel::{QueryResult, RunQueryDsl};

/// One fixed SQL statement and its parameters, prepared on first use by each connection.
#[must_use = "queries are only executed when calling `load`, `get_result` or similar"]
pub struct Prepared<'a> {
    sql: Cow<'static, str>,
    binds: Vec<Box<dyn QueryFragment<Pg> + Send + 'a>>,
}

/// The statement `sql`, cached as a prepared statement by the connection that runs it.
pub fn sql<'a>(sql: &'static str) -> Prepared<'a> {
    Prepared {
        sql: Cow::Borrowed(sql),
        binds: Vec::new(),
    }
}

/// A statement assembled from fixed pieces, cached like [`sql`]: one prepared statement
/// per distinct text on each connection, so the pieces may choose among clauses but never
/// carry a value (values are bound), or the cache would grow with every request.
pub fn assembled<'a>(sql: String) -> Prepared<'a> {
    Prepared {
        sql: Cow::Owned(sql),
        binds: Vec::new(),
    }
}

impl<'a> Prepared<'a> {
    /// Binds the next parameter: the first call is `$1`, the second `$2`, ...
    pub fn bind<ST, Value>(mut self, value: Value) -> Self
    where
        Pg: HasSqlType<ST>,
        Value: ToSql<ST, Pg> + Send + 'a,
        ST: Send + 'a,
    {
        self.binds.push(Box::new(Bind::<ST, Value> {
            value,
            sql_type: std::marker::PhantomData,
        }));
        self
    }
}

struct Bind<ST, Value> {
    value: Value,
    sql_type: std::marker::PhantomData<ST>,
}

impl<ST, Value> QueryFragment<Pg> for Bind<ST, Value>
where
    Pg: HasSqlType<ST>,
    Value: ToSql<ST, Pg>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_bind_param::<ST, Value>(&self.value)
    }
}

/// The rows of a JSON array a statement built with `json_agg` (`NULL` for no rows): how a
/// page reads several small lists in one round trip. A row that does not fit `T` is a
/// deserialization error, as a column of the wrong type would be.
pub fn json_rows<T: serde::de::DeserializeOwned>(array: Option<&str>) -> QueryResult<Vec<T>> {
    match array {
        None => Ok(Vec::new()),
        Some(json) => serde_json::from_str(json)
            .map_err(|e| diesel::result::Error::DeserializationError(Box::new(e))),
    }
}

/// The text between placeholders, and the placeholder (1-based) after each piece.
fn pieces(sql: &str) -> Vec<(&str, Option<usize>)> {
    let bytes = sql.as_bytes();
    let mut out = Vec::new();
    let (mut start, mut i, mut quoted) = (0, 0, false);
    while i < bytes.len() {
        match bytes[i] {
            b'\'' => quoted = !quoted,
            // A comment may hold an apostrophe ("the customer's"): skip it whole.
            b'-' if !quoted && bytes.get(i + 1) == Some(&b'-') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'$' if !quoted && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                let digits = bytes[i + 1..]
                    .iter()
                    .take_while(|b| b.is_ascii_digit())
                    .count();
                let n = sql[i + 1..i + 1 + digits].parse().unwrap_or(0);
                out.push((&sql[start..i], Some(n)));
                i += 1 + digits;
                start = i;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out.push((&sql[start..], None));
    out
}

impl QueryFragment<Pg> for Prepared<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        // Unlike `SqlQuery`, no `unsafe_to_cache_prepared`: the text is fixed or assembled
        // from fixed pieces, so the cache (keyed by the text and the bind types) stays as
        // small as the program.
        for (text, placeholder) in pieces(&self.sql) {
            out.push_sql(text);
            if let Some(n) = placeholder {
                let bind = n
                    .checked_sub(1)
                    .and_then(|i| self.binds.get(i))
                    .ok_or_else(|| {
                        diesel::result::Error::QueryBuilderError(
                            format!("${n} has no bound value ({} bound)", self.binds.len()).into(),
                        )
                    })?;
                bind.walk_ast(out.reborrow())?;
            }
        }
        Ok(())
    }
}

impl QueryId for Prepared<'_> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for Prepared<'_> {
    type SqlType = Untyped;
}

impl<Conn> RunQueryDsl<Conn> for Prepared<'_> {}

#[cfg(test)]
mod tests {
    use diesel::query_builder::QueryFragment;

    use super::*;

    #[test]
    fn a_fixed_statement_may_be_cached_and_sql_query_may_not() {
        let query = sql("SELECT $1::int8 AS n").bind::<diesel::sql_types::BigInt, _>(7_i64);
        assert!(QueryFragment::<Pg>::is_safe_to_cache_prepared(&query, &Pg).unwrap());
        let uncached = diesel::sql_query("SELECT 1 AS n");
        assert!(!QueryFragment::<Pg>::is_safe_to_cache_prepared(&uncached, &Pg).unwrap());
    }

    #[test]
    fn placeholders_are_found_outside_quotes_in_any_order_and_repeated() {
        assert_eq!(
            pieces("a = $2 AND b = '$1' AND c = $10 OR d = $2"),
            vec![
                ("a = ", Some(2)),
                (" AND b = '$1' AND c = ", Some(10)),
                (" OR d = ", Some(2)),
                ("", None)
            ]
        );
        assert_eq!(pieces("SELECT 1"), vec![("SELECT 1", None)]);
        assert_eq!(
            pieces("-- the customer's line\nWHERE id = $1"),
            vec![("-- the customer's line\nWHERE id = ", Some(1)), ("", None)]
        );
    }
}
