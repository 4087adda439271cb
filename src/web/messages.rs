//! The Messages page: the outbox by status and kind, a preview of each message, retry of
//! failed ones, a compose form (to an order's customer or a customer) and a bulk update to
//! everyone waiting on a SKU, both with a preview before anything is queued.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use askama::Template;
use rand::Rng;
use serde::Deserialize;

use crate::db::models::MessageStatus;
use crate::email::outbox::{self, Kind};
use crate::error::{AppError, AppResult};
use crate::services::messages::message_search::{self, MessageFilter, SearchedFor};
use crate::services::messages::{
    self, compose::ComposeTarget, compose::Composed, page::CountRow, page::MessageDetail,
    page::MessageRow,
};
use crate::services::priced::Priced;
use crate::web::orders::Words;
use crate::web::render::{self, Frame};
use crate::web::session::CurrentUser;
use crate::web::state::AppState;

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    kind: String,
    before: Option<i64>,
    #[serde(default)]
    done: String,
    #[serde(default)]
    q: String,
}

#[derive(Template)]
#[template(path = "pages/messages.html")]
struct ListPage {
    frame: Frame,
    words: Words,
    counts: Vec<CountRow>,
    rows: Vec<MessageRow>,
    status: String,
    kind: String,
    next_before: Option<i64>,
    done: String,
    query: String,
    matching: Option<i64>,
    searched_for: SearchedFor,
}

impl ListPage {
    fn statuses(&self) -> Vec<(&'static str, i64)> {
        MessageStatus::ALL
            .iter()
            .map(|s| {
                (
                    s.as_str(),
                    self.counts
                        .iter()
                        .filter(|c| c.status == *s)
                        .map(|c| c.count)
                        .sum(),
                )
            })
            .collect()
    }

    fn kinds(&self) -> Vec<(&'static str, &'static str, i64)> {
        Kind::every()
            .map(|k| {
                (
                    k.as_str(),
                    k.label(),
                    self.counts
                        .iter()
                        .filter(|c| c.kind == k.as_str())
                        .map(|c| c.count)
                        .sum(),
                )
            })
            .collect()
    }

    fn count(&self, status: &str, kind: &str) -> i64 {
        self.counts
            .iter()
            .find(|c| c.status.as_str() == status && c.kind == kind)
            .map(|c| c.count)
            .unwrap_or(0)
    }

    fn total(&self) -> i64 {
        self.counts.iter().map(|c| c.count).sum()
    }

    fn label(&self, kind: &str) -> &'static str {
        outbox::label(kind)
    }

    fn status_label(&self, status: &str) -> &'static str {
        status.parse().map_or("Unknown", MessageStatus::label)
    }

    fn filter_link(&self, status: &str, kind: &str) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        if !self.query.trim().is_empty() {
            query.append_pair("q", self.query.trim());
        }
        if !status.is_empty() {
            query.append_pair("status", status);
        }
        if !kind.is_empty() {
            query.append_pair("kind", kind);
        }
        format!("/messages?{}", query.finish())
    }

    /// "3 messages about SO-1042", "12 messages to ana@…": what the search found.
    fn search_words(&self) -> Option<String> {
        let n = self.matching?;
        let messages = if n == 1 {
            "1 message".to_owned()
        } else {
            format!("{} messages", crate::format::count(n))
        };
        Some(match &self.searched_for {
            SearchedFor::Orders(numbers) if numbers.is_empty() => {
                format!("No order number starts “{}”.", self.query.trim())
            }
            SearchedFor::Orders(numbers) if numbers.len() == 1 => {
                format!("{messages} about order {}", numbers[0])
            }
            SearchedFor::Orders(numbers) => format!(
                "{messages} about {} orders whose numbers start “{}”",
                numbers.len(),
                self.query.trim()
            ),
            SearchedFor::Email(email) => format!("{messages} to addresses starting “{email}”"),
            SearchedFor::Nothing => return None,
        })
    }

    fn next_link(&self, before: &i64) -> String {
        format!(
            "{}&before={before}",
            self.filter_link(&self.status, &self.kind)
        )
    }
}

fn words(currency: String) -> Words {
    Words {
        today: crate::clock::today(),
        currency,
    }
}

pub async fn list(
    state: web::Data<AppState>,
    user: CurrentUser,
    query: web::Query<ListQuery>,
) -> AppResult<HttpResponse> {
    let query = query.into_inner();
    let status = query
        .status
        .parse::<MessageStatus>()
        .ok()
        .map(|s| s.as_str().to_owned());
    let kind = Kind::parse(&query.kind).map(|k| k.as_str().to_owned());
    let filter = MessageFilter {
        status: status.clone(),
        kind: kind.clone(),
        query: query.q.chars().take(200).collect(),
        before: query.before,
    };
    let text = filter.query.clone();
    let Priced {
        data: overview,
        currency,
    } = crate::db::blocking(&state.pool, move |conn| {
        Priced::load(conn, |conn| message_search::overview(conn, &filter))
    })
    .await?;
    render::html(&ListPage {
        frame: Frame::new(&user, "messages"),
        words: words(currency),
        counts: overview.counts,
        rows: overview.rows,
        status: status.unwrap_or_default(),
        kind: kind.unwrap_or_default(),
        next_before: overview.next_before,
        query: text,
        matching: overview.matching,
        searched_for: overview.searched_for,
        done: match query.done.as_str() {
            "retried" => "The message is queued again.".to_owned(),
            "queued" => "Queued. The delivery worker sends it within seconds.".to_owned(),
            _ => String::new(),
        },
    })
}

