//! A customer's self-service link (from an email): what it will do, for its confirmation
//! page, and doing it once. The choice itself is `choices::apply`, the same as a rep's.

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};

use crate::db::audit::{self, Actor};
use crate::email::links::{LinkAction, LinkClaim};
use crate::error::{AppError, AppResult};
use crate::services::inventory::alternatives::{self, Offer, SwapChoice};
use crate::services::inventory::swaps::{self, SwapDone, SwapOutcome};
use crate::services::orders::choices::{self, Channel, Choice, ChoiceOutcome};

/// What a link will do, for its confirmation page.
pub struct LinkSummary {
    pub order_number: Option<String>,
    pub product: Option<String>,
    /// (product, waiting units, ready units) of the lines in scope.
    pub lines: Vec<(String, i32, i32)>,
    pub used: bool,
    /// Where the order stands now (not for unsubscribe links).
    pub standing: Option<choices::Standing>,
    /// A swap link's offer as it stands now, or why it no longer applies.
    pub swap: Option<Result<Offer, String>>,
    /// Beside a choice link (wait, ship, cancel): the alternatives that ship sooner now.
    pub alternatives: Vec<SwapChoice>,
}

fn link_used(conn: &mut PgConnection, nonce: &str) -> QueryResult<bool> {
    use crate::db::schema::link_uses::dsl as u;
    diesel::select(diesel::dsl::exists(u::link_uses.filter(u::nonce.eq(nonce)))).get_result(conn)
}

pub fn describe_link(conn: &mut PgConnection, claim: &LinkClaim) -> AppResult<LinkSummary> {
    let used = link_used(conn, &claim.nonce)?;
    if claim.action == LinkAction::Unsubscribe {
        return Ok(LinkSummary {
            order_number: None,
            product: None,
            lines: Vec::new(),
            used,
            standing: None,
            swap: None,
            alternatives: Vec::new(),
        });
    }
    let lines = choices::scope_lines(conn, claim.id, claim.line_id)?;
    if lines.is_empty() {
        return Err(AppError::not_found("the order"));
    }
    Ok(LinkSummary {
        order_number: lines.first().map(|l| l.number.clone()),
        product: claim
            .line_id
            .and_then(|_| lines.first().map(|l| l.product.clone())),
        lines: lines
            .iter()
            .map(|l| (l.product.clone(), l.waiting, l.allocated))
            .collect(),
        used,
        standing: Some(choices::standing(conn, claim.id, claim.line_id)?),
        swap: match (claim.action, claim.line_id) {
            (LinkAction::Swap { alternative }, Some(line_id)) => Some(swaps::preview(
                conn,
                claim.id,
                line_id,
                alternative,
                crate::clock::today(),
            )?),
            _ => None,
        },
        alternatives: match claim.action {
            LinkAction::Wait | LinkAction::ShipReady | LinkAction::CancelWaiting if !used => {
                let settings = crate::db::shop_settings::load(conn)?;
                let ctx = crate::services::engine::events::Ctx {
                    actor: &Actor::System,
                    today: crate::clock::today(),
                    settings: &settings,
                };
                let links = crate::email::links::LinkMaker::load(conn)?;
                alternatives::swap_choices(conn, &ctx, &links, claim.id, claim.line_id)?
            }
            _ => Vec::new(),
        },
    })
}

/// What a confirmed link did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkOutcome {
    /// The customer's choice, applied (see `choices::apply`).
    Chosen(ChoiceOutcome),
    /// The alternative, taken (see `swaps::take`).
    Swapped(SwapDone),
    Unsubscribed,
    /// The link was used before: nothing changed.
    Reused,
    /// The choice no longer applies (nothing ready, nothing waiting, order finished):
    /// nothing changed, the link still works, and this says why.
    NoLongerApplies(String),
}

