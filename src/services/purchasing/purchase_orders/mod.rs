//! The purchase-order pages' use cases beside `purchasing` (create, receive): the list, one
//! order with its history and receipts, changing the expected date and cancelling (both
//! recompute ETAs), and the previews shown before a date change, a cancellation or a
//! receipt is confirmed. A date change or cancellation is previewed by making it for
//! real in a transaction that is rolled back (`preview_change`): the engine, its ETAs and
//! the emails it would queue, and nothing stored.

pub mod cancel;
pub mod change_preview;
pub mod dates;
pub mod detail;
pub mod list;
pub mod receipt_preview;

pub use self::cancel::cancel;
pub use self::change_preview::{
    ChangePreview, MovedLine, PoChange, preview_change, preview_change_by,
};
pub use self::dates::{DateSource, change_expected_date, lock_open, move_expected_date};
pub(super) use self::detail::lines;
pub use self::detail::{
    AnswerRow, DateChangeRow, LineRow, PurchaseOrderDetail, ReceiptEntry, SendRow, detail,
    supplier_contact,
};
pub use self::list::{LIST_LIMIT, ListStatus, PurchaseOrderRow, list};
pub(super) use self::receipt_preview::checked_quantities;
pub use self::receipt_preview::{
    ReceiptPreview, ReceiveQuantity, Release, ReleasePreview, preview_receipt,
};
