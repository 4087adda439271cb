//! Purchase orders: the list, the create form (lines added without a reload, or prefilled
//! from reorder suggestions), the page per order with a previewed date change, a previewed
//! receipt and cancelling, and the reorder suggestions. Reps see; managers change.

use std::collections::HashMap;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::NaiveDate;
use rand::Rng;
use serde::Deserialize;

use crate::db::users::Role;
use crate::domain::format::ordinal;
use crate::error::{AppError, AppResult, FieldError};
use crate::services::priced::Priced;
use crate::services::purchasing::purchase_orders::{
    self, ChangePreview, ListStatus, PoChange, PurchaseOrderDetail, PurchaseOrderRow,
    ReceiptPreview, ReceiveQuantity, Release,
};
use crate::services::purchasing::reorder::{self, Suggestion};
use crate::services::purchasing::supplier_loop::{self, SendPreview};
use crate::services::purchasing::{self, NewPurchaseOrder, PurchaseOrderDraft};
use crate::types::{Reference, Sku, single_line_of};
use crate::web::orders::url_segment;
use crate::web::render::{self, Frame, Words};
use crate::web::session::CurrentUser;
use crate::web::state::AppState;

fn see_other(location: String) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

fn po_href(reference: &str) -> String {
    format!("/purchase-orders/{}", url_segment(reference))
}

#[derive(Template)]
#[template(path = "pages/purchase_orders.html")]
struct ListPage {
    frame: Frame,
    status: ListStatus,
    orders: Vec<PurchaseOrderRow>,
    words: Words,
    can_edit: bool,
}

impl ListPage {
    fn statuses(&self) -> [ListStatus; 4] {
        ListStatus::ALL
    }
}

#[derive(Deserialize)]
pub struct ListParams {
    #[serde(default)]
    status: String,
}

pub async fn list(
    state: web::Data<AppState>,
    user: CurrentUser,
    params: web::Query<ListParams>,
) -> AppResult<HttpResponse> {
    let status = ListStatus::parse(&params.status);
    let today = crate::clock::today();
    let Priced {
        data: orders,
        currency,
    } = crate::db::blocking(&state.pool, move |conn| {
        Priced::load(conn, |conn| purchase_orders::list(conn, status, today))
    })
    .await?;
    render::html(&ListPage {
        frame: Frame::new(&user, "purchase_orders"),
        status,
        orders,
        words: Words { today, currency },
        can_edit: user.is_manager(),
    })
}

/// One line of the create form, as typed.
#[derive(Debug, Clone)]
pub struct LineInput {
    pub key: String,
    pub sku: String,
    pub qty: String,
}

impl LineInput {
    fn blank() -> Self {
        Self {
            key: hex::encode(rand::rng().random::<[u8; 4]>()),
            sku: String::new(),
            qty: String::new(),
        }
    }
}

#[derive(Template)]
#[template(path = "pages/purchase_order_new.html")]
struct NewPage {
    frame: Frame,
    reference: String,
    supplier: String,
    expected_on: String,
    lines: Vec<LineInput>,
    suppliers: Vec<(i64, String)>,
    errors: Vec<FieldError>,
    message: Option<String>,
    from_suggestions: bool,
}

impl NewPage {
    fn error_for(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }

    fn line_error(&self, index: &usize) -> Option<&str> {
        let sku = format!("lines[{index}].sku");
        let qty = format!("lines[{index}].qty");
        self.errors
            .iter()
            .find(|e| e.field == sku || e.field == qty)
            .map(|e| e.message.as_str())
    }
}

/// One more empty line of the create form (htmx).
#[derive(Template)]
#[template(path = "partials/purchase_order_line.html")]
struct LinePartial {
    line: LineInput,
    index: usize,
    error: Option<String>,
}

impl LinePartial {
    fn line_error(&self, _index: &usize) -> Option<&str> {
        self.error.as_deref()
    }
}

#[derive(Deserialize)]
pub struct NewParams {
    supplier_id: Option<i64>,
}

