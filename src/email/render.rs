//! The words of every email: what a message says, as plain data (`Mail`), turned into a
//! subject, a plain-text part and an HTML part by the Askama templates in
//! `templates/emails/` (one pair per kind). Rendered once: when the message is queued, or
//! for the restock email when it is sent (`at_sending`).

use askama::Template;

use super::outbox::Kind;

/// One line of the order as the customer reads it.
#[derive(Debug, Clone, Default)]
pub struct MailLine {
    pub name: String,
    pub sku: String,
    pub qty: i32,
    /// Reserved for the customer, not shipped yet.
    pub ready: i32,
    pub shipped: i32,
    pub cancelled: i32,
    pub waiting: i32,
    /// When the waiting units ship, as people read it ("Tue 3 Dec").
    pub date: Option<String>,
    pub estimate: bool,
    /// A pre-order line's release day ("Tue 3 Dec"), while it is ahead.
    pub releases_on: Option<String>,
    /// Units moved to an alternative, and to which ("Kettle Pro"); counted in `cancelled`.
    pub swapped: i32,
    pub swapped_to: Option<String>,
    /// Units this email is about (shipped now, cancelled now, delayed).
    pub this_time: i32,
    /// The line the email is about.
    pub focus: bool,
}

impl MailLine {
    /// "2 waiting, ships by Tue 3 Dec" and the like, for the lines list.
    pub fn state(&self) -> String {
        let mut parts = Vec::new();
        if self.shipped > 0 {
            parts.push(format!("{} shipped", self.shipped));
        }
        if self.ready > 0 {
            parts.push(format!("{} reserved for you, ships soon", self.ready));
        }
        if let (true, Some(release)) = (self.waiting > 0, &self.releases_on) {
            parts.push(match &self.date {
                Some(date) => format!(
                    "{} pre-ordered: releases on {release}, ships by {date}",
                    self.waiting
                ),
                None => format!(
                    "{} pre-ordered: releases on {release}, date to follow",
                    self.waiting
                ),
            });
        } else if self.waiting > 0 {
            parts.push(match &self.date {
                Some(date) if self.estimate => {
                    format!("{} on the way to us, estimated by {date}", self.waiting)
                }
                Some(date) => format!("{} on the way to us, ships by {date}", self.waiting),
                None => format!("{} on the way to us, date to follow", self.waiting),
            });
        }
        if let (true, Some(to)) = (self.swapped > 0, &self.swapped_to) {
            parts.push(format!("{} swapped for {to}", self.swapped));
        }
        if self.cancelled > self.swapped {
            parts.push(format!("{} cancelled", self.cancelled - self.swapped));
        }
        parts.join("; ")
    }
}

/// A waiting line whose date is not the one the customer was last told: later (the news
/// of an ETA-change email, with its cause) or sooner (good news).
#[derive(Debug, Clone, Default)]
pub struct DateNews {
    pub product: String,
    /// Later than told (or no date any more); false: sooner.
    pub later: bool,
    /// The date now; `None` when there is none any more.
    pub now: Option<String>,
    /// The date last told.
    pub was: String,
    /// Days between the two.
    pub days: i64,
    /// What moved it, in the customer's words.
    pub why: Option<String>,
}

impl DateNews {
    pub fn sentence(&self) -> String {
        let days = if self.days == 1 {
            "1 day".to_owned()
        } else {
            format!("{} days", self.days)
        };
        let why = self
            .why
            .as_deref()
            .map(|w| format!(" {w}"))
            .unwrap_or_default();
        match (&self.now, self.later) {
            (Some(now), true) => format!(
                "{}: now ships by {now} instead of {} ({days} later).{why}",
                self.product, self.was
            ),
            (None, _) => format!(
                "{}: we no longer have a date for it (we told you {}); we will write as soon as we have one.{why}",
                self.product, self.was
            ),
            (Some(now), false) => format!(
                "{}: now ships by {now}, {days} sooner than the {} we told you.",
                self.product, self.was
            ),
        }
    }
}

/// The three choices in backorder and delay notices.
#[derive(Debug, Clone)]
pub struct ChoiceLinks {
    pub wait: String,
    pub ship: String,
    pub cancel: String,
}

