//! One read model per table: a `Queryable`/`Selectable` struct for Diesel's DSL that is
//! also `QueryableByName`, so a hand-tuned query selecting `l.*` can `#[diesel(embed)]` it
//! beside the columns it joins or computes instead of declaring the table's columns again.

pub mod order_line;
pub mod product;
pub mod purchase_order;
pub mod status;

pub use order_line::OrderLine;
pub use product::Product;
pub use purchase_order::PurchaseOrder;
pub use status::{PoStatus, ProposalStatus, WaitEnd};
