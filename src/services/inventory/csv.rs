//! The product list as a CSV file, and the all-or-nothing CSV import that names the row
//! and column of every problem.

use crate::progress::Progress;
use std::collections::HashMap;

use chrono::NaiveDate;
use diesel::prelude::*;
use serde::Serialize;

use super::catalog::{self, ProductChanges};
use super::list::{ProductQuery, ProductRow, export_rows};
use super::settings::{parse_price, parse_units, parse_yes_no};
use crate::csv_cells;
use crate::db::audit::{self, Actor};
use crate::db::stock;
use crate::error::{AppError, AppResult};
use crate::types::Sku;

/// A problem in an uploaded CSV file: spreadsheet row (the header is row 1) and column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportProblem {
    pub row: usize,
    pub column: String,
    pub message: String,
}

pub enum ImportOutcome {
    Imported { created: usize, updated: usize },
    Rejected(Vec<ImportProblem>),
}

/// Columns an import may set. `sku` is required; `name` for new products.
pub const IMPORT_COLUMNS: [&str; 8] = [
    "sku",
    "name",
    "supplier",
    "reorder_point",
    "safety_stock",
    "backorderable",
    "unit_price",
    "alternatives",
];
/// Columns of the export that an import accepts and ignores (stock changes go through
/// adjustments with a reason, and the rest is computed).
pub const EXPORT_ONLY_COLUMNS: [&str; 9] = [
    "on_hand",
    "allocated",
    "available",
    "waiting_units",
    "waiting_lines",
    "incoming",
    "next_arrival",
    "status",
    "unit_price_cents",
];

/// The export's header, in order; an exported file imports back unchanged.
pub const EXPORT_HEADER: [&str; 14] = [
    "sku",
    "name",
    "supplier",
    "on_hand",
    "allocated",
    "available",
    "waiting_units",
    "waiting_lines",
    "incoming",
    "next_arrival",
    "status",
    "reorder_point",
    "safety_stock",
    "backorderable",
];

/// The export of `rows` as CSV text (the import's columns plus read-only figures).
pub fn export_csv(
    rows: &[ProductRow],
    alternatives: &HashMap<i64, Vec<String>>,
) -> anyhow::Result<Vec<u8>> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<&str> = EXPORT_HEADER.to_vec();
    header.push("unit_price");
    // SKUs separated by spaces, in order of preference (as the import reads them).
    header.push("alternatives");
    csv_cells::write_row(&mut writer, &header)?;
    for r in rows {
        csv_cells::write_row(
            &mut writer,
            [
                r.sku.clone(),
                r.name.clone(),
                r.supplier.clone().unwrap_or_default(),
                r.on_hand.to_string(),
                r.allocated.to_string(),
                r.available.to_string(),
                r.waiting_units.to_string(),
                r.waiting_lines.to_string(),
                r.incoming.to_string(),
                r.next_arrival.map(|d| d.to_string()).unwrap_or_default(),
                r.status.clone(),
                r.reorder_point.to_string(),
                r.safety_stock.to_string(),
                if r.backorderable { "yes" } else { "no" }.to_owned(),
                format!(
                    "{}.{:02}",
                    r.unit_price_cents / 100,
                    r.unit_price_cents % 100
                ),
                alternatives
                    .get(&r.id)
                    .map(|list| list.join(" "))
                    .unwrap_or_default(),
            ],
        )?;
    }
    Ok(writer.into_inner()?)
}

/// The CSV export of every product the list's filters match, alternatives included.
pub fn export_file(conn: &mut PgConnection, query: &ProductQuery) -> AppResult<Vec<u8>> {
    let rows = export_rows(conn, query)?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let alternatives = crate::services::inventory::alternatives::of_products(conn, &ids)?;
    Ok(export_csv(&rows, &alternatives)?)
}

/// One checked row of an import.
#[derive(Debug, Clone)]
struct ImportRow {
    row: usize,
    sku: Sku,
    name: Option<String>,
    supplier: Option<String>,
    reorder_point: Option<i32>,
    safety_stock: Option<i32>,
    backorderable: Option<bool>,
    unit_price_cents: Option<i64>,
    /// Replaces the product's alternatives when the cell is not empty.
    alternatives: Option<Vec<String>>,
}

