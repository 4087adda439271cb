//! Discount proposals for delayed customers (DESIGN §5 "Approvals"): reps and the delay
//! policy propose, managers decide. Every rule is enforced here, whatever the page sent.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Int4, Nullable, Text};
use rand::Rng;
use serde_json::json;

use crate::db::audit::{self, Actor};
use crate::db::models::ProposalStatus;
use crate::db::schema::{discount_proposals, orders, users};
use crate::db::users::Role;
use crate::domain::{self, DiscountPolicy};
use crate::error::{AppError, AppResult, FieldError};
use crate::services::engine::events::{Ctx, Delayed};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiscountKind {
    Percent,
    Amount,
    FreeShipping,
}

impl DiscountKind {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "percent" => Some(Self::Percent),
            "amount" => Some(Self::Amount),
            "free_shipping" => Some(Self::FreeShipping),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Percent => "percent",
            Self::Amount => "amount",
            Self::FreeShipping => "free_shipping",
        }
    }
}

/// The order's value in cents: what is not cancelled.
fn order_value(conn: &mut PgConnection, order_id: i64) -> QueryResult<i64> {
    diesel::dsl::sql::<BigInt>("SELECT coalesce(sum((qty - cancelled) * unit_price_cents), 0)::int8 FROM order_lines WHERE order_id = ")
        .bind::<BigInt, _>(order_id)
        .get_result(conn)
}

/// Checks a proposal's value: percent 1..100, an amount within the order's value, free
/// shipping carries none. `value` is percent points or cents.
pub fn check_value(
    kind: DiscountKind,
    value: i64,
    order_value_cents: i64,
    currency: &str,
) -> Result<i32, FieldError> {
    match kind {
        DiscountKind::Percent if (1..=100).contains(&value) => Ok(value as i32),
        DiscountKind::Percent => Err(FieldError::new(
            "value",
            "a percentage must be from 1 to 100",
        )),
        DiscountKind::Amount if value >= 1 && value <= order_value_cents => Ok(value as i32),
        DiscountKind::Amount => Err(FieldError::new(
            "value",
            format!(
                "an amount must be more than 0 and at most the order's value, {}",
                crate::format::money(order_value_cents, currency)
            ),
        )),
        DiscountKind::FreeShipping => Ok(0),
    }
}

/// Parses a value as a person types it: whole percentage points, or money ("12.50",
/// "12,50") for an amount, in cents. Empty is `None`.
pub fn parse_value(kind: &str, text: &str) -> Result<Option<i64>, AppError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let parsed = if kind == "amount" {
        text.replace(',', ".")
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .map(|v| (v * 100.0).round() as i64)
    } else {
        text.parse::<i64>().ok()
    };
    parsed.map(Some).ok_or_else(|| {
        AppError::invalid(
            "value",
            format!("{:?} is not a number", crate::types::truncate(text)),
        )
    })
}

/// A rep's proposal for an order. `value` is percent points, or cents for an amount.
pub fn propose(
    conn: &mut PgConnection,
    actor: &Actor,
    order_number: &str,
    kind: &str,
    value: i64,
    reason: &str,
) -> AppResult<i64> {
    conn.transaction(|conn| {
        let order_id: i64 = orders::table
            .filter(orders::number.eq(order_number))
            .select(orders::id)
            .first(conn)
            .optional()?
            .ok_or_else(|| AppError::NotFound(format!("order {}", crate::types::truncate(order_number))))?;
        let currency = crate::db::shop_settings::load(conn)?.currency;
        let mut problems = Vec::new();
        let kind = DiscountKind::parse(kind);
        if kind.is_none() {
            problems.push(FieldError::new("kind", "choose percent off, amount off or free shipping"));
        }
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > 1000 {
            problems.push(FieldError::new("reason", "say why (up to 1000 characters)"));
        }
        let value = match kind {
            Some(kind) => match check_value(kind, value, order_value(conn, order_id)?, &currency) {
                Ok(value) => Some(value),
                Err(problem) => {
                    problems.push(problem);
                    None
                }
            },
            None => None,
        };
        let (Some(kind), Some(value), true) = (kind, value, problems.is_empty()) else {
            return Err(AppError::invalid_fields(problems));
        };
        let proposed_by = match actor {
            Actor::User { id, .. } => Some(*id),
            _ => None,
        };
        // One open proposal per order (a unique index keeps it so under any concurrency).
        let open: bool = diesel::select(diesel::dsl::exists(
            discount_proposals::table
                .filter(discount_proposals::order_id.eq(order_id))
                .filter(discount_proposals::status.eq(ProposalStatus::Proposed)),
        ))
        .get_result(conn)?;
        let already_open = || {
            AppError::invalid(
                "order",
                format!(
                    "order {} has a discount proposal waiting for a decision already; a manager decides that one first",
                    crate::types::truncate(order_number)
                ),
            )
        };
        if open {
            return Err(already_open());
        }
        let id: i64 = diesel::insert_into(discount_proposals::table)
            .values((
                discount_proposals::order_id.eq(order_id),
                discount_proposals::kind.eq(kind.as_str()),
                discount_proposals::value.eq(value),
                discount_proposals::reason.eq(reason),
                discount_proposals::proposed_by.eq(proposed_by),
            ))
            .returning(discount_proposals::id)
            .get_result(conn)
            .map_err(|error| match error {
                // Another proposal for the order was stored between the check and here.
                diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::UniqueViolation,
                    _,
                ) => already_open(),
                other => other.into(),
            })?;
        audit::record(
            conn,
            actor,
            "discount_proposed",
            "discount_proposal",
            Some(id.to_string()),
            None,
            Some(json!({ "order": order_number, "kind": kind.as_str(), "value": value, "reason": reason })),
        )?;
        Ok(id)
    })
}

