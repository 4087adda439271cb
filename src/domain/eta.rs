//! When each waiting line will ship (DESIGN §4.6-4.7): the queue's cumulative
//! demand against supply in the order it is likely to arrive, sampled from the
//! supplier's slip history so the dates told are kept about as often as said.
//!
//! Choices made here, for whoever tunes them (measured in ETA.md):
//! - A purchase order not yet received arrives after `today` (today's receipts
//!   are booked before ETAs are computed; the simulation does exactly that).
//!   Its slip is drawn from its supplier's estimated slips conditioned on being
//!   larger than the days it is already overdue (DESIGN §4.7).
//! - The estimate ([`SlipPrior::supplier_estimate`], module notes of
//!   `reliability.rs`): the supplier's deliveries, its unreceived orders as
//!   censored slips, and the shop's pooled slips as the prior, shrunk toward the
//!   supplier's own as its deliveries accumulate.
//! - A shop with no evidence at all (no delivery and no order past its date
//!   anywhere) has nothing to go by: an order arrives on its expected date
//!   (tomorrow if that has passed), and likely and worst are the same date.
//!   Products without a supplier do the same.
//! - Lines past all known supply get a reorder placed today: `today + lead
//!   time` (the letter of DESIGN §4.6, no handling days: it is a rough
//!   estimate) plus a slip drawn as above, but never before the last known
//!   purchase order lands, since they need its units too.
//! - Handling days (receiving to shelf) are added to every purchase order.
//! - One sample pass over a product's purchase orders serves its whole queue;
//!   the seed is fixed, so the same shop state gives the same dates.

use std::fmt;

use chrono::{Days, NaiveDate};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};

use super::allocation::WaitingLine;
use super::calibration::PromiseRecord;
use super::format::{human_date, ordinal, units_phrase};
use super::reliability::{Reliability, SlipDistribution, SlipHistory, SlipPrior, nearest_rank};
use super::types::Sku;

/// The fixed seed: the same shop state always gives the same dates, so a page
/// reload or a second email never shows a different ETA.
pub const DEFAULT_SEED: u64 = 0x0BAC_C0DE_2024;

/// Shop settings for ETAs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EtaSettings {
    /// Monte Carlo samples per product (a few hundred keep percentiles steady).
    pub samples: u32,
    /// The percentile told to customers as the worst case (90 by default).
    pub worst_percentile: u8,
    /// Days from a purchase order's arrival to units on the shelf.
    pub handling_days: u32,
    /// Seed of the sampler.
    pub seed: u64,
}

impl Default for EtaSettings {
    fn default() -> Self {
        EtaSettings {
            samples: 400,
            worst_percentile: 90,
            handling_days: 0,
            seed: DEFAULT_SEED,
        }
    }
}

/// An open purchase order line for the product.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IncomingPurchaseOrder {
    /// The purchase order's reference, e.g. "PO-1042".
    pub reference: String,
    /// Units ordered and not yet received.
    pub outstanding_units: u32,
    /// The currently expected arrival date.
    pub expected_on: NaiveDate,
}

/// The product's supplier. Its open purchase orders are taken to be with this
/// supplier, so they draw from its history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SupplierFacts {
    /// Name, for people.
    pub name: String,
    /// Days from ordering to arrival, if the shop knows it.
    pub lead_time_days: Option<u32>,
    /// Slips of the supplier's received purchase orders.
    pub slips: SlipHistory,
    /// Expected dates of the supplier's purchase orders (for any product) not
    /// received at all yet. Those already overdue are slips still running: each
    /// is known to be larger than the days it is overdue (right-censored).
    pub unreceived_expected_on: Vec<NaiveDate>,
}

/// Everything that can refill a product, as loaded for an ETA.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProductSupply {
    /// The product.
    pub sku: Sku,
    /// Free units now (zero while anyone waits, in a consistent shop).
    pub available_now: u32,
    /// Open purchase order lines, in any order.
    pub incoming: Vec<IncomingPurchaseOrder>,
    /// The supplier, if the product has one.
    pub supplier: Option<SupplierFacts>,
    /// The shop's pooled slips ([`SlipPrior::new`] over every supplier).
    pub prior: SlipPrior,
    /// A pre-order's release day: nothing ships before it, so no date is earlier than
    /// the release day plus the handling days.
    pub release_on: Option<NaiveDate>,
    /// How the shop's recent promises fared: the worst case's level is
    /// calibrated from it ([`PromiseRecord::worst_level_bp`]).
    pub promises: PromiseRecord,
}

/// What covers a line's units, in the plain walk by expected dates.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CoveredBy {
    /// Units on the shelf now.
    StockNow,
    /// The purchase order whose units complete the line.
    PurchaseOrder {
        /// Its reference.
        reference: String,
        /// Units it brings.
        units: u32,
        /// Its expected date.
        expected_on: NaiveDate,
    },
    /// Past all known supply: the supplier's lead time.
    LeadTimeEstimate {
        /// The lead time used.
        lead_time_days: u32,
    },
    /// Past all known supply, with no lead time to go by.
    Unknown,
}

