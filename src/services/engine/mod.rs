//! Applying the backorder engine's decisions to the database. Every event (an order, a
//! receipt, an adjustment, a cancellation, a shipment) locks the products it touches, in
//! id order, asks the domain what follows, and stores it with a ledger row for every
//! change of `on_hand` or `allocated`, all in the caller's transaction.

pub mod eta;
pub mod events;
pub mod notify;

use std::collections::HashMap;

use chrono::{NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Date, Int4, Nullable, Text};

use crate::db::models::MovementReason;
use crate::db::stock::{self, Product, QueueRow};
use crate::domain::{self, EtaCause, QueuePolicy, WaitingLine};
use crate::error::AppResult;
pub use crate::services::engine::events::{
    Ctx, Delayed, EtaEffects, Filled, LaterThanTold, Restocked, StoredEta,
};
use crate::services::engine::events::{queue_place, spot_place};

/// The product's waiting lines in the shop's queue order.
pub fn queue(
    conn: &mut PgConnection,
    product_id: i64,
    policy: &QueuePolicy,
) -> AppResult<Vec<QueueRow>> {
    let mut rows = stock::waiting_lines(conn, product_id)?;
    domain::sort_queue(policy, &mut rows, queue_place);
    Ok(rows)
}

/// Gives the product's free units to its queue, in the shop's order (DESIGN §4.3). The
/// product must be locked by the caller; `product` is updated in place. What it did goes
/// back to the use case, whose `notify::restocked` queues the emails.
pub fn fill_queue(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    product: &mut Product,
    reference: Option<&str>,
) -> AppResult<Restocked> {
    Ok(Restocked(allocate_free_units(
        conn, ctx, product, reference,
    )?))
}

fn allocate_free_units(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    product: &mut Product,
    reference: Option<&str>,
) -> AppResult<Vec<Filled>> {
    let free = product.available();
    // A pre-order's stock is held until its release day: the first event on or after
    // that day (or `catalog::release_preorders`, run by the periodic job) fills the queue.
    if free <= 0 || product.waiting_lines == 0 || product.held_for_release(ctx.today) {
        return Ok(Vec::new());
    }
    let policy = ctx.queue_policy();
    let mut spots = stock::queue_spots(conn, product.id, &policy)?;
    domain::sort_queue(&policy, &mut spots, spot_place);
    let waiting: Vec<WaitingLine> = spots
        .iter()
        .map(|spot| WaitingLine {
            line_id: spot.id,
            waiting_units: spot.waiting.max(0) as u32,
        })
        .collect();
    let plan = domain::allocate_down_queue(free as u32, &waiting);
    if plan.allocations.is_empty() {
        return Ok(Vec::new());
    }
    let waiting_of: HashMap<i64, i32> = spots.iter().map(|spot| (spot.id, spot.waiting)).collect();
    let filled = allocate_lines(
        conn,
        ctx,
        product.id,
        &plan.allocations,
        &waiting_of,
        reference,
    )?;
    let total: i32 = filled.iter().map(|f| f.units).sum();
    let completed = filled.iter().filter(|f| f.complete).count() as i32;
    change_product(conn, product, 0, total, -total, -completed)?;
    Ok(filled)
}

/// Adds the allocated units to their lines (a line that waits for nothing more gets its
/// `waiting_ended_at`) and writes each line's allocation to the ledger, in one statement
/// that gives back the lines' orders.
fn allocate_lines(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    product_id: i64,
    allocations: &[domain::LineAllocation],
    waiting_of: &HashMap<i64, i32>,
    reference: Option<&str>,
) -> AppResult<Vec<Filled>> {
    #[derive(QueryableByName)]
    struct Allocated {
        #[diesel(sql_type = BigInt)]
        line_id: i64,
        #[diesel(sql_type = BigInt)]
        order_id: i64,
        #[diesel(sql_type = Text)]
        order_number: String,
        #[diesel(sql_type = Int4)]
        units: i32,
        #[diesel(sql_type = Bool)]
        complete: bool,
    }
    let ids: Vec<i64> = allocations.iter().map(|a| a.line_id).collect();
    let units: Vec<i32> = allocations.iter().map(|a| a.units as i32).collect();
    let complete: Vec<bool> = allocations
        .iter()
        .map(|a| waiting_of.get(&a.line_id) == Some(&(a.units as i32)))
        .collect();
    let rows: Vec<Allocated> = crate::db::prepared::sql(include_str!("allocate_lines.sql"))
        .bind::<Array<BigInt>, _>(ids)
        .bind::<Array<Int4>, _>(units)
        .bind::<Array<Bool>, _>(complete)
        .bind::<BigInt, _>(product_id)
        .bind::<Text, _>(MovementReason::Allocation.as_str())
        .bind::<Nullable<Text>, _>(reference)
        .bind::<Nullable<BigInt>, _>(ctx.user_id())
        .load(conn)?;
    // The product is locked, so every line read as waiting is still there to fill.
    if rows.len() != allocations.len() {
        return Err(anyhow::anyhow!(
            "allocated {} of {} waiting lines of product {product_id}",
            rows.len(),
            allocations.len()
        )
        .into());
    }
    Ok(rows
        .into_iter()
        .map(|row| Filled {
            line_id: row.line_id,
            order_id: row.order_id,
            order_number: row.order_number,
            units: row.units,
            complete: row.complete,
        })
        .collect())
}

