//! The home page: the daily review a manager reads every morning.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{DateTime, Utc};

use crate::db::users::Role;
use crate::domain::format::human_date;
use crate::error::AppResult;
use crate::services::review::{
    self, Attention, DuePurchaseOrder, Headline, LowStock, ReviewData, TopSku,
};
use crate::web::charts;
use crate::web::orders::Words;
use crate::web::reads::Reads;
use crate::web::render::{self, Frame};
use crate::web::session::CurrentUser;
use crate::web::state::AppState;

/// One figure with its change against yesterday, when there is one.
pub struct Figure {
    pub label: &'static str,
    pub value: String,
    pub delta: Option<String>,
    pub link: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "pages/home.html", blocks = ["figures"])]
struct HomePage {
    frame: Frame,
    today: String,
    words: Words,
    headline: Headline,
    figures: Vec<Figure>,
    trend_svg: String,
    trend: Vec<(String, i64)>,
    /// Sentences on the days the trend jumped.
    trend_notes: Vec<String>,
    top_svg: String,
    top: Vec<TopSku>,
    due: Vec<DuePurchaseOrder>,
    low: Vec<LowStock>,
    low_count: i64,
    attention: Attention,
    reviewed: Option<(String, DateTime<Utc>)>,
    can_sign_off: bool,
}

impl HomePage {
    fn is_overdue(&self, po: &DuePurchaseOrder) -> bool {
        po.expected_on < self.words.today
    }
}

/// The figures, each linking to its list only when there is something in it.
fn figures(data: &ReviewData, words: &Words) -> Vec<Figure> {
    let mut figures = all_figures(data, words);
    for figure in &mut figures {
        if figure.value == "0" {
            figure.link = None;
        }
    }
    figures
}

fn all_figures(data: &ReviewData, words: &Words) -> Vec<Figure> {
    let (t, y) = (&data.today_counts, &data.yesterday_counts);
    let yesterday_open = data.trend.iter().rev().nth(1).map(|d| d.open);
    let delta = |now: i64, before: i64| {
        Some(format!(
            "{} vs yesterday",
            crate::format::delta(now - before)
        ))
    };
    let h = &data.headline;
    let before = data.yesterday.as_ref();
    let money_delta = |now: i64, before: i64| {
        let change = now - before;
        let sign = if change > 0 {
            "+"
        } else if change < 0 {
            "−"
        } else {
            "±"
        };
        Some(format!("{sign}{} vs yesterday", words.money(change.abs())))
    };
    let days_delta = |now: Option<i64>, before: Option<i64>| match (now, before) {
        (Some(now), Some(before)) => Some(format!(
            "{} days vs yesterday",
            crate::format::delta(now - before)
        )),
        _ => None,
    };
    vec![
        Figure {
            label: "Open backorder lines",
            value: crate::format::count(h.open_lines),
            delta: yesterday_open.and_then(|before| delta(h.open_lines, before)),
            link: Some("/queue"),
        },
        Figure {
            label: "Units waiting",
            value: crate::format::count(h.waiting_units),
            delta: before.and_then(|y| delta(h.waiting_units, y.waiting_units)),
            link: None,
        },
        Figure {
            label: "Value waiting",
            value: words.money(h.value_waiting_cents),
            delta: before.and_then(|y| money_delta(h.value_waiting_cents, y.value_waiting_cents)),
            link: None,
        },
        Figure {
            label: "Median age",
            value: h
                .median_age_days
                .map(|d| crate::format::age_days(d.round() as i64))
                .unwrap_or_else(|| "—".to_owned()),
            delta: before.and_then(|y| {
                days_delta(
                    h.median_age_days.map(|d| d.round() as i64),
                    y.median_age_days.map(|d| d.round() as i64),
                )
            }),
            link: None,
        },
        Figure {
            label: "Oldest",
            value: h
                .oldest_age_days
                .map(crate::format::age_days)
                .unwrap_or_else(|| "—".to_owned()),
            delta: before.and_then(|y| days_delta(h.oldest_age_days, y.oldest_age_days)),
            link: Some("/queue?sort=oldest"),
        },
        Figure {
            label: "Overdue (past promise)",
            value: crate::format::count(h.overdue_lines),
            delta: before.and_then(|y| delta(h.overdue_lines, y.overdue_lines)),
            link: Some("/queue?overdue=1"),
        },
        Figure {
            label: "New today",
            value: crate::format::count(t.new_lines),
            delta: delta(t.new_lines, y.new_lines),
            link: None,
        },
        Figure {
            label: "Filled today",
            value: crate::format::count(t.filled),
            delta: delta(t.filled, y.filled),
            link: None,
        },
        Figure {
            label: "Shipments today",
            value: crate::format::count(t.shipments),
            delta: delta(t.shipments, y.shipments),
            link: None,
        },
        Figure {
            label: "Cancelled today",
            value: crate::format::count(t.cancelled),
            delta: delta(t.cancelled, y.cancelled),
            link: None,
        },
        Figure {
            label: "Swaps taken today",
            value: crate::format::count(t.swaps),
            delta: delta(t.swaps, y.swaps),
            link: None,
        },
        Figure {
            label: "Emails sent today",
            value: crate::format::count(t.emails_sent),
            delta: delta(t.emails_sent, y.emails_sent),
            link: Some("/messages"),
        },
        Figure {
            label: "Emails failed",
            value: crate::format::count(data.attention.failed_emails),
            delta: None,
            link: Some("/messages?status=failed"),
        },
        Figure {
            label: "Pending approvals",
            value: crate::format::count(data.attention.pending_approvals),
            delta: None,
            link: Some("/approvals"),
        },
        Figure {
            label: "Promises kept (30 days)",
            value: data
                .kept
                .share_percent()
                .map(|p| format!("{p}%"))
                .unwrap_or_else(|| "—".to_owned()),
            delta: Some(format!("{} of {} due", data.kept.kept, data.kept.due)),
            link: None,
        },
    ]
}