/// The delay policy's proposals for lines that just became late: at most one per order,
/// ever (the policy key is the order), so a date that keeps moving, or two late lines of
/// one order, do not pile them up; and none while another proposal for the order is open
/// (the database allows one open proposal per order).
pub fn propose_for_delays(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    delayed: &[Delayed],
) -> AppResult<usize> {
    let policy = DiscountPolicy {
        percent: ctx.settings.delay_discount_percent.clamp(0, 100) as u8,
        more_than_days_late: ctx.settings.delay_discount_after_days.max(0) as u32,
    };
    if policy.percent == 0 {
        return Ok(0);
    }
    let mut made = 0;
    for late in delayed {
        let delay = domain::check_delay(late.promised_on, late.new_worst);
        let Some(suggestion) = domain::suggest_discount(&policy, &delay) else {
            continue;
        };
        // Keys before issue 13 carried the line's promise ("delay:order:date"), so two
        // lines of one order made two proposals; any policy proposal counts.
        let key = format!("delay:{}", late.order_id);
        let inserted = crate::db::prepared::sql(
            "INSERT INTO discount_proposals (order_id, kind, value, reason, policy_key)
             SELECT $1, 'percent', $2, $3, $4
              WHERE NOT EXISTS (SELECT 1 FROM discount_proposals
                                 WHERE order_id = $1 AND (policy_key IS NOT NULL OR status = 'proposed'))
             ON CONFLICT DO NOTHING",
        )
        .bind::<BigInt, _>(late.order_id)
        .bind::<Int4, _>(i32::from(suggestion.percent))
        .bind::<Text, _>(policy_reason(
            suggestion.days_late,
            late.promised_on,
            late.new_worst,
            ctx.today,
        ))
        .bind::<Text, _>(&key)
        .execute(conn)?;
        made += inserted;
    }
    Ok(made)
}

/// The policy's reason in words that stay true whether the promised day is still ahead
/// or already past: "Delay policy: expected 14 days after the promised date (promised Wed
/// 16 Dec, now expected Wed 30 Dec)".
pub fn policy_reason(
    days_late: u32,
    promised_on: NaiveDate,
    expected: NaiveDate,
    today: NaiveDate,
) -> String {
    format!(
        "Delay policy: expected {} after the promised date (promised {}, now expected {})",
        crate::domain::format::units_phrase(u64::from(days_late), "day"),
        domain::format::human_date(promised_on, today),
        domain::format::human_date(expected, today),
    )
}