/// Changes a locked product's stock columns and its waiting counters.
pub fn change_product(
    conn: &mut PgConnection,
    product: &mut Product,
    on_hand_delta: i32,
    allocated_delta: i32,
    waiting_units_delta: i32,
    waiting_lines_delta: i32,
) -> QueryResult<()> {
    use crate::db::schema::products::dsl as p;
    let (on_hand, allocated, waiting_units, waiting_lines) =
        diesel::update(p::products.find(product.id))
            .set((
                p::on_hand.eq(p::on_hand + on_hand_delta),
                p::allocated.eq(p::allocated + allocated_delta),
                p::waiting_units.eq(p::waiting_units + waiting_units_delta),
                p::waiting_lines.eq(p::waiting_lines + waiting_lines_delta),
                p::updated_at.eq(Utc::now()),
            ))
            .returning((p::on_hand, p::allocated, p::waiting_units, p::waiting_lines))
            .get_result::<(i32, i32, i32, i32)>(conn)?;
    product.on_hand = on_hand;
    product.allocated = allocated;
    product.waiting_units = waiting_units;
    product.waiting_lines = waiting_lines;
    Ok(())
}

/// [`change_product`] for several locked products in one statement: `changes` holds each
/// one's (allocated, waiting units, waiting lines) deltas, `products[i]` for `changes[i]`.
pub fn change_products(
    conn: &mut PgConnection,
    products: &mut [&mut Product],
    changes: &[(i32, i32, i32)],
) -> QueryResult<()> {
    #[derive(QueryableByName)]
    struct Changed {
        #[diesel(sql_type = BigInt)]
        id: i64,
        #[diesel(sql_type = Int4)]
        on_hand: i32,
        #[diesel(sql_type = Int4)]
        allocated: i32,
        #[diesel(sql_type = Int4)]
        waiting_units: i32,
        #[diesel(sql_type = Int4)]
        waiting_lines: i32,
    }
    if let ([product], [(allocated, units, lines)]) = (&mut *products, changes) {
        return change_product(conn, product, 0, *allocated, *units, *lines);
    }
    if products.is_empty() {
        return Ok(());
    }
    let changed: Vec<Changed> = crate::db::prepared::sql(
        "UPDATE products p
            SET allocated = p.allocated + c.allocated, waiting_units = p.waiting_units + c.units,
                waiting_lines = p.waiting_lines + c.lines, updated_at = now()
           FROM unnest($1::int8[], $2::int4[], $3::int4[], $4::int4[]) AS c(id, allocated, units, lines)
          WHERE p.id = c.id
         RETURNING p.id, p.on_hand, p.allocated, p.waiting_units, p.waiting_lines",
    )
    .bind::<Array<BigInt>, _>(products.iter().map(|p| p.id).collect::<Vec<_>>())
    .bind::<Array<Int4>, _>(changes.iter().map(|c| c.0).collect::<Vec<_>>())
    .bind::<Array<Int4>, _>(changes.iter().map(|c| c.1).collect::<Vec<_>>())
    .bind::<Array<Int4>, _>(changes.iter().map(|c| c.2).collect::<Vec<_>>())
    .load(conn)?;
    for row in changed {
        if let Some(product) = products.iter_mut().find(|p| p.id == row.id) {
            product.on_hand = row.on_hand;
            product.allocated = row.allocated;
            product.waiting_units = row.waiting_units;
            product.waiting_lines = row.waiting_lines;
        }
    }
    Ok(())
}