pub async fn new_form(
    state: web::Data<AppState>,
    user: CurrentUser,
    params: web::Query<NewParams>,
) -> AppResult<HttpResponse> {
    user.require(Role::Manager)?;
    let supplier_id = params.supplier_id;
    let today = crate::clock::today();
    let draft = crate::db::blocking(&state.pool, move |conn| {
        purchasing::draft(conn, supplier_id, today)
    })
    .await?;
    let PurchaseOrderDraft {
        reference,
        suppliers,
        supplier,
        expected_on,
        suggestions,
    } = draft;
    let expected_on = expected_on.to_string();
    let from_suggestions = supplier.is_some();
    let supplier = supplier.unwrap_or_default();
    let lines: Vec<LineInput> = suggestions
        .iter()
        .map(|s| LineInput {
            sku: s.sku.clone(),
            qty: s.suggested.to_string(),
            ..LineInput::blank()
        })
        .collect();
    render::html(&NewPage {
        frame: Frame::new(&user, "purchase_orders"),
        reference,
        supplier,
        expected_on,
        lines: if lines.is_empty() {
            vec![LineInput::blank()]
        } else {
            lines
        },
        suppliers,
        errors: Vec::new(),
        message: None,
        from_suggestions,
    })
}

pub async fn new_line(user: CurrentUser) -> AppResult<HttpResponse> {
    user.require(Role::Manager)?;
    render::html(&LinePartial {
        line: LineInput::blank(),
        index: 0,
        error: None,
    })
}

/// The create form's fields; lines come as repeated `sku` and `qty` pairs.
struct NewInput {
    reference: String,
    supplier: String,
    expected_on: String,
    lines: Vec<LineInput>,
}

impl NewInput {
    fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        let mut input = NewInput {
            reference: String::new(),
            supplier: String::new(),
            expected_on: String::new(),
            lines: Vec::new(),
        };
        for (key, value) in pairs {
            match key.as_str() {
                "reference" => input.reference = value,
                "supplier" => input.supplier = value,
                "expected_on" => input.expected_on = value,
                "sku" => input.lines.push(LineInput {
                    sku: value,
                    ..LineInput::blank()
                }),
                "qty" => {
                    if let Some(line) = input.lines.last_mut().filter(|l| l.qty.is_empty()) {
                        line.qty = value;
                    }
                }
                _ => {}
            }
        }
        input
            .lines
            .retain(|l| !l.sku.trim().is_empty() || !l.qty.trim().is_empty());
        input
    }

    /// Checks every field; the errors name the field (`lines[i].sku` for a line).
    fn parse(&self, today: NaiveDate) -> Result<NewPurchaseOrder, Vec<FieldError>> {
        let mut errors = Vec::new();
        let reference = Reference::parse(&self.reference)
            .map_err(|e| errors.push(FieldError::new("reference", format!("Reference: {e}"))))
            .ok();
        let supplier = single_line_of(
            &self.supplier,
            200,
            "name the supplier (up to 200 characters)",
        )
        .map_err(|e| errors.push(FieldError::new("supplier", e)))
        .unwrap_or_default();
        let expected_on = match NaiveDate::parse_from_str(self.expected_on.trim(), "%Y-%m-%d") {
            Ok(date) => purchasing::check_expected_date(date, today)
                .map_err(|e| errors.push(FieldError::new("expected_on", e.to_string())))
                .ok(),
            Err(_) => {
                errors.push(FieldError::new("expected_on", "enter the expected date"));
                None
            }
        };
        let mut lines: Vec<(Sku, i32)> = Vec::new();
        for (i, line) in self.lines.iter().enumerate() {
            let sku = Sku::parse(&line.sku)
                .map_err(|e| errors.push(FieldError::new(format!("lines[{i}].sku"), e.to_string())))
                .ok();
            let qty = match line.qty.trim().parse::<i32>() {
                Ok(q) if (1..=crate::domain::MAX_UNITS).contains(&q) => Some(q),
                _ => {
                    errors.push(FieldError::new(
                        format!("lines[{i}].qty"),
                        format!(
                            "line {}: order between 1 and {} units",
                            i + 1,
                            crate::domain::MAX_UNITS_TEXT
                        ),
                    ));
                    None
                }
            };
            if let (Some(sku), Some(qty)) = (sku, qty) {
                if lines.iter().any(|(s, _)| *s == sku) {
                    errors.push(FieldError::new(
                        format!("lines[{i}].sku"),
                        format!("{sku} is on the order twice; put all its units on one line"),
                    ));
                } else {
                    lines.push((sku, qty));
                }
            }
        }
        if self.lines.is_empty() {
            errors.push(FieldError::new("lines", "add at least one line"));
        }
        match (reference, expected_on) {
            (Some(reference), Some(expected_on)) if errors.is_empty() => Ok(NewPurchaseOrder {
                reference,
                supplier,
                expected_on,
                lines,
            }),
            _ => Err(errors),
        }
    }
}

