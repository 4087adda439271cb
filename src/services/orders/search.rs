//! Order search that forgives the way people type: an order number with or without its
//! prefix, `#`, spaces, any case or "Order SO-11474"; a customer's email in any case; a
//! name in either order or in part. A query is read as a number or as a customer, never
//! both, so each runs on one index path (PERFORMANCE.md): numbers as ranges on
//! `lower(number) text_pattern_ops`, customers through the trigram indexes on their name
//! and email. Counts are exact up to [`COUNT_LIMIT`] and say so beyond it; pages are
//! keyset, so a deep page costs what the first does.

use chrono::NaiveDate;
use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Date, Nullable, Text, Timestamptz};

use crate::db::models::{Count, Id};
use crate::error::{AppError, AppResult};

/// An order found, with its customer and what still waits.
#[derive(Debug, Clone, QueryableByName)]
pub struct OrderMatch {
    #[diesel(sql_type = Text)]
    pub number: String,
    #[diesel(sql_type = Text)]
    pub customer_name: String,
    #[diesel(sql_type = Text)]
    pub customer_email: String,
    #[diesel(sql_type = Timestamptz)]
    pub placed_at: DateTime<Utc>,
    #[diesel(sql_type = BigInt)]
    pub waiting_lines: i64,
    #[diesel(sql_type = Nullable<Date>)]
    pub latest_eta: Option<NaiveDate>,
}

/// Results on one page.
pub const PAGE_SIZE: usize = 25;
/// Counting stops here: past it the page says "more than 10,000" instead of a number.
pub const COUNT_LIMIT: i64 = 10_000;
/// Words of a name query that are matched (each must appear in the name).
const MAX_WORDS: usize = 5;

/// How the shop writes its order numbers, read from the newest one ("SO-0011474": the
/// prefix "so-" and 7 digits), so "11474" can be read as SO-0011474.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberShape {
    /// Lowercase, everything before the first digit.
    pub prefix: String,
    /// Digits after the prefix.
    pub digits: usize,
}

impl NumberShape {
    pub fn of(number: &str) -> Option<Self> {
        let lower = number.to_lowercase();
        let start = lower.find(|c: char| c.is_ascii_digit())?;
        let digits = lower[start..]
            .chars()
            .take_while(char::is_ascii_digit)
            .count();
        Some(Self {
            prefix: lower[..start].to_owned(),
            digits,
        })
    }

    fn letters(&self) -> String {
        self.prefix
            .chars()
            .filter(char::is_ascii_alphabetic)
            .collect()
    }
}

/// What a query asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Needle {
    Nothing,
    /// Lowercase forms the number may take; each is also a prefix ("1147" finds SO-11474).
    Number(Vec<String>),
    /// `whole` is matched inside the email, every word inside the name.
    Customer {
        whole: String,
        words: Vec<String>,
    },
}

/// Words people put before a number: "Order SO-11474", "order no. 11474", "#11474".
const FILLER: [&str; 6] = ["order", "orders", "no", "nr", "number", "num"];

/// Reads a query (pure: the shape of the shop's numbers is passed in).
pub fn parse(query: &str, shape: Option<&NumberShape>) -> Needle {
    let lower = query.trim().to_lowercase();
    if lower.is_empty() {
        return Needle::Nothing;
    }
    if let Some(candidates) = number_candidates(&lower, shape) {
        return Needle::Number(candidates);
    }
    as_customer(&lower).unwrap_or(Needle::Nothing)
}

/// The query read as a customer (a name or an email), whatever it looks like.
fn as_customer(query: &str) -> Option<Needle> {
    let words: Vec<String> = query
        .trim()
        .to_lowercase()
        .split_whitespace()
        .take(MAX_WORDS)
        .map(str::to_owned)
        .collect();
    (!words.is_empty()).then(|| Needle::Customer {
        whole: words.join(" "),
        words,
    })
}

