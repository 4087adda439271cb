//! How late a supplier really delivers (DESIGN §4.7): the slip of each
//! received purchase order, kept sorted, feeds the reliability shown to
//! people; with the supplier's unreceived orders and the shop's pooled
//! evidence it becomes the [`SlipDistribution`] the ETA sampler draws from.
//!
//! The estimate (ETA.md has the measurements and what was tried):
//! - **Censoring.** Every unreceived purchase order is a slip known only to be
//!   larger than `today - expected` days (right-censored, as in Kaplan-Meier):
//!   it counts as at risk on every day it has been seen not to arrive. An order
//!   due in two days that has not come early is evidence against early
//!   deliveries, one ten days overdue is a slip of at least eleven. So a young
//!   history, whose early deliveries are in and whose late ones are still open,
//!   does not look better than the supplier is.
//! - **A model fitted with the shop's pool as its prior.** Each supplier's
//!   slips are first a model of two figures: the share of late deliveries and
//!   their days late (1 + a geometric number, fitted with open overdue orders
//!   adding their days so far). The shop's pooled fit over every supplier is the
//!   prior of each supplier's fit, weighed as [`SlipPrior::strength`]
//!   deliveries for the late share and [`SlipPrior::late_strength`] late
//!   deliveries for the days, so a supplier without deliveries gets the pool
//!   and one with many gets its own.
//! - **Empirical Bayes strengths.** How far suppliers differ from the pool is
//!   read from the spread of their late shares and of their mean days late,
//!   beyond what chance explains (method of moments): suppliers that differ a
//!   lot get a weak prior, suppliers alike a strong one.
//! - **The record itself, day by day.** The fitted model is then the prior of
//!   a beta process on the daily hazard (Hjort 1990): on each day the chance
//!   of arriving, given not before, is the model's and the record's, the model
//!   weighing as [`SlipPrior::strength`] orders beside those at risk that day.
//!   A long record speaks for itself (its shape need not be geometric); where
//!   few orders are left at risk, as past a long overdue, the model keeps its
//!   say, so the tail past the longest slip seen is the model's, never
//!   "tomorrow for certain". With no strength this is Kaplan-Meier.
//! - The pool itself has a wide fixed prior behind it (half late, by 11 days
//!   on average, weighed as [`WIDE_PRIOR_DELIVERIES`] deliveries), so a shop's
//!   first few deliveries are not the whole story.
//! - A shop with no evidence at all (no delivery, no order past its date) has
//!   nothing to learn lateness from: the ETA then takes the quoted dates (see
//!   `eta.rs`).

use std::fmt;

use chrono::NaiveDate;
use rand::Rng;
use serde::Serialize;

/// Days between the expected and the actual arrival; negative when early.
pub fn slip_days(expected_on: NaiveDate, arrived_on: NaiveDate) -> i32 {
    let days = (arrived_on - expected_on).num_days();
    i32::try_from(days).unwrap_or(if days < 0 { i32::MIN } else { i32::MAX })
}

/// A supplier's slips, one per received purchase order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SlipHistory {
    // Sorted ascending, so "slips larger than k" is a suffix.
    sorted: Vec<i32>,
}

/// A supplier's record, for people: "on time 87%, usually 2 days late".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Reliability {
    /// Received purchase orders behind the figures.
    pub deliveries: u32,
    /// Share delivered on or before the expected date, in whole percent.
    pub on_time_percent: u8,
    /// The median slip in days (negative: early).
    pub median_slip_days: i32,
    /// The 90th-percentile slip in days: late deliveries are this bad or better.
    pub slip_p90_days: i32,
}

impl SlipHistory {
    /// A history from slips in any order.
    pub fn new(slips: impl IntoIterator<Item = i32>) -> SlipHistory {
        let mut sorted: Vec<i32> = slips.into_iter().collect();
        sorted.sort_unstable();
        SlipHistory { sorted }
    }

    /// Adds the slip of one more received purchase order.
    pub fn record(&mut self, slip: i32) {
        let at = self.sorted.partition_point(|&s| s <= slip);
        self.sorted.insert(at, slip);
    }

    /// All slips, smallest first.
    pub fn slips(&self) -> &[i32] {
        &self.sorted
    }