/// The supplier as a reason mentions it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SupplierNote {
    /// Name.
    pub name: String,
    /// Its record, if any purchase order was received.
    pub reliability: Option<Reliability>,
}

/// Why a line gets its ETA, as data; [`EtaReason::to_sentence`] says it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EtaReason {
    /// The day the projection was made (dates are worded against it).
    pub as_of: NaiveDate,
    /// Place in the product's queue, 1-based.
    pub position: u32,
    /// The product.
    pub sku: Sku,
    /// What covers the line.
    pub covered_by: CoveredBy,
    /// The supplier, when the line waits on one.
    pub supplier: Option<SupplierNote>,
    /// A pre-order's release day, while it is still ahead.
    pub releases_on: Option<NaiveDate>,
}

/// A waiting line's projected ship date.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LineEta {
    /// Median date over the samples: what reps see as likely.
    pub likely: Option<NaiveDate>,
    /// The configured percentile: the date told to the customer.
    pub worst: Option<NaiveDate>,
    /// The naive covering date from expected dates alone (for comparison).
    pub expected: Option<NaiveDate>,
    /// True when the line is past all known supply and dated by lead time.
    pub is_estimate: bool,
    /// Why.
    pub reason: EtaReason,
}

/// ETAs for a product's whole queue: `result[i]` belongs to `queue[i]`, and
/// `queue` must be in queue order (see [`super::sort_queue`]). Dates never go
/// earlier further back in the queue.
pub fn project_queue(
    today: NaiveDate,
    supply: &ProductSupply,
    queue: &[WaitingLine],
    settings: &EtaSettings,
) -> Vec<LineEta> {
    project_queue_after(today, supply, &QueueAhead::default(), queue, settings)
}

/// What waits ahead of a stretch of the queue: all a line's date needs of the lines
/// before it, since a line ships when supply covers the demand up to and including it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueAhead {
    /// Units still waiting ahead.
    pub units: u64,
    /// Lines waiting ahead.
    pub lines: u32,
    /// The likely date of the line just ahead: dates never go earlier further back,
    /// so it is the floor of the stretch's likely dates.
    pub likely: Option<NaiveDate>,
    /// The worst-case date of the line just ahead, the floor of the stretch's.
    pub worst: Option<NaiveDate>,
}

/// ETAs of the lines at the back of the queue, from what waits ahead of them, without
/// the lines ahead themselves: `result[i]` belongs to `queue[i]`. With `ahead` taken
/// from the same projection of the whole queue, the dates are the whole queue's
/// ([`project_queue`]), so an order at the end of a long queue is dated at the cost of
/// a short one.
pub fn project_queue_after(
    today: NaiveDate,
    supply: &ProductSupply,
    ahead: &QueueAhead,
    queue: &[WaitingLine],
    settings: &EtaSettings,
) -> Vec<LineEta> {
    let waiting: Vec<u32> = queue.iter().map(|line| line.waiting_units).collect();
    project(
        today,
        supply,
        ahead,
        &waiting,
        settings,
        supply.promises.worst_level_bp(settings.worst_percentile),
        supply_slips(today, supply).as_ref(),
    )
}

/// [`project_queue`] with the slips drawn from `slips` instead of the estimate
/// from the supplier's evidence (None: purchase orders come on their expected
/// dates), and the worst case at the percentile itself, not calibrated from
/// the shop's record. `simulate --oracle` scores a promiser that knows each
/// supplier's true slips this way, through the very same queue walk.
pub fn project_queue_with_slips(
    today: NaiveDate,
    supply: &ProductSupply,
    queue: &[WaitingLine],
    settings: &EtaSettings,
    slips: Option<&SlipDistribution>,
) -> Vec<LineEta> {
    let waiting: Vec<u32> = queue.iter().map(|line| line.waiting_units).collect();
    let level_bp = u32::from(settings.worst_percentile.min(100)) * 100;
    let ahead = QueueAhead::default();
    project(today, supply, &ahead, &waiting, settings, level_bp, slips)
}

/// The slips the product's purchase orders are drawn from, if any evidence.
fn supply_slips(today: NaiveDate, supply: &ProductSupply) -> Option<SlipDistribution> {
    let supplier = supply.supplier.as_ref()?;
    supply.prior.supplier_estimate(
        today,
        supplier.slips.slips(),
        &supplier.unreceived_expected_on,
    )
}

/// The ETA a new order for one unit would get: a line appended to the queue.
pub fn eta_for_new_order(
    today: NaiveDate,
    supply: &ProductSupply,
    queue: &[WaitingLine],
    settings: &EtaSettings,
) -> LineEta {
    let mut waiting: Vec<u32> = queue.iter().map(|line| line.waiting_units).collect();
    waiting.push(1);
    let mut etas = project(
        today,
        supply,
        &QueueAhead::default(),
        &waiting,
        settings,
        supply.promises.worst_level_bp(settings.worst_percentile),
        supply_slips(today, supply).as_ref(),
    );
    match etas.pop() {
        Some(eta) => eta,
        // Unreachable (one line in, one out), but an unknown date is the honest fallback.
        None => LineEta {
            likely: None,
            worst: None,
            expected: None,
            is_estimate: false,
            reason: EtaReason {
                as_of: today,
                position: 1,
                sku: supply.sku.clone(),
                covered_by: CoveredBy::Unknown,
                supplier: None,
                releases_on: supply.release_on.filter(|&release| release > today),
            },
        },
    }
}