fn number_candidates(lower: &str, shape: Option<&NumberShape>) -> Option<Vec<String>> {
    let mut words: Vec<&str> = lower
        .split(|c: char| c.is_whitespace() || c == '#' || c == ':')
        .filter(|w| !w.is_empty())
        .collect();
    while words.len() > 1 && FILLER.contains(&words[0].trim_end_matches('.')) {
        words.remove(0);
    }
    let compact: String = words.concat();
    let letters: String = compact
        .chars()
        .take_while(char::is_ascii_alphabetic)
        .collect();
    let digits = compact[letters.len()..].trim_start_matches(['-', '_', '/', '.']);
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let mut candidates = Vec::new();
    if !letters.is_empty() {
        candidates.push(format!("{letters}-{digits}"));
        candidates.push(format!("{letters}{digits}"));
    } else {
        candidates.push(digits.to_owned());
    }
    if let Some(shape) = shape
        && (letters.is_empty() || letters == shape.letters())
    {
        candidates.push(format!("{}{digits}", shape.prefix));
        if digits.len() < shape.digits {
            let padded = format!("{digits:0>width$}", width = shape.digits);
            candidates.push(format!("{}{padded}", shape.prefix));
        }
    }
    candidates.sort();
    candidates.dedup();
    // A candidate inside another's range adds nothing: keep the shorter, so the ranges
    // are disjoint and their counts add up.
    let kept: Vec<String> = candidates
        .iter()
        .filter(|c| {
            !candidates
                .iter()
                .any(|other| other != *c && c.starts_with(other.as_str()))
        })
        .cloned()
        .collect();
    Some(kept)
}

fn like_escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// How many orders match: exact, or more than [`COUNT_LIMIT`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Total {
    Exactly(i64),
    MoreThan(i64),
}

/// Where a page starts: after the last result of the one before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum After {
    Number(String),
    Placed(DateTime<Utc>, i64),
}

