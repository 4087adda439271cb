//! The simulator's shop: a whole shop in memory, changed only through the
//! engine's functions and keeping a ledger of every stock movement. The
//! property tests check the invariants of DESIGN §4.11 on it, and `simulate`
//! replays a history through it day by day, so there is no second engine to
//! drift. Everything a replay asks per event is indexed (by product, supplier,
//! purchase order and order), so a replay is linear in its events.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::domain::allocation::{QueueAllocation, WaitingLine, allocate_down_queue};
use crate::domain::calibration::{PromiseRecord, promise_outcome};
use crate::domain::eta::{
    EtaSettings, IncomingPurchaseOrder, LineEta, ProductSupply, SupplierFacts, eta_for_new_order,
    project_queue, project_queue_with_slips,
};
use crate::domain::intake::{IntakeRefused, ProductForIntake, RequestedLine, take_order};
use crate::domain::lines::{LineError, LineUnits};
use crate::domain::queue::{QueuePlace, QueuePolicy, sort_queue};
use crate::domain::reliability::{
    SlipDistribution, SlipHistory, SlipPrior, SupplierEvidence, slip_days,
};
use crate::domain::stock::{StockError, StockLevels, StockStatus, stock_status, supply_known};
use crate::domain::types::{LineId, Quantity, Sku};

/// A supplier and its delivery record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SupplierRecord {
    /// Name, unique in the shop.
    pub name: String,
    /// Days from ordering to arrival, if known.
    pub lead_time_days: Option<u32>,
    /// Slips of its received purchase orders.
    pub slips: SlipHistory,
}

/// A product and its stock columns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProductRecord {
    /// The product.
    pub sku: Sku,
    /// on_hand and allocated.
    pub levels: StockLevels,
    /// At or below this many free units the product is low on stock.
    pub reorder_point: u32,
    /// Whether orders beyond stock are taken.
    pub backorderable: bool,
    /// Its supplier's name, if any.
    pub supplier: Option<String>,
}

/// A product to add.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewProduct {
    /// The product.
    pub sku: Sku,
    /// Opening stock.
    pub on_hand: u32,
    /// See [`ProductRecord::reorder_point`].
    pub reorder_point: u32,
    /// See [`ProductRecord::backorderable`].
    pub backorderable: bool,
    /// A supplier added before with [`Shop::add_supplier`].
    pub supplier: Option<String>,
}

/// An order's facts that place its lines in queues.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OrderRecord {
    /// Order number, unique.
    pub number: String,
    /// When it was placed.
    pub placed_at: DateTime<Utc>,
    /// The customer's tier.
    pub customer_tier: i32,
    /// When its payment authorization lapses.
    pub authorized_until: Option<DateTime<Utc>>,
}

/// An order to place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewOrder {
    /// The order's facts.
    pub order: OrderRecord,
    /// Its lines.
    pub lines: Vec<RequestedLine>,
}

/// An order line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LineRecord {
    /// Its id, given in placing order.
    pub id: LineId,
    /// Its order's number.
    pub order_number: String,
    /// The product.
    pub sku: Sku,
    /// Its unit columns.
    pub units: LineUnits,
    /// The first worst case told (DESIGN §4.8), once it waited and got one.
    pub promised_on: Option<NaiveDate>,
    /// The day it shipped whole, if it did.
    pub completed_on: Option<NaiveDate>,
}

/// A purchase order line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PurchaseOrderRecord {
    /// Reference, unique.
    pub reference: String,
    /// The product.
    pub sku: Sku,
    /// Units ordered.
    pub ordered: u32,
    /// Units received so far.
    pub received: u32,
    /// Expected arrival.
    pub expected_on: NaiveDate,
}

/// Why a stock column changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MovementKind {
    /// Units arrived on a purchase order.
    Receipt,
    /// A count or correction (opening stock included).
    Adjustment,
    /// Units reserved for a line.
    Allocation,
    /// Reserved units given back by a cancellation.
    Release,
    /// Reserved units left the warehouse.
    Shipment,
}

/// One row of the stock ledger.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StockMovement {
    /// The product.
    pub sku: Sku,
    /// Why.
    pub kind: MovementKind,
    /// Change of on_hand.
    pub on_hand_change: i64,
    /// Change of allocated.
    pub allocated_change: i64,
    /// The order number or purchase order reference behind it.
    pub reference: String,
}

/// Why the shop refused an event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ShopError {
    /// No product with that SKU.
    UnknownProduct(Sku),
    /// A product with that SKU exists.
    DuplicateProduct(Sku),
    /// No supplier of that name.
    UnknownSupplier(String),
    /// No order with that number.
    UnknownOrder(String),
    /// An order with that number exists.
    DuplicateOrder(String),
    /// No line with that id.
    UnknownLine(LineId),
    /// No purchase order with that reference.
    UnknownPurchaseOrder(String),
    /// A purchase order with that reference exists.
    DuplicatePurchaseOrder(String),
    /// More units received than are still expected.
    OverReceipt {
        /// Units still expected.
        outstanding: u32,
    },
    /// Intake refused the order.
    Refused(IntakeRefused),
    /// The stock columns refused the change.
    Stock(StockError),
    /// The line refused the change.
    Line(LineError),
}

