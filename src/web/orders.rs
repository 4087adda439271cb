//! Order lookup ("when will it ship?") and the order page with its actions.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::domain::answer::{LineAnswer, Standing};
use crate::error::{AppError, AppResult};
use crate::services::inventory::alternatives::Offer;
use crate::services::inventory::swaps::{self, SwapRecord};
use crate::services::orders::choices::{self, ChoiceOutcome};
use crate::services::orders::fulfilment;
use crate::services::orders::lookup::{self, EtaChange, LineDetail, OrderDetail};
use crate::services::orders::order_actions;
use crate::services::orders::order_page::{self, OrderPageData};
use crate::services::orders::search::{self, SearchResults};
use crate::services::priced::Priced;
use crate::web::reads::Reads;
pub use crate::web::render::Words;
use crate::web::render::{self, Frame};
use crate::web::session::CurrentUser;
use crate::web::state::AppState;

#[derive(Template)]
#[template(path = "pages/orders_search.html", blocks = ["results"])]
struct SearchPage {
    frame: Frame,
    query: String,
    results: Option<SearchResults>,
    /// The 1-based position of the page's first result.
    from: usize,
    words: Words,
}

impl SearchPage {
    fn matches(&self) -> &[search::OrderMatch] {
        self.results
            .as_ref()
            .map(|r| r.matches.as_slice())
            .unwrap_or_default()
    }

    /// "83 orders match", "1 order matches", "More than 10,000 orders match".
    fn count_words(&self) -> String {
        match self.results.as_ref().map(|r| r.total) {
            Some(search::Total::Exactly(1)) => "1 order matches".to_owned(),
            Some(search::Total::Exactly(n)) => {
                format!("{} orders match", crate::format::count(n))
            }
            Some(search::Total::MoreThan(n)) => {
                format!("More than {} orders match", crate::format::count(n))
            }
            None => String::new(),
        }
    }

    fn showing(&self) -> Option<String> {
        let shown = self.matches().len();
        let results = self.results.as_ref()?;
        let paged = self.from > 1 || results.next.is_some();
        (paged && shown > 0).then(|| format!("showing {}–{}", self.from, self.from + shown - 1))
    }

    /// False for a customer query too short to search names (emails by their start only).
    fn names_searched(&self) -> bool {
        match self.results.as_ref().map(|r| &r.needle) {
            Some(search::Needle::Customer { whole, words }) => search::searches_names(whole, words),
            _ => true,
        }
    }

    fn is_number(&self) -> bool {
        self.results.as_ref().is_some_and(|r| r.read_as_number)
    }

    fn next_link(&self) -> Option<String> {
        let next = self.results.as_ref()?.next.as_ref()?;
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("q", &self.query)
            .append_pair("after", &next.to_param())
            .append_pair("from", &(self.from + self.matches().len()).to_string())
            .finish();
        Some(format!("/orders?{query}"))
    }

    fn first_link(&self) -> Option<String> {
        (self.from > 1).then(|| {
            let query: String = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("q", &self.query)
                .finish();
            format!("/orders?{query}")
        })
    }
}

#[derive(Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    after: String,
    from: Option<usize>,
}

pub async fn search(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    query: web::Query<SearchQuery>,
) -> AppResult<HttpResponse> {
    let query = query.into_inner();
    let text: String = query.q.chars().take(200).collect();
    let after = search::After::parse(&query.after);
    let from = if after.is_some() {
        query.from.unwrap_or(1).clamp(1, 1_000_000)
    } else {
        1
    };
    let needle = text.clone();
    let Priced {
        data: results,
        currency,
    } = Reads::of(&req, &state)
        .blocking(move |conn| {
            Priced::load(conn, |conn| {
                if needle.trim().is_empty() {
                    return Ok(None);
                }
                search::search_orders(conn, &needle, after.as_ref()).map(Some)
            })
        })
        .await?;
    let htmx = render::is_htmx(&req);
    if let Some(found) = &results
        && !htmx
        && from == 1
        && found.total == search::Total::Exactly(1)
        && let [only] = found.matches.as_slice()
    {
        let location = format!("/orders/{}", url_segment(&only.number));
        return Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, location))
            .finish());
    }
    let page = SearchPage {
        frame: Frame::new(&user, "orders"),
        query: text,
        results,
        from,
        words: Words {
            today: crate::clock::today(),
            currency,
        },
    };
    if htmx {
        return Ok(render::html_string(page.as_results().render()?));
    }
    render::html(&page)
}