/// How one line is covered in the plain walk.
#[derive(Clone, Copy)]
enum Cover {
    Stock,
    Order(usize),
    Beyond,
}

/// One sample's arrivals and how far the walk down the queue has used them.
struct SampleWalk {
    /// (on the shelf, units), in the order they come.
    arrivals: Vec<(NaiveDate, u32)>,
    /// The date for lines past all known supply (a reorder placed today), if any.
    past_supply: Option<NaiveDate>,
    supplied: u64,
    next: usize,
    covering: NaiveDate,
}

impl SampleWalk {
    /// The date that covers `demanded` units, the queue's demand through the next line.
    fn date_covering(&mut self, demanded: u64) -> Option<NaiveDate> {
        while self.supplied < demanded && self.next < self.arrivals.len() {
            let (date, units) = self.arrivals[self.next];
            self.supplied += u64::from(units);
            self.covering = date;
            self.next += 1;
        }
        if self.supplied >= demanded {
            Some(self.covering)
        } else {
            self.past_supply
        }
    }
}

fn project(
    today: NaiveDate,
    supply: &ProductSupply,
    ahead: &QueueAhead,
    waiting: &[u32],
    settings: &EtaSettings,
    worst_level_bp: u32,
    model: Option<&SlipDistribution>,
) -> Vec<LineEta> {
    let mut orders: Vec<&IncomingPurchaseOrder> = supply
        .incoming
        .iter()
        .filter(|po| po.outstanding_units > 0)
        .collect();
    orders.sort_by_key(|po| po.expected_on);
    let tomorrow = today.succ_opt().unwrap_or(today);
    let handling = Days::new(u64::from(settings.handling_days));
    let on_shelf = |arrival: NaiveDate| arrival.checked_add_days(handling).unwrap_or(arrival);
    let lead_time_days = supply.supplier.as_ref().and_then(|s| s.lead_time_days);
    let lead_date = lead_time_days.and_then(|d| today.checked_add_days(Days::new(u64::from(d))));

    let covers = plain_walk(supply.available_now, &orders, ahead.units, waiting);

    // A reorder placed today, for lines past all known supply.
    let reorder = lead_time_days.map(|lead| -i64::from(lead));
    let samples = match model {
        Some(_) if !orders.is_empty() || reorder.is_some() => settings.samples.max(1) as usize,
        _ => 1,
    };
    // Each sample draws its arrivals first (in the same order as ever, so a seed gives the
    // same dates), then the queue is walked once, every sample a step at each line: only
    // one line's dates are held at a time, not a line-by-sample table (10,000 lines at
    // 400 samples were 20 MB).
    let mut rng = StdRng::seed_from_u64(settings.seed);
    let mut walks: Vec<SampleWalk> = (0..samples)
        .map(|_| {
            let mut arrivals: Vec<(NaiveDate, u32)> = orders
                .iter()
                .map(|po| {
                    let arrival = match model {
                        Some(model) => {
                            let overdue = (today - po.expected_on).num_days();
                            let slip = model.draw_later_than(overdue, &mut rng);
                            po.expected_on
                                .checked_add_signed(chrono::Duration::days(slip))
                                .map_or(tomorrow, |arrival| arrival.max(tomorrow))
                        }
                        None => po.expected_on.max(tomorrow),
                    };
                    (on_shelf(arrival), po.outstanding_units)
                })
                .collect();
            arrivals.sort_by_key(|&(date, _)| date);
            let last_arrival = arrivals.last().map(|&(date, _)| date);
            let reordered = match (model, reorder, lead_date) {
                (Some(model), Some(given), Some(lead)) => {
                    let slip = model.draw_later_than(given, &mut rng);
                    lead.checked_add_signed(chrono::Duration::days(slip))
                        .map(|arrival| arrival.max(tomorrow))
                }
                _ => lead_date,
            };
            SampleWalk {
                arrivals,
                past_supply: reordered.map(|lead| last_arrival.map_or(lead, |last| last.max(lead))),
                supplied: u64::from(supply.available_now),
                next: 0,
                covering: today,
            }
        })
        .collect();

    let supplier_note = supply.supplier.as_ref().map(|s| SupplierNote {
        name: s.name.clone(),
        reliability: s.slips.reliability(),
    });
    // A pre-order ships on its release day at the earliest (after handling).
    let releases_on = supply.release_on.filter(|&release| release > today);
    let release_floor = releases_on.map(on_shelf);
    // `Option`'s order puts None first: the larger of the two floors, if any.
    let mut floor_likely: Option<NaiveDate> = release_floor.max(ahead.likely);
    let mut floor_worst: Option<NaiveDate> = release_floor.max(ahead.worst);
    let mut demanded = ahead.units;
    let mut line_dates: Vec<NaiveDate> = Vec::with_capacity(samples);
    let mut etas = Vec::with_capacity(waiting.len());
    for (line, (cover, &units)) in covers.into_iter().zip(waiting).enumerate() {
        // Arrivals in the order they come cover the cumulative demand.
        demanded += u64::from(units);
        line_dates.clear();
        line_dates.extend(
            walks
                .iter_mut()
                .filter_map(|walk| walk.date_covering(demanded)),
        );
        line_dates.sort_unstable();
        // Each sample is ordered along the queue, so its percentiles are too;
        // the running maximum only guards that promise against rounding.
        let likely = nearest_rank(&line_dates, 50).map(|d| floor_likely.map_or(d, |f| f.max(d)));
        let worst =
            closest_date(&line_dates, worst_level_bp).map(|d| floor_worst.map_or(d, |f| f.max(d)));
        floor_likely = likely.or(floor_likely);
        floor_worst = worst.or(floor_worst);
        let (covered_by, expected) = match cover {
            Cover::Stock => (CoveredBy::StockNow, Some(today)),
            Cover::Order(at) => {
                let po = orders[at];
                (
                    CoveredBy::PurchaseOrder {
                        reference: po.reference.clone(),
                        units: po.outstanding_units,
                        expected_on: po.expected_on,
                    },
                    Some(on_shelf(po.expected_on.max(tomorrow))),
                )
            }
            Cover::Beyond => match lead_time_days {
                Some(lead_time_days) => (CoveredBy::LeadTimeEstimate { lead_time_days }, lead_date),
                None => (CoveredBy::Unknown, None),
            },
        };
        let is_estimate = matches!(covered_by, CoveredBy::LeadTimeEstimate { .. });
        let supplier = match covered_by {
            CoveredBy::StockNow => None,
            _ => supplier_note.clone(),
        };
        etas.push(LineEta {
            likely,
            worst,
            expected,
            is_estimate,
            reason: EtaReason {
                as_of: today,
                position: u32::try_from(line + 1)
                    .unwrap_or(u32::MAX)
                    .saturating_add(ahead.lines),
                sku: supply.sku.clone(),
                covered_by,
                supplier,
                releases_on,
            },
        });
    }
    etas
}