pub async fn create(
    state: web::Data<AppState>,
    user: CurrentUser,
    form: web::Form<Vec<(String, String)>>,
) -> AppResult<HttpResponse> {
    user.require(Role::Manager)?;
    let input = NewInput::from_pairs(form.into_inner());
    let today = crate::clock::today();
    let outcome = match input.parse(today) {
        Ok(order) => {
            let actor = user.actor();
            crate::db::blocking(&state.pool, move |conn| {
                purchasing::create_purchase_order(conn, &actor, order, today).map(|o| match o {
                    purchasing::Outcome::Created(view)
                    | purchasing::Outcome::AlreadyStored(view) => view.reference,
                })
            })
            .await
        }
        Err(errors) => Err(AppError::invalid_fields(errors)),
    };
    let (errors, message) = match outcome {
        Ok(reference) => return Ok(see_other(po_href(&reference))),
        Err(AppError::Invalid { details, message }) => (details, Some(message)),
        Err(AppError::Conflict(message)) => (
            vec![FieldError::new("reference", message.clone())],
            Some(message),
        ),
        Err(other) => return Err(other),
    };
    let suppliers = crate::db::blocking(&state.pool, |conn| {
        Ok(crate::services::inventory::suppliers(conn)?)
    })
    .await?;
    let mut lines = input.lines;
    if lines.is_empty() {
        lines.push(LineInput::blank());
    }
    let page = NewPage {
        frame: Frame::new(&user, "purchase_orders"),
        reference: input.reference,
        supplier: input.supplier,
        expected_on: input.expected_on,
        lines,
        suppliers,
        errors,
        message,
        from_suggestions: false,
    };
    Ok(render::form_answer(page.render()?, true))
}

/// Suggestions of one supplier (or of products without one).
pub struct SupplierGroup {
    pub supplier_id: Option<i64>,
    pub supplier: String,
    pub suggestions: Vec<Suggestion>,
}

#[derive(Template)]
#[template(path = "pages/purchase_order_suggestions.html")]
struct SuggestionsPage {
    frame: Frame,
    groups: Vec<SupplierGroup>,
    can_edit: bool,
    words: Words,
}

pub async fn suggestions(state: web::Data<AppState>, user: CurrentUser) -> AppResult<HttpResponse> {
    let today = crate::clock::today();
    let Priced {
        data: all,
        currency,
    } = crate::db::blocking(&state.pool, move |conn| {
        Priced::load(conn, |conn| reorder::suggestions(conn, None, today))
    })
    .await?;
    let mut groups: Vec<SupplierGroup> = Vec::new();
    for suggestion in all {
        match groups.last_mut() {
            Some(group) if group.supplier_id == suggestion.supplier_id => {
                group.suggestions.push(suggestion)
            }
            _ => groups.push(SupplierGroup {
                supplier_id: suggestion.supplier_id,
                supplier: suggestion
                    .supplier
                    .clone()
                    .unwrap_or_else(|| "No supplier".to_owned()),
                suggestions: vec![suggestion],
            }),
        }
    }
    render::html(&SuggestionsPage {
        frame: Frame::new(&user, "purchase_orders"),
        groups,
        can_edit: user.is_manager(),
        words: Words { today, currency },
    })
}

#[derive(Template)]
#[template(path = "pages/purchase_order.html", blocks = ["date_change", "receive"])]
struct OrderPage {
    frame: Frame,
    detail: PurchaseOrderDetail,
    words: Words,
    can_edit: bool,
    date_value: String,
    date_preview: Option<ChangePreview>,
    date_error: Option<String>,
    receive_values: HashMap<i64, String>,
    receipt_preview: Option<ReceiptPreview>,
    receive_error: Option<String>,
    receipt_key: String,
    cancel_error: Option<String>,
    /// What cancelling would do, shown before the confirmation.
    cancel_preview: Option<ChangePreview>,
    /// What emailing the order to its supplier would send, shown before it is sent.
    send_preview: Option<SendPreview>,
    send_error: Option<String>,
}

impl OrderPage {
    /// Puts a date change's preview on the page, or the reason it was refused beside the
    /// date field; true when refused. Other errors are the request's.
    fn show_date_preview(&mut self, outcome: AppResult<ChangePreview>) -> AppResult<bool> {
        match outcome {
            Ok(preview) => {
                self.date_preview = Some(preview);
                Ok(false)
            }
            Err(AppError::Invalid { message, .. } | AppError::Conflict(message)) => {
                self.date_error = Some(message);
                Ok(true)
            }
            Err(other) => Err(other),
        }
    }

