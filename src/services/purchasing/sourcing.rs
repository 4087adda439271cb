//! A product's suppliers (issue 18, part 3): each with its own lead time and unit cost,
//! in order; the first is the product's primary supplier (`products.supplier_id`).
//! Reliability beside each comes from its receipts (`domain::reliability`).

use std::collections::HashMap;

use chrono::NaiveDate;
use diesel::prelude::*;
use serde::Serialize;

use crate::db::audit::{self, Actor};
use crate::db::schema::{product_suppliers, products, suppliers};
use crate::db::stock;
use crate::domain::sourcing::{self, SupplierTerms};
use crate::domain::{Confirmations, Reliability, SlipHistory};
use crate::error::{AppError, AppResult};

/// The most suppliers one product lists.
pub const MAX_SUPPLIERS: usize = 20;
/// The longest lead time accepted, in days.
pub const MAX_LEAD_TIME_DAYS: i64 = 365;
/// The highest unit cost accepted, in cents.
pub const MAX_UNIT_COST_CENTS: i64 = 10_000_000_000;

/// One supplier's terms as given (API, product page), the name not yet resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupplierEntry {
    pub name: String,
    pub lead_time_days: Option<i32>,
    pub unit_cost_cents: Option<i64>,
    /// The supplier's contact address (where purchase orders are emailed): `None` leaves
    /// it as it is, `Some(None)` clears it. It belongs to the supplier, so every product
    /// of that supplier shows the same one.
    pub contact_email: Option<Option<String>>,
}

/// One supplier of a product as pages and the API show it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ProductSupplier {
    #[serde(skip)]
    pub supplier_id: i64,
    pub name: String,
    pub lead_time_days: Option<i32>,
    pub unit_cost_cents: Option<i64>,
    /// Where purchase orders to this supplier are emailed (absent when none is set).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = Email)]
    pub contact_email: Option<String>,
    /// From the supplier's receipts; absent before its first.
    #[serde(skip)]
    pub reliability: Option<Reliability>,
    /// How it answers the purchase orders emailed to it.
    #[serde(skip)]
    pub confirmations: Confirmations,
}

impl ProductSupplier {
    pub fn terms(&self) -> SupplierTerms {
        SupplierTerms {
            lead_time_days: self.lead_time_days.map(|d| d.max(0) as u32),
            unit_cost_cents: self.unit_cost_cents,
            usual_slip_days: self.reliability.map(|r| r.median_slip_days),
        }
    }

    /// "on time 87%, usually 2 days late", or that there is no history yet; then how it
    /// answers the purchase orders emailed to it.
    pub fn reliability_text(&self) -> String {
        let deliveries = match self.reliability {
            Some(r) if r.deliveries == 1 => format!("{r} (1 delivery)"),
            Some(r) => format!("{r} ({} deliveries)", r.deliveries),
            None => "no deliveries yet".to_owned(),
        };
        if self.confirmations.sent == 0 {
            deliveries
        } else {
            format!("{deliveries}; {}", self.confirmations)
        }
    }

    pub fn arrives_on(&self, today: NaiveDate) -> Option<NaiveDate> {
        self.terms().arrives_on(today)
    }
}

/// The supplier's id, created on first mention. An existing supplier is read without a
/// row lock: callers lock products after this, and an event holding a product takes a key
/// share on its supplier when it updates the product twice, so a lock here could deadlock.
pub fn supplier_id(conn: &mut PgConnection, name: &str) -> QueryResult<i64> {
    let find = |conn: &mut PgConnection| {
        suppliers::table
            .filter(suppliers::name.eq(name))
            .select(suppliers::id)
            .first::<i64>(conn)
            .optional()
    };
    if let Some(id) = find(conn)? {
        return Ok(id);
    }
    let inserted = diesel::insert_into(suppliers::table)
        .values(suppliers::name.eq(name))
        .on_conflict(suppliers::name)
        .do_nothing()
        .returning(suppliers::id)
        .get_result::<i64>(conn)
        .optional()?;
    match inserted {
        Some(id) => Ok(id),
        // Another request made it a moment ago.
        None => find(conn)?.ok_or(diesel::result::Error::NotFound),
    }
}

/// Each supplier's reliability from its receipts.
pub fn reliabilities(
    conn: &mut PgConnection,
    supplier_ids: &[i64],
) -> AppResult<HashMap<i64, Reliability>> {
    let mut slips: HashMap<i64, Vec<i32>> = HashMap::new();
    for row in stock::supplier_slips(conn, supplier_ids)? {
        slips
            .entry(row.supplier_id)
            .or_default()
            .push(row.slip_days);
    }
    Ok(slips
        .into_iter()
        .filter_map(|(id, slips)| Some((id, SlipHistory::new(slips).reliability()?)))
        .collect())
}

