//! One read model per table: a `Queryable`/`Selectable` struct for Diesel's DSL that is
//! also `QueryableByName`, so a hand-tuned query selecting `l.*` can `#[diesel(embed)]` it
//! beside the columns it joins or computes instead of declaring the table's columns again.

pub mod audit_entry;
pub mod message;
pub mod order_line;
pub mod product;
pub mod purchase_order;
pub mod status;

pub use audit_entry::AuditEntry;
pub use message::{Message, MessageBody};
pub use order_line::{OrderLine, OrderLineInsert, SwappedAway};
pub use product::Product;
pub use purchase_order::PurchaseOrder;
pub use status::{
    MessageStatus, MovementReason, PoStatus, ProposalStatus, SupplierAnswer, WaitEnd,
};

use diesel::QueryableByName;
use diesel::sql_types::BigInt;

/// The one column `id` of a hand-tuned query (`RETURNING id`, a list of ids; alias other
/// id columns `AS id`).
#[derive(Debug, Clone, Copy, QueryableByName)]
pub struct Id {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
}

/// The one column `count` of a hand-tuned query (`SELECT count(*) AS count ...`).
#[derive(Debug, Clone, Copy, QueryableByName)]
pub struct Count {
    #[diesel(sql_type = BigInt)]
    pub count: i64,
}