/// "Take SKU-B instead": an alternative that ships sooner than a waiting line, offered
/// beside the three choices (true when the email is rendered).
#[derive(Debug, Clone)]
pub struct AlternativeLink {
    /// The waiting product's name.
    pub instead_of: String,
    pub name: String,
    pub sku: String,
    /// "in stock now, ships by Tue 3 Dec".
    pub when: String,
    /// "€10.00 more", "€4.00 less", "the same price".
    pub price: String,
    pub url: String,
}

/// What a swap did, for its confirmation email.
#[derive(Debug, Clone, Default)]
pub struct SwapNews {
    pub units: i32,
    pub instead_of: String,
    pub name: String,
    pub sku: String,
    /// "reserved for you now, ships by Tue 3 Dec" / "ships by Tue 3 Dec".
    pub when: String,
    /// What the price difference means for the customer, in a sentence.
    pub money: String,
}

/// Everything an email may say; each kind uses its part.
#[derive(Debug, Clone, Default)]
pub struct Mail {
    pub shop: String,
    pub name: String,
    pub order_number: Option<String>,
    /// The order's live status page ("Follow your order"), in every order email.
    pub status_url: Option<String>,
    pub lines: Vec<MailLine>,
    pub links: Option<ChoiceLinks>,
    /// Alternatives that ship sooner than a waiting line (with `links`).
    pub alternatives: Vec<AlternativeLink>,
    /// The swap a swap confirmation is about.
    pub swap: Option<SwapNews>,
    /// The new date (delay notice).
    pub date: Option<String>,
    /// The date promised before (delay notice).
    pub was: Option<String>,
    pub days_late: i64,
    /// The product the email is about (delay, restock, back in stock, cancellation).
    pub product: Option<String>,
    pub partial: bool,
    pub offer: Option<String>,
    pub coupon: Option<String>,
    /// A rep's own words (custom), one paragraph per entry.
    pub paragraphs: Vec<String>,
    pub subject: Option<String>,
    pub unsubscribe: Option<String>,
    /// Lines whose date differs from the one last told. Every email with the order's
    /// lines says it (so no email states a later date without saying sorry and why); the
    /// ETA-change email says it in its body (`news_in_body`) instead of above the lines.
    pub news: Vec<DateNews>,
    pub news_in_body: bool,
}

impl Mail {
    pub fn waiting_lines(&self) -> Vec<&MailLine> {
        self.lines.iter().filter(|l| l.waiting > 0).collect()
    }

    pub fn focus_lines(&self) -> Vec<&MailLine> {
        self.lines.iter().filter(|l| l.focus).collect()
    }

    /// The waiting lines that are pre-orders before their release.
    pub fn preorder_lines(&self) -> Vec<&MailLine> {
        self.lines
            .iter()
            .filter(|l| l.waiting > 0 && l.releases_on.is_some())
            .collect()
    }

    /// Everything that waits is a pre-order (the notice then speaks of pre-orders only).
    pub fn only_preorders(&self) -> bool {
        let waiting = self.waiting_lines();
        !waiting.is_empty() && waiting.iter().all(|l| l.releases_on.is_some())
    }

    /// "Ship what is ready now" is offered only when something is ready.
    pub fn offers_ship_ready(&self) -> bool {
        self.lines.iter().any(|l| l.ready > 0)
    }

    /// The lines list marks the lines an email is about; "this item" or "these items".
    pub fn focus_note(&self) -> &'static str {
        if self.lines.iter().filter(|l| l.focus).count() > 1 {
            "<-- this email is about these items"
        } else {
            "<-- this email is about this item"
        }
    }

    pub fn later_news(&self) -> Vec<&DateNews> {
        self.news.iter().filter(|n| n.later).collect()
    }

    pub fn sooner_news(&self) -> Vec<&DateNews> {
        self.news.iter().filter(|n| !n.later).collect()
    }

    /// "the Kettle" or "2 items", for the ETA-change email's subject and first sentence.
    pub fn later_subject(&self) -> String {
        match self.later_news().as_slice() {
            [one] => one.product.clone(),
            many => format!("{} items", many.len()),
        }
    }

    /// The news block shows above the lines of this email.
    pub fn news_above_lines(&self) -> bool {
        !self.news_in_body && !self.news.is_empty()
    }

    fn order(&self) -> &str {
        self.order_number.as_deref().unwrap_or("")
    }

    fn product_name(&self) -> &str {
        self.product.as_deref().unwrap_or("your item")
    }
}

