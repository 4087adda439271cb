//! A shop's history as JSON lines, one event a line in day order: what
//! `simulate --scenario` reads and `simulate --generate` writes. Parsing only
//! checks each line on its own; whether a SKU or supplier exists is the
//! replay's business, since only the shop knows.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::generate::SupplierTruth;
use crate::domain::{Quantity, Sku};

/// One event of the history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum EventKind {
    /// A supplier and its quoted lead time.
    Supplier {
        /// Name, unique.
        name: String,
        /// Days from ordering to arrival it quotes; null when unknown.
        #[serde(default)]
        lead_days: Option<u32>,
        /// How it really delivers (generated scenarios): only `simulate
        /// --oracle` reads it; the engine never sees it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        truth: Option<SupplierTruth>,
    },
    /// A product and its opening stock.
    Product {
        /// The product.
        sku: Sku,
        /// Its supplier's name.
        #[serde(default)]
        supplier: Option<String>,
        /// Opening stock.
        on_hand: u32,
    },
    /// A purchase order is placed. `arrives_day` is when it really comes:
    /// the replay keeps it from the engine until that day.
    PurchaseOrder {
        /// Reference, unique.
        reference: String,
        /// The product.
        sku: Sku,
        /// Units ordered.
        quantity: Quantity,
        /// The day the supplier says it will arrive.
        expected_day: u32,
        /// The day it arrives.
        arrives_day: u32,
    },
    /// A customer orders one line.
    Order {
        /// Order number, unique.
        number: String,
        /// The product.
        sku: Sku,
        /// Units.
        quantity: Quantity,
    },
}

/// An event, the day it happens and where it was read.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// 1-based line number in the scenario (0 for generated events).
    pub line: usize,
    /// Day number, counted from the replay's epoch.
    pub day: u32,
    /// What happened.
    pub kind: EventKind,
}

/// Bad scenario input, with the line it is on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong, in one sentence.
    pub message: String,
}

impl ScenarioError {
    /// An error on `line`.
    pub fn new(line: usize, message: impl Into<String>) -> ScenarioError {
        ScenarioError {
            line,
            message: message.into(),
        }
    }
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "scenario line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ScenarioError {}

/// Reads a whole scenario. Blank lines are skipped; days must not go back.
pub fn parse(text: &str) -> Result<Vec<Event>, ScenarioError> {
    let mut events = Vec::new();
    let mut last_day = 0;
    for (at, raw) in text.lines().enumerate() {
        let line = at + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let event = parse_line(line, raw)?;
        if event.day < last_day {
            return Err(ScenarioError::new(
                line,
                format!(
                    "day {} comes after day {last_day}: events must be in day order",
                    event.day
                ),
            ));
        }
        last_day = event.day;
        events.push(event);
    }
    Ok(events)
}

/// Reads one line (`line` is its 1-based number, for messages).
pub fn parse_line(line: usize, raw: &str) -> Result<Event, ScenarioError> {
    let value: Value = serde_json::from_str(raw)
        .map_err(|e| ScenarioError::new(line, format!("not valid JSON: {e}")))?;
    let Value::Object(mut fields) = value else {
        return Err(ScenarioError::new(line, "expected a JSON object"));
    };
    let day = take_day(line, &mut fields)?;
    let kind: EventKind = serde_json::from_value(Value::Object(fields))
        .map_err(|e| ScenarioError::new(line, describe(&e)))?;
    if let EventKind::PurchaseOrder {
        reference,
        arrives_day,
        ..
    } = &kind
        && *arrives_day < day
    {
        return Err(ScenarioError::new(
            line,
            format!(
                "purchase order {reference} arrives on day {arrives_day}, before it is placed on day {day}"
            ),
        ));
    }
    Ok(Event { line, day, kind })
}

fn take_day(line: usize, fields: &mut Map<String, Value>) -> Result<u32, ScenarioError> {
    match fields.remove("day") {
        None => Err(ScenarioError::new(line, "missing field `day`")),
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|d| u32::try_from(d).ok())
            .ok_or_else(|| {
                ScenarioError::new(line, format!("day must be a whole number >= 0, not {n}"))
            }),
        Some(other) => Err(ScenarioError::new(
            line,
            format!("day must be a whole number >= 0, not {other}"),
        )),
    }
}

/// serde_json's message without its "at line 1 column N" tail, which only
/// confuses when the line number is given separately.
fn describe(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match text.rfind(" at line ") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

/// The event as one JSON line, `day` and `type` first.
pub fn to_json_line(event: &Event) -> String {
    #[derive(Serialize)]
    struct Line<'a> {
        day: u32,
        #[serde(flatten)]
        kind: &'a EventKind,
    }
    // Serializing plain strings and numbers cannot fail.
    serde_json::to_string(&Line {
        day: event.day,
        kind: &event.kind,
    })
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_kind_and_writes_it_back() {
        let text = r#"{"day":0,"type":"supplier","name":"S1","lead_days":14}
{"day":0,"type":"product","sku":"P1","supplier":"S1","on_hand":10}

{"day":3,"type":"purchase_order","reference":"PO-1","sku":"P1","quantity":50,"expected_day":17,"arrives_day":20}
{"day":5,"type":"order","number":"O-1","sku":"P1","quantity":2}"#;
        let events = parse(text).unwrap();
        assert_eq!(events.len(), 4);
        assert_eq!(events[3].line, 5);
        for (event, raw) in events.iter().zip(text.lines().filter(|l| !l.is_empty())) {
            assert_eq!(to_json_line(event), raw);
        }
    }

    #[test]
    fn errors_name_the_line_and_the_fault() {
        let cases = [
            ("{\"day\":1,\"type\":\"order\"", "not valid JSON"),
            (
                r#"{"day":1,"type":"refund","number":"O-1"}"#,
                "unknown variant `refund`",
            ),
            (
                r#"{"day":1,"type":"order","number":"O-1","quantity":1}"#,
                "missing field `sku`",
            ),
            (
                r#"{"type":"order","number":"O-1","sku":"P1","quantity":1}"#,
                "missing field `day`",
            ),
            (
                r#"{"day":1,"type":"order","number":"O-1","sku":"P1","quantity":0}"#,
                "quantity must be at least 1",
            ),
            (
                r#"{"day":4,"type":"purchase_order","reference":"PO-1","sku":"P1","quantity":5,"expected_day":9,"arrives_day":3}"#,
                "before it is placed",
            ),
        ];
        for (raw, expected) in cases {
            let error = parse_line(7, raw).unwrap_err();
            assert_eq!(error.line, 7);
            assert!(error.message.contains(expected), "{raw}: {error}");
        }
        let error = parse(
            "{\"day\":5,\"type\":\"supplier\",\"name\":\"S\"}\n{\"day\":4,\"type\":\"supplier\",\"name\":\"T\"}",
        )
        .unwrap_err();
        assert_eq!(error.line, 2);
        assert!(error.to_string().starts_with("scenario line 2: day 4"));
    }
}
