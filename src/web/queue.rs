//! The backorder queue page: every waiting line, filtered, sorted and paged by keyset;
//! a CSV export of the view; bulk actions with a preview of what they touch.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::csv_cells;
use crate::error::{AppError, AppResult};
use crate::services::backorders::{
    self, BulkAction, BulkOutcome, BulkRequest, QueueCounts, QueueData, QueueFilter, QueueLine,
    QueueSort,
};
use crate::web::orders::{Words, url_segment};
use crate::web::reads::Reads;
use crate::web::render::{self, Frame};
use crate::web::session::CurrentUser;
use crate::web::state::AppState;

pub const PAGE_SIZE: i64 = 50;

/// The view as it travels in the URL, so a link or the back button gives the same page.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct QueueParams {
    #[serde(default)]
    pub sku: String,
    #[serde(default)]
    pub supplier: String,
    #[serde(default)]
    pub overdue: String,
    #[serde(default)]
    pub no_eta: String,
    #[serde(default)]
    pub lapsing: String,
    #[serde(default)]
    pub too_long: String,
    #[serde(default)]
    pub min_age: String,
    #[serde(default)]
    pub tier: String,
    #[serde(default)]
    pub sort: String,
    #[serde(default)]
    pub after: String,
}

fn flag(text: &str) -> bool {
    matches!(text, "1" | "on" | "true" | "yes")
}

impl QueueParams {
    pub fn filter(&self) -> QueueFilter {
        QueueFilter {
            sku: Some(self.sku.trim().to_owned()).filter(|s| !s.is_empty()),
            supplier_id: self.supplier.trim().parse().ok(),
            overdue: flag(&self.overdue),
            no_eta: flag(&self.no_eta),
            lapsing: flag(&self.lapsing),
            too_long: flag(&self.too_long),
            min_age_days: self
                .min_age
                .trim()
                .parse()
                .ok()
                .filter(|d: &i32| (0..=3650).contains(d)),
            tier: self
                .tier
                .trim()
                .parse()
                .ok()
                .filter(|t: &i16| (0..=9).contains(t)),
        }
    }

    fn cursor(&self) -> Option<(i64, i64)> {
        let (key, id) = self.after.split_once('_')?;
        Some((key.parse().ok()?, id.parse().ok()?))
    }

    /// The query string of this view with some fields changed (`None` drops a field).
    pub fn with(&self, changes: &[(&str, Option<&str>)]) -> String {
        let mut fields: Vec<(&str, String)> = vec![
            ("sku", self.sku.clone()),
            ("supplier", self.supplier.clone()),
            ("overdue", self.overdue.clone()),
            ("no_eta", self.no_eta.clone()),
            ("lapsing", self.lapsing.clone()),
            ("too_long", self.too_long.clone()),
            ("min_age", self.min_age.clone()),
            ("tier", self.tier.clone()),
            ("sort", self.sort.clone()),
            ("after", self.after.clone()),
        ];
        for (name, value) in changes {
            if let Some(field) = fields.iter_mut().find(|(n, _)| n == name) {
                field.1 = value.unwrap_or_default().to_owned();
            }
        }
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in fields.iter().filter(|(_, v)| !v.is_empty()) {
            query.append_pair(name, value);
        }
        query.finish()
    }

    pub fn sort(&self) -> QueueSort {
        QueueSort::parse(&self.sort)
    }
}

#[derive(Template)]
#[template(path = "pages/queue.html", blocks = ["table", "overview"])]
struct QueuePage {
    frame: Frame,
    params: QueueParams,
    lines: Vec<QueueLine>,
    counts: QueueCounts,
    next_cursor: Option<String>,
    suppliers: Vec<(i64, String)>,
    words: Words,
}

impl QueuePage {
    fn link(&self, changes: &[(&str, Option<&str>)]) -> String {
        let query = self.params.with(changes);
        if query.is_empty() {
            "/queue".to_owned()
        } else {
            format!("/queue?{query}")
        }
    }

    fn quick(&self, name: &str) -> String {
        let on = match name {
            "overdue" => flag(&self.params.overdue),
            "no_eta" => flag(&self.params.no_eta),
            "lapsing" => flag(&self.params.lapsing),
            _ => flag(&self.params.too_long),
        };
        self.link(&[(name, if on { None } else { Some("1") }), ("after", None)])
    }