/// Reads and checks every row; returns the rows only when all are valid.
fn parse_import(bytes: &[u8]) -> Result<Vec<ImportRow>, Vec<ImportProblem>> {
    let problem = |row: usize, column: &str, message: String| ImportProblem {
        row,
        column: column.to_owned(),
        message,
    };
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(vec![problem(1, "", "the file is empty".to_owned())]);
    }
    // A spreadsheet never writes one, and PostgreSQL cannot store it.
    if let Some(at) = bytes.iter().position(|b| *b == 0) {
        let row = bytes[..at].iter().filter(|b| **b == b'\n').count() + 1;
        return Err(vec![problem(
            row,
            "",
            "this row has a NUL character, which text cannot hold; is this a CSV file?".to_owned(),
        )]);
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut records = reader.byte_records();
    let header = match records.next() {
        Some(Ok(header)) => header,
        Some(Err(e)) => {
            return Err(vec![problem(
                1,
                "",
                format!("the header cannot be read: {e}"),
            )]);
        }
        None => return Err(vec![problem(1, "", "the file is empty".to_owned())]),
    };
    let mut problems = Vec::new();
    let mut columns: Vec<String> = Vec::new();
    for (i, cell) in header.iter().enumerate() {
        match std::str::from_utf8(cell) {
            Ok(name) => {
                let name = name.trim().to_ascii_lowercase();
                if !IMPORT_COLUMNS.contains(&name.as_str())
                    && !EXPORT_ONLY_COLUMNS.contains(&name.as_str())
                {
                    problems.push(problem(
                        1,
                        &name,
                        format!(
                            "unknown column {:?} (column {}); the columns are {}",
                            crate::types::truncate(&name),
                            i + 1,
                            IMPORT_COLUMNS.join(", ")
                        ),
                    ));
                } else if columns.contains(&name) {
                    problems.push(problem(1, &name, "this column appears twice".to_owned()));
                }
                columns.push(name);
            }
            Err(_) => {
                problems.push(problem(
                    1,
                    &format!("column {}", i + 1),
                    "the header is not UTF-8 text; save the file as CSV UTF-8".to_owned(),
                ));
                columns.push(String::new());
            }
        }
    }
    if !columns.iter().any(|c| c == "sku") {
        problems.push(problem(1, "sku", "the sku column is missing".to_owned()));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut rows = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (index, record) in records.enumerate() {
        let row = index + 2;
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                problems.push(problem(row, "", format!("this row cannot be read: {e}")));
                continue;
            }
        };
        if record
            .iter()
            .all(|cell| cell.iter().all(u8::is_ascii_whitespace))
        {
            continue;
        }
        if record.len() != columns.len() {
            problems.push(problem(
                row,
                "",
                format!(
                    "this row has {} cells; the header has {}",
                    record.len(),
                    columns.len()
                ),
            ));
            continue;
        }
        let mut cells: HashMap<&str, &str> = HashMap::new();
        let mut readable = true;
        for (column, cell) in columns.iter().zip(record.iter()) {
            match std::str::from_utf8(cell) {
                Ok(text) => {
                    cells.insert(column.as_str(), csv_cells::restore(text.trim()));
                }
                Err(_) => {
                    readable = false;
                    problems.push(problem(
                        row,
                        column,
                        "is not UTF-8 text; save the file as CSV UTF-8".to_owned(),
                    ));
                }
            }
        }
        if !readable {
            continue;
        }
        let before = problems.len();
        let sku = match Sku::parse(cells.get("sku").copied().unwrap_or_default()) {
            Ok(sku) => Some(sku),
            Err(e) => {
                problems.push(problem(row, "sku", e.to_string()));
                None
            }
        };
        if let Some(sku) = &sku {
            if let Some(first) = seen.insert(sku.as_str().to_owned(), row) {
                problems.push(problem(
                    row,
                    "sku",
                    format!("{sku} appears twice in the file (rows {first} and {row})"),
                ));
            }
        }
        let text =
            |column: &str, max: usize, problems: &mut Vec<ImportProblem>| -> Option<String> {
                let value = cells.get(column).copied().filter(|v| !v.is_empty())?;
                let value = match crate::types::single_line(value) {
                    Ok(value) => value,
                    Err(message) => {
                        problems.push(problem(row, column, message));
                        return None;
                    }
                };
                if value.chars().count() > max {
                    problems.push(problem(
                        row,
                        column,
                        format!("is longer than {max} characters"),
                    ));
                    return None;
                }
                Some(value)
            };
        let name = text("name", 300, &mut problems);
        let supplier = text("supplier", 200, &mut problems);
        let number = |column: &str, problems: &mut Vec<ImportProblem>| -> Option<i32> {
            let value = cells.get(column).copied().filter(|v| !v.is_empty())?;
            parse_units(value)
                .map_err(|e| problems.push(problem(row, column, e)))
                .ok()
        };
        let reorder_point = number("reorder_point", &mut problems);
        let safety_stock = number("safety_stock", &mut problems);
        let backorderable = cells
            .get("backorderable")
            .copied()
            .filter(|v| !v.is_empty())
            .and_then(|v| {
                parse_yes_no(v)
                    .map_err(|e| problems.push(problem(row, "backorderable", e)))
                    .ok()
            });
        let unit_price_cents = cells
            .get("unit_price")
            .copied()
            .filter(|v| !v.is_empty())
            .and_then(|v| {
                parse_price(v)
                    .map_err(|e| problems.push(problem(row, "unit_price", e)))
                    .ok()
            });
        let alternatives = cells
            .get("alternatives")
            .copied()
            .filter(|v| !v.is_empty())
            .map(crate::services::inventory::alternatives::parse_list);
        if let (Some(sku), Some(list)) = (&sku, &alternatives) {
            for found in crate::services::inventory::alternatives::check_entries(sku.as_str(), list)
            {
                problems.push(problem(row, "alternatives", found.message));
            }
        }
        if problems.len() == before
            && let Some(sku) = sku
        {
            rows.push(ImportRow {
                row,
                sku,
                name,
                supplier,
                reorder_point,
                safety_stock,
                backorderable,
                unit_price_cents,
                alternatives,
            });
        }
    }
    if rows.is_empty() && problems.is_empty() {
        problems.push(problem(
            2,
            "",
            "the file has a header but no products".to_owned(),
        ));
    }
    if problems.is_empty() {
        Ok(rows)
    } else {
        Err(problems)
    }
}