#[derive(Template)]
#[template(path = "pages/message.html")]
struct DetailPage {
    frame: Frame,
    words: Words,
    m: MessageDetail,
}

impl DetailPage {
    fn label(&self) -> &'static str {
        outbox::label(&self.m.kind)
    }

    fn status_label(&self) -> &'static str {
        self.m.status.label()
    }

    fn can_retry(&self) -> bool {
        self.m.status.undelivered()
    }
}

pub async fn show(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let Priced { data: m, currency } = crate::db::blocking(&state.pool, move |conn| {
        Priced::load(conn, |conn| messages::restock_mail::detail(conn, id))
    })
    .await?;
    render::html(&DetailPage {
        frame: Frame::new(&user, "messages"),
        words: words(currency),
        m,
    })
}

/// The HTML part alone, for the sandboxed preview frame: its own strict policy (no
/// scripts, no requests; inline styles only), framed by this site only.
pub async fn html_body(
    state: web::Data<AppState>,
    _user: CurrentUser,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let m = crate::db::blocking(&state.pool, move |conn| {
        messages::restock_mail::detail(conn, id)
    })
    .await?;
    Ok(sandboxed_html(m.body.body_html))
}

fn sandboxed_html(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((
            "Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox; frame-ancestors 'self'",
        ))
        .insert_header(("X-Frame-Options", "SAMEORIGIN"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}

pub async fn retry(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let actor = user.actor();
    crate::db::blocking(&state.pool, move |conn| {
        messages::page::retry(conn, &actor, id)
    })
    .await?;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, format!("/messages/{id}?retried=1")))
        .finish())
}

#[derive(Deserialize, Default)]
pub struct ComposeForm {
    #[serde(default)]
    mode: String,
    #[serde(default)]
    order: String,
    #[serde(default)]
    customer: String,
    #[serde(default)]
    sku: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    compose_id: String,
    #[serde(default)]
    action: String,
}

#[derive(Template)]
#[template(path = "pages/message_compose.html")]
struct ComposePage {
    frame: Frame,
    form: ComposeForm,
    preview: Option<Composed>,
    error: Option<String>,
}

impl ComposePage {
    fn is_bulk(&self) -> bool {
        self.form.mode == "bulk"
    }
}

fn new_compose_id() -> String {
    hex::encode(rand::rng().random::<[u8; 12]>())
}

pub async fn compose_form(
    user: CurrentUser,
    query: web::Query<ComposeForm>,
) -> AppResult<HttpResponse> {
    let mut form = query.into_inner();
    form.compose_id = new_compose_id();
    if form.mode != "bulk" {
        form.mode = "one".to_owned();
    }
    render::html(&ComposePage {
        frame: Frame::new(&user, "messages"),
        form,
        preview: None,
        error: None,
    })
}

pub async fn compose_submit(
    state: web::Data<AppState>,
    user: CurrentUser,
    form: web::Form<ComposeForm>,
) -> AppResult<HttpResponse> {
    let mut form = form.into_inner();
    if !(16..=64).contains(&form.compose_id.len())
        || !form.compose_id.chars().all(|c| c.is_ascii_hexdigit())
    {
        form.compose_id = new_compose_id();
    }
    let send = form.action == "send";
    let target = if !form.order.trim().is_empty() {
        Some(ComposeTarget::Order(form.order.trim().to_owned()))
    } else if !form.customer.trim().is_empty() {
        Some(ComposeTarget::Customer(form.customer.trim().to_owned()))
    } else {
        None
    };
    let bulk = form.mode == "bulk";
    let sku = form.sku.clone();
    let draft = messages::compose::Draft {
        subject: form.subject.clone(),
        body: form.body.clone(),
        compose_id: form.compose_id.clone(),
    };
    let actor = user.actor();
    let result = crate::db::blocking(&state.pool, move |conn| {
        let today = crate::clock::today();
        if bulk {
            messages::compose::bulk_update(conn, &actor, &sku, &draft, send, today)
        } else {
            let target = target.ok_or_else(|| {
                AppError::invalid("order", "give an order number or a customer's email")
            })?;
            messages::compose::compose(conn, &actor, &target, &draft, send, today)
        }
    })
    .await;
    match result {
        Ok(_) if send => Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, "/messages?done=queued"))
            .finish()),
        Ok(preview) => render::html(&ComposePage {
            frame: Frame::new(&user, "messages"),
            form,
            preview: Some(preview),
            error: None,
        }),
        Err(AppError::Invalid { message, .. }) => {
            let page = ComposePage {
                frame: Frame::new(&user, "messages"),
                form,
                preview: None,
                error: Some(message),
            };
            Ok(render::form_answer(page.render()?, true))
        }
        Err(other) => Err(other),
    }
}
