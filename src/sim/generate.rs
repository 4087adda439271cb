//! A made-up but plausible shop history for `simulate --generate`: suppliers
//! that keep their dates more or less well, products whose demand drifts and
//! follows a season, and a buyer who reorders when the stock position (on
//! hand + on order - backordered) falls to the quoted lead time's demand.
//! The buyer only knows the quoted lead time; the suppliers' real slips are
//! written into `arrives_day` for the replay to reveal on the day.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::scenario::{Event, EventKind};
use crate::domain::{Quantity, Sku};

/// What to generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GenerateSettings {
    /// Days of customer demand (days 0 to days - 1).
    pub days: u32,
    /// Seed: the same seed gives the same scenario.
    pub seed: u64,
    /// Number of products.
    pub products: u32,
}

/// How a supplier really delivers.
struct SupplierProfile {
    name: String,
    lead_days: u32,
    /// Chance a purchase order comes on or before its expected day.
    on_time: f64,
    /// Mean days late when it is late.
    mean_late_days: f64,
    /// Chance of a rare long hold-up (customs, a factory stop) on top.
    hold_up: f64,
}

impl SupplierProfile {
    fn slip(&self, rng: &mut StdRng) -> i64 {
        let mut slip = if rng.random_bool(self.on_time) {
            match rng.random_range(0..100) {
                0..60 => 0,
                60..85 => -1,
                _ => -rng.random_range(2..=4),
            }
        } else {
            1 + exponential(rng, self.mean_late_days - 1.0).round() as i64
        };
        if rng.random_bool(self.hold_up) {
            slip += rng.random_range(15..=40);
        }
        slip
    }
}

/// A product as the generator runs it.
struct ProductState {
    sku: Sku,
    supplier: usize,
    /// Units a day, before the season and the drift.
    base_rate: f64,
    /// Multiplier that wanders month to month.
    drift: f64,
    season_amplitude: f64,
    season_phase: f64,
    /// What the buyer believes the daily demand is (smoothed).
    rate_estimate: f64,
    /// Days of demand one purchase order should cover.
    cycle_days: f64,
    /// On hand minus backordered (negative when customers wait).
    net_stock: i64,
    /// Units ordered and not yet arrived.
    on_order: i64,
    /// Day -> units arriving then.
    arriving: Vec<(u32, i64)>,
}