    fn is_on(&self, name: &str) -> bool {
        match name {
            "overdue" => flag(&self.params.overdue),
            "no_eta" => flag(&self.params.no_eta),
            "lapsing" => flag(&self.params.lapsing),
            _ => flag(&self.params.too_long),
        }
    }

    fn order_link(&self, number: &str) -> String {
        format!("/orders/{}", url_segment(number))
    }

    fn place(&self, position: &Option<i32>) -> String {
        match position {
            Some(p) if *p > 0 => crate::domain::format::ordinal(*p as u32),
            _ => "—".to_owned(),
        }
    }

    fn supplier_selected(&self, id: &i64) -> bool {
        self.params.supplier.trim() == id.to_string()
    }
}

async fn load(
    state: &web::Data<AppState>,
    reads: Reads,
    params: &QueueParams,
) -> AppResult<QueueData> {
    let filter = params.filter();
    let sort = params.sort();
    let cursor = params.cursor();
    let today = crate::clock::today();
    let shared = state.clone();
    let fresh = reads.fresh();
    reads
        .blocking(move |conn| {
            backorders::queue_page(
                conn,
                &filter,
                sort,
                cursor,
                PAGE_SIZE,
                today,
                |conn, limit| {
                    // Someone who just changed something counts afresh (`web::reads`).
                    if fresh {
                        return Ok(backorders::counts(conn, &filter, today, limit)?);
                    }
                    Ok(shared
                        .queue_counts
                        .get(&(filter.clone(), today), || {
                            backorders::counts(conn, &filter, today, limit)
                        })?
                        .as_ref()
                        .clone())
                },
            )
        })
        .await
}

pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    params: web::Query<QueueParams>,
) -> AppResult<HttpResponse> {
    let params = params.into_inner();
    let reads = Reads::of(&req, &state);
    let QueueData {
        lines,
        more,
        counts,
        suppliers,
        currency,
    } = load(&state, reads, &params).await?;
    let next_cursor = if more {
        lines.last().map(|l| format!("{}_{}", l.sort_key, l.id))
    } else {
        None
    };
    let page = QueuePage {
        frame: Frame::new(&user, "queue"),
        params,
        lines,
        counts,
        next_cursor,
        suppliers,
        words: Words {
            today: crate::clock::today(),
            currency,
        },
    };
    if render::is_htmx(&req) {
        // The results, and out of band the counts and quick filters: every part of the
        // page that carries the filter is replaced with it.
        let mut body = page.as_table().render()?;
        body.push_str(&page.as_overview().render()?);
        return Ok(render::html_string(body));
    }
    render::html(&page)
}

/// The filtered view as CSV (all pages).
pub async fn export(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    params: web::Query<QueueParams>,
) -> AppResult<HttpResponse> {
    let _ = user;
    let filter = params.filter();
    let sort = params.sort();
    let today = crate::clock::today();
    let body = Reads::of(&req, &state)
        .blocking(move |conn| {
            let lines = backorders::export_lines(conn, &filter, sort, today)?;
            let mut out = csv::Writer::from_writer(Vec::new());
            let header = [
                "order",
                "customer",
                "email",
                "sku",
                "product",
                "waiting",
                "placed_at",
                "age_days",
                "position",
                "eta_likely",
                "eta_worst",
                "eta_is_estimate",
                "promised_on",
                "delay_days",
                "overdue",
                "lapsing",
                "waited_too_long",
            ];
            csv_cells::write_row(&mut out, header).map_err(|e| AppError::Internal(e.into()))?;
            let date = |d: Option<chrono::NaiveDate>| d.map(|d| d.to_string()).unwrap_or_default();
            for l in &lines {
                csv_cells::write_row(
                    &mut out,
                    [
                        l.order_number.clone(),
                        l.customer_name.clone(),
                        l.customer_email.clone(),
                        l.sku.clone(),
                        l.product_name.clone(),
                        l.waiting.to_string(),
                        l.placed_at.to_rfc3339(),
                        l.age_days.to_string(),
                        l.queue_position.map(|p| p.to_string()).unwrap_or_default(),
                        date(l.eta_likely),
                        date(l.eta_worst),
                        l.eta_is_estimate.to_string(),
                        date(l.promised_on),
                        l.delay_days.to_string(),
                        l.overdue.to_string(),
                        l.lapsing.to_string(),
                        l.too_long.to_string(),
                    ],
                )
                .map_err(|e| AppError::Internal(e.into()))?;
            }
            out.into_inner()
                .map_err(|e| AppError::Internal(anyhow::anyhow!("csv: {e}")))
        })
        .await?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"backorders-{today}.csv\""),
        ))
        .body(body))
}