impl fmt::Display for ShopError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShopError::UnknownProduct(sku) => write!(f, "unknown SKU {sku}"),
            ShopError::DuplicateProduct(sku) => write!(f, "SKU {sku} already exists"),
            ShopError::UnknownSupplier(name) => write!(f, "unknown supplier {name}"),
            ShopError::UnknownOrder(number) => write!(f, "unknown order {number}"),
            ShopError::DuplicateOrder(number) => write!(f, "order {number} already exists"),
            ShopError::UnknownLine(id) => write!(f, "unknown order line {id}"),
            ShopError::UnknownPurchaseOrder(reference) => {
                write!(f, "unknown purchase order {reference}")
            }
            ShopError::DuplicatePurchaseOrder(reference) => {
                write!(f, "purchase order {reference} already exists")
            }
            ShopError::OverReceipt { outstanding } => {
                write!(f, "only {outstanding} units are still expected")
            }
            ShopError::Refused(refused) => write!(f, "{refused}"),
            ShopError::Stock(error) => write!(f, "{error}"),
            ShopError::Line(error) => write!(f, "{error}"),
        }
    }
}

impl std::error::Error for ShopError {}

impl From<StockError> for ShopError {
    fn from(error: StockError) -> Self {
        ShopError::Stock(error)
    }
}

impl From<LineError> for ShopError {
    fn from(error: LineError) -> Self {
        ShopError::Line(error)
    }
}

/// The shop. Every method validates before it changes anything, so a refused
/// event leaves the shop as it was (like a rolled-back transaction).
#[derive(Clone, Debug, Default)]
pub struct Shop {
    policy: QueuePolicy,
    suppliers: Vec<SupplierRecord>,
    products: Vec<ProductRecord>,
    orders: Vec<OrderRecord>,
    lines: Vec<LineRecord>,
    purchase_orders: Vec<PurchaseOrderRecord>,
    movements: Vec<StockMovement>,
    // Indexes so a long replay stays linear: order number -> position, and
    // each order's line positions (line ids are positions + 1).
    order_at: HashMap<String, usize>,
    order_lines: Vec<Vec<usize>>,
    product_at: HashMap<Sku, usize>,
    supplier_at: HashMap<String, usize>,
    purchase_order_at: HashMap<String, usize>,
    /// Per product: its purchase orders with units still to come.
    open_orders: Vec<Vec<usize>>,
    /// Per product: its lines still waiting for units, in placing order.
    waiting: Vec<Vec<usize>>,
    /// Per supplier: its purchase orders with nothing received yet.
    unreceived: Vec<Vec<usize>>,
    /// Bumped whenever the slip evidence changes.
    evidence_version: u64,
    /// The shop's prior for (day, evidence version): one a day, not one a projection.
    prior: RefCell<Option<(NaiveDate, u64, SlipPrior)>>,
    /// Lines that got a promise, in promising order.
    promised: Vec<usize>,
    /// The record of resolved promises for a day: it only counts what was
    /// resolved before that day, so one a day serves every projection.
    promises: RefCell<Option<(NaiveDate, PromiseRecord)>>,
}

impl Shop {
    /// An empty shop serving queues by `policy`.
    pub fn new(policy: QueuePolicy) -> Shop {
        Shop {
            policy,
            ..Shop::default()
        }
    }

    /// The suppliers.
    pub fn suppliers(&self) -> &[SupplierRecord] {
        &self.suppliers
    }

    /// The products.
    pub fn products(&self) -> &[ProductRecord] {
        &self.products
    }

    /// The orders.
    pub fn orders(&self) -> &[OrderRecord] {
        &self.orders
    }

    /// All order lines, in placing order.
    pub fn lines(&self) -> &[LineRecord] {
        &self.lines
    }

    /// The purchase orders.
    pub fn purchase_orders(&self) -> &[PurchaseOrderRecord] {
        &self.purchase_orders
    }

    /// The stock ledger, oldest first.
    pub fn movements(&self) -> &[StockMovement] {
        &self.movements
    }

    /// A product by SKU.
    pub fn product(&self, sku: &Sku) -> Option<&ProductRecord> {
        self.product_at.get(sku).map(|&at| &self.products[at])
    }

    /// A line by id.
    pub fn line(&self, id: LineId) -> Option<&LineRecord> {
        self.line_position(id).map(|at| &self.lines[at])
    }

    /// An order by number.
    pub fn order(&self, number: &str) -> Option<&OrderRecord> {
        self.order_at.get(number).map(|&at| &self.orders[at])
    }

    /// Adds a supplier; adding a known name updates its lead time.
    pub fn add_supplier(&mut self, name: &str, lead_time_days: Option<u32>) {
        match self.supplier_at.get(name) {
            Some(&at) => self.suppliers[at].lead_time_days = lead_time_days,
            None => {
                self.supplier_at
                    .insert(name.to_owned(), self.suppliers.len());
                self.suppliers.push(SupplierRecord {
                    name: name.to_owned(),
                    lead_time_days,
                    slips: SlipHistory::default(),
                });
                self.unreceived.push(Vec::new());
            }
        }
    }