    /// Received purchase orders recorded.
    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    /// No purchase order received yet.
    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    /// The slips strictly larger than `days`, smallest first: what is still
    /// possible for an order that has not arrived `days` after its date.
    pub fn later_than(&self, days: i64) -> &[i32] {
        let at = self.sorted.partition_point(|&s| i64::from(s) <= days);
        &self.sorted[at..]
    }

    /// The slip at percentile `percent` (nearest rank), if any history.
    pub fn percentile(&self, percent: u8) -> Option<i32> {
        nearest_rank(&self.sorted, percent)
    }

    /// The figures for people, if any history.
    pub fn reliability(&self) -> Option<Reliability> {
        let deliveries = self.sorted.len();
        let on_time = self.sorted.partition_point(|&s| s <= 0);
        let on_time_percent = (on_time * 100 + deliveries / 2).checked_div(deliveries)?;
        Some(Reliability {
            deliveries: u32::try_from(deliveries).unwrap_or(u32::MAX),
            on_time_percent: u8::try_from(on_time_percent).unwrap_or(100),
            median_slip_days: self.percentile(50)?,
            slip_p90_days: self.percentile(90)?,
        })
    }
}

/// The value at `percent` of a sorted slice by the nearest-rank rule: always
/// one of the values, which suits whole days.
pub(crate) fn nearest_rank<T: Copy>(sorted: &[T], percent: u8) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let n = sorted.len();
    let rank = (usize::from(percent.min(100)) * n).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

/// The grid's first day: earlier slips count as this early.
const GRID_FIRST: i32 = -30;
/// The grid runs at least to this day; a geometric tail continues it.
const GRID_LAST: i32 = 150;
/// The wide prior behind the shop's pool weighs as this many deliveries.
pub const WIDE_PRIOR_DELIVERIES: f64 = 5.0;
/// The supplier's prior strength when suppliers cannot be compared yet
/// (fewer than two with evidence).
const DEFAULT_STRENGTH: f64 = 8.0;
/// Bounds of the empirical-Bayes strength.
const STRENGTH_RANGE: (f64, f64) = (1.0, 50.0);

/// A distribution of slips over whole days: a probability for each day of a
/// grid and, past its last day, a geometric tail (each further day
/// `tail_ratio` times as likely as the one before).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SlipDistribution {
    first: i32,
    mass: Vec<f64>,
    tail: f64,
    tail_ratio: f64,
    /// `cumulative[i]`: probability of a slip <= `first + i`.
    #[serde(skip)]
    cumulative: Vec<f64>,
}

impl SlipDistribution {
    /// A distribution from probabilities of the days `first`, `first + 1`, ...
    /// and a tail mass past them with ratio `tail_ratio`; normalized here.
    pub fn new(first: i32, mass: Vec<f64>, tail: f64, tail_ratio: f64) -> SlipDistribution {
        let total: f64 = mass.iter().sum::<f64>() + tail;
        let scale = if total > 0.0 { 1.0 / total } else { 1.0 };
        let mass: Vec<f64> = mass.into_iter().map(|m| m * scale).collect();
        let mut running = 0.0;
        let cumulative = mass
            .iter()
            .map(|m| {
                running += m;
                running
            })
            .collect();
        SlipDistribution {
            first,
            mass,
            tail: tail * scale,
            tail_ratio: tail_ratio.clamp(0.0, 0.999),
            cumulative,
        }
    }

    fn last(&self) -> i32 {
        self.first + self.mass.len() as i32 - 1
    }

    fn index(&self, slip: i64) -> usize {
        (slip.max(i64::from(self.first)) - i64::from(self.first)) as usize
    }

    /// The probability of each day up to `last`, the tail unrolled as needed,
    /// and the tail mass past it.
    fn masses_to(&self, last: i32) -> (Vec<f64>, f64) {
        let mut mass = self.mass.clone();
        let mut next = self.tail * (1.0 - self.tail_ratio);
        let mut tail = self.tail;
        for _ in self.last()..last {
            mass.push(next);
            tail -= next;
            next *= self.tail_ratio;
        }
        (mass, tail.max(0.0))
    }

    /// The probability of a slip larger than `days`.
    pub fn share_later_than(&self, days: i64) -> f64 {
        if days < i64::from(self.first) {
            return 1.0;
        }
        if days >= i64::from(self.last()) {
            let beyond = days - i64::from(self.last());
            return self.tail * self.tail_ratio.powf(beyond as f64);
        }
        (1.0 - self.cumulative[self.index(days)]).max(0.0)
    }