/// Per supplier: purchase orders emailed to it (`supplier_loop`), and how many of those
/// it answered through their links.
pub fn confirmations(
    conn: &mut PgConnection,
    supplier_ids: &[i64],
) -> QueryResult<HashMap<i64, Confirmations>> {
    use diesel::sql_types::BigInt;
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = BigInt)]
        supplier_id: i64,
        #[diesel(sql_type = BigInt)]
        sent: i64,
        #[diesel(sql_type = BigInt)]
        answered: i64,
    }
    let rows: Vec<Row> = crate::db::prepared::sql(
        "SELECT po.supplier_id, count(DISTINCT s.purchase_order_id)::int8 AS sent,
                count(DISTINCT a.purchase_order_id)::int8 AS answered
           FROM purchase_order_sends s
           JOIN purchase_orders po ON po.id = s.purchase_order_id
           LEFT JOIN supplier_answers a ON a.purchase_order_id = s.purchase_order_id
          WHERE po.supplier_id = ANY($1)
          GROUP BY po.supplier_id",
    )
    .bind::<diesel::sql_types::Array<BigInt>, _>(supplier_ids)
    .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| {
            (
                r.supplier_id,
                Confirmations {
                    sent: r.sent.max(0) as u32,
                    answered: r.answered.max(0) as u32,
                },
            )
        })
        .collect())
}

/// product id, supplier id, name, lead time, unit cost, contact address.
type TermsRow = (i64, i64, String, Option<i32>, Option<i64>, Option<String>);
/// product id, supplier id, name, the supplier's own lead time, contact address.
type PrimaryRow = (i64, i64, String, Option<i32>, Option<String>);

/// The suppliers of these products, each list in order (primary first). A primary not
/// in the table (rows written before it, e.g. the large seed) is listed first with the
/// supplier's own lead time.
pub fn of_products(
    conn: &mut PgConnection,
    product_ids: &[i64],
) -> AppResult<HashMap<i64, Vec<ProductSupplier>>> {
    let rows: Vec<TermsRow> = product_suppliers::table
        .inner_join(suppliers::table)
        .filter(product_suppliers::product_id.eq_any(product_ids))
        .order((product_suppliers::product_id, product_suppliers::position))
        .select((
            product_suppliers::product_id,
            product_suppliers::supplier_id,
            suppliers::name,
            product_suppliers::lead_time_days,
            product_suppliers::unit_cost_cents,
            suppliers::email,
        ))
        .load(conn)?;
    let primaries: Vec<PrimaryRow> = products::table
        .inner_join(suppliers::table)
        .filter(products::id.eq_any(product_ids))
        .select((
            products::id,
            suppliers::id,
            suppliers::name,
            suppliers::lead_time_days,
            suppliers::email,
        ))
        .load(conn)?;
    let mut lists: HashMap<i64, Vec<ProductSupplier>> = HashMap::new();
    for (product_id, supplier_id, name, lead_time_days, unit_cost_cents, contact_email) in rows {
        lists.entry(product_id).or_default().push(ProductSupplier {
            supplier_id,
            name,
            lead_time_days,
            unit_cost_cents,
            contact_email,
            reliability: None,
            confirmations: Confirmations::default(),
        });
    }
    for (product_id, supplier_id, name, lead_time_days, contact_email) in primaries {
        let list = lists.entry(product_id).or_default();
        if !list.iter().any(|s| s.supplier_id == supplier_id) {
            list.insert(
                0,
                ProductSupplier {
                    supplier_id,
                    name,
                    lead_time_days,
                    unit_cost_cents: None,
                    contact_email,
                    reliability: None,
                    confirmations: Confirmations::default(),
                },
            );
        }
    }
    let mut ids: Vec<i64> = lists.values().flatten().map(|s| s.supplier_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let reliability = reliabilities(conn, &ids)?;
    let confirmations = confirmations(conn, &ids)?;
    for supplier in lists.values_mut().flatten() {
        supplier.reliability = reliability.get(&supplier.supplier_id).copied();
        supplier.confirmations = confirmations
            .get(&supplier.supplier_id)
            .copied()
            .unwrap_or_default();
    }
    Ok(lists)
}

/// One product's suppliers, primary first.
pub fn of_product(conn: &mut PgConnection, product_id: i64) -> AppResult<Vec<ProductSupplier>> {
    Ok(of_products(conn, &[product_id])?
        .remove(&product_id)
        .unwrap_or_default())
}

/// The index of the supplier to order from now (`domain::sourcing::choose`).
pub fn choose(today: NaiveDate, list: &[ProductSupplier]) -> Option<usize> {
    let terms: Vec<SupplierTerms> = list.iter().map(ProductSupplier::terms).collect();
    sourcing::choose(today, &terms)
}

/// Checks a list of entries; problems are named `{field}[i].name` and so on.
pub fn check_entries(field: &str, entries: &[SupplierEntry]) -> Vec<crate::error::FieldError> {
    let mut problems = Vec::new();
    if entries.len() > MAX_SUPPLIERS {
        problems.push(crate::error::FieldError::new(
            field,
            format!("at most {MAX_SUPPLIERS} suppliers"),
        ));
    }
    let mut seen: Vec<String> = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let at = |name: &str| format!("{field}[{i}].{name}");
        match crate::types::single_line_of(
            &entry.name,
            200,
            "the supplier's name must be 1 to 200 characters",
        ) {
            Ok(name) => {
                let key = name.to_lowercase();
                if seen.contains(&key) {
                    problems.push(crate::error::FieldError::new(
                        at("name"),
                        format!("{name} is listed twice"),
                    ));
                }
                seen.push(key);
            }
            Err(message) => problems.push(crate::error::FieldError::new(at("name"), message)),
        }
        if let Some(days) = entry.lead_time_days
            && !(0..=MAX_LEAD_TIME_DAYS).contains(&i64::from(days))
        {
            problems.push(crate::error::FieldError::new(
                at("lead_time_days"),
                format!("must be a whole number of days from 0 to {MAX_LEAD_TIME_DAYS}"),
            ));
        }
        if let Some(cents) = entry.unit_cost_cents
            && !(0..=MAX_UNIT_COST_CENTS).contains(&cents)
        {
            problems.push(crate::error::FieldError::new(
                at("unit_cost_cents"),
                "must be 0 or more cents",
            ));
        }
        if let Some(Some(email)) = &entry.contact_email
            && let Err(message) = crate::types::Email::parse(email)
        {
            problems.push(crate::error::FieldError::new(at("contact_email"), message));
        }
    }
    problems
}

