//! Replaying a history day by day through the in-memory [`Shop`], so every
//! allocation and every date comes from the engine the server uses. Kept from
//! the engine: each purchase order's real arrival day, until that day comes,
//! and the suppliers' true slips, which only the oracle promiser uses.

use std::collections::{BTreeMap, HashMap};

use chrono::{Days, NaiveDate, NaiveTime};
use serde::Serialize;

use super::ledger::{NewOrder, NewProduct, OrderRecord, Shop, ShopError};
use super::scenario::{Event, EventKind, ScenarioError};
use crate::domain::{
    EtaSettings, LineEta, LineId, Quantity, QueuePolicy, RequestedLine, Sku, SlipDistribution,
    promised_date,
};

/// Day 0 of every scenario.
pub fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default()
}

/// The date of day `day`.
pub fn date_of(day: u32) -> NaiveDate {
    epoch()
        .checked_add_days(Days::new(u64::from(day)))
        .unwrap_or(NaiveDate::MAX)
}

fn day_of(date: NaiveDate) -> i64 {
    (date - epoch()).num_days()
}

/// Which date the summary measures as the promise.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Measured {
    /// The engine's worst case, told to the customer (DESIGN §4.8).
    #[default]
    Worst,
    /// The plain expected-date covering date a naive system would tell.
    Naive,
    /// The worst case of a promiser that knows every supplier's true slips.
    Oracle,
}

/// How to replay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplaySettings {
    /// The engine's ETA settings.
    pub eta: EtaSettings,
    /// The date the summary takes as the promise.
    pub measured: Measured,
    /// Also date every line as the oracle would (needs the suppliers' `truth`).
    pub oracle: bool,
}

impl Default for ReplaySettings {
    /// The shop's defaults: the 90th percentile, and one handling day, which
    /// is what "a line ships the day after it is fully allocated" means to
    /// the engine (the database default of `handling_days` is 1 too).
    fn default() -> Self {
        ReplaySettings {
            eta: EtaSettings {
                handling_days: 1,
                ..EtaSettings::default()
            },
            measured: Measured::Worst,
            oracle: false,
        }
    }
}

/// What happened to one order line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LineOutcome {
    /// Its order's number.
    pub number: String,
    /// The product.
    pub sku: Sku,
    /// Units ordered.
    pub quantity: u32,
    /// The day it was ordered.
    pub ordered_day: u32,
    /// The worst-case day told when it first waited.
    pub promised_day: Option<i64>,
    /// The likely day shown to reps at that moment.
    pub likely_day: Option<i64>,
    /// The naive day: purchase orders on their expected dates.
    pub expected_day: Option<i64>,
    /// With `--oracle`: the worst-case day of a promiser knowing the true slips.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oracle_day: Option<i64>,
    /// Deliveries on the supplier's record when the promise was made.
    pub supplier_deliveries: Option<u32>,
    /// The day it shipped whole.
    pub shipped_day: Option<i64>,
}

/// How well the promises were kept.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    /// Lines that waited, got a promise, and whose promise was decided
    /// (they shipped, or the day passed before the replay ended).
    pub lines: u64,
    /// Of those, shipped on or before the promised day.
    pub kept: u64,
    /// kept / lines.
    pub kept_share: Option<f64>,
    /// Mean of promised - expected: what the promise adds to the naive date.
    pub mean_padding_days: Option<f64>,
    /// Mean of |shipped - promised| over the counted lines that shipped.
    pub mean_abs_error_days: Option<f64>,
}

/// The replay's result.
#[derive(Clone, Debug, PartialEq)]
pub struct Replay {
    /// One per order line, in the order the lines were placed.
    pub lines: Vec<LineOutcome>,
    /// The last day replayed.
    pub last_day: u32,
}

/// Replays `events` (in day order) through a fresh shop.
pub fn replay(events: &[Event], settings: &ReplaySettings) -> Result<Replay, ScenarioError> {
    replay_with(events, settings, &crate::progress::Progress::hidden())
}

