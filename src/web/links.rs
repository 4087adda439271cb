//! Self-service links from emails: no login. GET shows what the link will do and asks to
//! confirm; POST (with the session's CSRF token) does it, once. A tampered, expired or
//! used link gets a page that says so, and nothing changes.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

use crate::email::links::{self, LinkAction, LinkClaim, LinkError};
use crate::error::AppResult;
use crate::services::inventory::alternatives::Offer;
use crate::services::inventory::swaps::{self, SwapDone};
use crate::services::links::self_service::{self, LinkOutcome, LinkSummary};
use crate::services::orders::choices::{Choice, ChoiceOutcome};
use crate::services::priced::Priced;
use crate::web::render::{self, Frame};
use crate::web::session::csrf_token;
use crate::web::state::AppState;

#[derive(Template)]
#[template(path = "pages/link.html")]
struct LinkPage {
    frame: Frame,
    title: String,
    message: String,
    summary: Option<LinkSummary>,
    action: Option<LinkAction>,
    post_to: String,
}

impl LinkPage {
    fn confirm_label(&self) -> String {
        match self.action {
            Some(LinkAction::Wait) => "Yes, keep waiting".to_owned(),
            Some(LinkAction::ShipReady) => "Yes, ship what is ready now".to_owned(),
            Some(LinkAction::CancelWaiting) => "Yes, cancel the waiting items".to_owned(),
            Some(LinkAction::Unsubscribe) => "Yes, unsubscribe me".to_owned(),
            Some(LinkAction::Swap { .. }) => {
                match self.summary.as_ref().and_then(|s| s.swap.as_ref()) {
                    Some(Ok(offer)) => format!("Yes, take {} instead", offer.sku),
                    _ => "Yes, take it instead".to_owned(),
                }
            }
            None => "Confirm".to_owned(),
        }
    }
}

fn page(frame: Frame, status: StatusCode, title: &str, message: String) -> AppResult<HttpResponse> {
    let mut response = render::html(&LinkPage {
        frame,
        title: title.to_owned(),
        message,
        summary: None,
        action: None,
        post_to: String::new(),
    })?;
    *response.status_mut() = status;
    Ok(response)
}

fn refused(frame: Frame, error: LinkError) -> AppResult<HttpResponse> {
    match error {
        LinkError::Tampered => page(
            frame,
            StatusCode::BAD_REQUEST,
            "This link does not work",
            "This link is not one we sent, or part of it was lost on the way (some email programs break long links). Nothing was changed. Please use the link in the email again, or just reply to the email and we will do it for you.".to_owned(),
        ),
        LinkError::Expired => page(
            frame,
            StatusCode::GONE,
            "This link has expired",
            format!("The links in our emails work for {} days. Nothing was changed. Reply to the email, or look out for our next one, and we will sort it out.", links::LINK_DAYS),
        ),
    }
}

fn used_page(frame: Frame) -> AppResult<HttpResponse> {
    page(
        frame,
        StatusCode::CONFLICT,
        "This link was used already",
        "Each link works once, and this one has been used. Nothing more was changed. If you want something else, reply to the email and we will help.".to_owned(),
    )
}

async fn verified(state: &AppState, token: &str) -> Result<LinkClaim, LinkError> {
    links::verify(&state.link_key, token, chrono::Utc::now().timestamp())
}

fn question(claim: &LinkClaim, summary: &LinkSummary, currency: &str) -> String {
    let order = summary.order_number.clone().unwrap_or_default();
    let waiting: i32 = summary.lines.iter().map(|l| l.1).sum();
    let shipped = summary.standing.is_some_and(|s| s.shipped > 0);
    let ready = summary.standing.map_or(0, |s| s.ready);
    match claim.action {
        LinkAction::Wait if shipped => format!(
            "Keep waiting for the rest of order {order}? Part of it has been sent already; we send the rest together when the last item arrives."
        ),
        LinkAction::Wait => format!(
            "Keep waiting for everything on order {order}? We ship it all together when the last item arrives."
        ),
        LinkAction::ShipReady => format!(
            "Ship what is ready now from order {order}? {ready} {} ready; the rest follows when it arrives, at no extra shipping cost.",
            if ready == 1 { "item is" } else { "items are" }
        ),
        LinkAction::CancelWaiting => format!(
            "Cancel the {waiting} waiting {} of order {order}? You will not be charged for them. Items already on their way to you are not affected.",
            if waiting == 1 { "item" } else { "items" }
        ),
        LinkAction::Unsubscribe => "Stop all back-in-stock emails to this address?".to_owned(),
        LinkAction::Swap { .. } => match &summary.swap {
            Some(Ok(offer)) => swap_question(offer, &order, currency),
            _ => String::new(),
        },
    }
}

/// What taking the alternative will do, before the customer confirms.
fn swap_question(offer: &Offer, order: &str, currency: &str) -> String {
    let today = crate::clock::today();
    let units = if offer.units == 1 {
        "1 unit".to_owned()
    } else {
        format!("{} units", offer.units)
    };
    format!(
        "Take {name} ({sku}) instead of {product} on order {order}? Your {units} of {product} still waiting (ships by {waiting}) move to {name}, which {when}. {money} Your place in the {product} queue goes to the next customer. This cannot be undone.",
        name = offer.name,
        sku = offer.sku,
        product = offer.product,
        waiting = offer.waiting_words(today),
        when = offer.date_words(today),
        money = swaps::money_sentence(offer.difference_cents(), currency),
    )
}