/// The date whose share of samples on or before it is closest to `level_bp`
/// basis points (ties go to the later date). Ship dates come in whole days
/// with heavy atoms (an on-time purchase order lands many samples on one
/// day), so the first date reaching the level (nearest rank) is often kept
/// far more often than said: 97% instead of 90% when the day before holds
/// 85%. Taking the closer of the two keeps the promise's level true on
/// average.
fn closest_date(sorted: &[NaiveDate], level_bp: u32) -> Option<NaiveDate> {
    if sorted.is_empty() {
        return None;
    }
    let n = sorted.len();
    let level_bp = level_bp.min(10_000);
    let rank = (level_bp as usize * n).div_ceil(10_000).max(1);
    let reached = sorted[rank - 1];
    let target = f64::from(level_bp) / 10_000.0;
    let before = sorted.partition_point(|&d| d < reached);
    let through = sorted.partition_point(|&d| d <= reached);
    if before == 0 {
        return Some(reached);
    }
    let share_before = before as f64 / n as f64;
    let share_through = through as f64 / n as f64;
    if target - share_before < share_through - target {
        Some(sorted[before - 1])
    } else {
        Some(reached)
    }
}

/// Which supply completes each line when purchase orders come on their
/// expected dates; whether a line is past all known supply does not depend on
/// when they come, only on how many units they bring.
fn plain_walk(
    available: u32,
    orders: &[&IncomingPurchaseOrder],
    ahead_units: u64,
    waiting: &[u32],
) -> Vec<Cover> {
    let mut supplied = u64::from(available);
    let mut demanded = ahead_units;
    let mut next = 0;
    waiting
        .iter()
        .map(|&units| {
            demanded += u64::from(units);
            while supplied < demanded && next < orders.len() {
                supplied += u64::from(orders[next].outstanding_units);
                next += 1;
            }
            match next {
                _ if supplied < demanded => Cover::Beyond,
                0 => Cover::Stock,
                n => Cover::Order(n - 1),
            }
        })
        .collect()
}

impl EtaReason {
    /// "4th in line for SKU-123; PO-1042 brings 40 units on Tue 3 Dec;
    /// supplier on time 87%, usually 2 days late".
    pub fn to_sentence(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for EtaReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(release) = self.releases_on {
            write!(
                f,
                "pre-order: releases on {}; ",
                human_date(release, self.as_of)
            )?;
        }
        write!(f, "{} in line for {}; ", ordinal(self.position), self.sku)?;
        match &self.covered_by {
            CoveredBy::StockNow => f.write_str("in stock now")?,
            CoveredBy::PurchaseOrder {
                reference,
                units,
                expected_on,
            } => {
                let units = units_phrase(u64::from(*units), "unit");
                let date = human_date(*expected_on, self.as_of);
                let overdue = (self.as_of - *expected_on).num_days();
                if overdue > 0 {
                    let late = units_phrase(overdue.unsigned_abs(), "day");
                    write!(f, "{reference} brings {units}, due {date} and {late} overdue")?;
                } else {
                    write!(f, "{reference} brings {units} on {date}")?;
                }
            }
            CoveredBy::LeadTimeEstimate { lead_time_days } => write!(
                f,
                "past all incoming purchase orders, estimated from the supplier's {lead_time_days}-day lead time"
            )?,
            CoveredBy::Unknown => f.write_str(
                "past all incoming purchase orders and no supplier lead time is known, so no date yet",
            )?,
        }
        match &self.supplier {
            Some(SupplierNote {
                reliability: Some(reliability),
                ..
            }) => write!(f, "; supplier {reliability}"),
            Some(SupplierNote {
                reliability: None, ..
            }) => f.write_str("; supplier has no delivery history yet"),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::reliability::SupplierEvidence;
    use proptest::prelude::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 11, 20).unwrap()
    }