/// `replay`, reporting each day replayed.
pub fn replay_with(
    events: &[Event],
    settings: &ReplaySettings,
    progress: &crate::progress::Progress,
) -> Result<Replay, ScenarioError> {
    let Some(first) = events.first() else {
        return Ok(Replay {
            lines: Vec::new(),
            last_day: 0,
        });
    };
    // Lines fully allocated on a day ship the next, so the replay runs one day
    // past the last event and the last arrival.
    let last_arrival = events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::PurchaseOrder { arrives_day, .. } => Some(arrives_day),
            _ => None,
        })
        .max()
        .unwrap_or(0);
    let last_event = events.last().map_or(0, |e| e.day);
    let last_day = last_event.max(last_arrival).saturating_add(1);

    let mut truths = HashMap::new();
    for event in events {
        if let EventKind::Supplier {
            name,
            truth: Some(truth),
            ..
        } = &event.kind
        {
            truths.insert(name.clone(), truth.distribution());
        }
    }
    if settings.oracle
        && let Some(event) = events.iter().find(
            |e| matches!(&e.kind, EventKind::Supplier { name, .. } if !truths.contains_key(name)),
        )
    {
        return Err(ScenarioError::new(
            event.line,
            "--oracle needs each supplier's true slips (`truth`), which only generated scenarios carry",
        ));
    }
    let mut run = Run {
        shop: Shop::new(QueuePolicy::default()),
        settings: settings.eta,
        oracle: settings.oracle.then_some(truths),
        lines: Vec::new(),
        arrivals: BTreeMap::new(),
        fully_allocated_on: BTreeMap::new(),
        unpromised: BTreeMap::new(),
    };
    let mut next = 0;
    progress.stage("Replaying days", u64::from(last_day - first.day) + 1);
    for day in first.day..=last_day {
        progress.advance(1);
        run.ship_ready(day);
        run.receive_arrivals(day)?;
        while let Some(event) = events.get(next).filter(|e| e.day == day) {
            run.apply(event)
                .map_err(|message| ScenarioError::new(event.line, message))?;
            next += 1;
        }
    }
    Ok(Replay {
        lines: run.lines,
        last_day,
    })
}

/// The shop during a replay, with what the engine must not see yet.
struct Run {
    shop: Shop,
    settings: EtaSettings,
    /// Each supplier's true slips, when the oracle dates lines too.
    oracle: Option<HashMap<String, SlipDistribution>>,
    /// Indexed by line id - 1 (the shop gives ids in placing order).
    lines: Vec<LineOutcome>,
    /// Day -> (reference, units, the event's line) arriving that day.
    arrivals: BTreeMap<u32, Vec<(String, Quantity, usize)>>,
    /// Lines waiting for nothing more, and the day that happened.
    fully_allocated_on: BTreeMap<LineId, u32>,
    /// Waiting lines with no date yet to promise, by product.
    unpromised: BTreeMap<Sku, Vec<LineId>>,
}

impl Run {
    fn ship_ready(&mut self, today: u32) {
        let ready: Vec<LineId> = self
            .fully_allocated_on
            .iter()
            .filter(|&(_, &day)| day < today)
            .map(|(&id, _)| id)
            .collect();
        for id in ready {
            self.fully_allocated_on.remove(&id);
            // A fully allocated line always ships whole; an unknown id cannot occur.
            if self.shop.ship_line_on(id, Some(date_of(today))).is_ok()
                && let Some(outcome) = self.outcome(id)
            {
                outcome.shipped_day = Some(i64::from(today));
            }
        }
    }

    fn receive_arrivals(&mut self, today: u32) -> Result<(), ScenarioError> {
        let Some(arriving) = self.arrivals.remove(&today) else {
            return Ok(());
        };
        for (reference, units, line) in arriving {
            self.receive(&reference, units, today)
                .map_err(|message| ScenarioError::new(line, message))?;
        }
        self.promise_unpromised(today);
        Ok(())
    }

