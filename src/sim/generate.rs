//! A made-up but plausible shop history for `simulate --generate`: suppliers
//! that keep their dates more or less well, products whose demand drifts and
//! follows a season, and a buyer who reorders when the stock position (on
//! hand + on order - backordered) falls to a reorder point.
//! The buyer only knows the quoted lead time; the suppliers' real slips are
//! written into `arrives_day` for the replay to reveal on the day, and their
//! true slip distribution into the supplier's `truth` for `simulate --oracle`.
//!
//! Two worlds ([`Profile`]), so the engine is not tuned to one:
//! 1. suppliers on time 40-95%, late deliveries exponential with a mean of
//!    2-14 days, hold-ups 0-4%; the buyer reorders at the demand of the quoted
//!    lead time + 3 days, re-estimating the demand as it goes.
//! 2. suppliers on time 55-97%, late deliveries gamma-distributed (shape 2-4)
//!    with a mean of 2-12 days, hold-ups 0-2%; the buyer reorders a fixed
//!    quantity at a fixed reorder point with 0-10 days of safety stock, both
//!    set once from the demand as first estimated.

use clap::ValueEnum;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::scenario::{Event, EventKind};
use crate::domain::{Quantity, Sku, SlipDistribution};

/// Which world to generate (see the module notes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Profile {
    /// Suppliers on time 40-95%, exponential late deliveries (mean 2-14 days), a
    /// buyer ordering on the quoted lead time's demand.
    #[default]
    #[value(name = "1")]
    One,
    /// On time 55-97%, gamma late deliveries (mean 2-12 days), a buyer with a fixed
    /// reorder point and safety stock.
    #[value(name = "2")]
    Two,
}

/// What to generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GenerateSettings {
    /// Days of customer demand (days 0 to days - 1).
    pub days: u32,
    /// Seed: the same seed gives the same scenario.
    pub seed: u64,
    /// Number of products.
    pub products: u32,
    /// Which world.
    pub profile: Profile,
}

/// How a supplier really delivers: what `simulate --oracle` knows.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupplierTruth {
    /// Chance a purchase order comes on or before its expected day (on the
    /// day 60%, a day early 25%, two to four days early 15%).
    pub on_time: f64,
    /// Mean days late when it is late (1 + a rounded gamma variable).
    pub late_mean_days: f64,
    /// Shape of that gamma variable (1: exponential).
    pub late_shape: u32,
    /// Chance of a rare long hold-up (customs, a factory stop) of 15-40 days on top.
    pub hold_up: f64,
}

/// Early days of an on-time delivery and their shares.
const ON_TIME_SLIPS: [(i64, f64); 5] = [(0, 0.60), (-1, 0.25), (-2, 0.05), (-3, 0.05), (-4, 0.05)];
const HOLD_UP_DAYS: std::ops::RangeInclusive<i64> = 15..=40;

impl SupplierTruth {
    fn slip(&self, rng: &mut StdRng) -> i64 {
        let mut slip = if rng.random_bool(self.on_time) {
            match rng.random_range(0..100) {
                0..60 => 0,
                60..85 => -1,
                _ => -rng.random_range(2..=4),
            }
        } else {
            let scale = (self.late_mean_days - 1.0) / f64::from(self.late_shape.max(1));
            let late: f64 = (0..self.late_shape.max(1))
                .map(|_| exponential(rng, scale))
                .sum();
            1 + late.round() as i64
        };
        if rng.random_bool(self.hold_up) {
            slip += rng.random_range(HOLD_UP_DAYS);
        }
        slip
    }

    /// The exact distribution [`SupplierTruth::slip`] draws from.
    pub fn distribution(&self) -> SlipDistribution {
        let shape = self.late_shape.max(1);
        let scale = ((self.late_mean_days - 1.0) / f64::from(shape)).max(1e-9);
        // P(gamma <= x), the Erlang form for a whole shape.
        let cdf = |x: f64| -> f64 {
            if x <= 0.0 {
                return 0.0;
            }
            let z = x / scale;
            let mut term = 1.0;
            let mut sum = 1.0;
            for n in 1..shape {
                term *= z / f64::from(n);
                sum += term;
            }
            1.0 - (-z).exp() * sum
        };
        let first = -4i64;
        let mut base = vec![0.0; 5];
        for (slip, share) in ON_TIME_SLIPS {
            base[(slip - first) as usize] += self.on_time * share;
        }
        // Late: 1 + round(gamma), until what is left is negligible.
        let mut j = 0i64;
        loop {
            let mass = cdf(j as f64 + 0.5) - cdf(j as f64 - 0.5);
            base.push((1.0 - self.on_time) * mass);
            j += 1;
            if 1.0 - cdf(j as f64 - 0.5) < 1e-12 || j > 2000 {
                break;
            }
        }
        // A hold-up adds 15-40 days, uniformly.
        let width = (HOLD_UP_DAYS.end() - HOLD_UP_DAYS.start() + 1) as usize;
        let mut mass = vec![0.0; base.len() + *HOLD_UP_DAYS.end() as usize];
        for (at, &m) in base.iter().enumerate() {
            mass[at] += (1.0 - self.hold_up) * m;
            for extra in HOLD_UP_DAYS.clone() {
                mass[at + extra as usize] += self.hold_up * m / width as f64;
            }
        }
        SlipDistribution::new(first as i32, mass, 0.0, (-1.0 / scale).exp())
    }
}

