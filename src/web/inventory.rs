//! Inventory: the product list (search as you type, filters, sort, keyset pages, CSV export
//! and import), the product page (ledger, queue, incoming supply, ETA timeline), inline
//! stock settings and stock adjustments. Reps see everything; managers change it.

use actix_multipart::Multipart;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::NaiveDate;
use futures_util::StreamExt;
use serde::Deserialize;

use crate::db::stock::{IncomingRow, QueueRow};
use crate::db::users::Role;
use crate::domain::format::ordinal;
use crate::error::{AppError, AppResult, FieldError};
use crate::services::inventory::{
    self, AdjustmentReason, Cursor, ImportOutcome, ImportProblem, ProductDetail, ProductPage,
    ProductQuery, ProductRow, ProductSort, StatusFilter, StockSettings,
};
use crate::services::priced::{self, Priced};
use crate::services::purchasing::sourcing::{self, SupplierEntry};
use crate::web::orders::url_segment;
use crate::web::reads::Reads;
use crate::web::render::{self, Frame, Words};
use crate::web::session::CurrentUser;
use crate::web::state::AppState;

/// The largest CSV file an import reads.
const MAX_IMPORT_BYTES: usize = 4 * 1024 * 1024;
/// Queue lines listed on a product page; the rest are a link away, in the queue itself.
pub const QUEUE_SHOWN: usize = 50;

/// The list's query string as typed; kept as text so links rebuild the same view.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ListParams {
    #[serde(default)]
    q: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    supplier: String,
    #[serde(default)]
    sort: String,
    #[serde(default)]
    dir: String,
    #[serde(default)]
    after: Option<i64>,
    #[serde(default)]
    before: Option<i64>,
}

impl ListParams {
    fn query(&self) -> ProductQuery {
        ProductQuery {
            text: self.q.chars().take(100).collect(),
            status: StatusFilter::parse(&self.status),
            supplier_id: self.supplier.parse().ok(),
            sort: ProductSort::parse(&self.sort),
            descending: self.dir == "desc",
            cursor: match (self.after, self.before) {
                (Some(id), _) => Cursor::After(id),
                (None, Some(id)) => Cursor::Before(id),
                _ => Cursor::First,
            },
        }
    }

    /// The view's query string with some keys replaced (None drops a key); paging resets
    /// unless a cursor is given.
    fn href(&self, path: &str, changes: &[(&str, Option<String>)]) -> String {
        let query = self.query();
        let mut pairs: Vec<(&str, String)> = vec![
            ("q", self.q.clone()),
            (
                "status",
                query
                    .status
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default(),
            ),
            (
                "supplier",
                query
                    .supplier_id
                    .map(|id| id.to_string())
                    .unwrap_or_default(),
            ),
            ("sort", query.sort.as_str().to_owned()),
            (
                "dir",
                if query.descending { "desc" } else { "asc" }.to_owned(),
            ),
        ];
        for (key, value) in changes {
            pairs.retain(|(k, _)| k != key);
            if let Some(value) = value {
                pairs.push((key, value.clone()));
            }
        }
        let mut serializer = url::form_urlencoded::Serializer::new(String::new());
        for (key, value) in pairs {
            let default = matches!((key, value.as_str()), ("sort", "sku") | ("dir", "asc"));
            if !value.is_empty() && !default {
                serializer.append_pair(key, &value);
            }
        }
        let query = serializer.finish();
        if query.is_empty() {
            path.to_owned()
        } else {
            format!("{path}?{query}")
        }
    }
}

/// A column header that sorts: its link, and how it is sorted now.
pub struct SortLink {
    pub label: &'static str,
    pub href: String,
    pub aria_sort: &'static str,
}

#[derive(Template)]
#[template(path = "pages/inventory.html", blocks = ["results"])]
struct InventoryPage {
    frame: Frame,
    params: ListParams,
    page: ProductPage,
    suppliers: Vec<(i64, String)>,
    words: Words,
    can_edit: bool,
    import_problems: Vec<ImportProblem>,
    notice: Option<String>,
}

impl InventoryPage {
    fn statuses(&self) -> [StatusFilter; 4] {
        StatusFilter::ALL
    }

    fn status_selected(&self, status: &StatusFilter) -> bool {
        self.params.status == status.as_str()
    }

    fn supplier_selected(&self, id: &i64) -> bool {
        self.params.supplier == id.to_string()
    }