    /// "Ana, Bo, Cy and 4 more": who an email goes to, in a preview.
    fn recipients(&self, p: &ChangePreview) -> String {
        let named = p.first_names.len();
        let mut text = match named {
            0 => String::new(),
            1 => p.first_names[0].clone(),
            _ => format!(
                "{} and {}",
                p.first_names[..named - 1].join(", "),
                p.first_names[named - 1]
            ),
        };
        if p.emailed_customers > named {
            if named > 1 {
                text = p.first_names.join(", ");
            }
            text.push_str(&format!(" and {} more", p.emailed_customers - named));
        }
        text
    }

    fn told(&self, date: &Option<NaiveDate>) -> String {
        match date {
            Some(date) => self.words.date(date),
            None => "no date yet".to_owned(),
        }
    }

    fn is_open(&self) -> bool {
        self.detail.header.status == crate::db::models::PoStatus::Open
    }

    fn receive_value(&self, line_id: &i64) -> String {
        self.receive_values
            .get(line_id)
            .cloned()
            .unwrap_or_default()
    }

    fn why(&self, release: &Release) -> String {
        let mut why = format!(
            "{} in line, placed {}",
            ordinal(release.position as u32),
            self.words.time(&release.placed_at)
        );
        if self.receipt_preview.as_ref().is_some_and(|p| p.tier_first) {
            why.push_str(&format!(
                ", tier {} (higher tiers go first)",
                release.customer_tier
            ));
        } else if release.customer_tier > 0 {
            why.push_str(&format!(", tier {}", release.customer_tier));
        }
        why
    }

    fn plural(n: impl std::borrow::Borrow<usize>, one: &str, many: &str) -> String {
        let n = *n.borrow();
        format!("{n} {}", if n == 1 { one } else { many })
    }
}

fn new_receipt_key() -> String {
    hex::encode(rand::rng().random::<[u8; 16]>())
}

async fn order_page(
    state: &AppState,
    user: &CurrentUser,
    reference: String,
) -> AppResult<OrderPage> {
    let today = crate::clock::today();
    let Priced {
        data: detail,
        currency,
    } = crate::db::blocking(&state.pool, move |conn| {
        Priced::load(conn, |conn| {
            purchase_orders::detail(conn, &reference, today)
        })
    })
    .await?;
    let receive_values = detail
        .lines
        .iter()
        .filter(|l| l.outstanding() > 0)
        .map(|l| (l.id, l.outstanding().to_string()))
        .collect();
    Ok(OrderPage {
        frame: Frame::new(user, "purchase_orders"),
        date_value: detail.header.expected_on.to_string(),
        detail,
        words: Words { today, currency },
        can_edit: user.is_manager(),
        date_preview: None,
        date_error: None,
        receive_values,
        receipt_preview: None,
        receive_error: None,
        receipt_key: new_receipt_key(),
        cancel_error: None,
        cancel_preview: None,
        send_preview: None,
        send_error: None,
    })
}

#[derive(Deserialize)]
pub struct ShowParams {
    expected_on: Option<String>,
}

/// The page; with `expected_on`, the preview of moving the expected date there.
pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    reference: web::Path<String>,
    params: web::Query<ShowParams>,
) -> AppResult<HttpResponse> {
    let reference = reference.into_inner();
    let mut page = order_page(&state, &user, reference.clone()).await?;
    let Some(date) = params.into_inner().expected_on else {
        return render::html(&page);
    };
    user.require(Role::Manager)?;
    page.date_value = date.clone();
    let failed =
        page.show_date_preview(preview(&state, &user, reference, parse_date(&date)).await)?;
    let body = if render::is_htmx(&req) {
        page.as_date_change().render()?
    } else {
        page.render()?
    };
    Ok(render::form_answer(body, failed))
}

#[derive(Deserialize)]
pub struct DateForm {
    #[serde(default)]
    expected_on: String,
    /// "yes" on the preview's confirmation; without it the change is only previewed.
    #[serde(default)]
    confirm: String,
}

fn parse_date(text: &str) -> AppResult<NaiveDate> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| AppError::invalid("expected_on", "enter a date"))
}