impl After {
    /// "n:so-0011470" or "t:<microseconds>:<id>", for a link.
    pub fn to_param(&self) -> String {
        match self {
            After::Number(n) => format!("n:{n}"),
            After::Placed(at, id) => format!("t:{}:{id}", at.timestamp_micros()),
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        if let Some(number) = text.strip_prefix("n:") {
            return Some(After::Number(number.to_owned()));
        }
        let rest = text.strip_prefix("t:")?;
        let (micros, id) = rest.split_once(':')?;
        let at = DateTime::from_timestamp_micros(micros.parse().ok()?)?;
        Some(After::Placed(at, id.parse().ok()?))
    }
}

pub struct SearchResults {
    pub needle: Needle,
    /// The query looked like an order number (and was tried as one first).
    pub read_as_number: bool,
    pub matches: Vec<OrderMatch>,
    pub total: Total,
    /// Where the next page starts, when there is one.
    pub next: Option<After>,
}

/// The newest order's number, whose shape reads bare digits (one step back on the
/// primary key).
pub fn number_shape(conn: &mut PgConnection) -> QueryResult<Option<NumberShape>> {
    use crate::db::schema::orders;
    let newest: Option<String> = orders::table
        .select(orders::number)
        .order(orders::id.desc())
        .first(conn)
        .optional()?;
    Ok(newest.as_deref().and_then(NumberShape::of))
}

/// One page of the orders matching `query`, with the count of all of them.
pub fn search_orders(
    conn: &mut PgConnection,
    query: &str,
    after: Option<&After>,
) -> AppResult<SearchResults> {
    let shape = number_shape(conn)?;
    let mut needle = parse(query, shape.as_ref());
    let read_as_number = matches!(needle, Needle::Number(_));
    let (mut ids, mut total, mut next) = match &needle {
        Needle::Nothing => (Vec::new(), Total::Exactly(0), None),
        Needle::Number(candidates) => number_page(conn, candidates, after)?,
        Needle::Customer { whole, words } => customer_page(conn, whole, words, after)?,
    };
    // Letters and digits that are no order number may start an email ("anna1985").
    if matches!(needle, Needle::Number(_))
        && total == Total::Exactly(0)
        && after.is_none()
        && query.chars().any(|c| c.is_alphabetic())
        && let Some(customer) = as_customer(query)
    {
        if let Needle::Customer { whole, words } = &customer {
            (ids, total, next) = customer_page(conn, whole, words, None)?;
        }
        needle = customer;
    }
    let matches = describe(conn, &ids)?;
    Ok(SearchResults {
        needle,
        read_as_number,
        matches,
        total,
        next,
    })
}

#[derive(QueryableByName)]
struct NumberHit {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    lower_number: String,
}

fn total_of(count: i64) -> Total {
    if count > COUNT_LIMIT {
        Total::MoreThan(COUNT_LIMIT)
    } else {
        Total::Exactly(count)
    }
}

type Page = (Vec<i64>, Total, Option<After>);

/// Exact numbers first, then the rest of each candidate's range, highest number first;
/// each range is walked backwards on the number index, from the page's start.
fn number_page(
    conn: &mut PgConnection,
    candidates: &[String],
    after: Option<&After>,
) -> AppResult<Page> {
    let after = match after {
        Some(After::Number(n)) => Some(n.clone()),
        Some(After::Placed(..)) => {
            return Err(AppError::invalid("after", "not a page of this search"));
        }
        None => None,
    };
    let exact: Vec<NumberHit> = if after.is_none() {
        crate::db::prepared::sql(
            "SELECT id, lower(number) AS lower_number FROM orders
              WHERE lower(number) = ANY($1) ORDER BY lower(number) DESC",
        )
        .bind::<Array<Text>, _>(candidates)
        .load(conn)?
    } else {
        Vec::new()
    };
    let limit = (PAGE_SIZE + 1 - exact.len()) as i64;
    let rest: Vec<NumberHit> = crate::db::prepared::sql(
        "SELECT hit.id, hit.lower_number FROM unnest($1::text[]) AS c(prefix)
           CROSS JOIN LATERAL (
               SELECT id, lower(number) AS lower_number FROM orders
                WHERE lower(number) ~>=~ c.prefix AND lower(number) ~<~ (c.prefix || chr(1114111))
                  AND lower(number) <> ALL($1)
                  AND ($2::text IS NULL OR lower(number) ~<~ $2)
                ORDER BY lower(number) USING ~>~ LIMIT $3
           ) hit
          ORDER BY hit.lower_number USING ~>~ LIMIT $3",
    )
    .bind::<Array<Text>, _>(candidates)
    .bind::<Nullable<Text>, _>(after)
    .bind::<BigInt, _>(limit)
    .load(conn)?;
    // The ranges are disjoint (see `number_candidates`): their counts add up. One bind
    // per candidate, so the planner sees each prefix: a long one walks a few index
    // entries, "so-0" (every order) reads the table only until the limit.
    let limit_bind = candidates.len() + 1;
    let per_range: Vec<String> = (1..=candidates.len())
        .map(|i| {
            format!(
                "(SELECT count(*) FROM (SELECT 1 FROM orders
                   WHERE lower(number) ~>=~ ${i} AND lower(number) ~<~ (${i} || chr(1114111))
                   LIMIT ${limit_bind}) x)"
            )
        })
        .collect();
    let mut count = diesel::sql_query(format!("SELECT ({})::int8 AS count", per_range.join(" + ")))
        .into_boxed::<Pg>();
    for candidate in candidates {
        count = count.bind::<Text, _>(candidate.clone());
    }
    let counted: Count = count.bind::<BigInt, _>(COUNT_LIMIT + 1).get_result(conn)?;
    let mut hits: Vec<NumberHit> = exact.into_iter().chain(rest).collect();
    let next = if hits.len() > PAGE_SIZE {
        hits.truncate(PAGE_SIZE);
        hits.last().map(|h| After::Number(h.lower_number.clone()))
    } else {
        None
    };
    Ok((
        hits.into_iter().map(|h| h.id).collect(),
        total_of(counted.count),
        next,
    ))
}

#[derive(QueryableByName)]
struct PlacedHit {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Timestamptz)]
    placed_at: DateTime<Utc>,
}

/// Up to this many matching customers, their orders are looked up and counted exactly;
/// past it the newest orders are walked by date and the count says "more than".
pub const CUSTOMER_LIMIT: i64 = 2_000;

/// A name word shorter than this cannot use the trigram index; a query whose words are
/// all shorter looks up emails by their start only.
const MIN_NAME_WORD: usize = 3;