/// A path segment with reserved characters escaped.
pub fn url_segment(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

#[derive(Template)]
#[template(path = "pages/order.html", blocks = ["main"])]
struct OrderPage {
    frame: Frame,
    data: OrderPageData,
    words: Words,
    /// What the last action did (or why it did not), shown beside its control.
    feedback: Option<Feedback>,
    /// A cancellation asked for, waiting for its confirmation: (line id, reason).
    confirm_cancel: Option<(i64, String)>,
    /// The customer's choice to cancel what waits, waiting for its confirmation.
    confirm_choice: bool,
    /// An alternative to take for a line, waiting for its confirmation: (line id, SKU).
    confirm_swap: Option<(i64, String)>,
    /// The problem with a proposed discount, shown beside its form.
    proposal_error: Option<String>,
}

/// The outcome of an action, for the control that did it ("ship", "eta-update",
/// "cancel-12", "choice", "note", "proposal").
pub struct Feedback {
    control: String,
    message: String,
    failed: bool,
}

impl OrderPage {
    fn order(&self) -> &OrderDetail {
        &self.data.order
    }

    fn number(&self) -> String {
        url_segment(&self.data.order.header.number)
    }

    fn feedback_for(&self, control: &str) -> Option<&Feedback> {
        self.feedback.as_ref().filter(|f| f.control == control)
    }

    /// The reason given for cancelling `line`, while its confirmation is asked.
    fn cancel_reason(&self, line: &LineDetail) -> Option<&String> {
        self.confirm_cancel
            .as_ref()
            .filter(|(id, _)| *id == line.id)
            .map(|(_, reason)| reason)
    }

    fn failed_at(&self, control: &str) -> bool {
        self.feedback_for(control).is_some_and(|f| f.failed)
    }

    /// The lines in the answer's order: delayed and at-risk first.
    fn lines_in_order(&self) -> Vec<(&LineDetail, &LineAnswer)> {
        self.data
            .answers
            .iter()
            .filter_map(|(i, answer)| self.data.order.lines.get(*i).map(|line| (line, answer)))
            .collect()
    }

    /// The answers for lines that still wait, then one for the rest.
    fn waiting_answers(&self) -> Vec<&LineAnswer> {
        self.data
            .answers
            .iter()
            .filter(|(_, a)| a.standing != Standing::Settled)
            .map(|(_, a)| a)
            .collect()
    }

    fn settled_answers(&self) -> Vec<&LineAnswer> {
        self.data
            .answers
            .iter()
            .filter(|(_, a)| a.standing == Standing::Settled)
            .map(|(_, a)| a)
            .collect()
    }

    fn history_of(&self, line: &LineDetail) -> Vec<&EtaChange> {
        self.data
            .order
            .eta_changes
            .iter()
            .filter(|c| c.order_line_id == line.id)
            .collect()
    }

    /// "slipped by 3 days" when the date told now is later than the promise.
    fn slipped(&self, line: &LineDetail) -> Option<String> {
        match (line.promised_on, line.eta_worst) {
            (Some(promised), Some(worst)) if worst > promised && line.waiting() > 0 => {
                let days = (worst - promised).num_days();
                Some(format!(
                    "slipped by {days} {}",
                    if days == 1 { "day" } else { "days" }
                ))
            }
            _ => None,
        }
    }

    fn has_waiting(&self) -> bool {
        self.data.order.lines.iter().any(|l| l.waiting() > 0)
    }

    fn can_ship(&self) -> bool {
        self.data.order.lines.iter().any(|l| l.allocated > 0)
    }

    fn waiting_units(&self) -> i32 {
        self.data.order.lines.iter().map(|l| l.waiting()).sum()
    }

    fn order_value(&self) -> i64 {
        self.data
            .order
            .lines
            .iter()
            .map(|l| i64::from(l.qty - l.cancelled) * l.unit_price_cents)
            .sum()
    }

    fn payment(&self) -> String {
        let header = &self.data.order.header;
        match header.payment_state.as_str() {
            "authorized" => match header.payment_authorized_until {
                Some(until) if until < self.words.today => {
                    format!("Authorization lapsed on {}", self.words.date(&until))
                }
                Some(until) => format!("Authorized until {}", self.words.date(&until)),
                None => "Authorized".to_owned(),
            },
            "partially_captured" => {
                "Captured for what has shipped; the rest is still authorized".to_owned()
            }
            "captured" => "Captured at shipment".to_owned(),
            "voided" => "Voided (cancelled)".to_owned(),
            other => other.to_owned(),
        }
    }

    fn proposal_text(&self, p: &crate::services::orders::lookup::OrderProposal) -> String {
        match p.kind.as_str() {
            "percent" => format!("{}% off", p.value),
            "amount" => format!("{} off", self.words.money(i64::from(p.value))),
            _ => "Free shipping".to_owned(),
        }
    }

    fn proposal_status(p: &crate::services::orders::lookup::OrderProposal) -> &'static str {
        use crate::db::models::ProposalStatus;
        match p.status {
            ProposalStatus::Approved => "approved",
            ProposalStatus::Rejected => "rejected",
            ProposalStatus::Withdrawn => "withdrawn: nothing is left to ship",
            ProposalStatus::Proposed => "proposed, waiting for a manager",
        }
    }

    /// The alternatives that ship sooner than `line` now.
    fn offers_for(&self, line: &LineDetail) -> Vec<&Offer> {
        self.data
            .offers
            .iter()
            .filter(|o| o.line_id == line.id)
            .collect()
    }

    /// This offer's swap is waiting for the rep's confirmation.
    fn confirming_swap(&self, offer: &Offer) -> bool {
        self.confirm_swap
            .as_ref()
            .is_some_and(|(line, sku)| *line == offer.line_id && *sku == offer.sku)
    }

    /// "in stock now, ships by Tue 3 Dec; €10.00 more".
    fn offer_words(&self, offer: &Offer) -> String {
        format!(
            "{}; {}",
            offer.date_words(self.words.today),
            offer.price_words(&self.words.currency)
        )
    }

    /// What taking the alternative will do, for the rep's confirmation.
    fn swap_preview(&self, offer: &Offer) -> String {
        format!(
            "Take {name} ({sku}) for the customer instead of {product}? The {units} waiting (ships by {waiting}) move to {name}, which {when}. Price difference: {note}. The customer gets one email about it and the old line's place goes to the next in line. This cannot be undone.",
            name = offer.name,
            sku = offer.sku,
            product = offer.product,
            units = Self::units(offer.units),
            waiting = offer.waiting_words(self.words.today),
            when = offer.date_words(self.words.today),
            note = crate::services::inventory::swaps::rep_note(
                offer.difference_cents(),
                &self.words.currency
            ),
        )
    }

    fn swap_note(&self, swap: &SwapRecord) -> String {
        format!(
            "{} × {} instead of {} ({}) — {}",
            swap.units,
            swap.to_product,
            swap.from_product,
            if swap.channel == "rep" {
                "taken by a rep for the customer"
            } else {
                "by the customer's link"
            },
            swap.note(&self.words.currency)
        )
    }

    fn choice(line: &LineDetail) -> &'static str {
        choices::label(&line.customer_choice)
    }

    fn units(n: i32) -> String {
        if n == 1 {
            "1 unit".to_owned()
        } else {
            format!("{n} units")
        }
    }
}