    fn sort_link(&self, sort: &str, label: &'static str) -> SortLink {
        let query = self.params.query();
        let current = query.sort.as_str() == sort;
        let descending = current && query.descending;
        SortLink {
            label,
            href: self.params.href(
                "/inventory",
                &[
                    ("sort", Some(sort.to_owned())),
                    (
                        "dir",
                        Some(
                            if current && !descending {
                                "desc"
                            } else {
                                "asc"
                            }
                            .to_owned(),
                        ),
                    ),
                ],
            ),
            aria_sort: match (current, descending) {
                (false, _) => "none",
                (true, false) => "ascending",
                (true, true) => "descending",
            },
        }
    }

    fn next_href(&self) -> Option<String> {
        self.page.next.map(|id| {
            self.params
                .href("/inventory", &[("after", Some(id.to_string()))])
        })
    }

    fn previous_href(&self) -> Option<String> {
        self.page.previous.map(|id| {
            self.params
                .href("/inventory", &[("before", Some(id.to_string()))])
        })
    }

    fn first_href(&self) -> String {
        self.params.href("/inventory", &[])
    }

    fn export_href(&self) -> String {
        self.params.href("/inventory.csv", &[])
    }

    fn filtered(&self) -> bool {
        !self.params.q.trim().is_empty()
            || StatusFilter::parse(&self.params.status).is_some()
            || !self.params.supplier.is_empty()
    }
}

/// One product row of the list, shown alone after an inline edit.
#[derive(Template)]
#[template(path = "partials/inventory_row.html")]
struct RowPartial {
    row: ProductRow,
    words: Words,
    can_edit: bool,
}

/// The same row with the stock settings as inputs.
#[derive(Template)]
#[template(path = "partials/inventory_row_edit.html")]
struct EditRowPartial {
    frame: Frame,
    row: ProductRow,
    form: SettingsForm,
    errors: Vec<FieldError>,
}

impl EditRowPartial {
    fn error_for(&self, field: &str) -> Option<&str> {
        error_for(&self.errors, field)
    }
}

fn error_for<'a>(errors: &'a [FieldError], field: &str) -> Option<&'a str> {
    errors
        .iter()
        .find(|e| e.field == field)
        .map(|e| e.message.as_str())
}

async fn words(state: &AppState) -> AppResult<Words> {
    let currency = crate::db::blocking(&state.pool, priced::currency).await?;
    Ok(Words {
        today: crate::clock::today(),
        currency,
    })
}

async fn list_page(
    reads: Reads,
    user: &CurrentUser,
    params: ListParams,
    import_problems: Vec<ImportProblem>,
    notice: Option<String>,
) -> AppResult<InventoryPage> {
    let query = params.query();
    let Priced {
        data: (page, suppliers),
        currency,
    } = reads
        .blocking(move |conn| {
            Priced::load(conn, |conn| {
                Ok::<_, AppError>((
                    inventory::product_page(conn, &query)?,
                    inventory::suppliers(conn)?,
                ))
            })
        })
        .await?;
    Ok(InventoryPage {
        frame: Frame::new(user, "inventory"),
        params,
        page,
        suppliers,
        words: Words {
            today: crate::clock::today(),
            currency,
        },
        can_edit: user.is_manager(),
        import_problems,
        notice,
    })
}

pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    params: web::Query<ListParams>,
) -> AppResult<HttpResponse> {
    let reads = Reads::of(&req, &state);
    let page = list_page(reads, &user, params.into_inner(), Vec::new(), None).await?;
    if render::is_htmx(&req) {
        return Ok(render::html_string(page.as_results().render()?));
    }
    render::html(&page)
}

/// The filtered view as CSV (every matching product, in the view's order).
pub async fn export(
    req: HttpRequest,
    state: web::Data<AppState>,
    _user: CurrentUser,
    params: web::Query<ListParams>,
) -> AppResult<HttpResponse> {
    let query = params.into_inner().query();
    let body = Reads::of(&req, &state)
        .blocking(move |conn| inventory::export_file(conn, &query))
        .await?;
    let filename = format!("inventory-{}.csv", crate::clock::today());
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{filename}\""),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body))
}

/// Reads the uploaded file (the `file` field of a multipart form), at most 4 MiB.
async fn uploaded_file(mut payload: Multipart) -> AppResult<Option<Vec<u8>>> {
    while let Some(field) = payload.next().await {
        let mut field =
            field.map_err(|e| AppError::Malformed(format!("the upload failed: {e}")))?;
        if field.name() != Some("file") {
            continue;
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk =
                chunk.map_err(|e| AppError::Malformed(format!("the upload failed: {e}")))?;
            if bytes.len() + chunk.len() > MAX_IMPORT_BYTES {
                return Err(AppError::PayloadTooLarge);
            }
            bytes.extend_from_slice(&chunk);
        }
        return Ok(Some(bytes));
    }
    Ok(None)
}