/// The choice a link stands for (none for unsubscribe links).
fn choice_of(action: LinkAction) -> Option<Choice> {
    match action {
        LinkAction::Wait => Some(Choice::Wait),
        LinkAction::ShipReady => Some(Choice::ShipReady),
        LinkAction::CancelWaiting => Some(Choice::CancelWaiting),
        LinkAction::Unsubscribe | LinkAction::Swap { .. } => None,
    }
}

/// "Nothing to choose": the page for a choice that no longer applies. Nothing changed
/// and there is no button.
fn no_longer_applies(frame: Frame, why: String) -> AppResult<HttpResponse> {
    page(
        frame,
        StatusCode::OK,
        "This choice no longer applies",
        format!(
            "{why} Nothing was changed. If you want something else, just reply to the email and we will help."
        ),
    )
}

pub async fn show(
    state: web::Data<AppState>,
    session: Session,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let token = path.into_inner();
    let frame = Frame::anonymous(csrf_token(&session));
    let claim = match verified(&state, &token).await {
        Ok(claim) => claim,
        Err(error) => return refused(frame, error),
    };
    let for_summary = claim.clone();
    let Priced {
        data: summary,
        currency,
    } = crate::db::blocking(&state.pool, move |conn| {
        Priced::load(conn, |conn| self_service::describe_link(conn, &for_summary))
    })
    .await?;
    if summary.used {
        return used_page(frame);
    }
    let refusal = match (choice_of(claim.action), summary.standing) {
        (Some(choice), Some(standing)) => {
            standing.refusal(choice, summary.order_number.as_deref().unwrap_or_default())
        }
        _ => None,
    };
    if let Some(why) = refusal {
        return no_longer_applies(frame, why);
    }
    if let Some(Err(why)) = &summary.swap {
        return no_longer_applies(frame, why.clone());
    }
    let post_to = match claim.action {
        LinkAction::Unsubscribe => format!("/unsubscribe/{token}"),
        _ => format!("/l/{token}"),
    };
    render::html(&LinkPage {
        frame,
        title: "Please confirm".to_owned(),
        message: question(&claim, &summary, &currency),
        summary: Some(summary),
        action: Some(claim.action),
        post_to,
    })
}

pub async fn confirm(
    state: web::Data<AppState>,
    session: Session,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let token = path.into_inner();
    let frame = Frame::anonymous(csrf_token(&session));
    let claim = match verified(&state, &token).await {
        Ok(claim) => claim,
        Err(error) => return refused(frame, error),
    };
    let outcome = crate::db::blocking(&state.pool, move |conn| {
        self_service::use_link(conn, &claim, crate::clock::today())
    })
    .await?;
    let (title, message) = match outcome {
        LinkOutcome::Reused => return used_page(frame),
        LinkOutcome::NoLongerApplies(why) => return no_longer_applies(frame, why),
        LinkOutcome::Chosen(ChoiceOutcome::KeptWaiting) => ("Thank you", "We keep your place in the queue and send the rest of your order together when the last item arrives. We will write when it leaves us.".to_owned()),
        LinkOutcome::Chosen(ChoiceOutcome::Shipped { units }) => ("On its way soon", format!("We are shipping the {units} {} ready now. The rest follows when it arrives.", if units == 1 { "item" } else { "items" })),
        LinkOutcome::Chosen(ChoiceOutcome::NothingReadyYet) => ("Noted", "Nothing of your order is ready yet; we will ship each part as soon as it arrives instead of waiting for everything.".to_owned()),
        LinkOutcome::Chosen(ChoiceOutcome::Cancelled { units }) => ("Cancelled", format!("We have cancelled the {units} waiting {}. You will not be charged for {}; an email confirms it.", if units == 1 { "item" } else { "items" }, if units == 1 { "it" } else { "them" })),
        LinkOutcome::Chosen(ChoiceOutcome::NothingWaits) => ("Nothing to cancel", "Nothing on this order is waiting any more, so there was nothing to cancel.".to_owned()),
        LinkOutcome::Unsubscribed => ("Unsubscribed", "You will get no more back-in-stock emails from us.".to_owned()),
        LinkOutcome::Swapped(done) => ("Swapped", swapped_message(&done)),
    };
    page(frame, StatusCode::OK, title, message)
}

/// What a taken swap did, on the page after the button.
fn swapped_message(done: &SwapDone) -> String {
    let ships = crate::format::human_date(done.ships_by, crate::clock::today());
    format!(
        "Done: {units} × {name} ({sku}) instead of {product} on order {order}. {when} {money} An email confirms it.",
        units = done.units,
        name = done.name,
        sku = done.sku,
        product = done.instead_of,
        order = done.order_number,
        when = if done.in_stock {
            format!("It is reserved for you now and ships by {ships}.")
        } else {
            format!("It ships by {ships}.")
        },
        money = swaps::money_sentence(done.difference_cents, &done.currency),
    )
}