/// Withdraws the open proposals of these orders when nothing on them is left to ship
/// (everything shipped or cancelled), with the reason on the proposal and in the audit
/// log. Called by fulfilment after a shipment or cancellation, in its transaction.
pub fn withdraw_if_finished(
    conn: &mut PgConnection,
    actor: &Actor,
    order_ids: &[i64],
) -> AppResult<usize> {
    #[derive(QueryableByName)]
    struct Withdrawn {
        #[diesel(sql_type = BigInt)]
        id: i64,
        #[diesel(sql_type = Text)]
        number: String,
        #[diesel(sql_type = Text)]
        note: String,
    }
    let withdrawn: Vec<Withdrawn> = crate::db::prepared::sql(
        "WITH finished AS (
             SELECT o.id, o.number,
                    CASE WHEN sum(l.shipped) = 0 THEN 'withdrawn: the order was cancelled'
                         WHEN sum(l.cancelled) = 0 THEN 'withdrawn: everything on the order has shipped'
                         ELSE 'withdrawn: nothing on the order is left to ship (the rest was cancelled)'
                    END AS note
               FROM orders o JOIN order_lines l ON l.order_id = o.id
              WHERE o.id = ANY($1)
              GROUP BY o.id, o.number
             HAVING sum(l.qty - l.shipped - l.cancelled) = 0
         )
         UPDATE discount_proposals d
            SET status = 'withdrawn', decided_at = now(), decision_note = f.note
           FROM finished f
          WHERE d.order_id = f.id AND d.status = 'proposed'
         RETURNING d.id, f.number, f.note",
    )
    .bind::<diesel::sql_types::Array<BigInt>, _>(order_ids)
    .load(conn)?;
    for w in &withdrawn {
        audit::record(
            conn,
            actor,
            "discount_withdrawn",
            "discount_proposal",
            Some(w.id.to_string()),
            Some(json!({ "status": ProposalStatus::Proposed })),
            Some(
                json!({ "status": ProposalStatus::Withdrawn, "order": w.number, "reason": w.note }),
            ),
        )?;
    }
    Ok(withdrawn.len())
}

/// What a manager decides.
#[derive(Debug, Clone)]
pub enum Decision {
    /// Approve, optionally with a changed value.
    Approve {
        value: Option<i64>,
    },
    Reject {
        note: String,
    },
}

/// The result of a decision: the coupon on approval; or, when the order has nothing
/// left to ship, no decision: the proposal was withdrawn, and why.
#[derive(Debug, Clone)]
pub struct Decided {
    pub proposal_id: i64,
    pub coupon_code: Option<String>,
    pub withdrawn: Option<String>,
}

/// A coupon code nobody can guess: 12 characters from an alphabet without look-alikes
/// (about 60 bits).
pub fn coupon_code() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    let body: String = (0..12)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    format!("SORRY-{}-{}-{}", &body[..4], &body[4..8], &body[8..])
}

