//! The approvals page: the proposals a manager decides and a rep's own, one decision from
//! the page's form, and the bulk approval of the delay policy's proposals.

pub mod proposals;

use chrono::NaiveDate;
use diesel::prelude::*;

use self::proposals::{Decided, Decision, ProposalRow};
use crate::db::audit::Actor;
use crate::db::models::ProposalStatus;
use crate::db::schema::discount_proposals;
use crate::db::shop_settings;
use crate::db::users::Role;
use crate::error::{AppError, AppResult};

/// How many withdrawn proposals the page lists, newest first.
const WITHDRAWN_SHOWN: usize = 20;

/// What the approvals page shows.
pub struct ApprovalsData {
    /// Waiting for a manager (managers only).
    pub pending: Vec<ProposalRow>,
    /// Withdrawn before anyone decided, newest first (managers only).
    pub withdrawn: Vec<ProposalRow>,
    /// The user's own proposals in every status, newest first.
    pub mine: Vec<ProposalRow>,
    pub currency: String,
}

pub fn page(
    conn: &mut PgConnection,
    user_id: i64,
    is_manager: bool,
    today: NaiveDate,
) -> AppResult<ApprovalsData> {
    let (pending, mut withdrawn) = if is_manager {
        (
            proposals::list(conn, ProposalStatus::Proposed, None, today)?,
            proposals::list(conn, ProposalStatus::Withdrawn, None, today)?,
        )
    } else {
        (Vec::new(), Vec::new())
    };
    let mut mine = Vec::new();
    for status in ProposalStatus::ALL.iter().copied() {
        mine.extend(proposals::list(conn, status, Some(user_id), today)?);
    }
    mine.sort_by_key(|p| std::cmp::Reverse(p.created_at));
    withdrawn.sort_by_key(|p| std::cmp::Reverse(p.decided_at));
    withdrawn.truncate(WITHDRAWN_SHOWN);
    Ok(ApprovalsData {
        pending,
        withdrawn,
        mine,
        currency: shop_settings::load(conn)?.currency,
    })
}

/// One proposal as its row on the page shows it, with the shop's currency.
pub fn row(conn: &mut PgConnection, id: i64, today: NaiveDate) -> AppResult<(ProposalRow, String)> {
    let mut all = Vec::new();
    for status in ProposalStatus::ALL.iter().copied() {
        all.extend(proposals::list(conn, status, None, today)?);
    }
    let row = all
        .into_iter()
        .find(|p| p.id == id)
        .ok_or_else(|| AppError::not_found("the proposal"))?;
    Ok((row, shop_settings::load(conn)?.currency))
}

/// A manager's decision as the page's form gives it: `decision` is "approve" (with an
/// optional changed `value`, read in the proposal's kind) or "reject" (with a `note`).
pub fn decide(
    conn: &mut PgConnection,
    actor: &Actor,
    role: Role,
    id: i64,
    decision: &str,
    value: &str,
    note: String,
) -> AppResult<Decided> {
    let kind: String = discount_proposals::table
        .find(id)
        .select(discount_proposals::kind)
        .first(conn)
        .optional()?
        .ok_or_else(|| AppError::not_found("the proposal"))?;
    let decision = match decision {
        "approve" => Decision::Approve {
            value: proposals::parse_value(&kind, value)?,
        },
        "reject" => Decision::Reject { note },
        _ => return Err(AppError::invalid("decision", "approve or reject")),
    };
    proposals::decide(conn, actor, role, id, decision)
}

/// Approves the selected proposals as proposed, all or none: only the delay policy's own
/// proposals may be approved in bulk. Returns how many were approved.
pub fn bulk_approve(
    conn: &mut PgConnection,
    actor: &Actor,
    role: Role,
    ids: &[i64],
) -> AppResult<usize> {
    if ids.is_empty() {
        return Err(AppError::invalid(
            "proposal",
            "select at least one proposal",
        ));
    }
    conn.transaction(|conn| {
        let mut approved = 0;
        for &id in ids {
            let is_policy: bool = discount_proposals::table
                .find(id)
                .select(discount_proposals::proposed_by.is_null())
                .first(conn)?;
            if !is_policy {
                return Err(AppError::invalid(
                    "proposal",
                    "bulk approval is for the delay policy's own proposals",
                ));
            }
            let decided =
                proposals::decide(conn, actor, role, id, Decision::Approve { value: None })?;
            if decided.coupon_code.is_some() {
                approved += 1;
            }
        }
        Ok(approved)
    })
}