    fn in_days(days: i64) -> NaiveDate {
        today() + chrono::Duration::days(days)
    }

    fn po(reference: &str, units: u32, expected_in: i64) -> IncomingPurchaseOrder {
        IncomingPurchaseOrder {
            reference: reference.to_owned(),
            outstanding_units: units,
            expected_on: in_days(expected_in),
        }
    }

    fn supply(
        available: u32,
        incoming: Vec<IncomingPurchaseOrder>,
        supplier: Option<SupplierFacts>,
    ) -> ProductSupply {
        ProductSupply {
            sku: Sku::parse("SKU-123").unwrap(),
            available_now: available,
            incoming,
            supplier,
            prior: SlipPrior::default(),
            release_on: None,
            promises: PromiseRecord::default(),
        }
    }

    #[test]
    fn a_preorder_never_ships_before_its_release_day() {
        let settings = EtaSettings {
            handling_days: 1,
            ..EtaSettings::default()
        };
        // Stock on the shelf and a purchase order due before the release in 10 days.
        let mut preorder = supply(1, vec![po("PO-1", 5, 3)], supplier(Some(7), &[]));
        preorder.release_on = Some(in_days(10));
        let etas = project_queue(today(), &preorder, &queue(&[1, 2, 10]), &settings);
        for eta in &etas[..2] {
            assert_eq!(eta.likely, Some(in_days(11)));
            assert_eq!(eta.worst, Some(in_days(11)));
            assert!(
                eta.reason
                    .to_sentence()
                    .starts_with("pre-order: releases on Sat 30 Nov; "),
                "{}",
                eta.reason
            );
        }
        // Past all supply: the lead time from today (27 Nov) is still before the release.
        assert_eq!(etas[2].worst, Some(in_days(11)));
        // A release far away moves even the lead-time estimate.
        preorder.release_on = Some(in_days(40));
        let eta = eta_for_new_order(today(), &preorder, &queue(&[3]), &settings);
        assert_eq!(eta.worst, Some(in_days(41)));
        // On the release day the clamp is gone and the reason says nothing of it.
        preorder.release_on = Some(today());
        let etas = project_queue(today(), &preorder, &queue(&[1]), &settings);
        assert_eq!(etas[0].worst, Some(today()));
        assert!(etas[0].reason.releases_on.is_none());
        assert!(!etas[0].reason.to_sentence().contains("pre-order"));
    }

    fn supplier(lead: Option<u32>, slips: &[i32]) -> Option<SupplierFacts> {
        Some(SupplierFacts {
            name: "Acme".to_owned(),
            lead_time_days: lead,
            slips: SlipHistory::new(slips.iter().copied()),
            unreceived_expected_on: Vec::new(),
        })
    }

    fn queue(waiting: &[u32]) -> Vec<WaitingLine> {
        waiting
            .iter()
            .enumerate()
            .map(|(i, &waiting_units)| WaitingLine {
                line_id: i as i64 + 1,
                waiting_units,
            })
            .collect()
    }

    #[test]
    fn covering_dates_walk_stock_then_orders_then_lead_time() {
        let product = supply(
            2,
            vec![po("PO-2", 5, 20), po("PO-1", 10, 10)],
            supplier(Some(30), &[]),
        );
        let etas = project_queue(
            today(),
            &product,
            &queue(&[1, 3, 8, 4, 2]),
            &EtaSettings::default(),
        );
        let worst: Vec<Option<NaiveDate>> = etas.iter().map(|e| e.worst).collect();
        assert_eq!(
            worst,
            [
                Some(today()),
                Some(in_days(10)),
                Some(in_days(10)),
                Some(in_days(20)),
                Some(in_days(30))
            ]
        );
        assert_eq!(etas[1].likely, etas[1].worst, "no history: one date");
        assert!(etas[4].is_estimate && !etas[3].is_estimate);
        assert_eq!(etas[0].reason.covered_by, CoveredBy::StockNow);
        assert!(
            matches!(&etas[3].reason.covered_by, CoveredBy::PurchaseOrder { reference, .. } if reference == "PO-2")
        );
    }

    #[test]
    fn partly_covered_line_takes_the_date_that_covers_it_whole() {
        let product = supply(3, vec![po("PO-1", 10, 5)], supplier(None, &[]));
        let etas = project_queue(today(), &product, &queue(&[5]), &EtaSettings::default());
        assert_eq!(etas[0].worst, Some(in_days(5)));
    }