/// How a supplier really delivers.
struct SupplierProfile {
    name: String,
    lead_days: u32,
    truth: SupplierTruth,
}

impl SupplierProfile {
    fn slip(&self, rng: &mut StdRng) -> i64 {
        self.truth.slip(rng)
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
    /// Profile 2: the fixed reorder point and order quantity.
    fixed_reorder: Option<(i64, i64)>,
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
        .map(|i| {
            let name = format!("Supplier {}", i + 1);
            let lead_days = rng.random_range(7..=35);
            let truth = match settings.profile {
                Profile::One => SupplierTruth {
                    on_time: rng.random_range(0.40..0.95),
                    late_mean_days: rng.random_range(2.0..14.0),
                    late_shape: 1,
                    hold_up: rng.random_range(0.0..0.04),
                },
                Profile::Two => SupplierTruth {
                    on_time: rng.random_range(0.55..0.97),
                    late_mean_days: rng.random_range(2.0..12.0),
                    late_shape: rng.random_range(2..=4),
                    hold_up: rng.random_range(0.0..0.02),
                },
            };
            SupplierProfile {
                name,
                lead_days,
                truth,
            }
        })
        .collect();
    for supplier in &suppliers {
        events.push(event(
            0,
            EventKind::Supplier {
                name: supplier.name.clone(),
                lead_days: Some(supplier.lead_days),
                truth: Some(supplier.truth),
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
            // Drawn in this order so profile 1 keeps the scenarios it always had.
            let season_amplitude = rng.random_range(0.0..0.4);
            let season_phase = rng.random_range(0.0..1.0);
            let cycle_days = rng.random_range(20.0..45.0);
            let fixed_reorder = match settings.profile {
                Profile::One => None,
                Profile::Two => {
                    let safety_days = rng.random_range(0.0..10.0);
                    Some((
                        (base_rate * (lead + safety_days)).ceil() as i64,
                        (base_rate * cycle_days).ceil().max(5.0) as i64,
                    ))
                }
            };
            ProductState {
                sku: Sku::parse(&format!("P{:03}", i + 1)).unwrap_or_else(|_| unreachable!()),
                supplier,
                base_rate,
                drift: 1.0,
                season_amplitude,
                season_phase,
                rate_estimate: base_rate,
                cycle_days,
                fixed_reorder,
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
            let (reorder_point, batch) = product.fixed_reorder.unwrap_or_else(|| {
                (
                    (product.rate_estimate * (lead + 3.0)).ceil() as i64,
                    (product.rate_estimate * product.cycle_days).ceil().max(5.0) as i64,
                )
            });
            let position = product.net_stock + product.on_order;
            if position > reorder_point {
                continue;
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The oracle knows the truth only if [`SupplierTruth::distribution`] is
    /// what [`SupplierTruth::slip`] draws from: compare with 200,000 draws.
    #[test]
    fn the_true_distribution_is_what_the_generator_draws() {
        let truths = [
            SupplierTruth {
                on_time: 0.6,
                late_mean_days: 9.0,
                late_shape: 1,
                hold_up: 0.03,
            },
            SupplierTruth {
                on_time: 0.8,
                late_mean_days: 6.5,
                late_shape: 3,
                hold_up: 0.01,
            },
        ];
        let mut rng = StdRng::seed_from_u64(5);
        for truth in truths {
            let draws = 200_000;
            let mut slips: Vec<i64> = (0..draws).map(|_| truth.slip(&mut rng)).collect();
            slips.sort_unstable();
            let distribution = truth.distribution();
            for days in [-3, -1, 0, 1, 2, 4, 7, 10, 15, 25, 40] {
                let seen = slips.partition_point(|&s| s <= days) as f64 / draws as f64;
                let said = 1.0 - distribution.share_later_than(days);
                assert!(
                    (seen - said).abs() < 0.005,
                    "{truth:?} P(slip <= {days}): drawn {seen}, said {said}"
                );
            }
        }
    }
}
