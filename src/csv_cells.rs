//! CSV the app writes is opened in spreadsheets, which run a cell starting with `=`, `+`,
//! `-` or `@` (or a tab or CR before one) as a formula: a customer named
//! `=HYPERLINK(...)` would become a link in a manager's spreadsheet. As OWASP advises,
//! such a cell is written with a leading `'`, which spreadsheets show as text. Plain
//! numbers (`-3`, `+1.5`) are left alone: they are numbers, not formulas. The CSV import
//! takes exactly that added quote off again, so an exported file imports back unchanged.

use std::borrow::Cow;

/// First characters a spreadsheet may read as the start of a formula.
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// True when the cell, after any apostrophes, starts like a formula and is not a plain
/// number. (Counting the apostrophes makes writing and reading exact inverses: a name
/// that really starts with `'=` gets a second `'` and comes back as it was.)
fn needs_quote(cell: &str) -> bool {
    cell.trim_start_matches('\'')
        .starts_with(FORMULA_STARTS.as_slice())
        && !is_plain_number(cell)
}

/// `-3`, `+12`, `-0.5`: a sign, digits and at most one decimal point.
fn is_plain_number(cell: &str) -> bool {
    let digits = cell.strip_prefix(['-', '+']).unwrap_or(cell);
    let mut dots = 0;
    !digits.is_empty()
        && digits.chars().any(|c| c.is_ascii_digit())
        && digits.chars().all(|c| {
            dots += usize::from(c == '.');
            c.is_ascii_digit() || c == '.'
        })
        && dots <= 1
}

/// The cell as written to a CSV file.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    if needs_quote(cell) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// A cell read from a CSV file: the quote `neutralise` added, taken off.
pub fn restore(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if needs_quote(rest) => rest,
        _ => cell,
    }
}

/// Writes one row, every cell neutralised.
pub fn write_row<W: std::io::Write>(
    writer: &mut csv::Writer<W>,
    cells: impl IntoIterator<Item = impl AsRef<str>>,
) -> csv::Result<()> {
    writer.write_record(
        cells
            .into_iter()
            .map(|cell| neutralise(cell.as_ref()).into_owned()),
    )
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn formulas_become_text() {
        assert_eq!(
            neutralise("=HYPERLINK(\"http://x\")"),
            "'=HYPERLINK(\"http://x\")"
        );
        assert_eq!(neutralise("+1+cmd|' /C calc'!A0"), "'+1+cmd|' /C calc'!A0");
        assert_eq!(neutralise("-2+3"), "'-2+3");
        assert_eq!(neutralise("@SUM(A1:A9)"), "'@SUM(A1:A9)");
        assert_eq!(neutralise("\t=1"), "'\t=1");
        assert_eq!(neutralise("\r=1"), "'\r=1");
        assert_eq!(neutralise("'=1"), "''=1");
        assert_eq!(neutralise("Kettle = good"), "Kettle = good");
        assert_eq!(neutralise("'Nduja"), "'Nduja");
        assert_eq!(neutralise(""), "");
        for number in ["-3", "+12", "-0.5", "42", "2026-12-03"] {
            assert_eq!(neutralise(number), number);
        }
        assert_eq!(neutralise("-"), "'-");
        assert_eq!(neutralise("-1.2.3"), "'-1.2.3");
    }

    #[test]
    fn the_import_takes_off_only_the_added_quote() {
        assert_eq!(restore("'=HYPERLINK(1)"), "=HYPERLINK(1)");
        assert_eq!(restore("''=1"), "'=1");
        assert_eq!(restore("'Nduja"), "'Nduja");
        assert_eq!(restore("'-3"), "'-3");
        assert_eq!(restore("-3"), "-3");
        assert_eq!(restore("plain"), "plain");
    }

    proptest! {
        #[test]
        fn writing_then_reading_gives_the_cell_back(cell in "['=+@\\-\t\r]{0,3}[ -~]{0,8}") {
            let written = neutralise(&cell);
            prop_assert_eq!(restore(&written), cell.as_str());
            prop_assert!(
                !written.starts_with(FORMULA_STARTS.as_slice()) || is_plain_number(&written),
                "{:?} still starts like a formula", written
            );
        }
    }
}