/// What each action's success says, beside its control (the same words with or without
/// htmx: a plain form comes back to `?done=<code>`).
fn done_message(code: &str) -> Option<(&'static str, &'static str)> {
    Some(match code {
        "shipped" => (
            "ship",
            "Shipped what was reserved. The customer gets a shipment email; anything still waiting stays in line.",
        ),
        "eta-update" => (
            "eta-update",
            "Queued: the customer gets an email with the dates above within a minute.",
        ),
        "cancelled" => (
            "lines",
            "Cancelled. The units went to the next in line and the customer gets a cancellation email.",
        ),
        "choice-wait" => (
            "choice",
            "Recorded: the customer keeps waiting for everything.",
        ),
        "choice-ship" => (
            "choice",
            "Recorded and shipped what was ready; the rest follows when it arrives.",
        ),
        "choice-ship-later" => (
            "choice",
            "Recorded: nothing is ready yet, so each part ships as soon as it arrives.",
        ),
        "choice-cancel" => (
            "choice",
            "Recorded and cancelled the waiting items; the customer gets a cancellation email.",
        ),
        "choice-nothing" => ("choice", "Nothing was waiting, so nothing changed."),
        "note" => ("note", "Note added."),
        "swapped" => (
            "lines",
            "Swapped. The customer gets one email about it, and the old line's place went to the next in line.",
        ),
        "proposal" => (
            "proposal",
            "Discount proposed. A manager decides it on the Approvals page.",
        ),
        _ => return None,
    })
}

fn feedback_done(code: &str) -> Option<Feedback> {
    done_message(code).map(|(control, message)| Feedback {
        control: control.to_owned(),
        message: message.to_owned(),
        failed: false,
    })
}