/// The last date each line's customer was told, for the lines given.
pub fn last_told(
    conn: &mut PgConnection,
    line_ids: &[i64],
) -> QueryResult<HashMap<i64, NaiveDate>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = BigInt)]
        order_line_id: i64,
        #[diesel(sql_type = Date)]
        told_on: NaiveDate,
    }
    if line_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<Row> = crate::db::prepared::sql(
        "SELECT DISTINCT ON (order_line_id) order_line_id, told_on FROM told_dates
          WHERE order_line_id = ANY($1) ORDER BY order_line_id, id DESC",
    )
    .bind::<Array<BigInt>, _>(line_ids)
    .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| (r.order_line_id, r.told_on))
        .collect())
}

/// Recomputes the ETA, reason, queue position and (on first wait) the promise of every
/// waiting line of a product, keeping the history of each change. Returns what customers
/// must hear of: lines later than they were told (with `cause`, what the caller did that
/// moved them) and lines past their promise.
pub fn refresh_etas(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    product: &Product,
    cause: &EtaCause,
) -> AppResult<EtaEffects> {
    let rows = queue(conn, product.id, &ctx.queue_policy())?;
    if rows.is_empty() {
        return Ok(EtaEffects::default());
    }
    let supply = crate::services::engine::eta::product_supply(conn, product, ctx.today)?;
    let waiting: Vec<u32> = rows.iter().map(|row| row.waiting().max(0) as u32).collect();
    let projections = crate::services::engine::eta::project(ctx, &supply, &waiting);
    let stretch = Stretch {
        rows,
        projections,
        lines_ahead: 0,
    };
    store_dates(conn, ctx, &[stretch], &[], cause)
}

/// The lines that just joined one product's queue in a batch: `joined`, the first in
/// the shop's queue order first, already counted in the product's waiting counters;
/// `first` is where the first of them stands in the queue.
pub struct Joined<'a> {
    pub product: &'a Product,
    pub first: domain::QueuePlace,
    pub joined: Vec<i64>,
}

