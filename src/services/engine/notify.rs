//! The one place the effects of an ETA refresh are acted on (DESIGN §4.8): a line later
//! than its customer was told marks its order for a coalesced ETA-change email (sent by
//! the delivery worker when due, rendered from the state then), and a line past its
//! promise goes to the delay discount policy. Called once per use case, after all its
//! refreshes, in its transaction.

use std::collections::BTreeMap;

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Int4, Nullable, Text};

use crate::db::stock::Product;
use crate::error::AppResult;
use crate::services::engine::events::{Ctx, EtaEffects, Filled, LaterThanTold, Restocked};

/// Acts on what the refreshes of one use case changed.
pub fn eta_changes(conn: &mut PgConnection, ctx: &Ctx<'_>, effects: EtaEffects) -> AppResult<()> {
    mark_pending(conn, ctx, &effects.later_than_told)?;
    crate::services::approvals::proposals::propose_for_delays(conn, ctx, &effects.delayed)?;
    Ok(())
}

/// One pending update per order (due one window after its first change; a later change
/// leaves the due time alone) and the cause of each line's latest move later. Written in
/// order id order, in two statements, so two events never lock pending rows in opposite
/// orders.
fn mark_pending(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    later: &[LaterThanTold],
) -> QueryResult<()> {
    if later.is_empty() {
        return Ok(());
    }
    // The last cause of a line wins: it is what moved it to where it is.
    let by_line: BTreeMap<i64, &LaterThanTold> = later.iter().map(|l| (l.line_id, l)).collect();
    let mut orders: Vec<i64> = by_line.values().map(|l| l.order_id).collect();
    orders.sort_unstable();
    orders.dedup();
    crate::db::prepared::sql(
        "INSERT INTO eta_updates_pending (order_id, due_at)
         SELECT o, now() + make_interval(hours => $2) FROM unnest($1::int8[]) AS o ORDER BY o
         ON CONFLICT (order_id) DO UPDATE SET last_changed_at = now()",
    )
    .bind::<Array<BigInt>, _>(&orders)
    .bind::<Int4, _>(ctx.settings.eta_update_window_hours.max(1))
    .execute(conn)?;
    let lines: Vec<i64> = by_line.keys().copied().collect();
    let order_of: Vec<i64> = by_line.values().map(|l| l.order_id).collect();
    let causes: Vec<String> = by_line
        .values()
        .map(|l| l.cause.code().to_owned())
        .collect();
    let references: Vec<Option<String>> = by_line
        .values()
        .map(|l| l.cause.reference().map(str::to_owned))
        .collect();
    crate::db::prepared::sql(
        "INSERT INTO eta_update_causes (order_line_id, order_id, cause, reference)
         SELECT * FROM unnest($1::int8[], $2::int8[], $3::text[], $4::text[]) ORDER BY 1
         ON CONFLICT (order_line_id) DO UPDATE
            SET order_id = EXCLUDED.order_id, cause = EXCLUDED.cause,
                reference = EXCLUDED.reference, changed_at = now()",
    )
    .bind::<Array<BigInt>, _>(lines)
    .bind::<Array<BigInt>, _>(order_of)
    .bind::<Array<Text>, _>(causes)
    .bind::<Array<Nullable<Text>>, _>(references)
    .execute(conn)?;
    Ok(())
}

/// Queues what a fill of `product`'s queue tells customers: one restock email per order
/// served and, when units are left, the back-in-stock ones. Gives back the lines served.
pub fn restocked(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    product: &Product,
    restocked: Restocked,
) -> AppResult<Vec<Filled>> {
    crate::services::messages::restock_mail::after_fill(conn, ctx, product, &restocked.0)?;
    Ok(restocked.0)
}