    #[test]
    fn handling_days_are_added_to_purchase_orders() {
        let product = supply(0, vec![po("PO-1", 10, 5)], supplier(None, &[]));
        let settings = EtaSettings {
            handling_days: 2,
            ..EtaSettings::default()
        };
        let etas = project_queue(today(), &product, &queue(&[1]), &settings);
        assert_eq!(
            (etas[0].likely, etas[0].expected),
            (Some(in_days(7)), Some(in_days(7)))
        );
    }

    #[test]
    fn no_supplier_past_supply_is_unknown() {
        let product = supply(0, vec![po("PO-1", 2, 5)], None);
        let etas = project_queue(today(), &product, &queue(&[2, 1]), &EtaSettings::default());
        assert_eq!(etas[0].worst, Some(in_days(5)));
        assert_eq!(
            (etas[1].likely, etas[1].worst, etas[1].is_estimate),
            (None, None, false)
        );
        assert_eq!(etas[1].reason.covered_by, CoveredBy::Unknown);
    }

    fn worst_and_likely(product: &ProductSupply) -> (i64, i64) {
        let eta = &project_queue(today(), product, &queue(&[4]), &EtaSettings::default())[0];
        let days = |d: Option<NaiveDate>| (d.unwrap() - today()).num_days();
        (days(eta.likely), days(eta.worst))
    }

    #[test]
    fn overdue_orders_draw_only_slips_larger_than_the_delay() {
        // Five days overdue, with a long history of slips 0 to 12 (five each):
        // only 6 to 12 are still possible, i.e. 1 to 7 more days, and the
        // smoothed tail adds a little beyond.
        let slips: Vec<i32> = (0..=12).flat_map(|s| [s; 5]).collect();
        let product = supply(0, vec![po("PO-1", 10, -5)], supplier(Some(30), &slips));
        let (likely, worst) = worst_and_likely(&product);
        assert!((3..=5).contains(&likely), "likely in {likely} days");
        assert!((7..=10).contains(&worst), "worst in {worst} days");
        let eta = &project_queue(today(), &product, &queue(&[4]), &EtaSettings::default())[0];
        assert_eq!(
            eta.expected,
            Some(in_days(1)),
            "the naive date would be tomorrow"
        );
    }

    #[test]
    fn overdue_past_all_history_waits_a_fitted_tail_not_tomorrow() {
        // Twenty days overdue, slips on record at most 3: the supplier is
        // doing worse than ever, so the remaining delay comes from the fitted
        // tail, and the worst case is well after tomorrow.
        let product = supply(0, vec![po("PO-1", 10, -20)], supplier(Some(30), &[1, 2, 3]));
        let (likely, worst) = worst_and_likely(&product);
        assert!(likely >= 2, "likely in {likely} days");
        assert!(
            worst >= likely + 5,
            "worst in {worst} days, likely {likely}"
        );
    }

    #[test]
    fn open_overdue_orders_count_as_slips_at_least_that_long() {
        // The same history, and five of the supplier's other orders still
        // open 25 days past their dates: the not-yet-due order's worst case
        // moves later, since delays that long are plainly happening.
        let slips: Vec<i32> = (0..30).map(|i| i % 3).collect();
        let mut facts = supplier(Some(30), &slips);
        let calm = supply(0, vec![po("PO-1", 10, 10)], facts.clone());
        if let Some(facts) = facts.as_mut() {
            facts.unreceived_expected_on = vec![in_days(-25); 5];
            // Its own date is not overdue: it is not a censored slip.
            facts.unreceived_expected_on.push(in_days(10));
        }
        let stormy = supply(0, vec![po("PO-1", 10, 10)], facts);
        let (_, calm_worst) = worst_and_likely(&calm);
        let (_, stormy_worst) = worst_and_likely(&stormy);
        assert!((12..=14).contains(&calm_worst), "calm worst {calm_worst}");
        assert!(
            stormy_worst >= calm_worst + 3,
            "stormy {stormy_worst}, calm {calm_worst}"
        );
    }

    #[test]
    fn a_young_history_is_trusted_less_than_a_long_one() {
        let young = supply(0, vec![po("PO-1", 10, 10)], supplier(Some(30), &[0, 1]));
        let long_slips: Vec<i32> = (0..40).map(|i| i % 2).collect();
        let long = supply(0, vec![po("PO-1", 10, 10)], supplier(Some(30), &long_slips));
        let (_, young_worst) = worst_and_likely(&young);
        let (_, long_worst) = worst_and_likely(&long);
        assert!((10..=11).contains(&long_worst), "long worst {long_worst}");
        assert!(young_worst >= long_worst + 5, "young {young_worst}");
    }