    /// Adds a product; opening stock is booked as an adjustment.
    pub fn add_product(&mut self, product: NewProduct) -> Result<(), ShopError> {
        if self.product(&product.sku).is_some() {
            return Err(ShopError::DuplicateProduct(product.sku));
        }
        if let Some(name) = &product.supplier
            && !self.supplier_at.contains_key(name)
        {
            return Err(ShopError::UnknownSupplier(name.clone()));
        }
        if product.on_hand > 0 {
            self.movements.push(StockMovement {
                sku: product.sku.clone(),
                kind: MovementKind::Adjustment,
                on_hand_change: i64::from(product.on_hand),
                allocated_change: 0,
                reference: "opening stock".to_owned(),
            });
        }
        self.product_at
            .insert(product.sku.clone(), self.products.len());
        self.open_orders.push(Vec::new());
        self.waiting.push(Vec::new());
        self.products.push(ProductRecord {
            sku: product.sku,
            levels: StockLevels {
                on_hand: product.on_hand,
                allocated: 0,
            },
            reorder_point: product.reorder_point,
            backorderable: product.backorderable,
            supplier: product.supplier,
        });
        Ok(())
    }

    /// The product's status as the storefront sees it.
    pub fn status(&self, sku: &Sku) -> Option<StockStatus> {
        let product = self.product(sku)?;
        Some(stock_status(
            product.levels.available(),
            product.reorder_point,
            product.backorderable,
            self.supply_known(product),
        ))
    }

    /// Places an order through intake; returns the new lines' ids.
    pub fn place_order(&mut self, new: NewOrder) -> Result<Vec<LineId>, ShopError> {
        if self.order_at.contains_key(&new.order.number) {
            return Err(ShopError::DuplicateOrder(new.order.number));
        }
        let mut wanted: Vec<usize> = new
            .lines
            .iter()
            .filter_map(|l| self.product_at.get(&l.sku).copied())
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        let products: Vec<ProductForIntake> = wanted
            .iter()
            .map(|&at| &self.products[at])
            .map(|p| ProductForIntake {
                sku: p.sku.clone(),
                available: p.levels.available(),
                backorderable: p.backorderable,
                supply_known: self.supply_known(p),
            })
            .collect();
        let plan = take_order(&products, &new.lines).map_err(ShopError::Refused)?;
        let mut ids = Vec::with_capacity(new.lines.len());
        let mut positions = Vec::with_capacity(new.lines.len());
        for (requested, intake) in new.lines.iter().zip(&plan.lines) {
            let id = self.lines.last().map_or(1, |l| l.id + 1);
            positions.push(self.lines.len());
            if let Some(&product_at) = self.product_at.get(&requested.sku) {
                self.products[product_at].levels.allocated += intake.allocated;
                if intake.allocated < requested.quantity.get() {
                    self.waiting[product_at].push(self.lines.len());
                }
            }
            if intake.allocated > 0 {
                self.movements.push(StockMovement {
                    sku: requested.sku.clone(),
                    kind: MovementKind::Allocation,
                    on_hand_change: 0,
                    allocated_change: i64::from(intake.allocated),
                    reference: new.order.number.clone(),
                });
            }
            self.lines.push(LineRecord {
                id,
                order_number: new.order.number.clone(),
                sku: requested.sku.clone(),
                units: LineUnits::new(requested.quantity, intake.allocated),
                promised_on: None,
                completed_on: None,
            });
            ids.push(id);
        }
        self.order_at
            .insert(new.order.number.clone(), self.orders.len());
        self.orders.push(new.order);
        self.order_lines.push(positions);
        Ok(ids)
    }

    /// Opens a purchase order line for a product.
    pub fn open_purchase_order(
        &mut self,
        reference: &str,
        sku: &Sku,
        units: Quantity,
        expected_on: NaiveDate,
    ) -> Result<(), ShopError> {
        let product_at = self.product_index(sku)?;
        if self.purchase_order_at.contains_key(reference) {
            return Err(ShopError::DuplicatePurchaseOrder(reference.to_owned()));
        }
        let at = self.purchase_orders.len();
        self.purchase_order_at.insert(reference.to_owned(), at);
        self.open_orders[product_at].push(at);
        if let Some(supplier_at) = self.supplier_index(product_at) {
            self.unreceived[supplier_at].push(at);
        }
        self.evidence_version += 1;
        self.purchase_orders.push(PurchaseOrderRecord {
            reference: reference.to_owned(),
            sku: sku.clone(),
            ordered: units.get(),
            received: 0,
            expected_on,
        });
        Ok(())
    }

    /// Moves a purchase order's expected date.
    pub fn change_expected_date(
        &mut self,
        reference: &str,
        expected_on: NaiveDate,
    ) -> Result<(), ShopError> {
        let at = self.purchase_order_index(reference)?;
        self.purchase_orders[at].expected_on = expected_on;
        self.evidence_version += 1;
        Ok(())
    }

    /// Receives units of a purchase order and allocates them down the queue.
    /// Its first receipt adds the slip to the supplier's history.
    pub fn receive(
        &mut self,
        reference: &str,
        units: Quantity,
        arrived_on: NaiveDate,
    ) -> Result<QueueAllocation, ShopError> {
        let at = self.purchase_order_index(reference)?;
        let po = &self.purchase_orders[at];
        let outstanding = po.ordered - po.received;
        if units.get() > outstanding {
            return Err(ShopError::OverReceipt { outstanding });
        }
        let product_at = self.product_index(&po.sku)?;
        let levels = self.products[product_at].levels.received(units.get())?;

        let first_receipt = po.received == 0;
        let slip = slip_days(po.expected_on, arrived_on);
        self.purchase_orders[at].received += units.get();
        self.products[product_at].levels = levels;
        self.movements.push(StockMovement {
            sku: self.products[product_at].sku.clone(),
            kind: MovementKind::Receipt,
            on_hand_change: i64::from(units.get()),
            allocated_change: 0,
            reference: reference.to_owned(),
        });
        if self.purchase_orders[at].received == self.purchase_orders[at].ordered {
            self.open_orders[product_at].retain(|&po| po != at);
        }
        if first_receipt && let Some(supplier_at) = self.supplier_index(product_at) {
            self.suppliers[supplier_at].slips.record(slip);
            self.unreceived[supplier_at].retain(|&po| po != at);
            self.evidence_version += 1;
        }
        self.allocate_free(product_at)
    }