/// Replaces a product's suppliers with `entries` (checked), in order; the first becomes
/// the primary. Unknown names are created, as the `supplier` field does. The caller holds
/// the product's row lock and a transaction.
pub fn replace(
    conn: &mut PgConnection,
    product_id: i64,
    entries: &[SupplierEntry],
) -> AppResult<()> {
    let problems = check_entries("suppliers", entries);
    if !problems.is_empty() {
        return Err(AppError::invalid_fields(problems));
    }
    let mut rows = Vec::with_capacity(entries.len());
    let mut primary = None;
    for (position, entry) in entries.iter().enumerate() {
        let name = crate::types::single_line_of(&entry.name, 200, "")
            .map_err(|m| AppError::invalid("suppliers", m))?;
        let supplier_id = supplier_id(conn, &name)?;
        if let Some(email) = &entry.contact_email {
            let email = match email {
                Some(email) => Some(
                    crate::types::Email::parse(email)
                        .map_err(|m| AppError::invalid("contact_email", m))?
                        .as_str()
                        .to_owned(),
                ),
                None => None,
            };
            diesel::update(suppliers::table.find(supplier_id))
                .set(suppliers::email.eq(email))
                .execute(conn)?;
        }
        primary = primary.or(Some(supplier_id));
        rows.push((
            product_suppliers::product_id.eq(product_id),
            product_suppliers::supplier_id.eq(supplier_id),
            product_suppliers::lead_time_days.eq(entry.lead_time_days),
            product_suppliers::unit_cost_cents.eq(entry.unit_cost_cents),
            product_suppliers::position.eq(position as i32),
        ));
    }
    diesel::delete(product_suppliers::table.filter(product_suppliers::product_id.eq(product_id)))
        .execute(conn)?;
    if !rows.is_empty() {
        diesel::insert_into(product_suppliers::table)
            .values(&rows)
            .execute(conn)?;
    }
    diesel::update(products::table.find(product_id))
        .set(products::supplier_id.eq(primary))
        .execute(conn)?;
    Ok(())
}

