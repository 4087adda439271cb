//! The inventory pages' use cases: the product list (search, filters, sort, keyset pages,
//! CSV export), one product with its ledger, queue and incoming supply, inline settings,
//! stock adjustments with a reason, and the all-or-nothing CSV import.

pub mod adjust;
pub mod alternatives;
pub mod catalog;
pub mod csv;
pub mod list;
pub mod product_detail;
pub mod settings;
pub mod subscriptions;
pub mod swaps;

pub use self::adjust::{Adjusted, AdjustmentReason, adjust_stock};
pub use self::csv::{
    EXPORT_HEADER, EXPORT_ONLY_COLUMNS, IMPORT_COLUMNS, ImportOutcome, ImportProblem, export_csv,
    export_file, import_csv, import_csv_with,
};
pub use self::list::{
    Cursor, EXPORT_LIMIT, PAGE_SIZE, ProductPage, ProductQuery, ProductRow, ProductSort,
    StatusFilter, export_rows, product_page, product_row, suppliers,
};
pub use self::product_detail::{
    LEDGER_PAGE, LedgerRow, ProductDetail, QueueHead, ledger_page, product_detail,
};
pub use self::settings::{
    StockSettings, parse_price, parse_units, parse_yes_no, set_alternatives, set_preorder,
    update_settings,
};