    /// Adjusts on_hand by `change` (a count or correction); units added are
    /// allocated down the queue.
    pub fn adjust_stock(
        &mut self,
        sku: &Sku,
        change: i64,
        reference: &str,
    ) -> Result<QueueAllocation, ShopError> {
        let at = self.product_index(sku)?;
        let levels = self.products[at].levels.adjusted(change)?;
        self.products[at].levels = levels;
        if change != 0 {
            self.movements.push(StockMovement {
                sku: sku.clone(),
                kind: MovementKind::Adjustment,
                on_hand_change: change,
                allocated_change: 0,
                reference: reference.to_owned(),
            });
        }
        self.allocate_free(at)
    }

    /// Ships what is allocated on every line of the order; returns the
    /// units shipped per line (lines that shipped nothing are left out).
    pub fn ship_order(&mut self, number: &str) -> Result<Vec<(LineId, u32)>, ShopError> {
        let at = *self
            .order_at
            .get(number)
            .ok_or_else(|| ShopError::UnknownOrder(number.to_owned()))?;
        let mut shipped_lines = Vec::new();
        for line_at in self.order_lines[at].clone() {
            let id = self.lines[line_at].id;
            let shipped = self.ship_line(id)?;
            if shipped > 0 {
                shipped_lines.push((id, shipped));
            }
        }
        Ok(shipped_lines)
    }

    /// Ships what is allocated on one line; returns the units shipped.
    pub fn ship_line(&mut self, id: LineId) -> Result<u32, ShopError> {
        self.ship_line_on(id, None)
    }

    /// [`Shop::ship_line`] on a day: a line shipped whole then is complete on
    /// that day, which is what its promise is judged by.
    pub fn ship_line_on(&mut self, id: LineId, on: Option<NaiveDate>) -> Result<u32, ShopError> {
        let at = self.line_position(id).ok_or(ShopError::UnknownLine(id))?;
        let product_at = self.product_index(&self.lines[at].sku)?;
        let line = &mut self.lines[at];
        let (after, shipped) = line.units.ship_allocated();
        if shipped == 0 {
            return Ok(0);
        }
        line.units = after;
        if after.open() == 0 && after.shipped > 0 && line.completed_on.is_none() {
            line.completed_on = on;
        }
        let levels = &mut self.products[product_at].levels;
        levels.on_hand -= shipped;
        levels.allocated -= shipped;
        self.movements.push(StockMovement {
            sku: line.sku.clone(),
            kind: MovementKind::Shipment,
            on_hand_change: -i64::from(shipped),
            allocated_change: -i64::from(shipped),
            reference: line.order_number.clone(),
        });
        Ok(shipped)
    }

    /// Cancels `units` of a line; released units go down the queue.
    pub fn cancel_line(
        &mut self,
        id: LineId,
        units: Quantity,
    ) -> Result<QueueAllocation, ShopError> {
        let at = self.line_position(id).ok_or(ShopError::UnknownLine(id))?;
        let product_at = self.product_index(&self.lines[at].sku)?;
        let cancellation = self.lines[at].units.cancel(units)?;
        self.lines[at].units = cancellation.line;
        if cancellation.released > 0 {
            self.products[product_at].levels.allocated -= cancellation.released;
            self.movements.push(StockMovement {
                sku: self.lines[at].sku.clone(),
                kind: MovementKind::Release,
                on_hand_change: 0,
                allocated_change: -i64::from(cancellation.released),
                reference: self.lines[at].order_number.clone(),
            });
        }
        self.allocate_free(product_at)
    }

    /// The product's waiting lines in queue order.
    pub fn queue(&self, sku: &Sku) -> Vec<WaitingLine> {
        let Some(&product_at) = self.product_at.get(sku) else {
            return Vec::new();
        };
        let mut waiting: Vec<(&LineRecord, QueuePlace)> = self.waiting[product_at]
            .iter()
            .map(|&at| &self.lines[at])
            .filter_map(|l| {
                let order = self.order(&l.order_number)?;
                Some((
                    l,
                    QueuePlace {
                        line_id: l.id,
                        placed_at: order.placed_at,
                        customer_tier: order.customer_tier,
                        authorized_until: order.authorized_until,
                    },
                ))
            })
            .collect();
        sort_queue(&self.policy, &mut waiting, |(_, place)| *place);
        waiting
            .into_iter()
            .map(|(l, _)| WaitingLine {
                line_id: l.id,
                waiting_units: l.units.waiting(),
            })
            .collect()
    }