/// Creates or updates products by SKU from a CSV file: every row valid or nothing changes.
pub fn import_csv(
    conn: &mut PgConnection,
    actor: &Actor,
    bytes: &[u8],
    today: NaiveDate,
) -> AppResult<ImportOutcome> {
    import_csv_with(conn, actor, bytes, today, &Progress::hidden())
}

/// `import_csv`, reporting each row as it is stored (the command line's import).
pub fn import_csv_with(
    conn: &mut PgConnection,
    actor: &Actor,
    bytes: &[u8],
    today: NaiveDate,
    progress: &Progress,
) -> AppResult<ImportOutcome> {
    let rows = match parse_import(bytes) {
        Ok(rows) => rows,
        Err(problems) => return Ok(ImportOutcome::Rejected(problems)),
    };
    progress.stage("Importing products", rows.len() as u64);
    let outcome = conn.transaction::<_, ImportError, _>(|conn| {
        let skus: Vec<String> = rows.iter().map(|r| r.sku.as_str().to_owned()).collect();
        let existing: HashMap<String, i64> = stock::ids_by_sku(conn, &skus)?.into_iter().collect();
        let missing_names: Vec<ImportProblem> = rows
            .iter()
            .filter(|r| r.name.is_none() && !existing.contains_key(r.sku.as_str()))
            .map(|r| ImportProblem {
                row: r.row,
                column: "name".to_owned(),
                message: format!("{} is a new product and needs a name", r.sku),
            })
            .collect();
        if !missing_names.is_empty() {
            return Err(ImportError::Rows(missing_names));
        }
        let (mut created, mut updated) = (0, 0);
        // Alternatives after every row is stored: they may name products of this file.
        let mut alternatives = Vec::new();
        for row in rows {
            let number = row.row;
            if let Some(list) = row.alternatives {
                alternatives.push((number, row.sku.clone(), list));
            }
            let changes = ProductChanges {
                sku: row.sku,
                name: row.name,
                supplier: row.supplier,
                on_hand: None,
                backorderable: row.backorderable,
                reorder_point: row.reorder_point,
                safety_stock: row.safety_stock,
                unit_price_cents: row.unit_price_cents,
                suppliers: None,
                preorder_release_on: None,
                alternatives: None,
            };
            progress.advance(1);
            match catalog::upsert_product(conn, actor, changes, today) {
                Ok(catalog::Upserted::Created(_)) => created += 1,
                Ok(catalog::Upserted::Updated(_)) => updated += 1,
                // Anything the checks above missed still names its row, and rolls back all.
                Err(AppError::Invalid { details, .. }) => {
                    return Err(ImportError::Rows(
                        details
                            .into_iter()
                            .map(|d| ImportProblem {
                                row: number,
                                column: d.field,
                                message: d.message,
                            })
                            .collect(),
                    ));
                }
                Err(other) => return Err(ImportError::App(other)),
            }
        }
        for (number, sku, list) in alternatives {
            let product_id = stock::find_by_sku(conn, sku.as_str())?
                .ok_or(diesel::result::Error::NotFound)?
                .id;
            match crate::services::inventory::alternatives::replace(
                conn,
                product_id,
                sku.as_str(),
                &list,
            ) {
                Ok(()) => {}
                Err(AppError::Invalid { details, .. }) => {
                    return Err(ImportError::Rows(
                        details
                            .into_iter()
                            .map(|d| ImportProblem {
                                row: number,
                                column: "alternatives".to_owned(),
                                message: d.message,
                            })
                            .collect(),
                    ));
                }
                Err(other) => return Err(ImportError::App(other)),
            }
        }
        audit::record(
            conn,
            actor,
            "products_imported",
            "product",
            None,
            None,
            Some(serde_json::json!({ "created": created, "updated": updated })),
        )?;
        Ok(ImportOutcome::Imported { created, updated })
    });
    match outcome {
        Ok(outcome) => Ok(outcome),
        Err(ImportError::Rows(problems)) => Ok(ImportOutcome::Rejected(problems)),
        Err(ImportError::App(error)) => Err(error),
    }
}