    #[test]
    fn a_young_history_with_its_late_orders_still_open_does_not_look_good() {
        // Issue 19's reproduction: the supplier's first deliveries came early,
        // its other orders are still open, two of them well overdue. Counting
        // only the deliveries, the promise would be no later than the naive
        // date; with the open orders censored it waits for a late delivery.
        let early = supplier(Some(30), &[-2, -1, -1]);
        let mut open = early.clone();
        if let Some(facts) = open.as_mut() {
            facts.unreceived_expected_on = vec![in_days(-8), in_days(-5), in_days(1)];
        }
        let eta = |facts: &Option<SupplierFacts>| {
            let product = supply(0, vec![po("PO-1", 10, 10)], facts.clone());
            project_queue(today(), &product, &queue(&[4]), &EtaSettings::default())[0].clone()
        };
        let (flattering, honest) = (eta(&early), eta(&open));
        assert_eq!(honest.expected, Some(in_days(10)));
        assert!(honest.worst >= Some(in_days(20)), "{:?}", honest.worst);
        assert!(
            honest.worst.unwrap() >= flattering.worst.unwrap() + chrono::Duration::days(5),
            "honest {:?}, record only {:?}",
            honest.worst,
            flattering.worst
        );
    }

    #[test]
    fn a_new_supplier_is_dated_from_the_shop_pool_not_its_quoted_date() {
        let often_late: Vec<i32> = (0..60).map(|i| if i % 3 == 0 { 12 } else { 0 }).collect();
        let other = [SupplierEvidence {
            slips: &often_late,
            unreceived_expected_on: &[],
        }];
        let mut product = supply(0, vec![po("PO-1", 10, 10)], supplier(Some(30), &[]));
        let settings = EtaSettings::default();
        let quoted = &project_queue(today(), &product, &queue(&[4]), &settings)[0];
        assert_eq!(quoted.worst, Some(in_days(10)), "nothing known anywhere");
        product.prior = SlipPrior::new(today(), &other);
        let pooled = &project_queue(today(), &product, &queue(&[4]), &settings)[0];
        assert!(
            pooled.worst >= Some(in_days(18)),
            "the shop's suppliers are late: {:?}",
            pooled.worst
        );
    }

    #[test]
    fn lead_time_estimate_adds_a_drawn_slip() {
        let slips = [4; 40];
        let product = supply(0, vec![], supplier(Some(14), &slips));
        let settings = EtaSettings {
            handling_days: 1,
            ..EtaSettings::default()
        };
        let eta = &project_queue(today(), &product, &queue(&[1]), &settings)[0];
        assert!(eta.is_estimate);
        assert_eq!(eta.expected, Some(in_days(14)), "the naive estimate");
        assert_eq!(eta.likely, Some(in_days(18)), "lead 14 + slip 4");
        assert!(eta.worst >= eta.likely);
    }

    #[test]
    fn not_yet_due_order_spreads_by_its_history() {
        let slips: Vec<i32> = (0..10).collect();
        let product = supply(0, vec![po("PO-1", 10, 10)], supplier(Some(30), &slips));
        let eta = &project_queue(today(), &product, &queue(&[4]), &EtaSettings::default())[0];
        let likely = eta.likely.unwrap();
        let worst = eta.worst.unwrap();
        assert!((in_days(13)..=in_days(16)).contains(&likely), "{likely}");
        // The record's 90th percentile is a slip of 8; ten deliveries leave the
        // fitted model a say in the tail past 9, so a few days more.
        assert!((in_days(18)..=in_days(22)).contains(&worst), "{worst}");
    }

    #[test]
    fn estimate_past_supply_waits_for_a_late_last_order() {
        let product = supply(0, vec![po("PO-1", 1, 40)], supplier(Some(14), &[]));
        let etas = project_queue(today(), &product, &queue(&[1, 1]), &EtaSettings::default());
        assert_eq!(etas[1].worst, Some(in_days(40)));
        assert!(etas[1].is_estimate);
        assert_eq!(etas[1].expected, Some(in_days(14)));
    }

    #[test]
    fn same_state_same_dates() {
        let product = supply(
            0,
            vec![po("PO-1", 3, 3), po("PO-2", 3, 9)],
            supplier(Some(20), &[-2, 0, 1, 4, 9, 15]),
        );
        let q = queue(&[2, 2, 2, 2]);
        let settings = EtaSettings::default();
        assert_eq!(
            project_queue(today(), &product, &q, &settings),
            project_queue(today(), &product, &q, &settings)
        );
    }

    #[test]
    fn new_order_eta_is_the_end_of_the_queue() {
        let product = supply(0, vec![po("PO-1", 3, 3)], supplier(Some(20), &[]));
        let eta = eta_for_new_order(today(), &product, &queue(&[2]), &EtaSettings::default());
        assert_eq!(eta.reason.position, 2);
        assert_eq!(eta.worst, Some(in_days(3)));
        let full = eta_for_new_order(today(), &product, &queue(&[3]), &EtaSettings::default());
        assert_eq!(full.worst, Some(in_days(20)));
        let in_stock = eta_for_new_order(
            today(),
            &supply(5, vec![], None),
            &[],
            &EtaSettings::default(),
        );
        assert_eq!(in_stock.worst, Some(today()));
        assert_eq!(
            in_stock.reason.to_sentence(),
            "1st in line for SKU-123; in stock now"
        );
    }