    fn receive(&mut self, reference: &str, units: Quantity, today: u32) -> Result<(), String> {
        let outcome = self
            .shop
            .receive(reference, units, date_of(today))
            .map_err(|e| e.to_string())?;
        for allocation in outcome.allocations {
            self.note_if_complete(allocation.line_id, today);
        }
        Ok(())
    }

    fn apply(&mut self, event: &Event) -> Result<(), String> {
        let today = event.day;
        match &event.kind {
            EventKind::Supplier {
                name, lead_days, ..
            } => {
                self.shop.add_supplier(name, *lead_days);
            }
            EventKind::Product {
                sku,
                supplier,
                on_hand,
            } => self
                .shop
                .add_product(NewProduct {
                    sku: sku.clone(),
                    on_hand: *on_hand,
                    reorder_point: 0,
                    backorderable: true,
                    supplier: supplier.clone(),
                })
                .map_err(|e| e.to_string())?,
            EventKind::PurchaseOrder {
                reference,
                sku,
                quantity,
                expected_day,
                arrives_day,
            } => {
                self.shop
                    .open_purchase_order(reference, sku, *quantity, date_of(*expected_day))
                    .map_err(|e| e.to_string())?;
                if *arrives_day == today {
                    self.receive(reference, *quantity, today)?;
                } else {
                    self.arrivals.entry(*arrives_day).or_default().push((
                        reference.clone(),
                        *quantity,
                        event.line,
                    ));
                }
                if self.unpromised.contains_key(sku) {
                    self.promise(sku, today);
                }
            }
            EventKind::Order {
                number,
                sku,
                quantity,
            } => {
                if self.shop.product(sku).is_none() {
                    return Err(ShopError::UnknownProduct(sku.clone()).to_string());
                }
                let placed_at = date_of(today).and_time(NaiveTime::MIN).and_utc();
                let ids = self
                    .shop
                    .place_order(NewOrder {
                        order: OrderRecord {
                            number: number.clone(),
                            placed_at,
                            customer_tier: 0,
                            authorized_until: None,
                        },
                        lines: vec![RequestedLine {
                            sku: sku.clone(),
                            quantity: *quantity,
                        }],
                    })
                    .map_err(|e| match e {
                        ShopError::Refused(_) => format!(
                            "order {number} refused: {sku} is out of stock with no supplier lead time or open purchase order"
                        ),
                        other => other.to_string(),
                    })?;
                for id in ids {
                    self.lines.push(LineOutcome {
                        number: number.clone(),
                        sku: sku.clone(),
                        quantity: quantity.get(),
                        ordered_day: today,
                        promised_day: None,
                        likely_day: None,
                        expected_day: None,
                        oracle_day: None,
                        supplier_deliveries: None,
                        shipped_day: None,
                    });
                    self.note_if_complete(id, today);
                    if self.waits(id) {
                        self.unpromised.entry(sku.clone()).or_default().push(id);
                        self.promise(sku, today);
                    }
                }
            }
        }
        Ok(())
    }

    fn waits(&self, id: LineId) -> bool {
        self.shop.line(id).is_some_and(|l| l.units.waiting() > 0)
    }

    fn note_if_complete(&mut self, id: LineId, today: u32) {
        if let Some(line) = self.shop.line(id)
            && line.units.waiting() == 0
            && line.units.allocated > 0
        {
            self.fully_allocated_on.insert(id, today);
        }
    }