/// Dates the lines that just joined the queues of a batch's products, and any lines
/// behind the first of them in each queue, from what waits ahead (the counters less the
/// lines dated), without reading or writing the lines ahead (DESIGN §4.6: a line's date
/// depends only on the demand up to it). An order at the back of a queue costs the same
/// whatever the queue's length; one that goes in ahead of others (a higher tier, an
/// earlier `placed_at`) re-dates only the lines behind it. Whatever the number of
/// products, one read of their stretches, one of their supply, one of what their
/// customers were told and one store. A product whose counters disagree with its lines
/// has its whole queue dated (`refresh_etas`). The products must be locked by the caller.
pub fn date_joined_lines(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    joined: &[Joined<'_>],
    evidence: &crate::services::engine::eta::ShopEvidence,
    cause: &EtaCause,
) -> AppResult<EtaEffects> {
    if joined.is_empty() {
        return Ok(EtaEffects::default());
    }
    let policy = ctx.queue_policy();
    let starts: Vec<stock::StretchStart> = joined
        .iter()
        .map(|j| stock::StretchStart {
            product_id: j.product.id,
            place: j.first,
        })
        .collect();
    let rows = stock::queues_from(conn, &starts, &policy)?;
    let counters: Vec<(i64, i32, i32)> = joined
        .iter()
        .map(|j| {
            (
                j.product.id,
                j.product.waiting_lines,
                j.product.waiting_units,
            )
        })
        .collect();
    let found = stretches(
        &policy,
        rows,
        &counters,
        |row| row.product_id,
        queue_place,
        |row| row.waiting().max(0) as u32,
    );
    let mut effects = EtaEffects::default();
    let mut dated = Vec::with_capacity(joined.len());
    for (j, stretch) in joined.iter().zip(found) {
        match stretch {
            Some((rows, ahead)) => dated.push((j, rows, ahead)),
            // Counters that disagree with the lines: date the whole queue, as before.
            None => effects.extend(refresh_etas(conn, ctx, j.product, cause)?),
        }
    }
    let products: Vec<&Product> = dated.iter().map(|(j, ..)| j.product).collect();
    let mut supplies =
        crate::services::engine::eta::products_supply_with(conn, &products, evidence)?;
    let mut stretches = Vec::with_capacity(dated.len());
    for (j, rows, ahead) in dated {
        let supply = supplies
            .remove(&j.product.id)
            .ok_or_else(|| anyhow::anyhow!("no supply read for product {}", j.product.id))?;
        // The lines ahead walk as one line of all their units: it ends where the line
        // just ahead ends, so its date (from today's supply, as the whole queue's dating
        // would give that line) is the floor of the dates behind it, and is then dropped.
        let as_one = domain::QueueAhead {
            lines: ahead.lines.saturating_sub(1),
            ..domain::QueueAhead::default()
        };
        let waiting: Vec<u32> = (ahead.lines > 0)
            .then_some(ahead.units as u32)
            .into_iter()
            .chain(rows.iter().map(|row| row.waiting().max(0) as u32))
            .collect();
        let mut projections =
            crate::services::engine::eta::project_after(ctx, &supply, &as_one, &waiting);
        if ahead.lines > 0 {
            projections.remove(0);
        }
        stretches.push(Stretch {
            rows,
            projections,
            lines_ahead: ahead.lines,
        });
    }
    let fresh: Vec<i64> = joined
        .iter()
        .flat_map(|j| j.joined.iter().copied())
        .collect();
    effects.extend(store_dates(conn, ctx, &stretches, &fresh, cause)?);
    Ok(effects)
}

/// Each product's stretch of its queue, from the lines read for a batch (`rows`, every
/// product's lines at or behind its start, in any order): the product's lines in the
/// shop's order, with what waits ahead of them (lines, and units up to `u32::MAX`) from
/// its counters, for each `(product, waiting lines, waiting units)` of `counters`, in
/// their order. `None`: no line read, or counters that disagree with the lines.
fn stretches<T>(
    policy: &domain::QueuePolicy,
    rows: Vec<T>,
    counters: &[(i64, i32, i32)],
    product_of: impl Fn(&T) -> i64,
    place: impl Fn(&T) -> domain::QueuePlace,
    units: impl Fn(&T) -> u32,
) -> Vec<Option<(Vec<T>, domain::QueueAhead)>> {
    let mut by_product: HashMap<i64, Vec<T>> = HashMap::new();
    for row in rows {
        by_product.entry(product_of(&row)).or_default().push(row);
    }
    counters
        .iter()
        .map(|&(product, waiting_lines, waiting_units)| {
            let mut rows = by_product.remove(&product).unwrap_or_default();
            domain::sort_queue(policy, &mut rows, &place);
            let stretch_units: i64 = rows.iter().map(|row| i64::from(units(row))).sum();
            let ahead_lines = i64::from(waiting_lines) - rows.len() as i64;
            let ahead_units = i64::from(waiting_units) - stretch_units;
            if rows.is_empty() || ahead_lines < 0 || ahead_units < 0 {
                return None;
            }
            let ahead = domain::QueueAhead {
                units: ahead_units.min(i64::from(u32::MAX)) as u64,
                lines: u32::try_from(ahead_lines).unwrap_or(u32::MAX),
                likely: None,
                worst: None,
            };
            Some((rows, ahead))
        })
        .collect()
}

/// A stretch of a product's queue, in the shop's order, with the projection of each of
/// its lines; its first line has `lines_ahead` waiting before it.
struct Stretch {
    rows: Vec<QueueRow>,
    projections: Vec<StoredEta>,
    lines_ahead: u32,
}

/// Stores the projections of stretches of queues, in one read of what customers were
/// told and one store whatever their number, and returns what customers must hear of.
/// `fresh` lines were just placed: nobody was told anything of them yet.
fn store_dates(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    stretches: &[Stretch],
    fresh: &[i64],
    cause: &EtaCause,
) -> AppResult<EtaEffects> {
    let fresh: std::collections::HashSet<i64> = fresh.iter().copied().collect();
    // Lines whose date moved later: compared with what their customers were told.
    let moved_later: Vec<i64> = stretches
        .iter()
        .flat_map(|s| s.rows.iter().zip(&s.projections))
        .filter(|(row, eta)| moved_later(row.eta_worst, eta.worst) && !fresh.contains(&row.id))
        .map(|(row, _)| row.id)
        .collect();
    let told = last_told(conn, &moved_later)?;

    let mut effects = EtaEffects::default();
    let mut changed = ChangedLines::default();
    for stretch in stretches {
        for (index, (row, eta)) in stretch.rows.iter().zip(&stretch.projections).enumerate() {
            let position = i32::try_from(index as u64 + u64::from(stretch.lines_ahead) + 1)
                .unwrap_or(i32::MAX);
            let promised = row.promised_on.or(eta.worst);
            if row.promised_on.is_none() && promised.is_some() {
                effects.first_promises.push((row.id, row.order_id));
            }
            // The history keeps changes of the dates; a reworded reason alone is not news.
            let dates_changed = row.eta_likely != eta.likely
                || row.eta_worst != eta.worst
                || row.eta_is_estimate != eta.is_estimate;
            let reason_changed = row.eta_reason.as_deref() != Some(eta.reason.as_str());
            if !dates_changed
                && !reason_changed
                && row.queue_position == Some(position)
                && row.promised_on == promised
            {
                continue;
            }
            if let (Some(promised_on), Some(new_worst)) = (row.promised_on, eta.worst)
                && new_worst > promised_on
                && row.eta_worst != Some(new_worst)
            {
                effects.delayed.push(Delayed {
                    line_id: row.id,
                    order_id: row.order_id,
                    promised_on,
                    new_worst,
                    days_late: (new_worst - promised_on).num_days(),
                });
            }
            if let Some(told) = told.get(&row.id).copied()
                && domain::against_told(Some(told), eta.worst).is_bad_news()
            {
                effects.later_than_told.push(LaterThanTold {
                    line_id: row.id,
                    order_id: row.order_id,
                    told,
                    new_worst: eta.worst,
                    cause: real_cause(cause, row, position, eta, ctx.today),
                });
            }
            changed.push(row.id, eta, position, promised, dates_changed);
        }
    }
    changed.store(conn)?;
    Ok(effects)
}

/// What really moved a line later, given the event that recomputed its queue. A refresh
/// also re-reads time: a line waiting on an overdue purchase order drifts later every day
/// it does not come, whatever event recomputed it, and new receipts change what the
/// suppliers' record says. Naming the event in those cases would be untrue (an order
/// placed behind the line did not take its units).
fn real_cause(
    event: &EtaCause,
    row: &QueueRow,
    position: i32,
    eta: &StoredEta,
    today: NaiveDate,
) -> EtaCause {
    let about_its_delivery = match (&eta.covering_po, event.reference()) {
        (Some((covering, _)), Some(reference)) => covering == reference,
        _ => false,
    };
    if about_its_delivery {
        return event.clone();
    }
    if let Some((reference, expected_on)) = &eta.covering_po
        && *expected_on < today
        && !matches!(
            event,
            EtaCause::PurchaseOrderCancelled { .. }
                | EtaCause::StockCorrected
                | EtaCause::ReleaseMoved
        )
    {
        return EtaCause::DeliveryLate {
            reference: reference.clone(),
        };
    }
    match event {
        // Moved back in line: an order ahead of it took more.
        EtaCause::QueueAhead if row.queue_position.is_some_and(|old| position > old) => {
            EtaCause::QueueAhead
        }
        EtaCause::QueueAhead | EtaCause::SupplyChanged => EtaCause::SupplierRecord,
        other => other.clone(),
    }
}

/// A worst-case date that moved later (or went away, or came after none).
fn moved_later(before: Option<NaiveDate>, after: Option<NaiveDate>) -> bool {
    match (before, after) {
        (Some(before), Some(after)) => after > before,
        (Some(_), None) | (None, Some(_)) => true,
        (None, None) => false,
    }
}

#[derive(Default)]
struct ChangedLines {
    ids: Vec<i64>,
    likely: Vec<Option<NaiveDate>>,
    worst: Vec<Option<NaiveDate>>,
    estimate: Vec<bool>,
    reason: Vec<String>,
    position: Vec<i32>,
    promised: Vec<Option<NaiveDate>>,
    history: Vec<bool>,
}

impl ChangedLines {
    fn push(
        &mut self,
        id: i64,
        eta: &StoredEta,
        position: i32,
        promised: Option<NaiveDate>,
        dates_changed: bool,
    ) {
        self.ids.push(id);
        self.likely.push(eta.likely);
        self.worst.push(eta.worst);
        self.estimate.push(eta.is_estimate);
        self.reason.push(eta.reason.clone());
        self.position.push(position);
        self.promised.push(promised);
        self.history.push(dates_changed);
    }

    /// Two statements for any number of lines: the update, and the history of ETA changes.
    fn store(self, conn: &mut PgConnection) -> QueryResult<()> {
        if self.ids.is_empty() {
            return Ok(());
        }
        crate::db::prepared::sql(
            "WITH u AS (
                 SELECT * FROM unnest($1::int8[], $2::date[], $3::date[], $4::bool[], $5::text[], $6::int4[], $7::date[], $8::bool[])
                     AS u(id, likely, worst, estimate, reason, position, promised, history)
             ), updated AS (
                 UPDATE order_lines l
                    SET eta_likely = u.likely, eta_worst = u.worst, eta_is_estimate = u.estimate,
                        eta_reason = u.reason, queue_position = u.position, promised_on = u.promised
                   FROM u WHERE l.id = u.id
                 RETURNING l.id
             )
             INSERT INTO order_line_eta_changes (order_line_id, eta_likely, eta_worst, eta_is_estimate, reason)
             SELECT u.id, u.likely, u.worst, u.estimate, u.reason FROM u WHERE u.history",
        )
        .bind::<Array<BigInt>, _>(self.ids)
        .bind::<Array<Nullable<Date>>, _>(self.likely)
        .bind::<Array<Nullable<Date>>, _>(self.worst)
        .bind::<Array<Bool>, _>(self.estimate)
        .bind::<Array<Text>, _>(self.reason)
        .bind::<Array<Int4>, _>(self.position)
        .bind::<Array<Nullable<Date>>, _>(self.promised)
        .bind::<Array<Bool>, _>(self.history)
        .execute(conn)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone, Utc};
    use proptest::prelude::*;

    use super::*;
    use crate::domain::QueuePlace;

    /// A waiting line as drawn: (product, where it stands, units).
    type Line = (i64, QueuePlace, u32);

    proptest! {
        /// A batch over several products: from every product's lines at or behind its
        /// start, read together in any order, each product's stretch is the back of its
        /// whole queue in the shop's order from the start, and what waits ahead is the
        /// rest of its queue; counters short of the lines read give no stretch.
        #[test]
        fn each_products_stretch_is_the_back_of_its_whole_queue(
            queues in prop::collection::vec(
                prop::collection::vec((0i64..40, 0i32..3, prop::option::of(0i64..4), 1u32..5), 1..10),
                1..6,
            ),
            starts in prop::collection::vec(0usize..10, 6),
            short in prop::option::of(0usize..6),
            higher_tier_first in any::<bool>(),
            soonest_lapsing_first in any::<bool>(),
            shuffle in 1i64..1000,
        ) {
            let policy = QueuePolicy { higher_tier_first, soonest_lapsing_first };
            let base = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
            let mut next_id = 0;
            let mut read: Vec<Line> = Vec::new();
            let mut counters = Vec::new();
            let mut expected = Vec::new();
            for (p, drawn) in queues.iter().enumerate() {
                let product = p as i64 + 1;
                let lines: Vec<Line> = drawn
                    .iter()
                    .map(|&(minute, tier, lapse, units)| {
                        next_id += 1;
                        let place = QueuePlace {
                            line_id: next_id,
                            placed_at: base + Duration::minutes(minute),
                            customer_tier: tier,
                            authorized_until: lapse.map(|days| base + Duration::days(days)),
                        };
                        (product, place, units)
                    })
                    .collect();
                let start = lines[starts[p] % lines.len()].1;
                // What the database reads: the product's lines at or behind its start.
                read.extend(
                    lines
                        .iter()
                        .filter(|line| policy.compare(&line.1, &start) != std::cmp::Ordering::Less)
                        .copied(),
                );
                let mut whole = lines.clone();
                domain::sort_queue(&policy, &mut whole, |line| line.1);
                let at = whole.iter().position(|line| line.1 == start).unwrap();
                let units: u32 = whole.iter().map(|line| line.2).sum();
                let ahead_units: u32 = whole[..at].iter().map(|line| line.2).sum();
                let is_short = short == Some(p);
                // Short: one line fewer than the stretch read.
                let counted_lines = if is_short { (whole.len() - at) as i32 - 1 } else { whole.len() as i32 };
                counters.push((product, counted_lines, units as i32));
                let ids: Vec<i64> = whole[at..].iter().map(|line| line.1.line_id).collect();
                expected.push((!is_short).then_some((ids, at as u32, u64::from(ahead_units))));
            }
            read.sort_by_key(|line| (line.1.line_id * shuffle) % 97);

            let found: Vec<Option<(Vec<i64>, u32, u64)>> =
                stretches(&policy, read, &counters, |line| line.0, |line| line.1, |line| line.2)
                    .into_iter()
                    .map(|stretch| {
                        stretch.map(|(rows, ahead)| {
                            (rows.iter().map(|line| line.1.line_id).collect(), ahead.lines, ahead.units)
                        })
                    })
                    .collect();
            prop_assert_eq!(found, expected);
        }
    }
}