    /// A slip drawn from this distribution conditioned on being larger than
    /// `days` (DESIGN §4.7: an order `days` overdue is not here yet). Past the
    /// grid the geometric tail is memoryless: the remaining delay does not
    /// shrink as the days pass.
    pub fn draw_later_than(&self, days: i64, rng: &mut impl Rng) -> i64 {
        let last = i64::from(self.last());
        let pick: f64 = rng.random();
        if days >= last {
            return days + 1 + geometric(self.tail_ratio, pick);
        }
        let lower = if days < i64::from(self.first) {
            0.0
        } else {
            self.cumulative[self.index(days)]
        };
        let grid_total = self.cumulative.last().copied().unwrap_or(0.0);
        let remaining = 1.0 - lower;
        let on_grid = grid_total - lower;
        if on_grid <= 1e-12 || pick * remaining >= on_grid {
            // Past the grid: where in the tail, from what is left of `pick`.
            let beyond = if on_grid <= 1e-12 {
                pick
            } else {
                (pick * remaining - on_grid) / (remaining - on_grid)
            };
            return last + 1 + geometric(self.tail_ratio, beyond.clamp(0.0, 1.0 - 1e-12));
        }
        let target = lower + pick * remaining;
        let at = self.cumulative.partition_point(|&c| c <= target);
        i64::from(self.first) + at as i64
    }

    /// This distribution as a prior, updated by the delivered `slips` and the
    /// unreceived orders known to be later than each of `later_than` days: the
    /// posterior mean of a beta-process prior on the daily hazard (Hjort 1990).
    /// On each day t the chance of arriving that day, given not before, is
    /// (`strength` * the prior's + arrivals on t) / (`strength` + orders at
    /// risk on t), where at risk are the deliveries with a slip >= t and the
    /// open orders seen not to have arrived through t. With no strength this is
    /// Kaplan-Meier; with some, the prior keeps a fixed say beside however few
    /// orders are left at risk, so a tail past the record stays the prior's.
    pub fn updated(&self, strength: f64, slips: &[i32], later_than: &[i64]) -> SlipDistribution {
        let evidence_last = slips
            .iter()
            .map(|&s| i64::from(s))
            .chain(later_than.iter().map(|&k| k + 1))
            .max()
            .unwrap_or(i64::MIN);
        let last = i64::from(self.last())
            .max(evidence_last)
            .min(i64::from(i32::MAX / 2)) as i32;
        let (prior, _) = self.masses_to(last);
        let first = i64::from(self.first);
        let len = prior.len();
        let at = |days: i64| (days.max(first) - first) as usize;
        // Arrivals on each day, and how many are at risk from each day on.
        let mut arrivals = vec![0.0; len];
        let mut leaving = vec![0.0; len + 1];
        for &slip in slips {
            let day = at(i64::from(slip)).min(len - 1);
            arrivals[day] += 1.0;
            leaving[day + 1] += 1.0;
        }
        let mut open_from = vec![0.0; len + 1];
        for &days in later_than {
            // Seen not to arrive through `days`: at risk on every day up to it.
            if days >= first {
                open_from[(at(days) + 1).min(len)] += 1.0;
            }
        }
        let mut at_risk = (slips.len() + later_than.iter().filter(|&&k| k >= first).count()) as f64;
        let mut prior_left = 1.0;
        let mut survival = 1.0;
        let mut mass = Vec::with_capacity(len);
        for day in 0..len {
            at_risk -= leaving[day] + open_from[day];
            let prior_hazard = if prior_left > 1e-300 {
                (prior[day] / prior_left).clamp(0.0, 1.0)
            } else {
                1.0 - self.tail_ratio
            };
            prior_left -= prior[day];
            let hazard =
                (strength * prior_hazard + arrivals[day]) / (strength + at_risk).max(1e-300);
            let hazard = hazard.clamp(0.0, 1.0);
            mass.push(survival * hazard);
            survival *= 1.0 - hazard;
        }
        SlipDistribution::new(self.first, mass, survival.max(0.0), self.tail_ratio)
    }
}

/// `floor(ln(1 - u) / ln(ratio))`: the days a geometric tail adds.
fn geometric(ratio: f64, u: f64) -> i64 {
    if ratio <= 0.0 {
        return 0;
    }
    ((1.0 - u).ln() / ratio.ln()).floor().clamp(0.0, 3650.0) as i64
}