    #[test]
    fn reason_reads_as_a_sentence() {
        let slips = [0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 2, 3, 3];
        let product = supply(0, vec![po("PO-1042", 40, 13)], supplier(Some(20), &slips));
        let etas = project_queue(
            today(),
            &product,
            &queue(&[1, 1, 1, 1]),
            &EtaSettings::default(),
        );
        assert_eq!(
            etas[3].reason.to_sentence(),
            "4th in line for SKU-123; PO-1042 brings 40 units on Tue 3 Dec; supplier on time 40%, usually 2 days late"
        );
        let late = supply(0, vec![po("PO-9", 1, -3)], supplier(None, &[]));
        let eta = &project_queue(today(), &late, &queue(&[1, 1]), &EtaSettings::default());
        assert_eq!(
            eta[0].reason.to_string(),
            "1st in line for SKU-123; PO-9 brings 1 unit, due Sun 17 Nov and 3 days overdue; supplier has no delivery history yet"
        );
        assert_eq!(
            eta[1].reason.to_string(),
            "2nd in line for SKU-123; past all incoming purchase orders and no supplier lead time is known, so no date yet; supplier has no delivery history yet"
        );
    }

    proptest! {
        /// Dating only the back of the queue from what waits ahead (what intake does for
        /// a new order, and for the lines behind one that goes in mid-queue) gives every
        /// line the date, place and reason a re-dating of the whole queue gives it.
        #[test]
        fn dating_the_back_of_the_queue_equals_dating_all_of_it(
            available in 0u32..5,
            orders in prop::collection::vec((1u32..8, -10i64..30), 0..5),
            slips in prop::collection::vec(-5i32..25, 0..12),
            lead in prop::option::of(1u32..40),
            release_in in prop::option::of(-3i64..25),
            handling in 0u32..3,
            waiting in prop::collection::vec(0u32..6, 0..14),
            split in 0usize..15,
        ) {
            let incoming = orders
                .iter()
                .enumerate()
                .map(|(i, &(units, due))| po(&format!("PO-{i}"), units, due))
                .collect();
            let mut product = supply(available, incoming, supplier(lead, &slips));
            product.release_on = release_in.map(in_days);
            let settings = EtaSettings { samples: 60, handling_days: handling, ..EtaSettings::default() };
            let whole = queue(&waiting);
            let full = project_queue(today(), &product, &whole, &settings);
            let units = |lines: &[WaitingLine]| lines.iter().map(|l| u64::from(l.waiting_units)).sum::<u64>();
            let ahead_of = |k: usize| QueueAhead {
                units: units(&whole[..k]),
                lines: k as u32,
                likely: k.checked_sub(1).and_then(|i| full[i].likely),
                worst: k.checked_sub(1).and_then(|i| full[i].worst),
            };
            // Any stretch at the back, and a new order at the end: the last line alone.
            let split = split.min(whole.len());
            for k in [split, whole.len().saturating_sub(1)] {
                let back = project_queue_after(today(), &product, &ahead_of(k), &whole[k..], &settings);
                prop_assert_eq!(&back[..], &full[k..]);
                // As intake does it: the lines ahead as one line of all their units, whose
                // date stands for the dates of the line just ahead.
                if k > 0 {
                    let as_one = QueueAhead { lines: k as u32 - 1, ..QueueAhead::default() };
                    let mut lines = vec![WaitingLine { line_id: 0, waiting_units: units(&whole[..k]) as u32 }];
                    lines.extend_from_slice(&whole[k..]);
                    let back = project_queue_after(today(), &product, &as_one, &lines, &settings);
                    prop_assert_eq!(&back[1..], &full[k..]);
                }
            }
        }

        #[test]
        fn etas_never_go_earlier_further_back(
            available in 0u32..5,
            orders in prop::collection::vec((1u32..8, -10i64..30), 0..5),
            slips in prop::collection::vec(-5i32..25, 0..12),
            lead in prop::option::of(1u32..40),
            waiting in prop::collection::vec(0u32..6, 0..12),
        ) {
            let incoming = orders
                .iter()
                .enumerate()
                .map(|(i, &(units, due))| po(&format!("PO-{i}"), units, due))
                .collect();
            let product = supply(available, incoming, supplier(lead, &slips));
            let settings = EtaSettings { samples: 60, ..EtaSettings::default() };
            let etas = project_queue(today(), &product, &queue(&waiting), &settings);
            prop_assert_eq!(etas.len(), waiting.len());
            for pair in etas.windows(2) {
                // None (unknown) sorts after every date: it can only follow.
                let later = |a: Option<NaiveDate>, b: Option<NaiveDate>| match (a, b) {
                    (Some(a), Some(b)) => a <= b,
                    (_, None) => true,
                    (None, Some(_)) => false,
                };
                prop_assert!(later(pair[0].likely, pair[1].likely));
                prop_assert!(later(pair[0].worst, pair[1].worst));
            }
            for eta in &etas {
                if let (Some(likely), Some(worst)) = (eta.likely, eta.worst) {
                    prop_assert!(today() <= likely && likely <= worst);
                }
            }
        }
    }
}