/// A product name short enough for a chart's label.
fn short_name(name: &str) -> String {
    const MAX: usize = 28;
    if name.chars().count() <= MAX {
        name.to_owned()
    } else {
        let cut: String = name.chars().take(MAX - 1).collect();
        format!("{}…", cut.trim_end())
    }
}

pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
) -> AppResult<HttpResponse> {
    let today = crate::clock::today();
    let shared = state.clone();
    let reads = Reads::of(&req, &state);
    // A connection is taken only to count: requests served the shared answer (or waiting
    // for it) hold none, so they cannot starve the pool while one request counts.
    let data = actix_web::web::block(move || {
        let count = || -> AppResult<ReviewData> {
            let mut data = reads.run(|conn| review::daily(conn, today))?;
            let mut conn = shared.pool.get()?;
            data.yesterday = review::snapshot(&mut conn, today, &data.headline)?;
            Ok(data)
        };
        // Someone who just changed something counts afresh (`web::reads`).
        if reads.fresh() {
            count().map(std::sync::Arc::new)
        } else {
            shared.review.get(&today, count)
        }
    })
    .await??;
    let data = std::sync::Arc::unwrap_or_clone(data);
    let words = Words {
        today,
        currency: data.currency.clone(),
    };
    let trend: Vec<(String, i64)> = data
        .trend
        .iter()
        .map(|d| (human_date(d.day, today), d.open))
        .collect();
    let bars: Vec<(String, i64)> = data
        .top
        .iter()
        .map(|t| (short_name(&t.name), t.customers))
        .collect();
    let page = HomePage {
        frame: Frame::new(&user, "review"),
        today: human_date(today, today),
        figures: figures(&data, &words),
        trend_svg: charts::line_chart(
            "trend",
            "Open backorder lines, last 30 days",
            "open lines",
            &trend,
        ),
        top_svg: charts::bar_chart(
            "top-skus",
            "Top 10 backordered products by waiting customers",
            "customer",
            &bars,
        ),
        trend,
        trend_notes: data.trend_notes,
        words,
        headline: data.headline,
        top: data.top,
        due: data.due,
        low_count: data.low.1,
        low: data.low.0,
        attention: data.attention,
        reviewed: data.reviewed,
        can_sign_off: user.role.allows(Role::Manager),
    };
    if render::is_htmx(&req) {
        return Ok(render::html_string(page.as_figures().render()?));
    }
    render::html(&page)
}

/// "Reviewed": a manager signs the day off.
pub async fn sign_off(state: web::Data<AppState>, user: CurrentUser) -> AppResult<HttpResponse> {
    user.require(Role::Manager)?;
    let (actor, user_id) = (user.actor(), user.id);
    crate::db::blocking(&state.pool, move |conn| {
        review::sign_off(conn, &actor, user_id, crate::clock::today())
    })
    .await?;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/#review-sign-off"))
        .finish())
}