/// Decides a proposal. Only managers and admins decide; nobody decides their own
/// proposal; a decided proposal stays decided (the row lock makes two managers clicking
/// at once take turns: the second sees who decided).
pub fn decide(
    conn: &mut PgConnection,
    actor: &Actor,
    role: Role,
    proposal_id: i64,
    decision: Decision,
) -> AppResult<Decided> {
    if !role.allows(Role::Manager) {
        return Err(AppError::Forbidden);
    }
    let Actor::User { id: user_id, .. } = actor else {
        return Err(AppError::Forbidden);
    };
    conn.transaction(|conn| {
        let (order_id, kind, value, status, proposed_by, decided_by): (i64, String, i32, ProposalStatus, Option<i64>, Option<i64>) =
            discount_proposals::table
                .find(proposal_id)
                .for_update()
                .select((
                    discount_proposals::order_id,
                    discount_proposals::kind,
                    discount_proposals::value,
                    discount_proposals::status,
                    discount_proposals::proposed_by,
                    discount_proposals::decided_by,
                ))
                .first(conn)
                .optional()?
                .ok_or_else(|| AppError::not_found("the proposal"))?;
        if status != ProposalStatus::Proposed {
            let who: String = match decided_by {
                Some(id) => users::table.find(id).select(users::name).first(conn)?,
                None => "someone".to_owned(),
            };
            return Err(AppError::Conflict(format!("this proposal was already {status} by {who}")));
        }
        if proposed_by == Some(*user_id) {
            return Err(AppError::Conflict("you proposed this discount, so another manager must decide it".to_owned()));
        }
        // An order with nothing left to ship gets no coupon: the proposal is withdrawn
        // (and stays so: this is not an error, so the transaction keeps it).
        if withdraw_if_finished(conn, actor, &[order_id])? > 0 {
            let note: Option<String> = discount_proposals::table
                .find(proposal_id)
                .select(discount_proposals::decision_note)
                .first(conn)?;
            return Ok(Decided { proposal_id, coupon_code: None, withdrawn: note.or(Some("withdrawn".to_owned())) });
        }
        let now = Utc::now();
        let decided = match decision {
            Decision::Approve { value: new_value } => {
                let kind = DiscountKind::parse(&kind).ok_or_else(|| AppError::Internal(anyhow::anyhow!("stored kind {kind}")))?;
                let currency = crate::db::shop_settings::load(conn)?.currency;
                let value = match new_value {
                    Some(v) => check_value(kind, v, order_value(conn, order_id)?, &currency)
                        .map_err(|problem| AppError::invalid_fields(vec![problem]))?,
                    None => value,
                };
                let code = coupon_code();
                diesel::update(discount_proposals::table.find(proposal_id))
                    .set((
                        discount_proposals::status.eq(ProposalStatus::Approved),
                        discount_proposals::value.eq(value),
                        discount_proposals::decided_by.eq(Some(*user_id)),
                        discount_proposals::decided_at.eq(Some(now)),
                        discount_proposals::coupon_code.eq(Some(&code)),
                    ))
                    .execute(conn)?;
                queue_offer(conn, actor, proposal_id)?;
                Decided { proposal_id, coupon_code: Some(code), withdrawn: None }
            }
            Decision::Reject { note } => {
                let note = note.trim().to_owned();
                if note.is_empty() || note.chars().count() > 1000 {
                    return Err(AppError::invalid("note", "say why it is rejected (up to 1000 characters)"));
                }
                diesel::update(discount_proposals::table.find(proposal_id))
                    .set((
                        discount_proposals::status.eq(ProposalStatus::Rejected),
                        discount_proposals::decided_by.eq(Some(*user_id)),
                        discount_proposals::decided_at.eq(Some(now)),
                        discount_proposals::decision_note.eq(Some(note)),
                    ))
                    .execute(conn)?;
                Decided { proposal_id, coupon_code: None, withdrawn: None }
            }
        };
        audit::record(
            conn,
            actor,
            if decided.coupon_code.is_some() { "discount_approved" } else { "discount_rejected" },
            "discount_proposal",
            Some(proposal_id.to_string()),
            Some(json!({ "status": ProposalStatus::Proposed, "value": value })),
            Some(json!({ "status": if decided.coupon_code.is_some() { ProposalStatus::Approved } else { ProposalStatus::Rejected }, "coupon": decided.coupon_code })),
        )?;
        Ok(decided)
    })
}

/// Queues the discount-offer email for an approved proposal, in the approval's transaction.
fn queue_offer(conn: &mut PgConnection, actor: &Actor, proposal_id: i64) -> AppResult<()> {
    crate::services::messages::triggers::queue_discount_offer(
        conn,
        actor,
        proposal_id,
        crate::clock::today(),
    )?;
    Ok(())
}

#[derive(Debug, Clone, QueryableByName)]
#[diesel(table_name = discount_proposals)]
pub struct ProposalRow {
    pub id: i64,
    #[diesel(sql_type = Text)]
    pub order_number: String,
    #[diesel(sql_type = Text)]
    pub customer_name: String,
    pub kind: String,
    pub value: i32,
    pub reason: String,
    pub status: ProposalStatus,
    pub proposed_by: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    pub proposed_by_name: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub decided_by_name: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decision_note: Option<String>,
    pub coupon_code: Option<String>,
    #[diesel(sql_type = BigInt)]
    pub order_value_cents: i64,
    #[diesel(sql_type = BigInt)]
    pub days_late: i64,
    #[diesel(sql_type = BigInt)]
    pub customer_orders: i64,
    #[diesel(sql_type = BigInt)]
    pub past_compensations: i64,
    pub created_at: DateTime<Utc>,
}

impl ProposalRow {
    pub fn is_policy(&self) -> bool {
        self.proposed_by.is_none()
    }

    /// Still waiting for a manager's decision.
    pub fn is_proposed(&self) -> bool {
        self.status == ProposalStatus::Proposed
    }
}

const LIST_SQL: &str = include_str!("proposals_list.sql");

/// Proposals with what a manager needs to decide; `status` filters, `proposer` limits to
/// one rep's own.
pub fn list(
    conn: &mut PgConnection,
    status: ProposalStatus,
    proposer: Option<i64>,
    today: NaiveDate,
) -> QueryResult<Vec<ProposalRow>> {
    crate::db::prepared::sql(LIST_SQL)
        .bind::<Text, _>(status)
        .bind::<Nullable<BigInt>, _>(proposer)
        .bind::<diesel::sql_types::Date, _>(today)
        .load(conn)
}