    /// What can refill the product, as the ETA projection takes it.
    pub fn supply(&self, sku: &Sku, today: NaiveDate) -> Option<ProductSupply> {
        let product_at = *self.product_at.get(sku)?;
        let product = &self.products[product_at];
        let supplier = self.supplier_index(product_at).map(|at| {
            let s = &self.suppliers[at];
            SupplierFacts {
                name: s.name.clone(),
                lead_time_days: s.lead_time_days,
                slips: s.slips.clone(),
                unreceived_expected_on: self.unreceived_expected_on(at),
            }
        });
        let incoming = self.open_orders[product_at]
            .iter()
            .map(|&at| &self.purchase_orders[at])
            .map(|po| IncomingPurchaseOrder {
                reference: po.reference.clone(),
                outstanding_units: po.ordered - po.received,
                expected_on: po.expected_on,
            })
            .collect();
        Some(ProductSupply {
            sku: sku.clone(),
            available_now: product.levels.available(),
            incoming,
            supplier,
            prior: self.prior(today),
            release_on: None,
            promises: self.promises(today),
        })
    }

    /// Records the first promise told for a line (later ones are ignored, as
    /// the server keeps `promised_on`).
    pub fn promise_line(&mut self, id: LineId, promised_on: NaiveDate) -> Result<(), ShopError> {
        let at = self.line_position(id).ok_or(ShopError::UnknownLine(id))?;
        if self.lines[at].promised_on.is_none() {
            self.lines[at].promised_on = Some(promised_on);
            self.promised.push(at);
        }
        Ok(())
    }

    /// How the shop's promises fared as of `today` ([`promise_outcome`]; one
    /// count a day).
    pub fn promises(&self, today: NaiveDate) -> PromiseRecord {
        if let Some((day, record)) = &*self.promises.borrow()
            && *day == today
        {
            return *record;
        }
        let mut record = PromiseRecord::default();
        for &at in &self.promised {
            let line = &self.lines[at];
            if line.units.cancelled >= line.units.quantity {
                continue;
            }
            if let Some(promised_on) = line.promised_on {
                record.count(promise_outcome(today, promised_on, line.completed_on));
            }
        }
        *self.promises.borrow_mut() = Some((today, record));
        record
    }

    /// The shop's pooled slips on `today` (computed once per day and change).
    pub fn prior(&self, today: NaiveDate) -> SlipPrior {
        if let Some((day, version, prior)) = &*self.prior.borrow()
            && *day == today
            && *version == self.evidence_version
        {
            return prior.clone();
        }
        let dates: Vec<Vec<NaiveDate>> = (0..self.suppliers.len())
            .map(|at| self.unreceived_expected_on(at))
            .collect();
        let evidence: Vec<SupplierEvidence<'_>> = self
            .suppliers
            .iter()
            .zip(&dates)
            .map(|(s, dates)| SupplierEvidence {
                slips: s.slips.slips(),
                unreceived_expected_on: dates,
            })
            .collect();
        let prior = SlipPrior::new(today, &evidence);
        *self.prior.borrow_mut() = Some((today, self.evidence_version, prior.clone()));
        prior
    }

    fn unreceived_expected_on(&self, supplier_at: usize) -> Vec<NaiveDate> {
        self.unreceived[supplier_at]
            .iter()
            .map(|&po| self.purchase_orders[po].expected_on)
            .collect()
    }

    /// ETAs of the product's queue, in queue order.
    pub fn project_etas(
        &self,
        sku: &Sku,
        today: NaiveDate,
        settings: &EtaSettings,
    ) -> Vec<(LineId, LineEta)> {
        let Some(supply) = self.supply(sku, today) else {
            return Vec::new();
        };
        let queue = self.queue(sku);
        let etas = project_queue(today, &supply, &queue, settings);
        queue.iter().map(|l| l.line_id).zip(etas).collect()
    }

    /// [`Shop::project_etas`] with the slips drawn from `slips` instead of the
    /// engine's estimate: how a promiser knowing them would date the queue.
    pub fn project_etas_with_slips(
        &self,
        sku: &Sku,
        today: NaiveDate,
        settings: &EtaSettings,
        slips: Option<&SlipDistribution>,
    ) -> Vec<(LineId, LineEta)> {
        let Some(supply) = self.supply(sku, today) else {
            return Vec::new();
        };
        let queue = self.queue(sku);
        let etas = project_queue_with_slips(today, &supply, &queue, settings, slips);
        queue.iter().map(|l| l.line_id).zip(etas).collect()
    }

    /// The ETA a new order for one unit of the product would get.
    pub fn eta_for_new_order(
        &self,
        sku: &Sku,
        today: NaiveDate,
        settings: &EtaSettings,
    ) -> Option<LineEta> {
        let supply = self.supply(sku, today)?;
        Some(eta_for_new_order(
            today,
            &supply,
            &self.queue(sku),
            settings,
        ))
    }

    /// The ledger's running sums for a product: (on_hand, allocated).
    pub fn ledger_sums(&self, sku: &Sku) -> (i64, i64) {
        self.movements
            .iter()
            .filter(|m| &m.sku == sku)
            .fold((0, 0), |(on_hand, allocated), m| {
                (on_hand + m.on_hand_change, allocated + m.allocated_change)
            })
    }

    fn line_position(&self, id: LineId) -> Option<usize> {
        let at = usize::try_from(id.checked_sub(1)?).ok()?;
        (self.lines.get(at)?.id == id).then_some(at)
    }

    fn product_index(&self, sku: &Sku) -> Result<usize, ShopError> {
        self.product_at
            .get(sku)
            .copied()
            .ok_or_else(|| ShopError::UnknownProduct(sku.clone()))
    }

    fn purchase_order_index(&self, reference: &str) -> Result<usize, ShopError> {
        self.purchase_order_at
            .get(reference)
            .copied()
            .ok_or_else(|| ShopError::UnknownPurchaseOrder(reference.to_owned()))
    }