macro_rules! template_pair {
    ($text:ident, $html:ident, $text_path:literal, $html_path:literal) => {
        #[derive(Template)]
        #[template(path = $text_path)]
        struct $text<'a> {
            m: &'a Mail,
        }

        #[derive(Template)]
        #[template(path = $html_path)]
        struct $html<'a> {
            m: &'a Mail,
        }
    };
}

template_pair!(
    BackorderText,
    BackorderHtml,
    "emails/backorder_notice.txt",
    "emails/backorder_notice.html"
);
template_pair!(
    DelayText,
    DelayHtml,
    "emails/delay_notice.txt",
    "emails/delay_notice.html"
);
template_pair!(
    RestockText,
    RestockHtml,
    "emails/restock.txt",
    "emails/restock.html"
);
template_pair!(
    ShipmentText,
    ShipmentHtml,
    "emails/shipment.txt",
    "emails/shipment.html"
);
template_pair!(
    DiscountText,
    DiscountHtml,
    "emails/discount_offer.txt",
    "emails/discount_offer.html"
);
template_pair!(
    CancellationText,
    CancellationHtml,
    "emails/cancellation.txt",
    "emails/cancellation.html"
);
template_pair!(
    BackInStockText,
    BackInStockHtml,
    "emails/back_in_stock.txt",
    "emails/back_in_stock.html"
);
template_pair!(
    StatusText,
    StatusHtml,
    "emails/status_update.txt",
    "emails/status_update.html"
);
template_pair!(
    SwapText,
    SwapHtml,
    "emails/swap_confirmation.txt",
    "emails/swap_confirmation.html"
);
template_pair!(
    CustomText,
    CustomHtml,
    "emails/custom.txt",
    "emails/custom.html"
);

/// A rendered email.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

fn pair(text: impl Template, html: impl Template) -> askama::Result<(String, String)> {
    Ok((text.render()?, html.render()?))
}

/// The restock email's subject, known when it is queued (its body is rendered at sending).
pub fn restock_subject(order_number: &str) -> String {
    format!("Order {order_number}: good news, your items are reserved")
}

/// The subject and both parts of `kind` for `m`.
pub fn render(kind: Kind, m: &Mail) -> askama::Result<Rendered> {
    let order = m.order();
    let (subject, (text, html)) = match kind {
        Kind::BackorderNotice => (
            match m.preorder_lines().first() {
                Some(line) if m.only_preorders() => format!(
                    "Order {order}: your pre-order is confirmed, releases on {}",
                    line.releases_on.as_deref().unwrap_or_default()
                ),
                Some(_) => format!(
                    "Order {order}: your pre-order is confirmed, and part of it is on its way to us"
                ),
                None => format!("Order {order}: part of it is on its way to us"),
            },
            pair(BackorderText { m }, BackorderHtml { m })?,
        ),
        Kind::DelayNotice => (
            format!(
                "Order {order}: {} will be later than we said, sorry",
                m.later_subject()
            ),
            pair(DelayText { m }, DelayHtml { m })?,
        ),
        Kind::Restock => (
            restock_subject(order),
            pair(RestockText { m }, RestockHtml { m })?,
        ),
        Kind::Shipment => (
            if m.partial {
                format!("Order {order}: the first part is on its way")
            } else {
                format!("Order {order} is on its way")
            },
            pair(ShipmentText { m }, ShipmentHtml { m })?,
        ),
        Kind::DiscountOffer => (
            format!(
                "Order {order}: thank you for waiting, here is {}",
                m.offer.as_deref().unwrap_or("a discount")
            ),
            pair(DiscountText { m }, DiscountHtml { m })?,
        ),
        Kind::Cancellation => (
            format!("Order {order}: {} cancelled", m.product_name()),
            pair(CancellationText { m }, CancellationHtml { m })?,
        ),
        Kind::BackInStock => (
            format!("{} is back in stock", m.product_name()),
            pair(BackInStockText { m }, BackInStockHtml { m })?,
        ),
        Kind::StatusUpdate => (
            format!("Order {order}: where your items are"),
            pair(StatusText { m }, StatusHtml { m })?,
        ),
        Kind::Custom => (
            m.subject
                .clone()
                .unwrap_or_else(|| format!("About your order {order}")),
            pair(CustomText { m }, CustomHtml { m })?,
        ),
        Kind::PurchaseOrder => {
            return Err(askama::Error::Custom(
                "a purchase order is rendered by render_purchase_order".into(),
            ));
        }
        Kind::SwapConfirmation => (
            match &m.swap {
                Some(swap) => format!(
                    "Order {order}: {} instead of {}",
                    swap.name, swap.instead_of
                ),
                None => format!("Order {order}: your alternative"),
            },
            pair(SwapText { m }, SwapHtml { m })?,
        ),
    };
    Ok(Rendered {
        subject,
        text,
        html,
    })
}