/// Generates the scenario's events, in day order.
pub fn generate(settings: &GenerateSettings) -> Vec<Event> {
    let mut rng = StdRng::seed_from_u64(settings.seed);
    let mut events = Vec::new();
    let event = |day: u32, kind: EventKind| Event { line: 0, day, kind };

    let supplier_count = settings.products.div_ceil(5).clamp(1, 12) as usize;
    let suppliers: Vec<SupplierProfile> = (0..supplier_count)
        .map(|i| SupplierProfile {
            name: format!("Supplier {}", i + 1),
            lead_days: rng.random_range(7..=35),
            on_time: rng.random_range(0.40..0.95),
            mean_late_days: rng.random_range(2.0..14.0),
            hold_up: rng.random_range(0.0..0.04),
        })
        .collect();
    for supplier in &suppliers {
        events.push(event(
            0,
            EventKind::Supplier {
                name: supplier.name.clone(),
                lead_days: Some(supplier.lead_days),
            },
        ));
    }

    let mut products: Vec<ProductState> = (0..settings.products)
        .map(|i| {
            let supplier = rng.random_range(0..supplier_count);
            // Log-uniform from a unit every five days to five a day.
            let base_rate = (rng.random_range((0.2f64).ln()..(5.0f64).ln())).exp();
            let lead = f64::from(suppliers[supplier].lead_days);
            let opening_days = lead + rng.random_range(5.0..40.0);
            ProductState {
                sku: Sku::parse(&format!("P{:03}", i + 1)).unwrap_or_else(|_| unreachable!()),
                supplier,
                base_rate,
                drift: 1.0,
                season_amplitude: rng.random_range(0.0..0.4),
                season_phase: rng.random_range(0.0..1.0),
                rate_estimate: base_rate,
                cycle_days: rng.random_range(20.0..45.0),
                net_stock: (base_rate * opening_days).round() as i64,
                on_order: 0,
                arriving: Vec::new(),
            }
        })
        .collect();
    for product in &products {
        events.push(event(
            0,
            EventKind::Product {
                sku: product.sku.clone(),
                supplier: Some(suppliers[product.supplier].name.clone()),
                on_hand: u32::try_from(product.net_stock).unwrap_or(0),
            },
        ));
    }

    let mut order_number = 0u32;
    let mut po_number = 0u32;
    let mut order_of_products: Vec<usize> = (0..products.len()).collect();
    for day in 0..settings.days {
        for product in &mut products {
            let arrived: i64 = product
                .arriving
                .iter()
                .filter(|&&(d, _)| d == day)
                .map(|&(_, units)| units)
                .sum();
            product.arriving.retain(|&(d, _)| d != day);
            product.net_stock += arrived;
            product.on_order -= arrived;
            if day % 30 == 0 && day > 0 {
                product.drift = (product.drift * rng.random_range(0.75..1.33)).clamp(0.4, 2.5);
            }
        }

        // Customers, in a shuffled product order so queues interleave.
        for i in (1..order_of_products.len()).rev() {
            let j = rng.random_range(0..=i);
            order_of_products.swap(i, j);
        }
        for &at in &order_of_products {
            let product = &mut products[at];
            let season = 1.0
                + product.season_amplitude
                    * (std::f64::consts::TAU * (f64::from(day) / 365.0 + product.season_phase))
                        .sin();
            let rate = product.base_rate * product.drift * season;
            let mut demanded = 0i64;
            for _ in 0..poisson(&mut rng, rate / MEAN_ORDER_UNITS) {
                let units = order_units(&mut rng);
                order_number += 1;
                demanded += i64::from(units);
                events.push(event(
                    day,
                    EventKind::Order {
                        number: format!("O-{order_number}"),
                        sku: product.sku.clone(),
                        quantity: quantity(units),
                    },
                ));
            }
            product.net_stock -= demanded;
            product.rate_estimate = 0.97 * product.rate_estimate + 0.03 * demanded as f64;
        }

        // The buyer's end-of-day review.
        for product in &mut products {
            let supplier = &suppliers[product.supplier];
            let lead = f64::from(supplier.lead_days);
            let reorder_point = (product.rate_estimate * (lead + 3.0)).ceil() as i64;
            let position = product.net_stock + product.on_order;
            if position > reorder_point {
                continue;
            }
            let batch = (product.rate_estimate * product.cycle_days).ceil().max(5.0) as i64;
            let batches = (reorder_point - position) / batch + 1;
            let units = u32::try_from(batch * batches)
                .unwrap_or(Quantity::MAX)
                .min(Quantity::MAX);
            let expected_day = day + supplier.lead_days;
            let arrives_day =
                (i64::from(expected_day) + supplier.slip(&mut rng)).max(i64::from(day) + 1) as u32;
            po_number += 1;
            product.on_order += i64::from(units);
            product.arriving.push((arrives_day, i64::from(units)));
            events.push(event(
                day,
                EventKind::PurchaseOrder {
                    reference: format!("PO-{po_number}"),
                    sku: product.sku.clone(),
                    quantity: quantity(units),
                    expected_day,
                    arrives_day,
                },
            ));
        }
    }
    events
}

const MEAN_ORDER_UNITS: f64 = 0.60 + 0.25 * 2.0 + 0.10 * 3.0 + 0.05 * 6.0;

/// Units on one order: mostly one, sometimes a handful.
fn order_units(rng: &mut StdRng) -> u32 {
    match rng.random_range(0..100) {
        0..60 => 1,
        60..85 => 2,
        85..95 => 3,
        _ => rng.random_range(4..=8),
    }
}

fn quantity(units: u32) -> Quantity {
    Quantity::new(units.clamp(1, Quantity::MAX)).unwrap_or_else(|_| unreachable!())
}

/// Knuth's method; rates here stay small.
fn poisson(rng: &mut StdRng, mean: f64) -> u32 {
    if mean <= 0.0 {
        return 0;
    }
    let limit = (-mean).exp();
    let mut product = 1.0;
    let mut count = 0;
    loop {
        product *= rng.random::<f64>();
        if product <= limit {
            return count;
        }
        count += 1;
    }
}

fn exponential(rng: &mut StdRng, mean: f64) -> f64 {
    -mean.max(0.0) * (1.0 - rng.random::<f64>()).ln()
}