    fn supplier_index(&self, product_at: usize) -> Option<usize> {
        let name = self.products[product_at].supplier.as_ref()?;
        self.supplier_at.get(name).copied()
    }

    fn supply_known(&self, product: &ProductRecord) -> bool {
        let Some(&at) = self.product_at.get(&product.sku) else {
            return false;
        };
        supply_known(
            !self.open_orders[at].is_empty(),
            self.supplier_index(at)
                .and_then(|s| self.suppliers[s].lead_time_days),
        )
    }

    /// Hands every free unit of the product down its queue.
    fn allocate_free(&mut self, product_at: usize) -> Result<QueueAllocation, ShopError> {
        let sku = self.products[product_at].sku.clone();
        let queue = self.queue(&sku);
        let outcome = allocate_down_queue(self.products[product_at].levels.available(), &queue);
        for allocation in &outcome.allocations {
            let at = self
                .line_position(allocation.line_id)
                .ok_or(ShopError::UnknownLine(allocation.line_id))?;
            let line = &mut self.lines[at];
            line.units = line.units.allocate(allocation.units)?;
            self.products[product_at].levels.allocated += allocation.units;
            self.movements.push(StockMovement {
                sku: sku.clone(),
                kind: MovementKind::Allocation,
                on_hand_change: 0,
                allocated_change: i64::from(allocation.units),
                reference: line.order_number.clone(),
            });
        }
        let lines = &self.lines;
        self.waiting[product_at].retain(|&at| lines[at].units.waiting() > 0);
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};
    use proptest::prelude::*;
    use std::collections::HashMap;

    fn sku(name: &str) -> Sku {
        Sku::parse(name).unwrap()
    }

    fn qty(units: u32) -> Quantity {
        Quantity::new(units).unwrap()
    }