/// Row problems leave the transaction as an error, so it rolls back.
enum ImportError {
    Rows(Vec<ImportProblem>),
    App(AppError),
}

impl From<diesel::result::Error> for ImportError {
    fn from(error: diesel::result::Error) -> Self {
        Self::App(error.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_import_names_row_and_column_of_each_problem() {
        let file = b"sku,name,reorder_point\nA-1,Anvil,5\nA-2,Bolt,lots\nA-1,Again,1\n";
        let problems = parse_import(file).unwrap_err();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert_eq!(
            (problems[0].row, problems[0].column.as_str()),
            (3, "reorder_point")
        );
        assert_eq!((problems[1].row, problems[1].column.as_str()), (4, "sku"));
    }

    #[test]
    fn wrong_headers_and_bad_bytes_are_reported() {
        let problems = parse_import(b"sku,colour\nA-1,red\n").unwrap_err();
        assert_eq!(problems[0].column, "colour");
        let problems = parse_import(b"sku,name\nA-1,Caf\xe9\n").unwrap_err();
        assert_eq!((problems[0].row, problems[0].column.as_str()), (2, "name"));
    }

    #[test]
    fn an_export_imports_back() {
        let header = EXPORT_HEADER.join(",") + ",unit_price\n";
        let file = header + "A-1,Anvil,Acme,3,1,2,0,0,0,,in_stock,1,0,yes,9.99\n";
        let rows = parse_import(file.as_bytes()).unwrap();
        assert_eq!(rows[0].alternatives, None);
        let header = EXPORT_HEADER.join(",") + ",unit_price,alternatives\n";
        let file = header + "A-1,Anvil,Acme,3,1,2,0,0,0,,in_stock,1,0,yes,9.99,A-2 A-3\n";
        let rows = parse_import(file.as_bytes()).unwrap();
        assert_eq!(rows[0].unit_price_cents, Some(999));
        assert_eq!(rows[0].backorderable, Some(true));
        assert_eq!(
            rows[0].alternatives,
            Some(vec!["A-2".to_owned(), "A-3".to_owned()])
        );
    }
}