    /// Gives each waiting line of the product that has none its first date
    /// (DESIGN §4.8), from one projection of the whole queue, as the
    /// server's ETA refresh does.
    fn promise(&mut self, sku: &Sku, today: u32) {
        let Some(mut waiting) = self.unpromised.remove(sku) else {
            return;
        };
        let etas: HashMap<LineId, LineEta> = self
            .shop
            .project_etas(sku, date_of(today), &self.settings)
            .into_iter()
            .collect();
        let supplier = self
            .shop
            .product(sku)
            .and_then(|p| p.supplier.as_ref())
            .and_then(|name| self.shop.suppliers().iter().find(|s| &s.name == name));
        let deliveries = supplier.map(|s| u32::try_from(s.slips.len()).unwrap_or(u32::MAX));
        let oracle: HashMap<LineId, LineEta> = match (&self.oracle, supplier) {
            (Some(truths), Some(supplier)) => self
                .shop
                .project_etas_with_slips(
                    sku,
                    date_of(today),
                    &self.settings,
                    truths.get(&supplier.name),
                )
                .into_iter()
                .collect(),
            _ => HashMap::new(),
        };
        waiting.retain(|&id| {
            let Some(eta) = etas.get(&id) else {
                // No longer waiting (filled before it got a date): nothing to promise.
                return false;
            };
            let Some(promised) = promised_date(None, eta.worst) else {
                return true;
            };
            // The line is the shop's and waits: it takes the promise.
            let _ = self.shop.promise_line(id, promised);
            if let Some(outcome) = self.lines.get_mut(line_index(id)) {
                outcome.promised_day = Some(day_of(promised));
                outcome.likely_day = eta.likely.map(day_of);
                outcome.expected_day = eta.expected.map(day_of);
                outcome.oracle_day = oracle.get(&id).and_then(|o| o.worst).map(day_of);
                outcome.supplier_deliveries = deliveries;
            }
            false
        });
        if !waiting.is_empty() {
            self.unpromised.insert(sku.clone(), waiting);
        }
    }

    fn promise_unpromised(&mut self, today: u32) {
        let skus: Vec<Sku> = self.unpromised.keys().cloned().collect();
        for sku in skus {
            self.promise(&sku, today);
        }
    }

    fn outcome(&mut self, id: LineId) -> Option<&mut LineOutcome> {
        self.lines.get_mut(line_index(id))
    }
}

fn line_index(id: LineId) -> usize {
    usize::try_from(id - 1).unwrap_or(usize::MAX)
}

/// How the promises of `replay` fared, measuring the date `measured` picks.
pub fn summarize(replay: &Replay, measured: Measured) -> Summary {
    summarize_pooled(std::slice::from_ref(replay), measured)
}

/// [`summarize`] over several replays as one set of lines (seeds pooled).
pub fn summarize_pooled(replays: &[Replay], measured: Measured) -> Summary {
    summarize_where(replays, measured, |_| true)
}

/// [`summarize_pooled`] over the lines `counted` picks.
pub fn summarize_where(
    replays: &[Replay],
    measured: Measured,
    counted: impl Fn(&LineOutcome) -> bool,
) -> Summary {
    let mut lines = 0u64;
    let mut kept = 0u64;
    let mut padding = Vec::new();
    let mut errors = Vec::new();
    for replay in replays {
        for line in replay.lines.iter().filter(|l| counted(l)) {
            let promise = match measured {
                Measured::Worst => line.promised_day,
                // Only lines that got a real promise count, so every measure
                // covers the same lines.
                Measured::Naive => line.promised_day.and(line.expected_day),
                Measured::Oracle => line.promised_day.and(line.oracle_day),
            };
            let Some(promise) = promise else {
                continue;
            };
            let decided = line.shipped_day.is_some() || promise < i64::from(replay.last_day);
            if !decided {
                continue;
            }
            lines += 1;
            if line.shipped_day.is_some_and(|shipped| shipped <= promise) {
                kept += 1;
            }
            if let Some(expected) = line.expected_day {
                padding.push((promise - expected) as f64);
            }
            if let Some(shipped) = line.shipped_day {
                errors.push((shipped - promise).abs() as f64);
            }
        }
    }
    Summary {
        lines,
        kept,
        kept_share: (lines > 0).then(|| round(kept as f64 / lines as f64, 4)),
        mean_padding_days: mean(&padding).map(|m| round(m, 2)),
        mean_abs_error_days: mean(&errors).map(|m| round(m, 2)),
    }
}

fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

fn round(value: f64, places: i32) -> f64 {
    let scale = 10f64.powi(places);
    (value * scale).round() / scale
}