    fn base_day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 11, 1).unwrap()
    }

    fn order(number: &str, hour: i64, tier: i32, lines: &[(&str, u32)]) -> NewOrder {
        NewOrder {
            order: OrderRecord {
                number: number.to_owned(),
                placed_at: Utc.with_ymd_and_hms(2024, 11, 1, 0, 0, 0).unwrap()
                    + Duration::hours(hour),
                customer_tier: tier,
                authorized_until: None,
            },
            lines: lines
                .iter()
                .map(|&(s, units)| RequestedLine {
                    sku: sku(s),
                    quantity: qty(units),
                })
                .collect(),
        }
    }

    fn shop(policy: QueuePolicy) -> Shop {
        let mut shop = Shop::new(policy);
        shop.add_supplier("Acme", Some(10));
        shop.add_supplier("Slowco", None);
        for (name, on_hand, backorderable, supplier) in [
            ("P0", 3, true, Some("Acme")),
            ("P1", 2, true, Some("Slowco")),
            ("P2", 4, false, None),
        ] {
            shop.add_product(NewProduct {
                sku: sku(name),
                on_hand,
                reorder_point: 1,
                backorderable,
                supplier: supplier.map(str::to_owned),
            })
            .unwrap();
        }
        shop
    }

    #[test]
    fn a_receipt_serves_the_queue_in_order_and_a_cancellation_passes_units_on() {
        let mut shop = shop(QueuePolicy::default());
        let first = shop.place_order(order("O-1", 1, 0, &[("P0", 5)])).unwrap();
        let second = shop.place_order(order("O-2", 2, 0, &[("P0", 1)])).unwrap();
        assert_eq!(shop.line(first[0]).unwrap().units.allocated, 3);
        shop.open_purchase_order("PO-1", &sku("P0"), qty(2), base_day())
            .unwrap();
        let outcome = shop.receive("PO-1", qty(2), base_day()).unwrap();
        assert_eq!(outcome.allocations.len(), 1, "the head takes both units");
        assert_eq!(shop.line(second[0]).unwrap().units.waiting(), 1);

        let outcome = shop.cancel_line(first[0], qty(5)).unwrap();
        assert_eq!(outcome.allocated_units(), 1);
        assert_eq!(shop.line(second[0]).unwrap().units.waiting(), 0);
        assert_eq!(
            shop.product(&sku("P0")).unwrap().levels,
            StockLevels {
                on_hand: 5,
                allocated: 1
            }
        );
    }

    #[test]
    fn partial_shipment_leaves_the_rest_queued() {
        let mut shop = shop(QueuePolicy::default());
        let ids = shop.place_order(order("O-1", 1, 0, &[("P0", 5)])).unwrap();
        assert_eq!(shop.ship_order("O-1").unwrap(), [(ids[0], 3)]);
        assert_eq!(shop.queue(&sku("P0")).len(), 1);
        shop.adjust_stock(&sku("P0"), 2, "found").unwrap();
        assert_eq!(shop.ship_line(ids[0]).unwrap(), 2);
        let line = shop.line(ids[0]).unwrap().units;
        assert_eq!((line.shipped, line.waiting()), (5, 0));
        assert_eq!(
            shop.product(&sku("P0")).unwrap().levels,
            StockLevels::default()
        );
        assert_eq!(
            shop.ship_order("O-9"),
            Err(ShopError::UnknownOrder("O-9".to_owned()))
        );
    }

    #[test]
    fn tier_policy_serves_the_higher_tier_first() {
        let mut shop = shop(QueuePolicy {
            higher_tier_first: true,
            soonest_lapsing_first: false,
        });
        let old = shop.place_order(order("O-1", 1, 0, &[("P0", 4)])).unwrap();
        let vip = shop.place_order(order("O-2", 2, 3, &[("P0", 2)])).unwrap();
        let queue: Vec<LineId> = shop.queue(&sku("P0")).iter().map(|l| l.line_id).collect();
        assert_eq!(queue, [vip[0], old[0]]);
        shop.adjust_stock(&sku("P0"), 2, "found").unwrap();
        assert_eq!(shop.line(vip[0]).unwrap().units.waiting(), 0);
        assert_eq!(shop.line(old[0]).unwrap().units.waiting(), 1);
    }

    #[test]
    fn refused_order_stores_nothing() {
        let mut shop = shop(QueuePolicy::default());
        let before = shop.movements().len();
        let refused = shop.place_order(order("O-1", 1, 0, &[("P0", 1), ("P2", 9)]));
        assert!(matches!(refused, Err(ShopError::Refused(_))));
        assert!(shop.lines().is_empty() && shop.orders().is_empty());
        assert_eq!(shop.movements().len(), before);
        // P1's supplier has no lead time: backorders need an open purchase order.
        assert!(shop.place_order(order("O-2", 1, 0, &[("P1", 3)])).is_err());
        shop.open_purchase_order("PO-7", &sku("P1"), qty(5), base_day())
            .unwrap();
        assert!(shop.place_order(order("O-2", 1, 0, &[("P1", 3)])).is_ok());
        assert_eq!(shop.status(&sku("P1")), Some(StockStatus::Backorder));
    }

    #[test]
    fn receipts_feed_the_supplier_history() {
        let mut shop = shop(QueuePolicy::default());
        shop.open_purchase_order("PO-1", &sku("P0"), qty(4), base_day())
            .unwrap();
        shop.receive("PO-1", qty(2), base_day() + Duration::days(3))
            .unwrap();
        shop.receive("PO-1", qty(2), base_day() + Duration::days(5))
            .unwrap();
        assert_eq!(shop.suppliers()[0].slips.slips(), [3]);
        assert_eq!(
            shop.receive("PO-1", qty(1), base_day()),
            Err(ShopError::OverReceipt { outstanding: 0 })
        );
    }

    /// One random event; indexes pick among what exists when it is applied.
    #[derive(Clone, Debug)]
    enum Event {
        Order {
            lines: Vec<(usize, u32)>,
            tier: i32,
            authorized_in: Option<i64>,
        },
        OpenPurchaseOrder {
            product: usize,
            units: u32,
            due_in: i64,
        },
        Receive {
            po: usize,
            units: u32,
        },
        Adjust {
            product: usize,
            change: i64,
        },
        Ship {
            order: usize,
        },
        Cancel {
            line: usize,
            units: u32,
        },
        NextDay,
    }

    fn event() -> impl Strategy<Value = Event> {
        prop_oneof![
            4 => (prop::collection::vec((0usize..3, 1u32..6), 1..3), 0i32..3, prop::option::of(1i64..20))
                .prop_map(|(lines, tier, authorized_in)| Event::Order { lines, tier, authorized_in }),
            2 => (0usize..3, 1u32..10, -5i64..20)
                .prop_map(|(product, units, due_in)| Event::OpenPurchaseOrder { product, units, due_in }),
            3 => (0usize..20, 1u32..10).prop_map(|(po, units)| Event::Receive { po, units }),
            2 => (0usize..3, -6i64..8).prop_map(|(product, change)| Event::Adjust { product, change }),
            2 => (0usize..30).prop_map(|order| Event::Ship { order }),
            2 => (0usize..40, 1u32..6).prop_map(|(line, units)| Event::Cancel { line, units }),
            1 => Just(Event::NextDay),
        ]
    }

    /// What the test saw happen, kept apart from the shop's own ledger.
    #[derive(Default)]
    struct Seen {
        on_hand_change: HashMap<Sku, i64>,
    }

    fn apply(shop: &mut Shop, seen: &mut Seen, event: &Event, day: &mut i64) {
        let today = base_day() + Duration::days(*day);
        let skus: Vec<Sku> = shop.products().iter().map(|p| p.sku.clone()).collect();
        match event {
            Event::Order {
                lines,
                tier,
                authorized_in,
            } => {
                let number = format!("O-{}", shop.orders().len() + 1);
                let placed_at = today.and_hms_opt(9, 0, 0).unwrap().and_utc()
                    + Duration::minutes(shop.orders().len() as i64);
                let new = NewOrder {
                    order: OrderRecord {
                        number,
                        placed_at,
                        customer_tier: *tier,
                        authorized_until: authorized_in.map(|d| placed_at + Duration::days(d)),
                    },
                    lines: lines
                        .iter()
                        .map(|&(p, units)| RequestedLine {
                            sku: skus[p].clone(),
                            quantity: qty(units),
                        })
                        .collect(),
                };
                let _ = shop.place_order(new);
            }
            Event::OpenPurchaseOrder {
                product,
                units,
                due_in,
            } => {
                let reference = format!("PO-{}", shop.purchase_orders().len() + 1);
                shop.open_purchase_order(
                    &reference,
                    &skus[*product],
                    qty(*units),
                    today + Duration::days(*due_in),
                )
                .unwrap();
            }
            Event::Receive { po, units } => {
                let open: Vec<&PurchaseOrderRecord> = shop
                    .purchase_orders()
                    .iter()
                    .filter(|po| po.received < po.ordered)
                    .collect();
                if open.is_empty() {
                    return;
                }
                let po = open[po % open.len()];
                let units = 1 + (units - 1) % (po.ordered - po.received);
                let (reference, sku) = (po.reference.clone(), po.sku.clone());
                shop.receive(&reference, qty(units), today).unwrap();
                *seen.on_hand_change.entry(sku).or_default() += i64::from(units);
            }
            Event::Adjust { product, change } => {
                let sku = &skus[*product];
                if shop.adjust_stock(sku, *change, "count").is_ok() {
                    *seen.on_hand_change.entry(sku.clone()).or_default() += change;
                }
            }
            Event::Ship { order } => {
                if shop.orders().is_empty() {
                    return;
                }
                let number = shop.orders()[order % shop.orders().len()].number.clone();
                for (id, units) in shop.ship_order(&number).unwrap() {
                    let sku = shop.line(id).unwrap().sku.clone();
                    *seen.on_hand_change.entry(sku).or_default() -= i64::from(units);
                }
            }
            Event::Cancel { line, units } => {
                if shop.lines().is_empty() {
                    return;
                }
                let line = &shop.lines()[line % shop.lines().len()];
                if line.units.open() == 0 {
                    return;
                }
                let units = 1 + (units - 1) % line.units.open();
                let id = line.id;
                shop.cancel_line(id, qty(units)).unwrap();
            }
            Event::NextDay => *day += 1,
        }
    }

    fn check_invariants(
        shop: &Shop,
        seen: &Seen,
        opening: &HashMap<Sku, u32>,
        today: NaiveDate,
    ) -> Result<(), TestCaseError> {
        for product in shop.products() {
            let sku = &product.sku;
            let lines_allocated: u32 = shop
                .lines()
                .iter()
                .filter(|l| &l.sku == sku)
                .map(|l| l.units.allocated)
                .sum();
            prop_assert_eq!(
                lines_allocated,
                product.levels.allocated,
                "no unit allocated twice: {}",
                sku
            );
            prop_assert!(
                product.levels.allocated <= product.levels.on_hand,
                "allocated <= on_hand: {}",
                sku
            );
            let change = seen.on_hand_change.get(sku).copied().unwrap_or(0);
            prop_assert_eq!(
                i64::from(opening[sku]) + change,
                i64::from(product.levels.on_hand),
                "units conserved: {}",
                sku
            );
            let (ledger_on_hand, ledger_allocated) = shop.ledger_sums(sku);
            prop_assert_eq!(ledger_on_hand, i64::from(product.levels.on_hand));
            prop_assert_eq!(ledger_allocated, i64::from(product.levels.allocated));
            let queue = shop.queue(sku);
            prop_assert!(
                queue.is_empty() || product.levels.available() == 0,
                "free units beside a waiting line: {}",
                sku
            );

            let settings = EtaSettings {
                samples: 40,
                ..EtaSettings::default()
            };
            let etas = shop.project_etas(sku, today, &settings);
            for pair in etas.windows(2) {
                let (a, b) = (&pair[0].1, &pair[1].1);
                prop_assert!(b.likely.is_none() || (a.likely.is_some() && a.likely <= b.likely));
                prop_assert!(b.worst.is_none() || (a.worst.is_some() && a.worst <= b.worst));
            }
        }
        Ok(())
    }

    /// A line never gets units while a line ahead of it in the queue (as it
    /// stood before the event) still waits afterwards.
    fn check_queue_served_in_order(before: &Shop, after: &Shop) -> Result<(), TestCaseError> {
        for product in before.products() {
            let queue = before.queue(&product.sku);
            for (at, line) in queue.iter().enumerate() {
                let gained = after
                    .line(line.line_id)
                    .map(|l| l.units.allocated + l.units.shipped)
                    > before
                        .line(line.line_id)
                        .map(|l| l.units.allocated + l.units.shipped);
                if !gained {
                    continue;
                }
                for ahead in &queue[..at] {
                    let still_waits = after.line(ahead.line_id).map_or(0, |l| l.units.waiting());
                    prop_assert_eq!(
                        still_waits,
                        0,
                        "line {} served before line {}",
                        line.line_id,
                        ahead.line_id
                    );
                }
            }
            let old_lines = before.lines().len();
            for new_line in after
                .lines()
                .iter()
                .skip(old_lines)
                .filter(|l| l.sku == product.sku)
            {
                prop_assert!(
                    new_line.units.allocated == 0 || queue.is_empty(),
                    "a new order took units while {} waited",
                    product.sku
                );
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]
        #[test]
        fn invariants_hold_over_random_histories(
            events in prop::collection::vec(event(), 1..50),
            higher_tier_first in any::<bool>(),
            soonest_lapsing_first in any::<bool>(),
        ) {
            let mut shop = shop(QueuePolicy { higher_tier_first, soonest_lapsing_first });
            let opening: HashMap<Sku, u32> = shop.products().iter().map(|p| (p.sku.clone(), p.levels.on_hand)).collect();
            let mut seen = Seen::default();
            let mut day = 0;
            for event in &events {
                let before = shop.clone();
                apply(&mut shop, &mut seen, event, &mut day);
                check_queue_served_in_order(&before, &shop)?;
                check_invariants(&shop, &seen, &opening, base_day() + Duration::days(day))?;
            }
        }
    }
}