/// The customers a query means, as SQL over `{alias}` (customers) with binds from
/// `first_bind`: an email by its start (any case; the btree on `lower(email)`), and,
/// unless the query is an email, a name holding every word in any order (trigrams).
/// Returns the condition and its binds.
fn customer_condition(
    alias: &str,
    whole: &str,
    words: &[String],
    first_bind: usize,
) -> (String, Vec<String>) {
    let email = whole.replace(' ', "");
    let mut sql = format!(
        "((lower({alias}.email) ~>=~ ${first_bind} AND lower({alias}.email) ~<~ (${first_bind} || chr(1114111)))"
    );
    let mut binds = vec![email.clone()];
    if searches_names(whole, words) {
        let parts: Vec<String> = words
            .iter()
            .enumerate()
            .map(|(i, word)| {
                binds.push(format!("%{}%", like_escape(word)));
                format!("lower({alias}.name) LIKE ${}", first_bind + 1 + i)
            })
            .collect();
        sql.push_str(&format!(" OR ({})", parts.join(" AND ")));
    }
    sql.push(')');
    (sql, binds)
}

/// Whether a customer query searches names (else only emails by their start).
pub fn searches_names(whole: &str, words: &[String]) -> bool {
    !whole.contains('@') && words.iter().any(|w| w.chars().count() >= MIN_NAME_WORD)
}

/// The matching customers' orders, newest first. The customers are found first (a
/// bounded list); a few customers' orders are read from their own index and counted,
/// many customers' are found by walking the newest orders.
fn customer_page(
    conn: &mut PgConnection,
    whole: &str,
    words: &[String],
    after: Option<&After>,
) -> AppResult<Page> {
    let (after_at, after_id) = match after {
        Some(After::Placed(at, id)) => (Some(*at), Some(*id)),
        Some(After::Number(_)) => {
            return Err(AppError::invalid("after", "not a page of this search"));
        }
        None => (None, None),
    };
    let (condition, binds) = customer_condition("c", whole, words, 2);
    let mut found = diesel::sql_query(format!(
        "SELECT c.id FROM customers c WHERE {condition} LIMIT $1"
    ))
    .into_boxed::<Pg>()
    .bind::<BigInt, _>(CUSTOMER_LIMIT + 1);
    for value in &binds {
        found = found.bind::<Text, _>(value.clone());
    }
    let customers: Vec<i64> = found.load::<Id>(conn)?.into_iter().map(|r| r.id).collect();
    let keyset = "($1::timestamptz IS NULL OR (o.placed_at, o.id) < ($1, $2))";
    let (mut hits, total) = if customers.len() as i64 <= CUSTOMER_LIMIT {
        let hits: Vec<PlacedHit> = diesel::sql_query(format!(
            "SELECT o.id, o.placed_at FROM orders o
              WHERE o.customer_id = ANY($3) AND {keyset}
              ORDER BY o.placed_at DESC, o.id DESC LIMIT $4"
        ))
        .bind::<Nullable<Timestamptz>, _>(after_at)
        .bind::<Nullable<BigInt>, _>(after_id)
        .bind::<Array<BigInt>, _>(&customers)
        .bind::<BigInt, _>(PAGE_SIZE as i64 + 1)
        .load(conn)?;
        let counted: Count = crate::db::prepared::sql(
            "SELECT count(*) AS count FROM (
                 SELECT 1 FROM orders WHERE customer_id = ANY($1) LIMIT $2) x",
        )
        .bind::<Array<BigInt>, _>(&customers)
        .bind::<BigInt, _>(COUNT_LIMIT + 1)
        .get_result(conn)?;
        (hits, total_of(counted.count))
    } else {
        // Every customer has at least one order, so more customers than the limit means
        // more orders than it too.
        let (condition, binds) = customer_condition("c", whole, words, 4);
        let mut page = diesel::sql_query(format!(
            "SELECT o.id, o.placed_at FROM orders o JOIN customers c ON c.id = o.customer_id
              WHERE {condition} AND {keyset}
              ORDER BY o.placed_at DESC, o.id DESC LIMIT $3"
        ))
        .into_boxed::<Pg>()
        .bind::<Nullable<Timestamptz>, _>(after_at)
        .bind::<Nullable<BigInt>, _>(after_id)
        .bind::<BigInt, _>(PAGE_SIZE as i64 + 1);
        for value in &binds {
            page = page.bind::<Text, _>(value.clone());
        }
        (
            page.load::<PlacedHit>(conn)?,
            Total::MoreThan(CUSTOMER_LIMIT),
        )
    };
    let next = if hits.len() > PAGE_SIZE {
        hits.truncate(PAGE_SIZE);
        hits.last().map(|h| After::Placed(h.placed_at, h.id))
    } else {
        None
    };
    Ok((hits.into_iter().map(|h| h.id).collect(), total, next))
}