pub async fn import(
    state: web::Data<AppState>,
    user: CurrentUser,
    payload: Multipart,
) -> AppResult<HttpResponse> {
    user.require(Role::Manager)?;
    let bytes = uploaded_file(payload).await?;
    let outcome = match bytes {
        Some(bytes) if !bytes.is_empty() => {
            let actor = user.actor();
            crate::db::blocking(&state.pool, move |conn| {
                inventory::import_csv(conn, &actor, &bytes, crate::clock::today())
            })
            .await?
        }
        _ => ImportOutcome::Rejected(vec![ImportProblem {
            row: 0,
            column: String::new(),
            message: "choose a CSV file to import".to_owned(),
        }]),
    };
    let (problems, notice, failed) = match outcome {
        ImportOutcome::Imported { created, updated } => (
            Vec::new(),
            Some(format!(
                "Imported: {created} {} created, {updated} updated.",
                if created == 1 { "product" } else { "products" }
            )),
            false,
        ),
        ImportOutcome::Rejected(problems) => (problems, None, true),
    };
    let reads = Reads::primary(&state);
    let page = list_page(reads, &user, ListParams::default(), problems, notice).await?;
    Ok(render::form_answer(page.render()?, failed))
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct SettingsForm {
    #[serde(default)]
    reorder_point: String,
    #[serde(default)]
    safety_stock: String,
    /// A checkbox: present when ticked.
    #[serde(default)]
    backorderable: Option<String>,
}

impl SettingsForm {
    fn of(row: &ProductRow) -> Self {
        Self {
            reorder_point: row.reorder_point.to_string(),
            safety_stock: row.safety_stock.to_string(),
            backorderable: row.backorderable.then(|| "yes".to_owned()),
        }
    }

    fn backorderable(&self) -> bool {
        self.backorderable.is_some()
    }
}

async fn product_row(state: &AppState, sku: String) -> AppResult<ProductRow> {
    crate::db::blocking(&state.pool, move |conn| inventory::product_row(conn, &sku)).await
}

fn product_href(sku: &str) -> String {
    format!("/inventory/{}", url_segment(sku))
}

fn see_other(location: String) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// The display row (htmx: "Cancel" on an edit row).
pub async fn row(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    sku: web::Path<String>,
) -> AppResult<HttpResponse> {
    let sku = sku.into_inner();
    if !render::is_htmx(&req) {
        return Ok(see_other(product_href(&sku)));
    }
    let partial = RowPartial {
        row: product_row(&state, sku).await?,
        words: words(&state).await?,
        can_edit: user.is_manager(),
    };
    render::html(&partial)
}

/// The row with its stock settings as inputs (managers only).
pub async fn edit_row(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    sku: web::Path<String>,
) -> AppResult<HttpResponse> {
    user.require(Role::Manager)?;
    let sku = sku.into_inner();
    if !render::is_htmx(&req) {
        return Ok(see_other(format!("{}#settings", product_href(&sku))));
    }
    let row = product_row(&state, sku).await?;
    render::html(&EditRowPartial {
        frame: Frame::new(&user, "inventory"),
        form: SettingsForm::of(&row),
        row,
        errors: Vec::new(),
    })
}

/// Saves reorder point, safety stock and backorderable. From the list (htmx) the answer
/// is the row; from the product page, the page.
pub async fn save_settings(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    sku: web::Path<String>,
    form: web::Form<SettingsForm>,
) -> AppResult<HttpResponse> {
    user.require(Role::Manager)?;
    let sku = sku.into_inner();
    let form = form.into_inner();
    let outcome = match StockSettings::parse(
        &form.reorder_point,
        &form.safety_stock,
        form.backorderable(),
    ) {
        Ok(settings) => {
            let (actor, target) = (user.actor(), sku.clone());
            crate::db::blocking(&state.pool, move |conn| {
                inventory::update_settings(conn, &actor, &target, settings, crate::clock::today())
            })
            .await
        }
        Err(error) => Err(error),
    };
    let errors = match outcome {
        Ok(()) => Vec::new(),
        Err(AppError::Invalid { details, .. }) => details,
        Err(other) => return Err(other),
    };
    let htmx = render::is_htmx(&req);
    match (htmx, errors.is_empty()) {
        (true, true) => render::html(&RowPartial {
            row: product_row(&state, sku).await?,
            words: words(&state).await?,
            can_edit: true,
        }),
        (true, false) => {
            let partial = EditRowPartial {
                frame: Frame::new(&user, "inventory"),
                row: product_row(&state, sku).await?,
                form,
                errors,
            };
            Ok(render::form_answer(partial.render()?, true))
        }
        (false, true) => Ok(see_other(product_href(&sku))),
        (false, false) => {
            let mut page = product_page(&state, &user, sku, None).await?;
            page.settings_form = form;
            page.settings_errors = errors;
            Ok(render::form_answer(page.render()?, true))
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct AdjustForm {
    #[serde(default)]
    change: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    note: String,
}

/// A stock adjustment with its reason (managers only).
pub async fn adjust(
    state: web::Data<AppState>,
    user: CurrentUser,
    sku: web::Path<String>,
    form: web::Form<AdjustForm>,
) -> AppResult<HttpResponse> {
    user.require(Role::Manager)?;
    let sku = sku.into_inner();
    let form = form.into_inner();
    let change = form.change.trim().parse::<i32>().map_err(|_| {
        AppError::invalid(
            "change",
            "enter the change as a whole number of units, negative to remove units",
        )
    });
    let reason = AdjustmentReason::parse(&form.reason)
        .ok_or_else(|| AppError::invalid("reason", "choose a reason for the adjustment"));
    let outcome = match (change, reason) {
        (Ok(change), Ok(reason)) => {
            let (actor, target, note) = (user.actor(), sku.clone(), form.note.clone());
            crate::db::blocking(&state.pool, move |conn| {
                inventory::adjust_stock(
                    conn,
                    &actor,
                    &target,
                    change,
                    reason,
                    &note,
                    crate::clock::today(),
                )
            })
            .await
            .map(|adjusted| {
                if adjusted.lines_served > 0 {
                    Some(format!(
                        "Stock is now {}. {} went to {} waiting {}.",
                        adjusted.on_hand,
                        crate::domain::units_phrase(adjusted.allocated_units.max(0) as u64, "unit"),
                        adjusted.lines_served,
                        if adjusted.lines_served == 1 {
                            "line"
                        } else {
                            "lines"
                        }
                    ))
                } else {
                    Some(format!("Stock is now {}.", adjusted.on_hand))
                }
            })
        }
        (Err(e), _) | (_, Err(e)) => Err(e),
    };
    match outcome {
        Ok(_) => Ok(see_other(format!("{}#adjust", product_href(&sku)))),
        Err(AppError::Invalid { message, .. }) => {
            let mut page = product_page(&state, &user, sku, None).await?;
            page.adjust_form = form;
            page.adjust_error = Some(message);
            Ok(render::form_answer(page.render()?, true))
        }
        Err(other) => Err(other),
    }
}

#[derive(Template)]
#[template(path = "pages/product.html", blocks = ["ledger"])]
struct ProductPageTemplate {
    frame: Frame,
    detail: ProductDetail,
    words: Words,
    can_edit: bool,
    timeline: Timeline,
    settings_form: SettingsForm,
    settings_errors: Vec<FieldError>,
    adjust_form: AdjustForm,
    adjust_error: Option<String>,
    /// The "notify me" form's outcome: a confirmation, or the problem with the email.
    notify_notice: Option<String>,
    notify_error: Option<String>,
    supplier_form: SupplierForm,
    supplier_errors: Vec<FieldError>,
    /// The pre-order form: the date as typed, and its problem.
    preorder_form: String,
    preorder_error: Option<String>,
    /// The alternatives form: the SKUs as typed, and their problem.
    alternatives_form: String,
    alternatives_error: Option<String>,
}

impl ProductPageTemplate {
    fn settings_error(&self, field: &str) -> Option<&str> {
        error_for(&self.settings_errors, field)
    }

    fn supplier_error(&self, field: &str) -> Option<&str> {
        error_for(&self.supplier_errors, field)
    }

    fn reasons(&self) -> [AdjustmentReason; 5] {
        AdjustmentReason::ALL
    }

    fn older_href(&self) -> Option<String> {
        self.detail.ledger_older.map(|id| {
            format!(
                "{}?ledger_before={id}#ledger",
                product_href(&self.detail.product.sku)
            )
        })
    }

    fn position(&self, index: &usize) -> String {
        ordinal(*index as u32 + 1)
    }

    fn signed(n: &i32) -> String {
        match *n {
            0 => "0".to_owned(),
            n if n > 0 => format!("+{n}"),
            n => format!("−{}", -n),
        }
    }
}

async fn product_page(
    state: &AppState,
    user: &CurrentUser,
    sku: String,
    ledger_before: Option<i64>,
) -> AppResult<ProductPageTemplate> {
    let Priced {
        data: detail,
        currency,
    } = crate::db::blocking(&state.pool, move |conn| {
        Priced::with_settings(conn, |conn, settings| {
            inventory::product_detail(conn, &sku, ledger_before, settings)
        })
    })
    .await?;
    let today = crate::clock::today();
    let timeline = Timeline::draw(
        today,
        detail.product.available.max(0),
        &detail.incoming,
        &detail.queue,
    );
    Ok(ProductPageTemplate {
        frame: Frame::new(user, "inventory"),
        settings_form: SettingsForm::of(&detail.product),
        preorder_form: detail
            .product
            .preorder_release_on
            .map(|d| d.format("%Y-%m-%d").to_string())
            .unwrap_or_default(),
        preorder_error: None,
        alternatives_form: detail.product_alternatives_text(),
        alternatives_error: None,
        detail,
        words: Words { today, currency },
        can_edit: user.is_manager(),
        timeline,
        settings_errors: Vec::new(),
        adjust_form: AdjustForm {
            reason: AdjustmentReason::CountCorrection.as_str().to_owned(),
            ..AdjustForm::default()
        },
        adjust_error: None,
        notify_notice: None,
        notify_error: None,
        supplier_form: SupplierForm::default(),
        supplier_errors: Vec::new(),
    })
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct SupplierForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    lead_time_days: String,
    #[serde(default)]
    unit_cost: String,
    #[serde(default)]
    contact_email: String,
}

/// An amount of money as typed ("12.50", "12"), in cents.
fn parse_cents(raw: &str) -> Result<Option<i64>, String> {
    let text = raw.trim().trim_start_matches(['$', '€', '£']).trim();
    if text.is_empty() {
        return Ok(None);
    }
    let message = || "enter the unit cost as an amount like 12.50".to_owned();
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() && fraction.is_empty() || fraction.len() > 2 {
        return Err(message());
    }
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if !digits(whole) || !digits(fraction) || whole.len() > 9 {
        return Err(message());
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| message())?
    };
    let fraction: i64 = format!("{fraction:0<2}").parse().map_err(|_| message())?;
    Ok(Some(whole * 100 + fraction))
}

impl SupplierForm {
    fn entry(&self) -> Result<SupplierEntry, AppError> {
        let mut problems = Vec::new();
        let lead_time_days = match self.lead_time_days.trim() {
            "" => None,
            text => match text.parse::<i32>() {
                Ok(days) => Some(days),
                Err(_) => {
                    problems.push(FieldError::new(
                        "lead_time_days",
                        "enter the lead time as a whole number of days",
                    ));
                    None
                }
            },
        };
        let unit_cost_cents = parse_cents(&self.unit_cost).unwrap_or_else(|message| {
            problems.push(FieldError::new("unit_cost", message));
            None
        });
        if !problems.is_empty() {
            return Err(AppError::invalid_fields(problems));
        }
        // Empty leaves the supplier's address as it is.
        let contact_email = match self.contact_email.trim() {
            "" => None,
            email => Some(Some(email.to_owned())),
        };
        Ok(SupplierEntry {
            name: self.name.clone(),
            lead_time_days,
            unit_cost_cents,
            contact_email,
        })
    }
}

/// Adds a supplier to the product, or changes its terms if listed (managers only).
pub async fn add_supplier(
    state: web::Data<AppState>,
    user: CurrentUser,
    sku: web::Path<String>,
    form: web::Form<SupplierForm>,
) -> AppResult<HttpResponse> {
    user.require(Role::Manager)?;
    let sku = sku.into_inner();
    let form = form.into_inner();
    let outcome = match form.entry() {
        Ok(entry) => {
            let (actor, target) = (user.actor(), sku.clone());
            crate::db::blocking(&state.pool, move |conn| {
                sourcing::add(conn, &actor, &target, entry)
            })
            .await
        }
        Err(e) => Err(e),
    };
    match outcome {
        Ok(()) => Ok(see_other(format!("{}#suppliers", product_href(&sku)))),
        Err(AppError::Invalid { details, .. }) => {
            let mut page = product_page(&state, &user, sku, None).await?;
            page.supplier_form = form;
            // The service names the cost in cents; the form asks for an amount.
            page.supplier_errors = details
                .into_iter()
                .map(|e| match e.field.as_str() {
                    "unit_cost_cents" => FieldError::new("unit_cost", e.message),
                    _ => e,
                })
                .collect();
            Ok(render::form_answer(page.render()?, true))
        }
        Err(other) => Err(other),
    }
}

#[derive(Debug, Deserialize)]
pub struct RemoveSupplierForm {
    #[serde(default)]
    name: String,
}

/// Removes a supplier from the product (managers only).
pub async fn remove_supplier(
    state: web::Data<AppState>,
    user: CurrentUser,
    sku: web::Path<String>,
    form: web::Form<RemoveSupplierForm>,
) -> AppResult<HttpResponse> {
    user.require(Role::Manager)?;
    let sku = sku.into_inner();
    let (actor, target, name) = (user.actor(), sku.clone(), form.into_inner().name);
    crate::db::blocking(&state.pool, move |conn| {
        sourcing::remove(conn, &actor, &target, &name)
    })
    .await?;
    Ok(see_other(format!("{}#suppliers", product_href(&sku))))
}

#[derive(Deserialize)]
pub struct PreorderForm {
    #[serde(default)]
    preorder_release_on: String,
    /// `clear` (the "Not a pre-order" button) or the save button.
    #[serde(default)]
    action: String,
}

/// Sets or clears a product's pre-order release day (managers only).
pub async fn save_preorder(
    state: web::Data<AppState>,
    user: CurrentUser,
    sku: web::Path<String>,
    form: web::Form<PreorderForm>,
) -> AppResult<HttpResponse> {
    user.require(Role::Manager)?;
    let sku = sku.into_inner();
    let form = form.into_inner();
    let release_on = if form.action == "clear" {
        Ok(None)
    } else if form.preorder_release_on.trim().is_empty() {
        Err("Release date: enter a date, or choose “Not a pre-order”".to_owned())
    } else {
        crate::web::api::parse_date(&form.preorder_release_on)
            .map(Some)
            .map_err(|e| format!("Release date: {e}"))
    };
    let outcome = match release_on {
        Ok(release_on) => {
            let (actor, target) = (user.actor(), sku.clone());
            crate::db::blocking(&state.pool, move |conn| {
                inventory::set_preorder(conn, &actor, &target, release_on, crate::clock::today())
            })
            .await
        }
        Err(message) => Err(AppError::invalid("preorder_release_on", message)),
    };
    match outcome {
        Ok(()) => Ok(see_other(format!("{}#preorder", product_href(&sku)))),
        Err(AppError::Invalid { message, details }) => {
            let mut page = product_page(&state, &user, sku, None).await?;
            page.preorder_form = form.preorder_release_on;
            page.preorder_error = Some(
                details
                    .into_iter()
                    .next()
                    .map(|d| d.message)
                    .unwrap_or(message),
            );
            Ok(render::form_answer(page.render()?, true))
        }
        Err(other) => Err(other),
    }
}

#[derive(Deserialize)]
pub struct AlternativesForm {
    #[serde(default)]
    alternatives: String,
}

/// Replaces a product's alternatives (managers only); a problem shows beside the field.
pub async fn save_alternatives(
    state: web::Data<AppState>,
    user: CurrentUser,
    sku: web::Path<String>,
    form: web::Form<AlternativesForm>,
) -> AppResult<HttpResponse> {
    user.require(Role::Manager)?;
    let sku = sku.into_inner();
    let typed = form.into_inner().alternatives;
    let list = crate::services::inventory::alternatives::parse_list(&typed);
    let (actor, target) = (user.actor(), sku.clone());
    let outcome = crate::db::blocking(&state.pool, move |conn| {
        inventory::set_alternatives(conn, &actor, &target, list, crate::clock::today())
    })
    .await;
    match outcome {
        Ok(()) => Ok(see_other(format!("{}#alternatives", product_href(&sku)))),
        Err(AppError::Invalid { message, details }) => {
            let mut page = product_page(&state, &user, sku, None).await?;
            page.alternatives_form = typed;
            page.alternatives_error = Some(
                details
                    .into_iter()
                    .next()
                    .map(|d| format!("Alternatives: {}", d.message))
                    .unwrap_or(message),
            );
            Ok(render::form_answer(page.render()?, true))
        }
        Err(other) => Err(other),
    }
}

#[derive(Deserialize)]
pub struct NotifyForm {
    #[serde(default)]
    email: String,
}

/// "Notify me": a rep signs a customer up for one back-in-stock email about the product.
pub async fn notify_me(
    state: web::Data<AppState>,
    user: CurrentUser,
    sku: web::Path<String>,
    form: web::Form<NotifyForm>,
) -> AppResult<HttpResponse> {
    let sku = sku.into_inner();
    let email = form.into_inner().email;
    let (actor, target, address) = (user.actor(), sku.clone(), email.clone());
    let outcome = crate::db::blocking(&state.pool, move |conn| {
        let email = crate::types::Email::parse(&address)
            .map_err(|message| AppError::invalid("email", message))?;
        let sku = crate::types::Sku::parse(&target)
            .map_err(|e| AppError::invalid("sku", e.to_string()))?;
        crate::services::inventory::subscriptions::subscribe(conn, &actor, &sku, &email)
            .map(|(view, _)| view.email)
    })
    .await;
    match outcome {
        Ok(email) => Ok(back_to_notify_me(&sku, "notified", &email)),
        Err(AppError::Invalid { message, .. }) => {
            notify_me_refused(&state, &user, sku, message).await
        }
        Err(other) => Err(other),
    }
}

/// Back to the product's "notify me" list, saying what happened to `email`.
fn back_to_notify_me(sku: &str, what: &str, email: &str) -> HttpResponse {
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair(what, email)
        .finish();
    let location = format!(
        "/inventory/{}?{query}#notify",
        crate::web::orders::url_segment(sku)
    );
    HttpResponse::SeeOther()
        .insert_header((actix_web::http::header::LOCATION, location))
        .finish()
}

/// The product page with the notify-me form's problem beside it.
async fn notify_me_refused(
    state: &AppState,
    user: &CurrentUser,
    sku: String,
    message: String,
) -> AppResult<HttpResponse> {
    let mut page = product_page(state, user, sku, None).await?;
    page.notify_error = Some(message);
    Ok(render::form_answer(page.render()?, true))
}

/// Takes a customer off the product's "notify me" list (audited); a plain form comes back
/// to the list with what happened beside it.
pub async fn remove_sign_up(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(String, i64)>,
) -> AppResult<HttpResponse> {
    let (sku, id) = path.into_inner();
    let (actor, target) = (user.actor(), sku.clone());
    let outcome = crate::db::blocking(&state.pool, move |conn| {
        crate::services::inventory::subscriptions::remove(conn, &actor, &target, id)
    })
    .await;
    match outcome {
        Ok(email) => Ok(back_to_notify_me(&sku, "removed", &email)),
        Err(AppError::Conflict(message)) => notify_me_refused(&state, &user, sku, message).await,
        Err(other) => Err(other),
    }
}

#[derive(Deserialize)]
pub struct ProductParams {
    ledger_before: Option<i64>,
    notified: Option<String>,
    removed: Option<String>,
}

pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    sku: web::Path<String>,
    params: web::Query<ProductParams>,
) -> AppResult<HttpResponse> {
    let mut page = product_page(&state, &user, sku.into_inner(), params.ledger_before).await?;
    if let Some(email) = &params.notified {
        page.notify_notice = Some(format!(
            "{email} will get one email when this product is back in stock."
        ));
    }
    if let Some(email) = &params.removed {
        page.notify_notice = Some(format!(
            "{email} is off the list and will get no back-in-stock email."
        ));
    }
    if render::is_htmx(&req) {
        return Ok(render::html_string(page.as_ledger().render()?));
    }
    render::html(&page)
}

/// A text label placed in the timeline.
pub struct Label {
    pub x: String,
    pub y: String,
    pub text: String,
}

/// A waiting line on the timeline: where its demand is met.
pub struct Dot {
    pub cx: String,
    pub cy: String,
    pub title: String,
}

/// The ETA timeline of a product, drawn on the server: the supply line steps up as each
/// purchase order is expected; each waiting line is a dot at its likely ship date and its
/// cumulative demand, so dots above the supply line wait on supply nobody has ordered.
pub struct Timeline {
    pub width: u32,
    pub height: u32,
    pub supply_path: String,
    pub axis_y: String,
    pub axis_x_end: String,
    pub top: String,
    pub ticks: Vec<Label>,
    pub unit_ticks: Vec<Label>,
    pub arrivals: Vec<Label>,
    pub dots: Vec<Dot>,
    pub summary: String,
    pub empty: bool,
}

impl Timeline {
    const WIDTH: f64 = 720.0;
    const HEIGHT: f64 = 240.0;
    const LEFT: f64 = 48.0;
    const RIGHT: f64 = 16.0;
    const TOP: f64 = 20.0;
    const BOTTOM: f64 = 36.0;
    /// Dots drawn at most; the queue table lists every line.
    const MAX_DOTS: usize = 300;

    pub fn draw(
        today: NaiveDate,
        available: i32,
        incoming: &[IncomingRow],
        queue: &[QueueRow],
    ) -> Timeline {
        let fmt = |v: f64| format!("{v:.1}");
        let tomorrow = today.succ_opt().unwrap_or(today);
        let mut arrivals: Vec<(NaiveDate, i64, &str)> = incoming
            .iter()
            .map(|po| {
                (
                    po.expected_on.max(tomorrow),
                    i64::from(po.outstanding.max(0)),
                    po.reference.as_str(),
                )
            })
            .collect();
        arrivals.sort_by_key(|a| a.0);
        let demand_total: i64 = queue.iter().map(|l| i64::from(l.waiting().max(0))).sum();
        let supply_total: i64 = i64::from(available) + arrivals.iter().map(|a| a.1).sum::<i64>();
        let last_eta = queue
            .iter()
            .filter_map(|l| l.eta_likely.or(l.eta_worst))
            .max();
        let last_arrival = arrivals.last().map(|a| a.0);
        let end = [
            last_eta,
            last_arrival,
            Some(today + chrono::Duration::days(14)),
        ]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(today);
        let span = ((end - today).num_days().max(1) + 2) as f64;
        let max_units = demand_total.max(supply_total).max(1) as f64;
        let plot_w = Self::WIDTH - Self::LEFT - Self::RIGHT;
        let plot_h = Self::HEIGHT - Self::TOP - Self::BOTTOM;
        let x = |d: NaiveDate| Self::LEFT + ((d - today).num_days().max(0) as f64 / span) * plot_w;
        let y = |units: i64| Self::TOP + plot_h - (units as f64 / max_units) * plot_h;

        let mut path = format!("M{},{}", fmt(x(today)), fmt(y(i64::from(available))));
        let mut level = i64::from(available);
        let mut labels = Vec::new();
        for (date, units, reference) in &arrivals {
            level += units;
            path.push_str(&format!(" H{} V{}", fmt(x(*date)), fmt(y(level))));
            labels.push(Label {
                x: fmt(x(*date) + 3.0),
                y: fmt(y(level) - 4.0),
                text: format!("{reference} +{units}"),
            });
        }
        path.push_str(&format!(" H{}", fmt(Self::LEFT + plot_w)));

        let mut cumulative = 0i64;
        let mut dots = Vec::new();
        for (i, line) in queue.iter().enumerate() {
            cumulative += i64::from(line.waiting().max(0));
            if i >= Self::MAX_DOTS {
                continue;
            }
            let date = line.eta_likely.or(line.eta_worst);
            let cx = date.map_or(Self::LEFT + plot_w, x);
            dots.push(Dot {
                cx: fmt(cx),
                cy: fmt(y(cumulative)),
                title: format!(
                    "{} in line: order {}, {} waiting, likely {}",
                    ordinal(i as u32 + 1),
                    line.order_number,
                    line.waiting(),
                    date.map(|d| crate::domain::human_date(d, today))
                        .unwrap_or_else(|| "unknown".to_owned())
                ),
            });
        }
        let ticks = [
            today,
            today + chrono::Duration::days(((end - today).num_days() / 2).max(0)),
            end,
        ]
        .into_iter()
        .map(|d| Label {
            x: fmt(x(d)),
            y: fmt(Self::HEIGHT - Self::BOTTOM + 16.0),
            text: crate::domain::human_date(d, today),
        })
        .collect();
        let unit_ticks = [0, max_units as i64]
            .into_iter()
            .map(|u| Label {
                x: fmt(Self::LEFT - 6.0),
                y: fmt(y(u) + 4.0),
                text: u.to_string(),
            })
            .collect();
        let summary = format!(
            "{available} available now; {} incoming on {} purchase {}; {} waiting on {} {}.",
            supply_total - i64::from(available),
            arrivals.len(),
            if arrivals.len() == 1 {
                "order"
            } else {
                "orders"
            },
            demand_total,
            queue.len(),
            if queue.len() == 1 { "line" } else { "lines" },
        );
        Timeline {
            width: Self::WIDTH as u32,
            height: Self::HEIGHT as u32,
            supply_path: path,
            axis_y: fmt(Self::TOP + plot_h),
            axis_x_end: fmt(Self::LEFT + plot_w),
            top: fmt(Self::TOP),
            ticks,
            unit_ticks,
            arrivals: labels,
            dots,
            summary,
            empty: queue.is_empty() && arrivals.is_empty(),
        }
    }
}