/// A supplier's evidence, as the shop's prior pools it.
#[derive(Clone, Copy, Debug)]
pub struct SupplierEvidence<'a> {
    /// Slips of its received purchase orders.
    pub slips: &'a [i32],
    /// Expected dates of its purchase orders not received at all yet.
    pub unreceived_expected_on: &'a [NaiveDate],
}

/// Slips in two figures and a shape: the share of late deliveries, late by
/// 1 + a geometric number of days, the rest spread over the day and the days
/// before it like `on_time`. Fitted to a supplier, it smooths its record and
/// carries its tail past the longest slip seen.
#[derive(Clone, Debug, PartialEq, Serialize)]
struct LateModel {
    late_share: f64,
    mean_extra_days: f64,
    /// Weights of the on-time slips `GRID_FIRST..=0`.
    on_time: Vec<f64>,
}

impl LateModel {
    /// The wide prior behind a shop's pool: half of deliveries late, by 1 + a
    /// geometric number of days averaging 10 more; the rest on the day or a
    /// few days early.
    fn wide() -> LateModel {
        let mut on_time = vec![0.0; (1 - GRID_FIRST) as usize];
        for (slip, share) in [(0, 0.6), (-1, 0.25), (-2, 0.1), (-3, 0.05)] {
            on_time[(slip - GRID_FIRST) as usize] = share;
        }
        LateModel {
            late_share: 0.5,
            mean_extra_days: 10.0,
            on_time,
        }
    }

    fn distribution(&self) -> SlipDistribution {
        let ratio = self.mean_extra_days / (1.0 + self.mean_extra_days);
        let on_time_total: f64 = self.on_time.iter().sum();
        let mut mass: Vec<f64> = self
            .on_time
            .iter()
            .map(|w| (1.0 - self.late_share) * w / on_time_total.max(f64::MIN_POSITIVE))
            .collect();
        let mut late = self.late_share * (1.0 - ratio);
        for _ in 1..=GRID_LAST {
            mass.push(late);
            late *= ratio;
        }
        SlipDistribution::new(GRID_FIRST, mass, late / (1.0 - ratio), ratio)
    }

    /// This model as a prior weighed as `weight` deliveries, updated by the
    /// delivered `slips` and the unreceived orders later than `later_than`
    /// days (those overdue are late deliveries of at least that many days; the
    /// others say nothing yet about lateness).
    fn updated(
        &self,
        weight: f64,
        late_weight: f64,
        slips: &[i32],
        later_than: &[i64],
    ) -> LateModel {
        let overdue: Vec<i64> = later_than.iter().copied().filter(|&k| k >= 0).collect();
        let late_slips: Vec<i32> = slips.iter().copied().filter(|&s| s > 0).collect();
        let late = (late_slips.len() + overdue.len()) as f64;
        let resolved = (slips.len() + overdue.len()) as f64;
        let late_share = (late + weight * self.late_share) / (resolved + weight);
        // Geometric extra days with censoring: days seen over late deliveries ended.
        let prior_late = late_weight;
        let days = late_slips.iter().map(|&s| f64::from(s - 1)).sum::<f64>()
            + overdue.iter().map(|&k| k as f64).sum::<f64>()
            + prior_late * self.mean_extra_days;
        let ended = late_slips.len() as f64 + prior_late;
        let total: f64 = self.on_time.iter().sum();
        let prior_on_time = weight * (1.0 - self.late_share);
        let mut on_time: Vec<f64> = self
            .on_time
            .iter()
            .map(|w| prior_on_time * w / total.max(f64::MIN_POSITIVE))
            .collect();
        for &slip in slips.iter().filter(|&&s| s <= 0) {
            on_time[(slip.max(GRID_FIRST) - GRID_FIRST) as usize] += 1.0;
        }
        LateModel {
            late_share,
            mean_extra_days: if ended > 0.0 {
                days / ended
            } else {
                self.mean_extra_days
            },
            on_time,
        }
    }
}

/// The shop's pooled slips, the prior of every supplier's estimate.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SlipPrior {
    /// The pooled model; none when the shop has no evidence at all.
    pooled: Option<LateModel>,
    /// How many deliveries the pool weighs as against a supplier's own, for
    /// the share of late deliveries.
    pub strength: f64,
    /// How many late deliveries the pool weighs as against a supplier's own,
    /// for how late they are.
    pub late_strength: f64,
}

