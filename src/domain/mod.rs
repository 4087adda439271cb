//! The backorder engine (DESIGN §4): pure rules over plain data, so every page,
//! email, API reply and the `simulate` replay get their numbers from one place.
//! No I/O and no clock here: callers pass `today` and the rows they loaded.

pub mod allocation;
pub mod eta;
pub mod flags;
pub mod format;
pub mod intake;
pub mod ledger;
pub mod lines;
pub mod queue;
pub mod reliability;
pub mod stock;
pub mod types;

pub use allocation::{allocate_down_queue, LineAllocation, QueueAllocation, WaitingLine};
pub use eta::{
    eta_for_new_order, project_queue, CoveredBy, EtaReason, EtaSettings, IncomingPurchaseOrder,
    LineEta, ProductSupply, SupplierFacts,
};
pub use flags::{
    authorization_lapses, check_delay, check_wait, promised_date, suggest_discount, Delay,
    DiscountPolicy, DiscountSuggestion, WaitCheck,
};
pub use format::{human_date, ordinal, units_phrase};
pub use intake::{take_order, IntakePlan, IntakeRefused, LineIntake, ProductForIntake, RequestedLine};
pub use lines::{shipment_of, Cancellation, LineError, LineUnits};
pub use queue::{sort_queue, QueuePlace, QueuePolicy};
pub use reliability::{slip_days, Reliability, SlipHistory};
pub use stock::{stock_status, supply_known, StockError, StockLevels, StockStatus};
pub use types::{LineId, Quantity, QuantityError, Sku, SkuError};