/// The dry run of a change (see `purchase_orders::preview_change`).
async fn preview(
    state: &AppState,
    user: &CurrentUser,
    reference: String,
    change: AppResult<NaiveDate>,
) -> AppResult<ChangePreview> {
    let change = change?;
    let actor = user.actor();
    let today = crate::clock::today();
    crate::db::blocking(&state.pool, move |conn| {
        purchase_orders::preview_change(conn, &actor, &reference, PoChange::MoveTo(change), today)
    })
    .await
}

/// Moving the expected date: the first post (from a form without `confirm`) only shows
/// the preview; the preview's own form confirms.
pub async fn change_date(
    state: web::Data<AppState>,
    user: CurrentUser,
    reference: web::Path<String>,
    form: web::Form<DateForm>,
) -> AppResult<HttpResponse> {
    user.require(Role::Manager)?;
    let reference = reference.into_inner();
    let today = crate::clock::today();
    if form.confirm != "yes" {
        let outcome = preview(
            &state,
            &user,
            reference.clone(),
            parse_date(&form.expected_on),
        )
        .await;
        let mut page = order_page(&state, &user, reference).await?;
        page.date_value = form.expected_on.clone();
        let failed = page.show_date_preview(outcome)?;
        return Ok(render::form_answer(page.render()?, failed));
    }
    let outcome = match parse_date(&form.expected_on) {
        Ok(date) => {
            let (actor, target) = (user.actor(), reference.clone());
            crate::db::blocking(&state.pool, move |conn| {
                purchase_orders::change_expected_date(conn, &actor, &target, date, today)
            })
            .await
        }
        Err(error) => Err(error),
    };
    match outcome {
        Ok(()) => Ok(see_other(po_href(&reference))),
        Err(AppError::Invalid { message, .. } | AppError::Conflict(message)) => {
            let mut page = order_page(&state, &user, reference).await?;
            page.date_value = form.expected_on.clone();
            page.date_error = Some(message);
            Ok(render::form_answer(page.render()?, true))
        }
        Err(other) => Err(other),
    }
}

/// `qty_<line id>` fields of the receive forms, and the receipt key of the confirm form.
fn receive_input(
    pairs: &[(String, String)],
) -> (
    Vec<ReceiveQuantity>,
    HashMap<i64, String>,
    Option<String>,
    Vec<String>,
) {
    let mut quantities = Vec::new();
    let mut values = HashMap::new();
    let mut key = None;
    let mut problems = Vec::new();
    for (name, value) in pairs {
        if name == "receipt_key" {
            key = Some(value.trim().to_owned());
            continue;
        }
        let Some(line_id) = name
            .strip_prefix("qty_")
            .and_then(|id| id.parse::<i64>().ok())
        else {
            continue;
        };
        values.insert(line_id, value.clone());
        let text = value.trim();
        if text.is_empty() {
            continue;
        }
        match text.parse::<i32>() {
            Ok(quantity) => quantities.push(ReceiveQuantity { line_id, quantity }),
            Err(_) => problems.push(format!(
                "{:?} is not a whole number of units",
                crate::types::truncate(text)
            )),
        }
    }
    (quantities, values, key, problems)
}

/// The receipt preview: which waiting lines the units would go to, and why.
pub async fn receive_preview(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    reference: web::Path<String>,
    query: web::Query<Vec<(String, String)>>,
) -> AppResult<HttpResponse> {
    user.require(Role::Manager)?;
    let reference = reference.into_inner();
    let (quantities, values, _, problems) = receive_input(&query);
    let mut page = order_page(&state, &user, reference.clone()).await?;
    page.receive_values = values;
    let today = crate::clock::today();
    let preview = if let Some(problem) = problems.into_iter().next() {
        Err(AppError::invalid("quantities", problem))
    } else {
        crate::db::blocking(&state.pool, move |conn| {
            purchase_orders::preview_receipt(conn, &reference, &quantities, today)
        })
        .await
    };
    let failed = match preview {
        Ok(preview) => {
            page.receipt_preview = Some(preview);
            false
        }
        Err(AppError::Invalid { message, .. } | AppError::Conflict(message)) => {
            page.receive_error = Some(message);
            true
        }
        Err(other) => return Err(other),
    };
    let body = if render::is_htmx(&req) {
        page.as_receive().render()?
    } else {
        page.render()?
    };
    Ok(render::form_answer(body, failed))
}