/// One line of a purchase order as the supplier reads it.
#[derive(Debug, Clone)]
pub struct PoMailLine {
    pub sku: String,
    pub name: String,
    pub quantity: i32,
    /// "12.50 EUR", when the shop keeps a unit cost for this supplier.
    pub unit_cost: Option<String>,
}

/// A purchase order emailed to its supplier: the lines, the date we expect it, and the
/// link with which the supplier confirms that date or gives another.
#[derive(Debug, Clone)]
pub struct PoMail {
    pub shop: String,
    pub supplier: String,
    pub reference: String,
    /// "Tue 3 Dec 2026"
    pub expected_on: String,
    pub lines: Vec<PoMailLine>,
    pub link: String,
    /// The CSV attachment's name.
    pub attachment: String,
}

#[derive(Template)]
#[template(path = "emails/purchase_order.txt")]
struct PurchaseOrderText<'a> {
    m: &'a PoMail,
}

#[derive(Template)]
#[template(path = "emails/purchase_order.html")]
struct PurchaseOrderHtml<'a> {
    m: &'a PoMail,
}

/// The subject and both parts of a purchase order's email.
pub fn render_purchase_order(m: &PoMail) -> askama::Result<Rendered> {
    let (text, html) = pair(PurchaseOrderText { m }, PurchaseOrderHtml { m })?;
    Ok(Rendered {
        subject: format!("Purchase order {} from {}", m.reference, m.shop),
        text,
        html,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Mail {
        Mail {
            shop: "Demo <shop>".to_owned(),
            name: "Ada <script>".to_owned(),
            order_number: Some("W-1".to_owned()),
            lines: vec![MailLine {
                name: "Kettle".to_owned(),
                sku: "KET-1".to_owned(),
                qty: 2,
                waiting: 2,
                date: Some("Tue 3 Dec".to_owned()),
                focus: true,
                ..MailLine::default()
            }],
            links: Some(ChoiceLinks {
                wait: "http://x/l/a".to_owned(),
                ship: "http://x/l/b".to_owned(),
                cancel: "http://x/l/c".to_owned(),
            }),
            date: Some("Fri 6 Dec".to_owned()),
            was: Some("Tue 3 Dec".to_owned()),
            days_late: 3,
            product: Some("Kettle".to_owned()),
            news: vec![DateNews {
                product: "Kettle".to_owned(),
                later: true,
                now: Some("Fri 6 Dec".to_owned()),
                was: "Tue 3 Dec".to_owned(),
                days: 3,
                why: Some("Our supplier moved its delivery to a later date.".to_owned()),
            }],
            ..Mail::default()
        }
    }

    #[test]
    fn every_kind_renders_both_parts_and_escapes_html() {
        let mail = sample();
        for kind in Kind::ALL {
            let r = render(kind, &mail).unwrap();
            assert!(!r.subject.is_empty());
            assert!(
                r.text.contains("Ada <script>"),
                "{kind:?} text greets by name"
            );
            assert!(
                r.html.contains("Ada &#60;script&#62;") || r.html.contains("Ada &lt;script&gt;"),
                "{kind:?}: {}",
                r.html
            );
            assert!(!r.html.contains("<script>"));
        }
        let mut in_body = mail.clone();
        in_body.news_in_body = true;
        let delay = render(Kind::DelayNotice, &in_body).unwrap();
        assert!(delay.text.contains("Fri 6 Dec") && delay.text.contains("sorry"));
        let said = "Kettle: now ships by Fri 6 Dec instead of Tue 3 Dec (3 days later). Our supplier moved its delivery to a later date.";
        assert_eq!(delay.text.matches(said).count(), 1, "{}", delay.text);
        assert_eq!(delay.html.matches(said).count(), 1, "{}", delay.html);
        // Any other email of the order says it too, above the lines.
        let restock = render(Kind::Restock, &mail).unwrap();
        assert_eq!(restock.text.matches(said).count(), 1, "{}", restock.text);
        assert!(delay.text.contains("http://x/l/c") && delay.html.contains("http://x/l/c"));
    }
}