/// Applies a verified link once: records its nonce, then the customer's choice through
/// the engine, in one transaction.
pub fn use_link(
    conn: &mut PgConnection,
    claim: &LinkClaim,
    today: NaiveDate,
) -> AppResult<LinkOutcome> {
    if let LinkAction::Swap { alternative } = claim.action {
        return use_swap_link(conn, claim, alternative, today);
    }
    conn.transaction(|conn| {
        if claim.action != LinkAction::Unsubscribe && !link_used(conn, &claim.nonce)? {
            let choice = match claim.action {
                LinkAction::ShipReady => Choice::ShipReady,
                LinkAction::CancelWaiting => Choice::CancelWaiting,
                _ => Choice::Wait,
            };
            let number = choices::scope_lines(conn, claim.id, claim.line_id)?
                .into_iter()
                .next()
                .ok_or_else(|| AppError::not_found("the order"))?
                .number;
            if let Some(why) = choices::standing(conn, claim.id, claim.line_id)?.refusal(choice, &number) {
                return Ok(LinkOutcome::NoLongerApplies(why));
            }
        }
        if !take_nonce(conn, claim)? {
            return Ok(LinkOutcome::Reused);
        }
        if claim.action == LinkAction::Unsubscribe {
            crate::db::prepared::sql(
                "UPDATE restock_subscriptions SET unsubscribed_at = now()
                  WHERE unsubscribed_at IS NULL
                    AND lower(email) = (SELECT lower(email) FROM restock_subscriptions WHERE id = $1)",
            )
            .bind::<BigInt, _>(claim.id)
            .execute(conn)?;
            audit::record(conn, &Actor::System, "restock_unsubscribed", "restock_subscription", Some(claim.id.to_string()), None, None)?;
            return Ok(LinkOutcome::Unsubscribed);
        }
        let choice = match claim.action {
            LinkAction::Wait => Choice::Wait,
            LinkAction::ShipReady => Choice::ShipReady,
            LinkAction::CancelWaiting => Choice::CancelWaiting,
            LinkAction::Unsubscribe | LinkAction::Swap { .. } => {
                return Ok(LinkOutcome::Unsubscribed);
            }
        };
        let actor = customer_of(conn, claim)?;
        let outcome = choices::apply(conn, &actor, claim.id, claim.line_id, choice, Channel::Link, today)?;
        Ok(LinkOutcome::Chosen(outcome))
    })
}

/// Records the link's nonce as used; false when it was used before.
fn take_nonce(conn: &mut PgConnection, claim: &LinkClaim) -> QueryResult<bool> {
    let inserted = crate::db::prepared::sql(
        "INSERT INTO link_uses (nonce, order_line_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind::<Text, _>(&claim.nonce)
    .bind::<Nullable<BigInt>, _>(claim.line_id)
    .execute(conn)?;
    Ok(inserted > 0)
}

/// The customer of the order a link is for, who acts by following it.
fn customer_of(conn: &mut PgConnection, claim: &LinkClaim) -> AppResult<Actor> {
    let email = choices::scope_lines(conn, claim.id, claim.line_id)?
        .into_iter()
        .next()
        .ok_or_else(|| AppError::not_found("the order"))?
        .email;
    Ok(Actor::Customer { email })
}

/// A swap link: its nonce is taken first (a second use waits, then finds it used); when
/// the alternative is no longer sooner the nonce is given back, so nothing changed and the
/// link still works.
fn use_swap_link(
    conn: &mut PgConnection,
    claim: &LinkClaim,
    alternative: i64,
    today: NaiveDate,
) -> AppResult<LinkOutcome> {
    let line_id = claim
        .line_id
        .ok_or_else(|| AppError::not_found("the order line"))?;
    conn.transaction(|conn| {
        if !take_nonce(conn, claim)? {
            return Ok(LinkOutcome::Reused);
        }
        let actor = customer_of(conn, claim)?;
        match swaps::take(
            conn,
            &actor,
            claim.id,
            line_id,
            alternative,
            Channel::Link,
            today,
        )? {
            SwapOutcome::Taken(done) => Ok(LinkOutcome::Swapped(done)),
            SwapOutcome::NoLongerApplies(why) => {
                crate::db::prepared::sql("DELETE FROM link_uses WHERE nonce = $1")
                    .bind::<Text, _>(&claim.nonce)
                    .execute(conn)?;
                Ok(LinkOutcome::NoLongerApplies(why))
            }
        }
    })
}