async fn load_page(
    state: &AppState,
    user: &CurrentUser,
    number: String,
    feedback: Option<Feedback>,
) -> AppResult<OrderPage> {
    let today = crate::clock::today();
    let data = crate::db::blocking(&state.pool, move |conn| {
        order_page::load(conn, &number, today)
    })
    .await?;
    Ok(OrderPage {
        frame: Frame::new(user, "orders"),
        words: Words {
            today,
            currency: data.currency.clone(),
        },
        data,
        feedback,
        confirm_cancel: None,
        confirm_choice: false,
        confirm_swap: None,
        proposal_error: None,
    })
}

/// The order page again with a refused discount proposal's problem beside its form.
pub async fn with_proposal_error(
    state: &AppState,
    user: &CurrentUser,
    number: String,
    message: String,
) -> AppResult<HttpResponse> {
    let mut page = load_page(state, user, number, None).await?;
    page.proposal_error = Some(message);
    Ok(render::form_answer(page.render()?, true))
}

#[derive(Deserialize)]
pub struct ShowQuery {
    #[serde(default)]
    done: String,
}

pub async fn show(
    state: web::Data<AppState>,
    user: CurrentUser,
    number: web::Path<String>,
    query: web::Query<ShowQuery>,
) -> AppResult<HttpResponse> {
    let feedback = feedback_done(&query.done);
    render::html(&load_page(&state, &user, number.into_inner(), feedback).await?)
}

/// After an action: for htmx the page's main block with the outcome beside the control;
/// for a plain form, back to the page (`?done=`), or the page with the problem in place.
async fn answer(
    req: &HttpRequest,
    state: &AppState,
    user: &CurrentUser,
    number: String,
    control: &str,
    outcome: AppResult<&'static str>,
) -> AppResult<HttpResponse> {
    let feedback = match outcome {
        Ok(code) => {
            if !render::is_htmx(req) {
                let location = format!(
                    "/orders/{}?done={code}#feedback-{control}",
                    url_segment(&number)
                );
                return Ok(HttpResponse::SeeOther()
                    .insert_header((header::LOCATION, location))
                    .finish());
            }
            feedback_done(code).map(|mut f| {
                f.control = control.to_owned();
                f
            })
        }
        Err(AppError::Invalid { message, .. } | AppError::Conflict(message)) => Some(Feedback {
            control: control.to_owned(),
            message,
            failed: true,
        }),
        Err(other) => return Err(other),
    };
    let failed = feedback.as_ref().is_some_and(|f| f.failed);
    let page = load_page(state, user, number, feedback).await?;
    respond(req, &page, failed)
}

fn respond(req: &HttpRequest, page: &OrderPage, failed: bool) -> AppResult<HttpResponse> {
    let body = if render::is_htmx(req) {
        page.as_main().render()?
    } else {
        page.render()?
    };
    Ok(render::form_answer(body, failed))
}

pub async fn ship(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    number: web::Path<String>,
) -> AppResult<HttpResponse> {
    let number = number.into_inner();
    let (actor, target) = (user.actor(), number.clone());
    let outcome = crate::db::blocking(&state.pool, move |conn| {
        fulfilment::ship_allocated(conn, &actor, &target, crate::clock::today()).map(|_| "shipped")
    })
    .await;
    answer(&req, &state, &user, number, "ship", outcome).await
}

#[derive(Deserialize)]
pub struct CancelForm {
    #[serde(default)]
    reason: String,
    #[serde(default)]
    confirm: String,
}

/// Cancelling a line's open units asks first (with or without JavaScript): the first post
/// shows what will happen beside the line, the confirmed one cancels.
pub async fn cancel_line(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(String, i64)>,
    form: web::Form<CancelForm>,
) -> AppResult<HttpResponse> {
    let (number, line_id) = path.into_inner();
    let form = form.into_inner();
    let reason = form.reason.trim().to_owned();
    let control = format!("cancel-{line_id}");
    if reason.is_empty() || reason.chars().count() > 500 {
        let refused = Err(AppError::invalid(
            "reason",
            "give a reason for the cancellation (up to 500 characters)",
        ));
        return answer(&req, &state, &user, number, &control, refused).await;
    }
    if form.confirm != "yes" {
        let mut page = load_page(&state, &user, number, None).await?;
        if !page.data.order.lines.iter().any(|l| l.id == line_id) {
            return Err(AppError::not_found("that line on this order"));
        }
        page.confirm_cancel = Some((line_id, reason));
        return respond(&req, &page, false);
    }
    let (actor, target) = (user.actor(), number.clone());
    let outcome = crate::db::blocking(&state.pool, move |conn| {
        order_actions::cancel_order_line(
            conn,
            &actor,
            &target,
            line_id,
            &reason,
            crate::clock::today(),
        )
        .map(|_| "cancelled")
    })
    .await;
    answer(&req, &state, &user, number, "lines", outcome).await
}

