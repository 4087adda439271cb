//! The backorder engine (DESIGN §4): pure rules over plain data, so every page,
//! email, API reply and the `simulate` replay get their numbers from one place.
//! No I/O and no clock here: callers pass `today` and the rows they loaded.

pub mod allocation;
pub mod answer;
pub mod calibration;
pub mod eta;
pub mod flags;
pub mod format;
pub mod intake;
pub mod lines;
pub mod queue;
pub mod reliability;
pub mod sourcing;
pub mod stock;
pub mod told;
pub mod trend;
pub mod types;

pub use allocation::{LineAllocation, QueueAllocation, WaitingLine, allocate_down_queue};
pub use calibration::{PromiseRecord, promise_outcome};
pub use eta::{
    CoveredBy, EtaReason, EtaSettings, IncomingPurchaseOrder, LineEta, ProductSupply, QueueAhead,
    SupplierFacts, eta_for_new_order, project_queue, project_queue_after,
};
pub use flags::{
    Delay, DiscountPolicy, DiscountSuggestion, WaitCheck, authorization_lapses, check_delay,
    check_wait, promised_date, suggest_discount,
};
pub use format::{human_date, ordinal, units_phrase};
pub use intake::{
    IntakePlan, IntakeRefused, LineIntake, ProductForIntake, RequestedLine, take_order,
};
pub use lines::{Cancellation, LineError, LineUnits, shipment_of};
pub use queue::{QueuePlace, QueuePolicy, sort_queue};
pub use reliability::{
    Reliability, SlipDistribution, SlipHistory, SlipPrior, SupplierEvidence, slip_days,
};
pub use stock::{
    MAX_UNITS, MAX_UNITS_TEXT, StockError, StockLevels, StockStatus, stock_status, supply_known,
};
pub use told::{EtaCause, Told, against_told};
pub use types::{LineId, Quantity, QuantityError, Sku, SkuError};
