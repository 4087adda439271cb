//! Fixed SQL run through `db::prepared::sql` is prepared once per connection and binds
//! its values to the placeholders they name, in any order and repeated.

use backorder_desk::db::prepared;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use crate::helpers::TestDatabase;

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Text)]
    s: String,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn prepared_statements(conn: &mut PgConnection) -> i64 {
    diesel::sql_query("SELECT count(*) AS n FROM pg_prepared_statements")
        .get_result::<Count>(conn)
        .unwrap()
        .n
}

#[test]
fn a_fixed_statement_is_prepared_once_and_binds_each_placeholder_to_its_value() {
    let database = TestDatabase::new();
    let mut conn = database.connect();
    let before = prepared_statements(&mut conn);
    for (first, second) in [("a", "b"), ("x", "y")] {
        let row: Row = prepared::sql("SELECT $2::text || $1::text || '$1' || $2::text AS s")
            .bind::<Text, _>(first)
            .bind::<Text, _>(second)
            .get_result(&mut conn)
            .unwrap();
        assert_eq!(row.s, format!("{second}{first}$1{second}"));
    }
    assert_eq!(prepared_statements(&mut conn), before + 1);
}

#[test]
fn a_placeholder_without_a_value_is_an_error_not_a_wrong_answer() {
    let database = TestDatabase::new();
    let mut conn = database.connect();
    let result = prepared::sql("SELECT $2::text AS s")
        .bind::<Text, _>("only one")
        .get_result::<Row>(&mut conn);
    let message = result.err().expect("an error").to_string();
    assert!(message.contains("$2 has no bound value"), "{message}");
}

#[test]
fn an_assembled_statement_is_prepared_once_per_distinct_text() {
    let database = TestDatabase::new();
    let mut conn = database.connect();
    let before = prepared_statements(&mut conn);
    for (shout, value) in [(false, "a"), (true, "b"), (false, "c"), (true, "d")] {
        let sql = format!(
            "SELECT {} AS s",
            if shout { "upper($1::text)" } else { "$1::text" }
        );
        let row: Row = prepared::assembled(sql)
            .bind::<Text, _>(value)
            .get_result(&mut conn)
            .unwrap();
        let expected = if shout {
            value.to_uppercase()
        } else {
            value.to_owned()
        };
        assert_eq!(row.s, expected);
    }
    assert_eq!(prepared_statements(&mut conn), before + 2);
}