#[derive(Template)]
#[template(path = "pages/queue_bulk.html")]
struct BulkPage {
    frame: Frame,
    action: String,
    scope: String,
    query: String,
    selected: Vec<i64>,
    outcome: BulkOutcome,
    /// A rep asked to cancel more lines than the shop lets a rep cancel at once.
    needs_manager: bool,
    error: Option<String>,
    reason: String,
    kind: String,
    value: String,
}

impl BulkPage {
    fn action_label(&self) -> &'static str {
        match self.action.as_str() {
            "cancel" => "Cancel the waiting units",
            "eta_update" => "Email an ETA update",
            "discount" => "Propose a discount",
            _ => "Unknown action",
        }
    }

    fn lines(&self) -> usize {
        self.outcome.lines
    }

    fn customers(&self) -> usize {
        self.outcome.customers
    }
}

/// Bulk actions: the first post previews (how many lines and customers, and who), the
/// second (with `confirm`) runs the action in one transaction and reports.
pub async fn bulk(
    state: web::Data<AppState>,
    user: CurrentUser,
    form: web::Form<Vec<(String, String)>>,
) -> AppResult<HttpResponse> {
    let fields = form.into_inner();
    let get = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let action = get("action");
    let scope = get("scope");
    let query = get("query");
    let reason = get("reason");
    let selected: Vec<i64> = fields
        .iter()
        .filter(|(k, _)| k == "line")
        .filter_map(|(_, v)| v.parse().ok())
        .collect();
    let bulk_action = match action.as_str() {
        "cancel" => BulkAction::Cancel,
        "eta_update" => BulkAction::EtaUpdate,
        "discount" => BulkAction::Discount,
        _ => return Err(AppError::invalid("action", "choose an action")),
    };
    if scope != "all" && selected.is_empty() {
        return Err(AppError::invalid(
            "line",
            "select at least one line, or choose every line the filter matches",
        ));
    }
    let request = BulkRequest {
        action: bulk_action,
        filter: serde_urlencoded_params(&query).filter(),
        selected: (scope != "all").then(|| selected.clone()),
        confirm: get("confirm") == "1",
        reason: reason.clone(),
        discount_kind: get("kind"),
        discount_value: get("value"),
    };
    let actor = user.actor();
    let by_manager = user.is_manager();
    let today = crate::clock::today();
    let result = crate::db::blocking(&state.pool, move |conn| {
        backorders::run_bulk(conn, &actor, by_manager, &request, today)
    })
    .await;
    let (outcome, error) = match result {
        Ok(outcome) => {
            let refused = outcome.refused.clone();
            (outcome, refused)
        }
        Err(AppError::Invalid { message, .. }) => (BulkOutcome::default(), Some(message)),
        Err(other) => return Err(other),
    };
    let needs_manager = outcome.over_limit && !by_manager;
    // A rep who confirms anyway (an old tab, a crafted post) is refused, and nothing changed.
    let refused = needs_manager && get("confirm") == "1";
    let page = BulkPage {
        frame: Frame::new(&user, "queue"),
        action,
        scope,
        query,
        selected,
        outcome,
        needs_manager,
        error,
        reason,
        kind: get("kind"),
        value: get("value"),
    };
    let mut response = render::form_answer(page.render()?, page.error.is_some());
    if refused {
        *response.status_mut() = actix_web::http::StatusCode::FORBIDDEN;
    }
    Ok(response)
}

fn serde_urlencoded_params(query: &str) -> QueueParams {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    QueueParams {
        sku: get("sku"),
        supplier: get("supplier"),
        overdue: get("overdue"),
        no_eta: get("no_eta"),
        lapsing: get("lapsing"),
        too_long: get("too_long"),
        min_age: get("min_age"),
        tier: get("tier"),
        sort: get("sort"),
        after: String::new(),
    }
}