/// Emails the customer the current dates of their waiting lines (at most once a day).
pub async fn send_eta_update(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    number: web::Path<String>,
) -> AppResult<HttpResponse> {
    let number = number.into_inner();
    let (actor, target) = (user.actor(), number.clone());
    let outcome = crate::db::blocking(&state.pool, move |conn| {
        order_actions::queue_eta_update(conn, &actor, &target, crate::clock::today())
            .map(|_| "eta-update")
    })
    .await;
    answer(&req, &state, &user, number, "eta-update", outcome).await
}

#[derive(Deserialize)]
pub struct ChoiceForm {
    #[serde(default)]
    choice: String,
    #[serde(default)]
    confirm: String,
}

/// A rep records what the customer chose on the phone: the same engine path as the
/// customer's own link, audited with the rep's name. Cancelling asks first.
pub async fn record_choice(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    number: web::Path<String>,
    form: web::Form<ChoiceForm>,
) -> AppResult<HttpResponse> {
    let number = number.into_inner();
    let form = form.into_inner();
    let Some(choice) = choices::Choice::parse(&form.choice) else {
        let refused = Err(AppError::invalid(
            "choice",
            "choose what the customer wants",
        ));
        return answer(&req, &state, &user, number, "choice", refused).await;
    };
    if choice == choices::Choice::CancelWaiting && form.confirm != "yes" {
        let mut page = load_page(&state, &user, number, None).await?;
        page.confirm_choice = true;
        return respond(&req, &page, false);
    }
    let (actor, target) = (user.actor(), number.clone());
    let outcome = crate::db::blocking(&state.pool, move |conn| {
        let outcome = choices::record_for_customer(
            conn,
            &actor,
            &target,
            None,
            choice,
            crate::clock::today(),
        )?;
        Ok(match outcome {
            ChoiceOutcome::KeptWaiting => "choice-wait",
            ChoiceOutcome::Shipped { .. } => "choice-ship",
            ChoiceOutcome::NothingReadyYet => "choice-ship-later",
            ChoiceOutcome::Cancelled { .. } => "choice-cancel",
            ChoiceOutcome::NothingWaits => "choice-nothing",
        })
    })
    .await;
    answer(&req, &state, &user, number, "choice", outcome).await
}

#[derive(Deserialize)]
pub struct SwapForm {
    #[serde(default)]
    to: String,
    #[serde(default)]
    confirm: String,
}

/// A rep takes an alternative for a waiting line: the first post shows what will happen
/// beside the line, the confirmed one swaps (checked again: no longer sooner is refused).
pub async fn swap_line(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(String, i64)>,
    form: web::Form<SwapForm>,
) -> AppResult<HttpResponse> {
    let (number, line_id) = path.into_inner();
    let form = form.into_inner();
    let sku = form.to.trim().to_owned();
    if form.confirm != "yes" {
        let mut page = load_page(&state, &user, number.clone(), None).await?;
        if !page
            .data
            .offers
            .iter()
            .any(|o| o.line_id == line_id && o.sku == sku)
        {
            let refused = Err(AppError::Conflict(format!(
                "{} does not ship sooner than this line any more (or is not one of its alternatives), so there is nothing to take.",
                crate::types::truncate(&sku)
            )));
            return answer(&req, &state, &user, number, "lines", refused).await;
        }
        page.confirm_swap = Some((line_id, sku));
        return respond(&req, &page, false);
    }
    let (actor, target) = (user.actor(), number.clone());
    let outcome = crate::db::blocking(&state.pool, move |conn| {
        match swaps::take_for_customer(conn, &actor, &target, line_id, &sku, crate::clock::today())?
        {
            swaps::SwapOutcome::Taken(_) => Ok("swapped"),
            swaps::SwapOutcome::NoLongerApplies(why) => {
                Err(AppError::Conflict(format!("{why} Nothing was changed.")))
            }
        }
    })
    .await;
    answer(&req, &state, &user, number, "lines", outcome).await
}

#[derive(Deserialize)]
pub struct NoteForm {
    #[serde(default)]
    body: String,
}

pub async fn add_note(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    number: web::Path<String>,
    form: web::Form<NoteForm>,
) -> AppResult<HttpResponse> {
    let number = number.into_inner();
    let body = form.into_inner().body;
    let (actor, target) = (user.actor(), number.clone());
    let outcome = crate::db::blocking(&state.pool, move |conn| {
        lookup::add_note(conn, &actor, &target, &body).map(|_| "note")
    })
    .await;
    answer(&req, &state, &user, number, "note", outcome).await
}