/// Makes `supplier_id` the product's primary, first in its list: moved there if listed,
/// else added with the supplier's own lead time. The caller holds the product's lock.
pub fn make_primary(conn: &mut PgConnection, product_id: i64, supplier_id: i64) -> AppResult<()> {
    let mut list: Vec<SupplierEntry> = of_product(conn, product_id)?
        .into_iter()
        .map(|s| SupplierEntry {
            name: s.name,
            lead_time_days: s.lead_time_days,
            unit_cost_cents: s.unit_cost_cents,
            contact_email: None,
        })
        .collect();
    let (name, lead): (String, Option<i32>) = suppliers::table
        .find(supplier_id)
        .select((suppliers::name, suppliers::lead_time_days))
        .first(conn)?;
    let entry = match list.iter().position(|e| e.name == name) {
        Some(at) => list.remove(at),
        None => SupplierEntry {
            name,
            lead_time_days: lead.map(|d| d.clamp(0, MAX_LEAD_TIME_DAYS as i32)),
            unit_cost_cents: None,
            contact_email: None,
        },
    };
    list.insert(0, entry);
    list.truncate(MAX_SUPPLIERS);
    replace(conn, product_id, &list)
}

/// The list as entries, each with the contact address it has (for the audit's
/// before-and-after; writing them back leaves the addresses as they are).
fn entries_of(list: Vec<ProductSupplier>) -> Vec<SupplierEntry> {
    list.into_iter()
        .map(|s| SupplierEntry {
            name: s.name,
            lead_time_days: s.lead_time_days,
            unit_cost_cents: s.unit_cost_cents,
            contact_email: Some(s.contact_email),
        })
        .collect()
}

fn lock_product(conn: &mut PgConnection, sku: &str) -> AppResult<i64> {
    products::table
        .filter(products::sku.eq(sku))
        .for_update()
        .select(products::id)
        .first(conn)
        .optional()?
        .ok_or_else(|| AppError::not_found(format!("product {}", crate::types::truncate(sku))))
}

/// Adds a supplier to a product (product page), or updates its terms if listed; the
/// first supplier of a product without one becomes its primary. Audited.
pub fn add(
    conn: &mut PgConnection,
    actor: &Actor,
    sku: &str,
    entry: SupplierEntry,
) -> AppResult<()> {
    let problems = check_entries("supplier", std::slice::from_ref(&entry));
    if !problems.is_empty() {
        // The page's fields are "name", "lead_time_days", "unit_cost_cents".
        return Err(AppError::invalid_fields(
            problems
                .into_iter()
                .map(|p| {
                    let field = p.field.rsplit('.').next().unwrap_or("name").to_owned();
                    crate::error::FieldError::new(&field, p.message)
                })
                .collect(),
        ));
    }
    conn.transaction(|conn| {
        let product_id = lock_product(conn, sku)?;
        let before = entries_of(of_product(conn, product_id)?);
        let name = entry.name.trim().to_owned();
        let mut list = before.clone();
        match list.iter_mut().find(|e| e.name.eq_ignore_ascii_case(&name)) {
            Some(listed) => {
                listed.lead_time_days = entry.lead_time_days;
                listed.unit_cost_cents = entry.unit_cost_cents;
                if entry.contact_email.is_some() {
                    listed.contact_email = entry.contact_email.clone();
                }
            }
            None => {
                if list.len() >= MAX_SUPPLIERS {
                    return Err(AppError::invalid(
                        "name",
                        format!("a product lists at most {MAX_SUPPLIERS} suppliers"),
                    ));
                }
                list.push(SupplierEntry { name, ..entry })
            }
        }
        replace(conn, product_id, &list)?;
        record(conn, actor, sku, &before, &list)
    })
}

/// Removes a supplier from a product (product page); removing the primary makes the next
/// one primary. Audited.
pub fn remove(conn: &mut PgConnection, actor: &Actor, sku: &str, name: &str) -> AppResult<()> {
    conn.transaction(|conn| {
        let product_id = lock_product(conn, sku)?;
        let before = entries_of(of_product(conn, product_id)?);
        let list: Vec<SupplierEntry> = before.iter().filter(|e| e.name != name).cloned().collect();
        if list.len() == before.len() {
            return Err(AppError::invalid(
                "name",
                format!(
                    "{} is not one of this product's suppliers",
                    crate::types::truncate(name)
                ),
            ));
        }
        replace(conn, product_id, &list)?;
        record(conn, actor, sku, &before, &list)
    })
}

fn record(
    conn: &mut PgConnection,
    actor: &Actor,
    sku: &str,
    before: &[SupplierEntry],
    after: &[SupplierEntry],
) -> AppResult<()> {
    let json = |list: &[SupplierEntry]| {
        serde_json::json!({
            "suppliers": list.iter().map(|e| serde_json::json!({
                "name": e.name,
                "lead_time_days": e.lead_time_days,
                "unit_cost_cents": e.unit_cost_cents,
                "contact_email": e.contact_email.clone().flatten(),
            })).collect::<Vec<_>>()
        })
    };
    audit::record(
        conn,
        actor,
        "product_updated",
        "product",
        Some(sku.to_owned()),
        Some(json(before)),
        Some(json(after)),
    )?;
    Ok(())
}