impl Default for SlipPrior {
    /// A shop with no evidence yet.
    fn default() -> Self {
        SlipPrior {
            pooled: None,
            strength: DEFAULT_STRENGTH,
            late_strength: DEFAULT_STRENGTH / 2.0,
        }
    }
}

impl SlipPrior {
    /// The prior from every supplier's evidence on `today`.
    pub fn new(today: NaiveDate, suppliers: &[SupplierEvidence<'_>]) -> SlipPrior {
        let slips: Vec<i32> = suppliers
            .iter()
            .flat_map(|s| s.slips.iter().copied())
            .collect();
        let later_than: Vec<i64> = suppliers
            .iter()
            .flat_map(|s| s.unreceived_expected_on.iter())
            .map(|&expected| (today - expected).num_days())
            .collect();
        if !is_evidence(&slips, &later_than) {
            return SlipPrior::default();
        }
        SlipPrior {
            pooled: Some(LateModel::wide().updated(
                WIDE_PRIOR_DELIVERIES,
                WIDE_PRIOR_DELIVERIES / 2.0,
                &slips,
                &later_than,
            )),
            strength: strength_from_late_shares(today, suppliers),
            late_strength: strength_from_late_days(today, suppliers),
        }
    }

    /// The slips a supplier's purchase orders are drawn from on `today`: the
    /// pool's model refitted to the supplier's evidence, then updated day by
    /// day by the supplier's own record (see the module notes). None when
    /// neither the shop nor the supplier has any evidence.
    pub fn supplier_estimate(
        &self,
        today: NaiveDate,
        slips: &[i32],
        unreceived_expected_on: &[NaiveDate],
    ) -> Option<SlipDistribution> {
        let later_than: Vec<i64> = unreceived_expected_on
            .iter()
            .map(|&expected| (today - expected).num_days())
            .collect();
        let (prior, strength, late_strength) = match &self.pooled {
            Some(pooled) => (pooled.clone(), self.strength, self.late_strength),
            None if !is_evidence(slips, &later_than) => return None,
            None => (
                LateModel::wide(),
                WIDE_PRIOR_DELIVERIES,
                WIDE_PRIOR_DELIVERIES / 2.0,
            ),
        };
        let fitted = prior.updated(strength, late_strength, slips, &later_than);
        Some(fitted.distribution().updated(strength, slips, &later_than))
    }
}

/// Whether there is anything to learn lateness from: a delivery, or an order
/// past its date. Orders not yet due say nothing about lateness on their own.
fn is_evidence(slips: &[i32], later_than: &[i64]) -> bool {
    !slips.is_empty() || later_than.iter().any(|&k| k >= 0)
}

/// Empirical Bayes: the prior strength from how much the suppliers' late
/// shares differ beyond what chance explains (beta-binomial, by moments).
/// An order overdue today counts as a late delivery; one not yet due says
/// nothing about lateness yet.
fn strength_from_late_shares(today: NaiveDate, suppliers: &[SupplierEvidence<'_>]) -> f64 {
    let counts: Vec<(f64, f64)> = suppliers
        .iter()
        .map(|s| {
            let overdue = s
                .unreceived_expected_on
                .iter()
                .filter(|&&expected| expected < today)
                .count();
            let late = s.slips.iter().filter(|&&slip| slip > 0).count() + overdue;
            ((late) as f64, (s.slips.len() + overdue) as f64)
        })
        .filter(|&(_, n)| n > 0.0)
        .collect();
    if counts.len() < 2 {
        return DEFAULT_STRENGTH;
    }
    let total: f64 = counts.iter().map(|&(_, n)| n).sum();
    let share = counts.iter().map(|&(late, _)| late).sum::<f64>() / total;
    let spread = share * (1.0 - share);
    if spread <= 0.0 {
        return STRENGTH_RANGE.1;
    }
    let between: f64 = counts
        .iter()
        .map(|&(late, n)| n * (late / n - share).powi(2))
        .sum();
    let squares: f64 = counts.iter().map(|&(_, n)| n * n).sum();
    let denominator = total - squares / total;
    if denominator <= 0.0 {
        return DEFAULT_STRENGTH;
    }
    let variance = (between - (counts.len() as f64 - 1.0) * spread) / denominator;
    if variance <= spread / (STRENGTH_RANGE.1 + 1.0) {
        return STRENGTH_RANGE.1;
    }
    (spread / variance - 1.0).clamp(STRENGTH_RANGE.0, STRENGTH_RANGE.1)
}

/// Empirical Bayes for how late: the prior strength, in late deliveries, from
/// how much the suppliers' mean extra days late differ beyond what chance
/// explains (moments again; a geometric count with mean m varies by m(1 + m)).
/// Open overdue orders add their days so far without an end.
fn strength_from_late_days(today: NaiveDate, suppliers: &[SupplierEvidence<'_>]) -> f64 {
    let fits: Vec<(f64, f64)> = suppliers
        .iter()
        .map(|s| {
            let ended: Vec<i32> = s.slips.iter().copied().filter(|&x| x > 0).collect();
            let days: f64 = ended.iter().map(|&x| f64::from(x - 1)).sum::<f64>()
                + s.unreceived_expected_on
                    .iter()
                    .map(|&expected| (today - expected).num_days())
                    .filter(|&k| k >= 0)
                    .map(|k| k as f64)
                    .sum::<f64>();
            (days, ended.len() as f64)
        })
        .filter(|&(_, ended)| ended > 0.0)
        .collect();
    let fallback = DEFAULT_STRENGTH / 2.0;
    if fits.len() < 2 {
        return fallback;
    }
    let total: f64 = fits.iter().map(|&(_, n)| n).sum();
    let mean = fits.iter().map(|&(days, _)| days).sum::<f64>() / total;
    let within = mean * (1.0 + mean);
    if within <= 0.0 {
        return STRENGTH_RANGE.1;
    }
    let between: f64 = fits
        .iter()
        .map(|&(days, n)| n * (days / n - mean).powi(2))
        .sum();
    let squares: f64 = fits.iter().map(|&(_, n)| n * n).sum();
    let denominator = total - squares / total;
    if denominator <= 0.0 {
        return fallback;
    }
    let variance = (between - (fits.len() as f64 - 1.0) * within) / denominator;
    if variance <= within / STRENGTH_RANGE.1 {
        return STRENGTH_RANGE.1;
    }
    (within / variance).clamp(STRENGTH_RANGE.0, STRENGTH_RANGE.1)
}

impl fmt::Display for Reliability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "on time {}%, ", self.on_time_percent)?;
        match self.median_slip_days {
            0 => f.write_str("usually on time"),
            1 => f.write_str("usually 1 day late"),
            -1 => f.write_str("usually 1 day early"),
            days if days > 0 => write!(f, "usually {days} days late"),
            days => write!(f, "usually {} days early", days.unsigned_abs()),
        }
    }
}