/// Receives the previewed quantities. The form's receipt key makes a second post of the
/// same form a no-op.
pub async fn receive(
    state: web::Data<AppState>,
    user: CurrentUser,
    reference: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
) -> AppResult<HttpResponse> {
    user.require(Role::Manager)?;
    let reference = reference.into_inner();
    let (quantities, values, key, problems) = receive_input(&form);
    let key = key.filter(|k| k.len() == 32 && k.chars().all(|c| c.is_ascii_hexdigit()));
    let outcome = match (problems.into_iter().next(), key) {
        (Some(problem), _) => Err(AppError::invalid("quantities", problem)),
        (None, None) => Err(AppError::invalid(
            "receipt_key",
            "this form is incomplete; preview the receipt again",
        )),
        (None, Some(key)) => {
            let (actor, target) = (user.actor(), reference.clone());
            crate::db::blocking(&state.pool, move |conn| {
                purchasing::receive::receive_entered(
                    conn,
                    &actor,
                    &target,
                    &quantities,
                    &key,
                    crate::clock::today(),
                )
            })
            .await
        }
    };
    match outcome {
        Ok(()) => Ok(see_other(format!("{}#receipts", po_href(&reference)))),
        Err(AppError::Invalid { message, .. } | AppError::Conflict(message)) => {
            let mut page = order_page(&state, &user, reference).await?;
            page.receive_values = values;
            page.receive_error = Some(message);
            Ok(render::form_answer(page.render()?, true))
        }
        Err(other) => Err(other),
    }
}

/// A previewed action's form (cancelling, emailing the supplier).
#[derive(Deserialize)]
pub struct ConfirmForm {
    /// "yes" on the preview's confirmation; without it the action is only previewed.
    #[serde(default)]
    confirm: String,
}

/// Cancelling: the first post shows what it would do (lines, new dates, emails); the
/// preview's form, with `confirm=yes`, cancels.
pub async fn cancel(
    state: web::Data<AppState>,
    user: CurrentUser,
    reference: web::Path<String>,
    form: web::Form<ConfirmForm>,
) -> AppResult<HttpResponse> {
    user.require(Role::Manager)?;
    let reference = reference.into_inner();
    let (actor, target) = (user.actor(), reference.clone());
    let confirmed = form.confirm == "yes";
    let today = crate::clock::today();
    let outcome = crate::db::blocking(&state.pool, move |conn| {
        if confirmed {
            purchase_orders::cancel(conn, &actor, &target, today).map(|()| None)
        } else {
            purchase_orders::preview_change(conn, &actor, &target, PoChange::Cancel, today)
                .map(Some)
        }
    })
    .await;
    match outcome {
        Ok(None) => Ok(see_other(po_href(&reference))),
        Ok(Some(preview)) => {
            let mut page = order_page(&state, &user, reference).await?;
            page.cancel_preview = Some(preview);
            render::html(&page)
        }
        Err(AppError::Conflict(message)) => {
            let mut page = order_page(&state, &user, reference).await?;
            page.cancel_error = Some(message);
            Ok(HttpResponse::Conflict()
                .content_type("text/html; charset=utf-8")
                .body(page.render()?))
        }
        Err(other) => Err(other),
    }
}

/// Emailing the order to its supplier: the first post shows to whom and what (and when
/// it was sent before); the preview's form, with `confirm=yes`, sends it.
pub async fn send_to_supplier(
    state: web::Data<AppState>,
    user: CurrentUser,
    reference: web::Path<String>,
    form: web::Form<ConfirmForm>,
) -> AppResult<HttpResponse> {
    user.require(Role::Manager)?;
    let reference = reference.into_inner();
    let (actor, target) = (user.actor(), reference.clone());
    let confirmed = form.confirm == "yes";
    let today = crate::clock::today();
    let outcome = crate::db::blocking(&state.pool, move |conn| {
        if confirmed {
            supplier_loop::send(conn, &actor, &target, today).map(|_| None)
        } else {
            supplier_loop::preview_send(conn, &target).map(Some)
        }
    })
    .await;
    match outcome {
        Ok(None) => Ok(see_other(format!("{}#supplier", po_href(&reference)))),
        Ok(Some(preview)) => {
            let mut page = order_page(&state, &user, reference).await?;
            page.send_preview = Some(preview);
            render::html(&page)
        }
        Err(AppError::Invalid { message, .. } | AppError::Conflict(message)) => {
            let mut page = order_page(&state, &user, reference).await?;
            page.send_error = Some(message);
            Ok(render::form_answer(page.render()?, true))
        }
        Err(other) => Err(other),
    }
}