/// The page's orders with their customer and what still waits, in the page's order.
fn describe(conn: &mut PgConnection, ids: &[i64]) -> QueryResult<Vec<OrderMatch>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    crate::db::prepared::sql(
        "SELECT o.number, c.name AS customer_name, c.email AS customer_email, o.placed_at,
                count(l.id) FILTER (WHERE l.waiting > 0) AS waiting_lines,
                max(l.eta_worst) FILTER (WHERE l.waiting > 0) AS latest_eta
           FROM unnest($1::int8[]) WITH ORDINALITY AS page(id, n)
           JOIN orders o ON o.id = page.id
           JOIN customers c ON c.id = o.customer_id
           LEFT JOIN order_lines l ON l.order_id = o.id
          GROUP BY page.n, o.id, c.id
          ORDER BY page.n",
    )
    .bind::<Array<BigInt>, _>(ids)
    .load(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape() -> NumberShape {
        NumberShape::of("SO-0011474").unwrap()
    }

    fn numbers(query: &str) -> Vec<String> {
        match parse(query, Some(&shape())) {
            Needle::Number(c) => c,
            other => panic!("{query:?} read as {other:?}"),
        }
    }

    #[test]
    fn the_shape_is_read_from_a_number() {
        assert_eq!(
            shape(),
            NumberShape {
                prefix: "so-".to_owned(),
                digits: 7
            }
        );
        assert_eq!(NumberShape::of("no digits"), None);
    }

    #[test]
    fn every_way_of_typing_a_number_reaches_the_stored_one() {
        for typed in [
            "SO-0011474",
            "so-0011474",
            "#SO-0011474",
            "Order SO-0011474",
            "order no. 0011474",
            " so 0011474 ",
            "so0011474",
            "11474",
            "#11474",
            "Order 11474",
            "SO-11474",
            "so11474",
            "Order #SO-11474",
        ] {
            let candidates = numbers(typed);
            assert!(
                candidates
                    .iter()
                    .any(|c| "so-0011474".starts_with(c.as_str())),
                "{typed:?} gave {candidates:?}"
            );
        }
    }

    #[test]
    fn candidates_are_disjoint_prefixes() {
        assert_eq!(numbers("1147"), vec!["1147", "so-0001147", "so-1147"]);
        // "so-0011474" is inside the range of "so-0011474"'s own shorter form only when
        // one starts the other; here they stand apart.
        assert_eq!(
            numbers("SO-11474"),
            vec!["so-0011474", "so-11474", "so11474"]
        );
    }

    #[test]
    fn names_and_emails_are_customers() {
        assert_eq!(
            parse("  Ivanova   Nia ", Some(&shape())),
            Needle::Customer {
                whole: "ivanova nia".to_owned(),
                words: vec!["ivanova".to_owned(), "nia".to_owned()]
            }
        );
        assert!(matches!(
            parse("Ana.Lopez@EXAMPLE.com", None),
            Needle::Customer { .. }
        ));
        assert!(matches!(parse("order", None), Needle::Customer { .. }));
        assert_eq!(parse("   ", None), Needle::Nothing);
    }

    #[test]
    fn a_page_start_survives_its_link() {
        let at = DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap();
        for after in [
            After::Number("so-0011470".to_owned()),
            After::Placed(at, 42),
        ] {
            assert_eq!(After::parse(&after.to_param()), Some(after));
        }
        assert_eq!(After::parse("x:1"), None);
    }
}