/// How a supplier answers the purchase orders it is sent (issue 18, part 5): of the
/// orders emailed to it, how many it confirmed or gave a new date for through its link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Confirmations {
    pub sent: u32,
    pub answered: u32,
}

impl Confirmations {
    /// The share answered, in whole percent; `None` before anything was sent.
    pub fn percent(&self) -> Option<u32> {
        (self.sent > 0).then(|| (self.answered.min(self.sent) * 100 + self.sent / 2) / self.sent)
    }
}

impl fmt::Display for Confirmations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.percent() {
            None => f.write_str("no purchase orders emailed yet"),
            Some(percent) => write!(
                f,
                "answered {} of {} purchase {} emailed ({percent}%)",
                self.answered,
                self.sent,
                if self.sent == 1 { "order" } else { "orders" }
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confirmations_are_a_share_of_the_orders_sent() {
        let none = Confirmations::default();
        assert_eq!(none.percent(), None);
        assert_eq!(none.to_string(), "no purchase orders emailed yet");
        let some = Confirmations {
            sent: 3,
            answered: 2,
        };
        assert_eq!(some.percent(), Some(67));
        assert_eq!(
            some.to_string(),
            "answered 2 of 3 purchase orders emailed (67%)"
        );
        let one = Confirmations {
            sent: 1,
            answered: 1,
        };
        assert_eq!(
            one.to_string(),
            "answered 1 of 1 purchase order emailed (100%)"
        );
    }

    #[test]
    fn figures_from_slips() {
        let history = SlipHistory::new([3, -1, 0, 2, 2, 0, 5, 1, -2, 0]);
        let reliability = history.reliability().unwrap();
        assert_eq!(reliability.deliveries, 10);
        assert_eq!(reliability.on_time_percent, 50);
        assert_eq!(reliability.median_slip_days, 0);
        assert_eq!(reliability.slip_p90_days, 3);
        assert_eq!(reliability.to_string(), "on time 50%, usually on time");
        assert_eq!(SlipHistory::default().reliability(), None);
    }

    #[test]
    fn usually_late_reads_in_days() {
        let reliability = SlipHistory::new([2, 2, 3, -1]).reliability().unwrap();
        assert_eq!(reliability.to_string(), "on time 25%, usually 2 days late");
    }

    #[test]
    fn later_than_keeps_only_what_is_still_possible() {
        let mut history = SlipHistory::new([4, -1, 9, 6]);
        history.record(5);
        assert_eq!(history.slips(), [-1, 4, 5, 6, 9]);
        assert_eq!(history.later_than(5), [6, 9]);
        assert_eq!(history.later_than(-3).len(), 5);
        assert!(history.later_than(9).is_empty());
    }

    fn day(n: i64) -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 12, 1).unwrap() + chrono::Duration::days(n)
    }

    #[test]
    fn with_no_prior_weight_the_estimate_is_kaplan_meier() {
        // Slips 1, 2, 3 and an order still open one day past its date (slip > 1):
        // Kaplan-Meier gives 1/4 at 1, then the open order's share goes half
        // to 2 and half to 3.
        let estimate = LateModel::wide()
            .distribution()
            .updated(1e-12, &[1, 2, 3], &[1]);
        let share = |days| (estimate.share_later_than(days) * 1000.0).round() / 1000.0;
        assert_eq!(
            (share(0), share(1), share(2), share(3)),
            (1.0, 0.75, 0.375, 0.0)
        );
    }

    #[test]
    fn every_unreceived_order_is_censored_at_its_days_past_due() {
        // Four deliveries three days early, and six orders due tomorrow still
        // not here: they were not three days early, so early is less likely
        // than the record alone says. Overdue ones make late more likely.
        let today = day(0);
        let prior = SlipPrior::default();
        let early = [-3, -3, -3, -3];
        let record_only = prior.supplier_estimate(today, &early, &[]).unwrap();
        let not_early = prior
            .supplier_estimate(today, &early, &[day(1); 6])
            .unwrap();
        assert!(
            not_early.share_later_than(-3) > record_only.share_later_than(-3) + 0.2,
            "{} vs {}",
            not_early.share_later_than(-3),
            record_only.share_later_than(-3)
        );
        let overdue = prior
            .supplier_estimate(today, &early, &[day(-6); 3])
            .unwrap();
        assert!(overdue.share_later_than(5) > record_only.share_later_than(5) + 0.1);
        // An order not yet due alone is no evidence: nothing to learn from.
        assert!(prior.supplier_estimate(today, &[], &[day(5)]).is_none());
    }

    #[test]
    fn a_supplier_without_deliveries_draws_from_the_shop_pool_until_its_own_outweigh_it() {
        let today = day(0);
        // Two suppliers on record: one often late by ten days, one on time.
        let late: Vec<i32> = (0..40).map(|i| if i % 2 == 0 { 0 } else { 10 }).collect();
        let punctual = vec![0; 40];
        let shop = SlipPrior::new(
            today,
            &[
                SupplierEvidence {
                    slips: &late,
                    unreceived_expected_on: &[],
                },
                SupplierEvidence {
                    slips: &punctual,
                    unreceived_expected_on: &[],
                },
            ],
        );
        let new_supplier = shop.supplier_estimate(today, &[], &[]).unwrap();
        let p90 = |d: &SlipDistribution| (-30..200).find(|&k| d.share_later_than(k) <= 0.1);
        assert!(
            (3..=12).contains(&p90(&new_supplier).unwrap()),
            "no deliveries: the pool's 90th percentile, {:?}",
            p90(&new_supplier)
        );
        let proven = shop.supplier_estimate(today, &[0; 40], &[]).unwrap();
        assert!(p90(&proven).unwrap() <= 1, "{:?}", p90(&proven));
        // Suppliers this different make a weak prior.
        assert!(shop.strength < DEFAULT_STRENGTH, "{}", shop.strength);
    }

    #[test]
    fn slip_is_signed_days() {
        let expected = NaiveDate::from_ymd_opt(2024, 12, 3).unwrap();
        let early = NaiveDate::from_ymd_opt(2024, 12, 1).unwrap();
        assert_eq!(slip_days(expected, early), -2);
        assert_eq!(slip_days(early, expected), 2);
    }
}
