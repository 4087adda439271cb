//! Bad input over every form and API route (issue 8, "Under faults"): XSS payloads, SQL
//! metacharacters, overlong text, wrong types, missing fields, a body over the limit, bytes
//! that are not UTF-8 and a NUL character. Each is refused with a 4xx and a message that
//! names the problem, echoes nothing unescaped and stores nothing (every table but the
//! sign-in throttle's is compared before and after). Free text (a note, a name, a SKU) may
//! hold markup: that is stored as typed and shown escaped wherever a person reads it.
//!
//! The sweep is driven by two tables, `FORM_ROUTES` and `API_ROUTES`: a new route is one
//! line there, and `every_post_and_put_route_is_in_the_sweep` fails while a route of the
//! route table has no line. Each free-text field needs a line in `FREE_TEXT` as well.

use backorder_desk::db::audit::Actor;
use backorder_desk::db::users::Role;
use backorder_desk::email::links::{self, LinkAction, LinkClaim};
use backorder_desk::email::outbox::{self, Kind as MessageKind, NewMessage};
use backorder_desk::services::{admin::api_tokens, approvals::proposals, webhooks};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, csrf_in, spawn_app};
use crate::shop::{self, text_of};

// --- What is sent ---

const XSS_SCRIPT: &str = "<script>alert(1)</script>";
const XSS_ATTRIBUTE: &str = "\"><img src=x onerror=alert(1)>";
const SQL: &str = "'; DROP TABLE orders; --";
/// Not a number, and not three letters either (a currency code).
const WRONG_TYPE: &str = "twelve";
/// Too big for any integer column.
const TOO_BIG: &str = "99999999999999999999";
/// Free text as a person might type it: markup, quotes and SQL.
const MARKUP: &str =
    "<script>alert(1)</script> \"><img src=x onerror=alert(1)> '; DROP TABLE orders; --";
/// The same for identifiers (SKUs, order numbers, references), which have no spaces.
const MARKUP_WORD: &str = "\"><script>alert(1)</script>';--";
const MARKUP_WORD_2: &str = "'\"><img/src=x/onerror=alert(1)>";

/// Markup that must never reach a page unescaped.
const RAW_MARKERS: [&str; 3] = ["<script>alert", "<img src=x", "<img/src=x"];

/// A date `days` from today, as the API writes dates.
fn in_days(days: i64) -> String {
    (shop::today() + chrono::Duration::days(days)).to_string()
}

fn overlong() -> String {
    "A".repeat(12_000)
}

/// A form body just over the 256 KiB limit of forms and JSON bodies.
fn huge_padding() -> String {
    "x".repeat(256 * 1024 + 1)
}

// --- The tables ---

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    /// A value with a shape (a number, a date, an email, a choice): every bad value is
    /// refused.
    Checked,
    /// Free text or an identifier: markup may be kept (see `FREE_TEXT`); overlong text,
    /// a wrong type or a missing value is refused.
    Text,
    /// A new password: any text is accepted and never shown; only its length is checked.
    Secret,
}

/// One field of a route. `expect` is what the refusal names: for a form, the message shown
/// (alternatives separated by `|`, compared without case); for the API, the `details`
/// field.
#[derive(Clone, Copy, Debug)]
struct Field {
    name: &'static str,
    expect: &'static str,
    kind: Kind,
    /// Leaving the field out is refused too.
    required: bool,
}

const fn checked(name: &'static str, expect: &'static str) -> Field {
    Field {
        name,
        expect,
        kind: Kind::Checked,
        required: true,
    }
}

const fn text(name: &'static str, expect: &'static str) -> Field {
    Field {
        name,
        expect,
        kind: Kind::Text,
        required: true,
    }
}

const fn secret(name: &'static str, expect: &'static str) -> Field {
    Field {
        name,
        expect,
        kind: Kind::Secret,
        required: true,
    }
}

const fn optional(field: Field) -> Field {
    Field {
        required: false,
        ..field
    }
}

/// An API field: the refusal names the field itself.
const fn json_checked(name: &'static str) -> Field {
    checked(name, name)
}

const fn json_text(name: &'static str) -> Field {
    text(name, name)
}

/// A form route, as the route table declares it, with a form it accepts as it is. Values
/// and names may hold `{placeholders}` of the arranged shop (`Desk::fill`).
struct FormRoute {
    route: &'static str,
    path: &'static str,
    form: &'static [(&'static str, &'static str)],
    fields: &'static [Field],
}

const LOGIN_REFUSED: &str = "email or password is not right|too many failed sign-in attempts";
const NOT_A_NUMBER: &str = "is not a number|enter a value";

/// Every POST route of the web pages (`src/web/mod.rs`), in the route table's order. The
/// inventory import is a file upload, swept by `the_inventory_import_refuses_bad_files`.
const FORM_ROUTES: &[FormRoute] = &[
    FormRoute {
        route: "POST /login",
        path: "/login",
        form: &[("email", "{admin}"), ("password", PASSWORD)],
        fields: &[
            checked("email", LOGIN_REFUSED),
            checked("password", LOGIN_REFUSED),
        ],
    },
    FormRoute {
        route: "POST /logout",
        path: "/logout",
        form: &[],
        fields: &[],
    },
    FormRoute {
        route: "POST /logout/everywhere",
        path: "/logout/everywhere",
        form: &[],
        fields: &[],
    },
    FormRoute {
        route: "POST /review/sign-off",
        path: "/review/sign-off",
        form: &[],
        fields: &[],
    },
    FormRoute {
        route: "POST /queue/bulk",
        path: "/queue/bulk",
        form: &[
            ("action", "cancel"),
            ("line", "{line_3}"),
            ("reason", "The customer asked"),
            ("confirm", "1"),
        ],
        fields: &[
            checked("action", "choose an action"),
            checked("line", "select at least one line"),
            text("reason", "give a reason for the cancellation"),
        ],
    },
    FormRoute {
        route: "POST /approvals/bulk-approve",
        path: "/approvals/bulk-approve",
        form: &[("proposal", "{policy_proposal}")],
        fields: &[checked("proposal", "select at least one proposal")],
    },
    FormRoute {
        route: "POST /approvals/{id}/decide",
        path: "/approvals/{proposal}/decide",
        form: &[("decision", "reject"), ("note", "Too generous")],
        fields: &[
            checked("decision", "approve or reject"),
            text("note", "say why it is rejected"),
        ],
    },
    FormRoute {
        route: "POST /orders/{number}/proposals",
        path: "/orders/W-1/proposals",
        form: &[
            ("kind", "percent"),
            ("value", "5"),
            ("reason", "Waited long"),
        ],
        fields: &[
            checked("kind", "choose percent off, amount off or free shipping"),
            checked("value", NOT_A_NUMBER),
            text("reason", "say why"),
        ],
    },
    FormRoute {
        route: "POST /orders/{number}/ship",
        path: "/orders/W-2/ship",
        form: &[],
        fields: &[],
    },
    FormRoute {
        route: "POST /orders/{number}/lines/{line}/cancel",
        path: "/orders/W-1/lines/{line_1}/cancel",
        form: &[("reason", "The customer asked")],
        fields: &[text("reason", "give a reason for the cancellation")],
    },
    FormRoute {
        route: "POST /orders/{number}/lines/{line}/swap",
        path: "/orders/W-1/lines/{line_1}/swap",
        form: &[("to", "MUG")],
        fields: &[checked("to", "nothing to take")],
    },
    FormRoute {
        route: "POST /orders/{number}/notes",
        path: "/orders/W-1/notes",
        form: &[("body", "Called the customer")],
        fields: &[text("body", "write a note of 1 to 5000 characters")],
    },
    FormRoute {
        route: "POST /orders/{number}/eta-update",
        path: "/orders/W-1/eta-update",
        form: &[],
        fields: &[],
    },
    FormRoute {
        route: "POST /orders/{number}/choice",
        path: "/orders/W-1/choice",
        form: &[("choice", "wait")],
        fields: &[checked("choice", "choose what the customer wants")],
    },
    FormRoute {
        route: "POST /admin/users",
        path: "/admin/users",
        form: &[
            ("email", "new-rep@shop.test"),
            ("name", "New Rep"),
            ("role", "rep"),
            ("password", PASSWORD),
        ],
        fields: &[
            checked("email", "enter an email address like name@example.com"),
            text("name", "enter a name of 1 to 200 characters"),
            checked("role", "use rep, manager or admin"),
            secret("password", "the password must be at"),
        ],
    },
    FormRoute {
        route: "POST /admin/users/{id}",
        path: "/admin/users/{rep}",
        form: &[("role", "manager")],
        fields: &[
            optional(checked("role", "use rep, manager or admin")),
            optional(secret("new_password", "the password must be at")),
        ],
    },
    FormRoute {
        route: "POST /admin/tokens",
        path: "/admin/tokens",
        form: &[("name", "Warehouse")],
        fields: &[text("name", "give the token a name of 1 to 100 characters")],
    },
    FormRoute {
        route: "POST /admin/tokens/{id}/revoke",
        path: "/admin/tokens/{token}/revoke",
        form: &[],
        fields: &[],
    },
    FormRoute {
        route: "POST /admin/settings",
        path: "/admin/settings",
        form: &[
            ("shop_name", "Kettle & Co"),
            ("currency", "EUR"),
            ("handling_days", "1"),
            ("eta_worst_percentile", "90"),
            ("delay_discount_percent", "10"),
            ("delay_discount_after_days", "14"),
            ("expiry_limit_days", "60"),
            ("status_update_after_days", "7"),
        ],
        fields: &[
            text("shop_name", "enter the shop's name (1 to 100 characters)"),
            checked("currency", "enter a three-letter currency code"),
            checked("handling_days", "enter a whole number from 0 to 60"),
            checked("eta_worst_percentile", "enter a whole number from 50 to 99"),
            checked(
                "delay_discount_percent",
                "enter a whole number from 0 to 100",
            ),
            checked(
                "delay_discount_after_days",
                "enter a whole number from 0 to 365",
            ),
            checked("expiry_limit_days", "enter a whole number from 1 to 3650"),
            checked(
                "status_update_after_days",
                "enter a whole number from 1 to 365",
            ),
        ],
    },
    FormRoute {
        route: "POST /admin/integrations/secrets",
        path: "/admin/integrations/secrets",
        form: &[("platform", "shopify"), ("secret", "a-new-webhook-secret")],
        fields: &[
            checked("platform", "choose shopify or woocommerce"),
            secret("secret", "paste the secret the platform shows"),
        ],
    },
    FormRoute {
        route: "POST /admin/integrations/deliveries/{id}/replay",
        path: "/admin/integrations/deliveries/{delivery}/replay",
        form: &[("storefront_sku", "AV-SUNGLASS"), ("sku", "KETTLE")],
        fields: &[
            checked("storefront_sku", "still not taken in"),
            checked("sku", "there is no product with sku|still not taken in"),
        ],
    },
    FormRoute {
        route: "POST /inventory/import",
        path: "/inventory/import",
        form: &[],
        fields: &[],
    },
    FormRoute {
        route: "POST /inventory/{sku}/settings",
        path: "/inventory/KETTLE/settings",
        form: &[
            ("reorder_point", "2"),
            ("safety_stock", "1"),
            ("backorderable", "on"),
        ],
        fields: &[
            checked("reorder_point", "reorder point:"),
            checked("safety_stock", "safety stock:"),
        ],
    },
    FormRoute {
        route: "POST /inventory/{sku}/suppliers",
        path: "/inventory/MUG/suppliers",
        form: &[
            ("name", "Beta Parts"),
            ("lead_time_days", "7"),
            ("unit_cost", "6.50"),
        ],
        fields: &[
            text("name", "the supplier's name must be 1 to 200 characters"),
            optional(checked(
                "lead_time_days",
                "enter the lead time as a whole number of days",
            )),
            optional(checked(
                "unit_cost",
                "enter the unit cost as an amount like 12.50",
            )),
            optional(checked("contact_email", "is not an email address")),
        ],
    },
    FormRoute {
        route: "POST /inventory/{sku}/preorder",
        path: "/inventory/KETTLE/preorder",
        form: &[("preorder_release_on", "2031-06-01"), ("action", "save")],
        fields: &[checked("preorder_release_on", "release date:")],
    },
    FormRoute {
        route: "POST /inventory/{sku}/alternatives",
        path: "/inventory/KETTLE/alternatives",
        form: &[("alternatives", "MUG")],
        // Left out or empty clears the list: not a mistake.
        fields: &[optional(checked("alternatives", "alternatives:"))],
    },
    FormRoute {
        route: "POST /inventory/{sku}/adjust",
        path: "/inventory/MUG/adjust",
        form: &[
            ("change", "1"),
            ("reason", "count_correction"),
            ("note", "Recounted"),
        ],
        fields: &[
            checked("change", "enter the change as a whole number of units"),
            checked("reason", "choose a reason for the adjustment"),
            optional(text("note", "keep the note under 500 characters")),
        ],
    },
    FormRoute {
        route: "POST /inventory/{sku}/notify-me",
        path: "/inventory/KETTLE/notify-me",
        form: &[("email", "fan@example.com")],
        fields: &[checked("email", "is not an email address")],
    },
    FormRoute {
        route: "POST /inventory/{sku}/notify-me/{id}/remove",
        path: "/inventory/KETTLE/notify-me/{sign_up}/remove",
        form: &[],
        fields: &[],
    },
    FormRoute {
        route: "POST /purchase-orders",
        path: "/purchase-orders",
        form: &[
            ("reference", "PO-9"),
            ("supplier", "Acme"),
            ("expected_on", "{in_10_days}"),
            ("sku", "KETTLE"),
            ("qty", "5"),
        ],
        fields: &[
            text("reference", "reference:"),
            text("supplier", "name the supplier"),
            checked(
                "expected_on",
                "enter the expected date|the expected date must be within two years",
            ),
            text("sku", "sku|add at least one line"),
            checked("qty", "order between 1 and 10,000,000 units"),
        ],
    },
    FormRoute {
        route: "POST /purchase-orders/{reference}/expected-date",
        path: "/purchase-orders/PO-1/expected-date",
        form: &[("expected_on", "{in_12_days}")],
        fields: &[checked(
            "expected_on",
            "enter a date|the expected date must be within two years",
        )],
    },
    FormRoute {
        route: "POST /purchase-orders/{reference}/receive",
        path: "/purchase-orders/PO-1/receive",
        form: &[
            ("qty_{po_line}", "1"),
            ("receipt_key", "0123456789abcdef0123456789abcdef"),
        ],
        fields: &[
            checked(
                "qty_{po_line}",
                "is not a whole number of units|enter how many units arrived",
            ),
            checked("receipt_key", "preview the receipt again"),
        ],
    },
    FormRoute {
        route: "POST /purchase-orders/{reference}/cancel",
        path: "/purchase-orders/PO-2/cancel",
        form: &[],
        fields: &[],
    },
    FormRoute {
        route: "POST /purchase-orders/{reference}/send",
        path: "/purchase-orders/PO-1/send",
        form: &[],
        fields: &[],
    },
    FormRoute {
        route: "POST /messages/compose",
        path: "/messages/compose",
        form: &[
            ("mode", "one"),
            ("order", "W-1"),
            ("subject", "About your order"),
            ("body", "It ships soon."),
            ("compose_id", "00112233445566778899aabb"),
            ("action", "send"),
        ],
        fields: &[
            checked(
                "order",
                "there is no order|give an order number or a customer's email",
            ),
            text("subject", "a subject of 1 to 200 characters"),
            text("body", "a message of 1 to 10,000 characters"),
        ],
    },
    FormRoute {
        route: "POST /messages/{id}/retry",
        path: "/messages/{message}/retry",
        form: &[],
        fields: &[],
    },
    FormRoute {
        route: "POST /l/{token}",
        path: "/l/{link}",
        form: &[],
        fields: &[],
    },
    FormRoute {
        route: "POST /unsubscribe/{token}",
        path: "/unsubscribe/{link}",
        form: &[],
        fields: &[],
    },
    FormRoute {
        route: "POST /supplier/{token}/confirm",
        path: "/supplier/{supplier_link}/confirm",
        form: &[],
        fields: &[],
    },
    FormRoute {
        route: "POST /supplier/{token}/date",
        path: "/supplier/{supplier_link}/date",
        form: &[("expected_on", "{in_12_days}"), ("note", "Port strike")],
        fields: &[
            checked("expected_on", "enter the new delivery date"),
            optional(text("note", "a note can be at most 1000 characters")),
        ],
    },
];

/// Routes whose bad input has a sweep of its own, and why.
const SWEPT_ELSEWHERE: &[(&str, &str)] = &[
    // Signed by the platform, not by a token; a refused order is kept (with its payload)
    // for a person by design: `webhooks::bad_payloads_are_refused_naming_the_field`.
    ("POST /webhooks/shopify", "webhooks.rs"),
    ("POST /webhooks/woocommerce", "webhooks.rs"),
    // A name from the product's list; removal is checked in
    // `suppliers::the_product_page_lists_the_suppliers_and_a_manager_adds_and_removes_one`.
    ("POST /inventory/{sku}/suppliers/remove", "suppliers.rs"),
];

/// A JSON API route with a body it accepts as it is.
struct ApiRoute {
    route: &'static str,
    path: &'static str,
    body: fn() -> Value,
    fields: &'static [Field],
}

/// Every POST and PUT route of the JSON API (`src/web/api/mod.rs`).
const API_ROUTES: &[ApiRoute] = &[
    ApiRoute {
        route: "POST /api/v1/orders",
        path: "/api/v1/orders",
        body: || {
            json!({
                "number": "ORD-NEW",
                "placed_at": "2026-11-01T10:00:00Z",
                "customer": { "email": "new-buyer@example.com", "name": "New Buyer" },
                "lines": [{ "sku": "MUG", "quantity": 1, "unit_price_cents": 1250 }],
                "payment_authorized_until": in_days(20),
                "max_wait_until": in_days(20),
            })
        },
        fields: &[
            json_text("number"),
            optional(json_checked("placed_at")),
            json_checked("customer"),
            json_checked("customer.email"),
            json_text("customer.name"),
            json_checked("lines"),
            json_text("lines[0].sku"),
            json_checked("lines[0].quantity"),
            json_checked("lines[0].unit_price_cents"),
            optional(json_checked("payment_authorized_until")),
            optional(json_checked("max_wait_until")),
        ],
    },
    ApiRoute {
        route: "PUT /api/v1/products/{sku}",
        path: "/api/v1/products/NEW-1",
        body: || {
            json!({
                "name": "New thing", "supplier": "Acme", "on_hand": 5, "backorderable": true,
                "reorder_point": 2, "safety_stock": 1, "unit_price_cents": 1500,
            })
        },
        fields: &[
            json_text("name"),
            optional(json_text("supplier")),
            optional(json_checked("on_hand")),
            optional(json_checked("backorderable")),
            optional(json_checked("reorder_point")),
            optional(json_checked("safety_stock")),
            optional(json_checked("unit_price_cents")),
            optional(json_checked("preorder_release_on")),
        ],
    },
    ApiRoute {
        route: "POST /api/v1/purchase-orders",
        path: "/api/v1/purchase-orders",
        body: || {
            json!({
                "reference": "PO-NEW", "supplier": "Acme", "expected_on": in_days(20),
                "lines": [{ "sku": "KETTLE", "quantity": 4 }],
            })
        },
        fields: &[
            json_text("reference"),
            json_text("supplier"),
            json_checked("expected_on"),
            json_checked("lines"),
            json_text("lines[0].sku"),
            json_checked("lines[0].quantity"),
        ],
    },
    ApiRoute {
        route: "POST /api/v1/purchase-orders/{reference}/receipts",
        path: "/api/v1/purchase-orders/PO-1/receipts",
        body: || json!({ "lines": [{ "sku": "KETTLE", "quantity": 1 }] }),
        fields: &[
            json_checked("lines"),
            json_text("lines[0].sku"),
            json_checked("lines[0].quantity"),
        ],
    },
    ApiRoute {
        route: "POST /api/v1/restock-subscriptions",
        path: "/api/v1/restock-subscriptions",
        body: || json!({ "sku": "KETTLE", "email": "fan@example.com" }),
        fields: &[json_text("sku"), json_checked("email")],
    },
];

/// What a free-text field keeps: markup and SQL stored as typed, shown escaped.
enum Body {
    Form(&'static [(&'static str, &'static str)]),
    Json(fn() -> Value),
}

/// One free-text route, sent once with markup in its text fields (`{markup}`, `{word}`,
/// `{word2}`). `stored` counts the rows holding the text as typed (it must grow); `shown`
/// lists the pages a person reads it on, with the text each must show.
struct FreeText {
    route: &'static str,
    path: &'static str,
    send: Body,
    stored: &'static str,
    shown: &'static [(&'static str, &'static str)],
}

/// In order: later lines use what earlier ones made (the product with a markup SKU).
const FREE_TEXT: &[FreeText] = &[
    FreeText {
        route: "PUT /api/v1/products/{sku}",
        path: "/api/v1/products/{word}",
        send: Body::Json(
            || json!({ "name": MARKUP, "supplier": MARKUP, "on_hand": 0, "backorderable": true }),
        ),
        stored: "SELECT count(*) FROM products p JOIN suppliers s ON s.id = p.supplier_id
                  WHERE p.sku = {word} AND p.name = {markup} AND s.name = {markup}",
        shown: &[
            ("/inventory", "{word}"),
            ("/inventory", "{markup}"),
            ("/inventory/{word}", "{word}"),
            ("/inventory/{word}", "{markup}"),
        ],
    },
    FreeText {
        route: "POST /api/v1/purchase-orders",
        path: "/api/v1/purchase-orders",
        send: Body::Json(|| {
            json!({ "reference": MARKUP_WORD_2, "supplier": MARKUP, "expected_on": in_days(20),
                    "lines": [{ "sku": MARKUP_WORD, "quantity": 5 }] })
        }),
        stored: "SELECT count(*) FROM purchase_orders p JOIN suppliers s ON s.id = p.supplier_id
                  WHERE p.reference = {word2} AND s.name = {markup}",
        shown: &[
            ("/purchase-orders", "{word2}"),
            ("/purchase-orders/{word2}", "{word2}"),
            ("/purchase-orders/{word2}", "{markup}"),
            ("/purchase-orders/{word2}", "{word}"),
            ("/inventory/{word}", "{word2}"),
        ],
    },
    FreeText {
        route: "POST /api/v1/orders",
        path: "/api/v1/orders",
        send: Body::Json(|| {
            json!({ "number": MARKUP_WORD_2,
                    "customer": { "email": "markup@example.com", "name": MARKUP },
                    "lines": [{ "sku": MARKUP_WORD, "quantity": 2, "unit_price_cents": 1000 }] })
        }),
        stored: "SELECT count(*) FROM orders o JOIN customers c ON c.id = o.customer_id
                  WHERE o.number = {word2} AND c.name = {markup}",
        shown: &[
            ("/orders/{word2}", "{word2}"),
            ("/orders/{word2}", "{markup}"),
            ("/orders/{word2}", "{word}"),
            ("/queue", "{word2}"),
            ("/queue", "{word}"),
            ("/inventory/{word}", "{word2}"),
        ],
    },
    FreeText {
        route: "POST /api/v1/purchase-orders/{reference}/receipts",
        path: "/api/v1/purchase-orders/{word2}/receipts",
        send: Body::Json(|| json!({ "lines": [{ "sku": MARKUP_WORD, "quantity": 1 }] })),
        stored: "SELECT count(*) FROM receipt_lines r
                   JOIN purchase_order_lines l ON l.id = r.purchase_order_line_id
                   JOIN purchase_orders p ON p.id = l.purchase_order_id
                  WHERE p.reference = {word2}",
        shown: &[("/purchase-orders/{word2}", "{word}")],
    },
    FreeText {
        route: "POST /api/v1/restock-subscriptions",
        path: "/api/v1/restock-subscriptions",
        send: Body::Json(|| json!({ "sku": MARKUP_WORD, "email": "fan@example.com" })),
        stored:
            "SELECT count(*) FROM restock_subscriptions r JOIN products p ON p.id = r.product_id
                  WHERE p.sku = {word}",
        shown: &[("/inventory/{word}", "{word}")],
    },
    FreeText {
        route: "POST /queue/bulk",
        path: "/queue/bulk",
        send: Body::Form(&[
            ("action", "cancel"),
            ("line", "{line_3}"),
            ("reason", "{markup}"),
            ("confirm", "1"),
        ]),
        stored: "SELECT count(*) FROM audit_log WHERE after->>'reason' = {markup}",
        shown: &[("/admin/audit", XSS_SCRIPT)],
    },
    FreeText {
        route: "POST /approvals/{id}/decide",
        path: "/approvals/{proposal}/decide",
        send: Body::Form(&[("decision", "reject"), ("note", "{markup}")]),
        stored: "SELECT count(*) FROM discount_proposals WHERE decision_note = {markup}",
        shown: &[("/approvals", "{markup}")],
    },
    FreeText {
        route: "POST /orders/{number}/proposals",
        // W-2 (in stock): by this case the delay policy has proposed for W-5, and an
        // order has at most one open proposal (issue 13).
        path: "/orders/W-2/proposals",
        send: Body::Form(&[("kind", "percent"), ("value", "5"), ("reason", "{markup}")]),
        stored: "SELECT count(*) FROM discount_proposals WHERE reason = {markup}",
        shown: &[("/approvals", "{markup}"), ("/orders/W-2", "{markup}")],
    },
    FreeText {
        route: "POST /orders/{number}/lines/{line}/cancel",
        path: "/orders/W-4/lines/{line_4}/cancel",
        send: Body::Form(&[("reason", "{markup}"), ("confirm", "yes")]),
        stored: "SELECT count(*) FROM audit_log WHERE after->>'reason' = {markup}",
        shown: &[("/admin/audit", XSS_SCRIPT)],
    },
    FreeText {
        route: "POST /orders/{number}/notes",
        path: "/orders/W-1/notes",
        send: Body::Form(&[("body", "{markup}")]),
        stored: "SELECT count(*) FROM notes WHERE body = {markup}",
        shown: &[("/orders/W-1", "{markup}"), ("/admin/audit", XSS_SCRIPT)],
    },
    FreeText {
        route: "POST /admin/users",
        path: "/admin/users",
        send: Body::Form(&[
            ("email", "markup-rep@shop.test"),
            ("name", "{markup}"),
            ("role", "rep"),
            ("password", PASSWORD),
        ]),
        stored: "SELECT count(*) FROM users WHERE name = {markup}",
        shown: &[("/admin/users", "{markup}")],
    },
    FreeText {
        route: "POST /admin/tokens",
        path: "/admin/tokens",
        send: Body::Form(&[("name", "{markup}")]),
        stored: "SELECT count(*) FROM api_tokens WHERE name = {markup}",
        shown: &[("/admin/tokens", "{markup}")],
    },
    FreeText {
        route: "POST /admin/settings",
        path: "/admin/settings",
        send: Body::Form(&[
            ("shop_name", "{markup}"),
            ("currency", "EUR"),
            ("handling_days", "1"),
            ("eta_worst_percentile", "90"),
            ("delay_discount_percent", "10"),
            ("delay_discount_after_days", "14"),
            ("expiry_limit_days", "60"),
            ("status_update_after_days", "7"),
        ]),
        stored: "SELECT count(*) FROM shop_settings WHERE shop_name = {markup}",
        shown: &[("/admin/settings", "{markup}")],
    },
    FreeText {
        route: "POST /inventory/{sku}/suppliers",
        path: "/inventory/MUG/suppliers",
        send: Body::Form(&[("name", "{markup}"), ("lead_time_days", "7")]),
        // Supplier names are unique and another line may have made this one: count its
        // place on the product's list.
        stored:
            "SELECT count(*) FROM product_suppliers ps JOIN suppliers s ON s.id = ps.supplier_id
                  WHERE position({markup} in s.name) > 0",
        shown: &[("/inventory/MUG", "{markup}")],
    },
    FreeText {
        route: "POST /supplier/{token}/date",
        path: "/supplier/{supplier_link}/date",
        send: Body::Form(&[("expected_on", "{in_12_days}"), ("note", "{markup}")]),
        stored: "SELECT count(*) FROM purchase_order_date_changes WHERE note = {markup}",
        shown: &[
            ("/purchase-orders/PO-1", "{markup}"),
            ("/supplier/{supplier_link}", "{markup}"),
        ],
    },
    FreeText {
        route: "POST /inventory/{sku}/adjust",
        path: "/inventory/MUG/adjust",
        send: Body::Form(&[
            ("change", "1"),
            ("reason", "count_correction"),
            ("note", "{markup}"),
        ]),
        stored: "SELECT count(*) FROM stock_movements WHERE position({markup} in note) > 0",
        shown: &[("/inventory/MUG", "{markup}")],
    },
    FreeText {
        route: "POST /purchase-orders",
        path: "/purchase-orders",
        send: Body::Form(&[
            ("reference", "{word}"),
            ("supplier", "{markup}"),
            ("expected_on", "{in_10_days}"),
            ("sku", "{word}"),
            ("qty", "3"),
        ]),
        stored: "SELECT count(*) FROM purchase_orders p JOIN suppliers s ON s.id = p.supplier_id
                  WHERE p.reference = {word} AND s.name = {markup}",
        shown: &[
            ("/purchase-orders", "{word}"),
            ("/purchase-orders", "{markup}"),
            ("/purchase-orders/{word}", "{word}"),
        ],
    },
    FreeText {
        route: "POST /messages/compose",
        path: "/messages/compose",
        send: Body::Form(&[
            ("mode", "one"),
            ("order", "W-1"),
            ("subject", "{markup}"),
            ("body", "{markup}"),
            ("compose_id", "aabbccddeeff001122334455"),
            ("action", "send"),
        ]),
        stored: "SELECT count(*) FROM messages
                  WHERE subject = {markup} AND position({markup} in body_text) > 0",
        shown: &[("/messages", "{markup}")],
    },
];

// --- The shop the sweep runs against ---

/// A shop with something for every route to act on, and a signed-in admin.
struct Desk {
    app: TestApp,
    admin: String,
    api_token: String,
    csrf: String,
    /// `{name}` placeholders of the routes' paths and forms.
    values: Vec<(&'static str, String)>,
    /// The footprint after the last request, to compare the next one's with.
    last_footprint: std::cell::RefCell<Vec<(String, String)>>,
}

fn id(app: &TestApp, query: &str) -> i64 {
    diesel::dsl::sql::<BigInt>(query)
        .get_result(&mut app.conn())
        .unwrap_or_else(|e| panic!("{query}: {e}"))
}

impl Desk {
    async fn open() -> Self {
        let app = spawn_app().await;
        shop::product(&app, "KETTLE", 0, 2_500);
        shop::product(&app, "MUG", 10, 1_250);
        shop::purchase_order(&app, "PO-1", "KETTLE", 10, 5);
        shop::purchase_order(&app, "PO-2", "KETTLE", 5, 8);
        for (number, sku, quantity) in [
            ("W-1", "KETTLE", 2),
            ("W-2", "MUG", 2),
            ("W-3", "KETTLE", 1),
            ("W-4", "KETTLE", 1),
            ("W-5", "KETTLE", 1),
        ] {
            let email = format!("{}@example.com", number.to_lowercase());
            shop::order(&app, number, &email, "Ada Lovelace", sku, quantity, 1);
        }
        let line = |number: &str| {
            id(
                &app,
                &format!(
                    "SELECT l.id FROM order_lines l JOIN orders o ON o.id = l.order_id
                      WHERE o.number = '{number}'"
                ),
            )
        };
        let rep_email = app.add_user(Role::Rep);
        let rep = id(
            &app,
            &format!("SELECT id FROM users WHERE email = '{rep_email}'"),
        );
        let rep_actor = Actor::User {
            id: rep,
            email: rep_email,
        };
        let proposal = proposals::propose(
            &mut app.conn(),
            &rep_actor,
            "W-1",
            "percent",
            10,
            "Waited two weeks",
        )
        .expect("a rep's proposal");
        let policy_proposal =
            proposals::propose(&mut app.conn(), &Actor::System, "W-3", "percent", 5, "Late")
                .expect("a policy proposal");
        let api_token = api_tokens::create(&mut app.conn(), &Actor::System, "storefront")
            .expect("an API token");
        let token = id(&app, "SELECT max(id) FROM api_tokens");
        let message = outbox::enqueue(
            &mut app.conn(),
            &NewMessage {
                kind: MessageKind::Custom,
                idempotency_key: "bad-input:1".to_owned(),
                order_id: None,
                customer_id: None,
                recipient: "w-1@example.com".to_owned(),
                subject: "Hello".to_owned(),
                body_text: "Hello".to_owned(),
                body_html: "<p>Hello</p>".to_owned(),
                created_by: None,
            },
        )
        .expect("queue a message")
        .expect("a new message");
        let order_1 = id(&app, "SELECT id FROM orders WHERE number = 'W-1'");
        let key = links::signing_key(&mut app.conn()).expect("the link key");
        let link = links::sign(
            &key,
            &LinkClaim::new(LinkAction::CancelWaiting, order_1, None),
        );
        // PO-1 as if emailed to its supplier: a link with a known token.
        let supplier_link = "bad-input-supplier-link".to_owned();
        shop::sql(
            &app,
            &format!(
                "INSERT INTO purchase_order_sends (purchase_order_id, sent_to, token_hash)
                 SELECT id, 'orders@acme.example.com', '{}' FROM purchase_orders
                  WHERE reference = 'PO-1'",
                links::supplier_token_hash(&supplier_link)
            ),
        );
        let po_line = id(
            &app,
            "SELECT l.id FROM purchase_order_lines l JOIN purchase_orders p
              ON p.id = l.purchase_order_id WHERE p.reference = 'PO-1'",
        );
        // A Shopify order waiting on the Integrations page for its unknown SKU.
        let shopify_order = crate::webhooks::fixture("shopify/orders_create.json")
            .replace("SKU2006-001", "AV-SUNGLASS");
        let secrets = webhooks::EnvSecrets {
            shopify: Some("bad-input-secret".to_owned()),
            woocommerce: None,
        };
        let refused = webhooks::receive(
            &mut app.conn(),
            &secrets,
            webhooks::Delivery {
                platform: webhooks::Platform::Shopify,
                topic: Some("orders/create".to_owned()),
                id: Some("bad-input-1".to_owned()),
                signature: Some(webhooks::signature::sign(
                    "bad-input-secret",
                    shopify_order.as_bytes(),
                )),
                body: shopify_order.into_bytes(),
            },
            shop::today(),
        );
        assert!(matches!(
            refused,
            Err(webhooks::WebhookError::Refused { .. })
        ));
        let delivery = id(&app, "SELECT max(id) FROM webhook_deliveries");
        shop::sql(
            &app,
            "INSERT INTO restock_subscriptions (product_id, email)
             SELECT id, 'waiting-fan@example.com' FROM products WHERE sku = 'KETTLE'",
        );
        let sign_up = id(&app, "SELECT max(id) FROM restock_subscriptions");
        let date = |days: i64| (shop::today() + chrono::Duration::days(days)).to_string();
        let admin = app.add_user(Role::Admin);
        let values = vec![
            ("{admin}", admin.clone()),
            ("{line_1}", line("W-1").to_string()),
            ("{line_3}", line("W-3").to_string()),
            ("{line_4}", line("W-4").to_string()),
            ("{proposal}", proposal.to_string()),
            ("{policy_proposal}", policy_proposal.to_string()),
            ("{rep}", rep.to_string()),
            ("{token}", token.to_string()),
            ("{message}", message.to_string()),
            ("{link}", link),
            ("{supplier_link}", supplier_link),
            ("{po_line}", po_line.to_string()),
            ("{delivery}", delivery.to_string()),
            ("{sign_up}", sign_up.to_string()),
            ("{in_10_days}", date(10)),
            ("{in_12_days}", date(12)),
            ("{markup}", MARKUP.to_owned()),
            ("{word}", MARKUP_WORD.to_owned()),
            ("{word2}", MARKUP_WORD_2.to_owned()),
        ];
        let mut desk = Self {
            app,
            admin,
            api_token,
            csrf: String::new(),
            values,
            last_footprint: Default::default(),
        };
        desk.sign_in().await;
        desk
    }

    /// A fresh session for the admin (a route may have ended the last one). The sign-in
    /// throttle is emptied first: the sweep of the sign-in form fails more often than it
    /// allows from one address.
    async fn sign_in(&mut self) {
        diesel::sql_query("DELETE FROM login_attempts")
            .execute(&mut self.app.conn())
            .expect("empty the sign-in throttle");
        let response = self.app.login(&self.admin, PASSWORD).await;
        assert_eq!(response.status(), 303, "the admin signs in");
        let page = self.app.get("/login").await.text().await.unwrap();
        self.csrf = csrf_in(&page).expect("a CSRF token");
        *self.last_footprint.borrow_mut() = self.footprint();
    }

    /// The tables changed since the last request (or sign-in).
    fn changes(&self) -> Vec<String> {
        let now = self.footprint();
        let before = self.last_footprint.replace(now.clone());
        changed_tables(&before, &now)
    }

    fn fill(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for (name, value) in &self.values {
            out = out.replace(name, value);
        }
        out
    }

    /// A path with its `{placeholders}` filled in, each encoded as a path segment.
    fn fill_path(&self, path: &str) -> String {
        let mut out = path.to_owned();
        for (name, value) in &self.values {
            out = out.replace(name, &segment(value));
        }
        out
    }

    /// A digest of every table's rows: any change shows. Left out: the sign-in throttle
    /// and the audit log's failed sign-ins (a refused sign-in is recorded by design), and
    /// when a token was last used (stamped by every API call).
    fn footprint(&self) -> Vec<(String, String)> {
        #[derive(QueryableByName, PartialEq)]
        struct Digest {
            #[diesel(sql_type = Text)]
            name: String,
            #[diesel(sql_type = Text)]
            digest: String,
        }
        let tables: Vec<String> = diesel::dsl::sql::<Text>(
            "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public'
               AND tablename NOT IN ('login_attempts', '__diesel_schema_migrations')
             ORDER BY 1",
        )
        .load(&mut self.app.conn())
        .expect("list the tables");
        let query = tables
            .iter()
            .map(|t| {
                let only = if t == "audit_log" {
                    "WHERE t.action <> 'login_failed'"
                } else {
                    ""
                };
                format!(
                    "SELECT '{t}' AS name,
                            md5(coalesce(string_agg((to_jsonb(t) - 'last_used_at')::text, '|'
                                                    ORDER BY (to_jsonb(t) - 'last_used_at')::text), ''))
                              AS digest
                       FROM {t} t {only}"
                )
            })
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        diesel::sql_query(query)
            .load::<Digest>(&mut self.app.conn())
            .expect("digest the tables")
            .into_iter()
            .map(|d| (d.name, d.digest))
            .collect()
    }

    /// The answer, or why none came (the connection closed while the body was sent).
    async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => {
                return Answer {
                    status: StatusCode::IM_A_TEAPOT,
                    content_type: String::new(),
                    body: String::new(),
                    failed: Some(format!("{error:?}")),
                };
            }
        };
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let bytes = response.bytes().await.expect("read the answer");
        Answer {
            status,
            content_type,
            body: String::from_utf8_lossy(&bytes).into_owned(),
            failed: None,
        }
    }

    async fn post_form(&self, path: &str, content_type: &str, body: Vec<u8>, htmx: bool) -> Answer {
        let mut request = self
            .app
            .client
            .post(self.app.url(path))
            .header("Content-Type", content_type)
            .body(body);
        if htmx {
            request = request
                .header("HX-Request", "true")
                .header("X-CSRF-Token", &self.csrf);
        }
        self.send(request).await
    }

    async fn call_api(&self, method: &str, path: &str, body: Vec<u8>) -> Answer {
        let url = self.app.url(path);
        let request = match method {
            "PUT" => self.app.client.put(url),
            _ => self.app.client.post(url),
        };
        self.send(
            request
                .bearer_auth(&self.api_token)
                .header("Content-Type", "application/json")
                .body(body),
        )
        .await
    }

    async fn page(&self, path: &str) -> Answer {
        self.send(self.app.client.get(self.app.url(path))).await
    }
}

/// A path segment with everything but unreserved characters percent-encoded.
fn segment(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

fn encode(pairs: &[(String, String)], csrf: &str) -> Vec<u8> {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs {
        form.append_pair(name, value);
    }
    form.append_pair("csrf_token", csrf);
    form.finish().into_bytes()
}

struct Answer {
    status: StatusCode,
    content_type: String,
    body: String,
    /// No answer came: why.
    failed: Option<String>,
}

/// The problems of one case, as lines of the test's failure report.
#[derive(Default)]
struct Report(Vec<String>);

impl Report {
    fn fail(&mut self, case: &str, problem: String) {
        self.0.push(format!("{case}: {problem}"));
    }

    #[track_caller]
    fn assert_clean(self, cases: usize) {
        assert!(
            self.0.is_empty(),
            "{} of {cases} bad inputs were not handled:\n{}",
            self.0.len(),
            self.0.join("\n")
        );
        assert!(cases > 0, "nothing was swept");
    }
}

fn raw_markup(body: &str) -> Option<&'static str> {
    RAW_MARKERS.into_iter().find(|marker| body.contains(marker))
}

fn changed_tables(before: &[(String, String)], after: &[(String, String)]) -> Vec<String> {
    after
        .iter()
        .filter(|row| !before.contains(row))
        .map(|(name, _)| name.clone())
        .collect()
}

/// A page answer that refuses: 4xx, the expected message in the text, nothing unescaped,
/// nothing stored.
fn check_page_refusal(
    report: &mut Report,
    case: &str,
    answer: &Answer,
    expect: &str,
    changed: Vec<String>,
) {
    let text = text_of(&answer.body).to_lowercase();
    if let Some(error) = &answer.failed {
        report.fail(case, format!("no answer: {error}"));
    } else if !answer.status.is_client_error() {
        report.fail(
            case,
            format!(
                "answered {} (wanted 4xx): {}",
                answer.status,
                clip(&text_of(&answer.body))
            ),
        );
    } else if !expect.split('|').any(|m| text.contains(&m.to_lowercase())) {
        report.fail(
            case,
            format!(
                "{} without the message {expect:?}: {}",
                answer.status,
                clip(&text_of(&answer.body))
            ),
        );
    }
    if let Some(marker) = raw_markup(&answer.body) {
        report.fail(case, format!("the answer holds raw markup {marker:?}"));
    }
    if !changed.is_empty() {
        report.fail(case, format!("stored something in {}", changed.join(", ")));
    }
}

/// An API answer that refuses: 4xx JSON `{"error", "details"}` naming `field` (if given),
/// nothing unescaped, nothing stored.
fn check_api_refusal(
    report: &mut Report,
    case: &str,
    answer: &Answer,
    field: Option<&str>,
    changed: Vec<String>,
) {
    if let Some(error) = &answer.failed {
        report.fail(case, format!("no answer: {error}"));
        return;
    }
    if !answer.status.is_client_error() {
        report.fail(
            case,
            format!(
                "answered {} (wanted 4xx): {}",
                answer.status,
                clip(&answer.body)
            ),
        );
    }
    if !answer.content_type.starts_with("application/json") {
        report.fail(
            case,
            format!("answered {:?}, not JSON", answer.content_type),
        );
    }
    match serde_json::from_str::<Value>(&answer.body) {
        Ok(body) => {
            if body["error"].as_str().is_none_or(str::is_empty) {
                report.fail(case, format!("no error message: {}", clip(&answer.body)));
            }
            if let Some(field) = field {
                let named = body["details"]
                    .as_array()
                    .is_some_and(|details| details.iter().any(|d| d["field"] == field));
                if !named {
                    report.fail(
                        case,
                        format!("the details do not name {field}: {}", clip(&answer.body)),
                    );
                }
            }
        }
        Err(_) => report.fail(case, format!("not JSON: {}", clip(&answer.body))),
    }
    if let Some(marker) = raw_markup(&answer.body) {
        report.fail(case, format!("the answer holds raw markup {marker:?}"));
    }
    if !changed.is_empty() {
        report.fail(case, format!("stored something in {}", changed.join(", ")));
    }
}

fn clip(text: &str) -> String {
    let text: String = text.chars().take(300).collect();
    text.replace(&"A".repeat(40), "AAAA…")
}

/// The bad values a form field gets: `None` leaves the field out.
fn form_values(field: &Field) -> Vec<(&'static str, Option<String>)> {
    let mut values = match field.kind {
        Kind::Checked => vec![
            ("an XSS payload", Some(XSS_SCRIPT.to_owned())),
            (
                "an XSS payload for attributes",
                Some(XSS_ATTRIBUTE.to_owned()),
            ),
            ("SQL metacharacters", Some(SQL.to_owned())),
            ("12,000 characters", Some(overlong())),
            ("a word for a number", Some(WRONG_TYPE.to_owned())),
            ("a number too big for any column", Some(TOO_BIG.to_owned())),
        ],
        Kind::Text | Kind::Secret => vec![("12,000 characters", Some(overlong()))],
    };
    if field.required {
        values.push(("nothing (left out)", None));
    }
    values
}

/// The segments of `path` that are parameters in `route`, by index.
fn parameters(route: &str) -> Vec<(usize, String)> {
    let pattern = route.split_once(' ').map_or(route, |(_, p)| p);
    pattern
        .split('/')
        .enumerate()
        .filter(|(_, s)| s.starts_with('{'))
        .map(|(i, s)| (i, s.trim_matches(['{', '}']).to_owned()))
        .collect()
}

/// Bad values for a path parameter: a number where an id is wanted, else text that can
/// name nothing.
fn path_values(parameter: &str) -> Vec<(&'static str, String)> {
    if matches!(parameter, "id" | "line") {
        vec![
            ("a word for an id", WRONG_TYPE.to_owned()),
            ("an id too big for any column", TOO_BIG.to_owned()),
            ("an XSS payload", XSS_ATTRIBUTE.to_owned()),
        ]
    } else {
        vec![
            ("an XSS payload", XSS_ATTRIBUTE.to_owned()),
            ("SQL metacharacters", SQL.to_owned()),
            ("12,000 characters", overlong()),
            ("a NUL character", "W-1\0".to_owned()),
        ]
    }
}

fn with_segment(path: &str, index: usize, value: &str) -> String {
    path.split('/')
        .enumerate()
        .map(|(i, s)| {
            if i == index {
                segment(value)
            } else {
                s.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

const FORM_TYPE: &str = "application/x-www-form-urlencoded";
const NOT_FOUND: &str = "not found|this link does not work|nul character";

async fn sweep_form_route(desk: &mut Desk, route: &FormRoute, report: &mut Report) -> usize {
    desk.sign_in().await;
    let mut cases = 0;
    let path = desk.fill_path(route.path);
    let form: Vec<(String, String)> = route
        .form
        .iter()
        .map(|(name, value)| (desk.fill(name), desk.fill(value)))
        .collect();

    for field in route.fields {
        let name = desk.fill(field.name);
        for (label, value) in form_values(field) {
            let mut poisoned: Vec<(String, String)> =
                form.iter().filter(|(n, _)| *n != name).cloned().collect();
            if let Some(value) = value {
                poisoned.push((name.clone(), value));
            }
            for htmx in [false, true] {
                let case = format!(
                    "{} {name} = {label}{}",
                    route.route,
                    if htmx { " (htmx)" } else { "" }
                );
                let answer = desk
                    .post_form(&path, FORM_TYPE, encode(&poisoned, &desk.csrf), htmx)
                    .await;
                let changed = desk.changes();
                check_page_refusal(report, &case, &answer, field.expect, changed);
                cases += 1;
            }
        }
    }

    // The body as a whole: too large, not UTF-8, a NUL, not a form at all.
    let mut bodies: Vec<(&str, &str, Vec<u8>, &str)> = Vec::new();
    let mut padded = form.clone();
    padded.push(("padding".to_owned(), huge_padding()));
    bodies.push((
        "a body over 256 KiB",
        FORM_TYPE,
        encode(&padded, &desk.csrf),
        "too large",
    ));
    let first = form
        .first()
        .map_or("note".to_owned(), |(name, _)| name.clone());
    let others: Vec<(String, String)> = form.iter().skip(1).cloned().collect();
    let mut raw = format!("{first}=caf").into_bytes();
    raw.extend_from_slice(b"\xff\xfe&");
    raw.extend(encode(&others, &desk.csrf));
    bodies.push(("raw bytes that are not UTF-8", FORM_TYPE, raw, "utf-8"));
    let mut escaped = format!("{first}=caf%FF%FE&").into_bytes();
    escaped.extend(encode(&others, &desk.csrf));
    bodies.push((
        "percent-encoded bytes that are not UTF-8",
        FORM_TYPE,
        escaped,
        "utf-8",
    ));
    let mut nul = format!("{first}=a%00b&").into_bytes();
    nul.extend(encode(&others, &desk.csrf));
    bodies.push(("a NUL character", FORM_TYPE, nul, "nul"));
    if !route.fields.is_empty() {
        let json: serde_json::Map<String, Value> = form
            .iter()
            .map(|(n, v)| (n.clone(), Value::String(v.clone())))
            .collect();
        bodies.push((
            "JSON instead of a form",
            "application/json",
            serde_json::to_vec(&json).unwrap(),
            "form",
        ));
    }
    for (label, content_type, body, expect) in bodies {
        let case = format!("{} with {label}", route.route);
        let answer = desk.post_form(&path, content_type, body, true).await;
        let changed = desk.changes();
        check_page_refusal(report, &case, &answer, expect, changed);
        cases += 1;
    }

    // Each path parameter naming nothing.
    for (index, parameter) in parameters(route.route) {
        for (label, value) in path_values(&parameter) {
            let case = format!("{} with {{{parameter}}} = {label}", route.route);
            let bad_path = with_segment(&path, index, &value);
            let answer = desk
                .post_form(&bad_path, FORM_TYPE, encode(&form, &desk.csrf), false)
                .await;
            let changed = desk.changes();
            check_page_refusal(report, &case, &answer, NOT_FOUND, changed);
            cases += 1;
        }
    }
    cases
}

/// Sets the value at `path` ("customer.email", "lines[0].sku"); `None` removes it.
fn set_json(body: &mut Value, path: &str, value: Option<Value>) {
    let mut steps: Vec<String> = Vec::new();
    for part in path.split('.') {
        match part.split_once('[') {
            Some((name, index)) => {
                steps.push(name.to_owned());
                steps.push(index.trim_end_matches(']').to_owned());
            }
            None => steps.push(part.to_owned()),
        }
    }
    let (last, parents) = steps.split_last().expect("a path");
    let mut node = body;
    for step in parents {
        node = match step.parse::<usize>() {
            Ok(i) => &mut node[i],
            Err(_) => &mut node[step.as_str()],
        };
    }
    match (value, node) {
        (Some(value), Value::Array(items)) => items[last.parse::<usize>().unwrap()] = value,
        (Some(value), Value::Object(map)) => {
            map.insert(last.clone(), value);
        }
        (None, Value::Object(map)) => {
            map.remove(last);
        }
        (value, node) => panic!("cannot set {path} to {value:?} in {node}"),
    }
}

fn get_json<'a>(body: &'a Value, path: &str) -> &'a Value {
    let mut node = body;
    for part in path.split('.') {
        match part.split_once('[') {
            Some((name, index)) => {
                node = &node[name][index.trim_end_matches(']').parse::<usize>().unwrap()]
            }
            None => node = &node[part],
        }
    }
    node
}

/// The bad values a JSON field gets, from the type of its good value.
fn json_values(field: &Field, good: &Value) -> Vec<(&'static str, Option<Value>)> {
    let mut values: Vec<(&'static str, Option<Value>)> = match good {
        Value::String(_) => {
            let mut strings = vec![("12,000 characters", Some(json!(overlong())))];
            if field.kind == Kind::Checked {
                strings.extend([
                    ("an XSS payload", Some(json!(XSS_SCRIPT))),
                    ("an XSS payload for attributes", Some(json!(XSS_ATTRIBUTE))),
                    ("SQL metacharacters", Some(json!(SQL))),
                ]);
            }
            strings.extend([
                ("a number for text", Some(json!(42))),
                ("an array for text", Some(json!([XSS_SCRIPT]))),
                ("an object for text", Some(json!({ "a": 1 }))),
            ]);
            strings
        }
        Value::Number(_) => vec![
            ("a string for a number", Some(json!(WRONG_TYPE))),
            ("an XSS payload for a number", Some(json!(XSS_SCRIPT))),
            ("a fraction for a whole number", Some(json!(1.5))),
            ("a number too big for any column", Some(json!(1e20))),
            ("a negative number", Some(json!(-1))),
            ("an array for a number", Some(json!([1]))),
        ],
        Value::Bool(_) => vec![
            ("a string for a boolean", Some(json!(XSS_SCRIPT))),
            ("a number for a boolean", Some(json!(1))),
        ],
        Value::Object(_) => vec![
            ("an array for an object", Some(json!([]))),
            ("a string for an object", Some(json!(XSS_SCRIPT))),
        ],
        Value::Array(_) => vec![
            ("an empty list", Some(json!([]))),
            ("an object for a list", Some(json!({}))),
            ("a string for a list", Some(json!(XSS_SCRIPT))),
        ],
        Value::Null => Vec::new(),
    };
    if field.required {
        values.push(("null", Some(Value::Null)));
        values.push(("nothing (left out)", None));
    }
    values
}

async fn sweep_api_route(desk: &Desk, route: &ApiRoute, report: &mut Report) -> usize {
    let mut cases = 0;
    let method = route.route.split(' ').next().unwrap_or("POST");
    let good = (route.body)();
    for field in route.fields {
        for (label, value) in json_values(field, get_json(&good, field.name)) {
            let case = format!("{} {} = {label}", route.route, field.name);
            let mut body = good.clone();
            set_json(&mut body, field.name, value);
            let answer = desk
                .call_api(method, route.path, serde_json::to_vec(&body).unwrap())
                .await;
            let changed = desk.changes();
            check_api_refusal(report, &case, &answer, Some(field.expect), changed);
            cases += 1;
        }
    }

    // The body as a whole. The first text field carries the bytes that cannot be text.
    let carrier = route
        .fields
        .iter()
        .find(|f| get_json(&good, f.name).is_string())
        .expect("a text field");
    let with_carrier = |text: &str| {
        let mut body = good.clone();
        set_json(&mut body, carrier.name, Some(json!(text)));
        serde_json::to_vec(&body).unwrap()
    };
    let not_utf8 = {
        let marked = with_carrier("MARK");
        let text = String::from_utf8(marked).unwrap();
        let (before, after) = text.split_once("MARK").unwrap();
        [before.as_bytes(), b"caf\xe9", after.as_bytes()].concat()
    };
    let mut huge = good.clone();
    set_json(&mut huge, carrier.name, Some(json!(huge_padding())));
    let bodies: Vec<(&str, Vec<u8>, Option<&str>)> = vec![
        (
            "a body over 256 KiB",
            serde_json::to_vec(&huge).unwrap(),
            None,
        ),
        ("bytes that are not UTF-8", not_utf8, None),
        (
            "a NUL character",
            with_carrier("a\u{0}b"),
            Some(carrier.name),
        ),
        ("an empty body", Vec::new(), None),
        ("a body that is not JSON", b"number=ORD-1".to_vec(), None),
        ("cut-off JSON", b"{\"lines\": [".to_vec(), None),
        ("an array for the body", b"[]".to_vec(), Some("body")),
        ("null for the body", b"null".to_vec(), Some("body")),
    ];
    for (label, body, field) in bodies {
        let case = format!("{} with {label}", route.route);
        let answer = desk.call_api(method, route.path, body).await;
        let changed = desk.changes();
        check_api_refusal(report, &case, &answer, field, changed);
        cases += 1;
    }

    for (index, parameter) in parameters(route.route) {
        for (label, value) in path_values(&parameter) {
            let case = format!("{} with {{{parameter}}} = {label}", route.route);
            let path = with_segment(route.path, index, &value);
            let answer = desk
                .call_api(method, &path, serde_json::to_vec(&good).unwrap())
                .await;
            let changed = desk.changes();
            check_api_refusal(report, &case, &answer, None, changed);
            cases += 1;
        }
    }
    cases
}

// --- The tests ---

/// `POST` and `PUT` routes as the route table declares them, read from the source of
/// `src/web` (`.route("/path", web::post()...)`, under the `web::scope` before it).
fn declared_routes() -> Vec<String> {
    fn files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("read src/web").flatten() {
            let path = entry.path();
            if path.is_dir() {
                files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut paths = Vec::new();
    files(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/web"),
        &mut paths,
    );
    let literal = |text: &str| text.split('"').next().unwrap_or_default().to_owned();
    let mut routes = Vec::new();
    for path in paths {
        let source: String = std::fs::read_to_string(&path)
            .expect("read a source file")
            .split_whitespace()
            .collect();
        for (at, _) in source.match_indices(".route(\"") {
            let rest = &source[at + ".route(\"".len()..];
            let pattern = literal(rest);
            let after = &rest[pattern.len() + 1..];
            let method = ["post", "put", "patch", "delete"]
                .into_iter()
                .find(|m| after.starts_with(&format!(",web::{m}()")));
            let Some(method) = method else { continue };
            let scope = source[..at]
                .rmatch_indices("web::scope(\"")
                .next()
                .map(|(i, _)| literal(&source[i + "web::scope(\"".len()..]))
                .unwrap_or_default();
            routes.push(format!("{} {scope}{pattern}", method.to_ascii_uppercase()));
        }
    }
    routes.sort();
    routes
}

#[test]
fn every_post_and_put_route_is_in_the_sweep() {
    let declared = declared_routes();
    assert!(
        declared.iter().any(|r| r == "POST /orders/{number}/notes")
            && declared.iter().any(|r| r == "PUT /api/v1/products/{sku}"),
        "the route table was not read: {declared:?}"
    );
    let mut swept: Vec<String> = FORM_ROUTES
        .iter()
        .map(|r| r.route)
        .chain(API_ROUTES.iter().map(|r| r.route))
        .map(str::to_owned)
        .collect();
    swept.sort();
    swept.extend(SWEPT_ELSEWHERE.iter().map(|(route, _)| (*route).to_owned()));
    let missing: Vec<_> = declared.iter().filter(|r| !swept.contains(r)).collect();
    let stale: Vec<_> = swept.iter().filter(|r| !declared.contains(r)).collect();
    assert!(
        missing.is_empty(),
        "routes without a line in FORM_ROUTES or API_ROUTES: {missing:?}"
    );
    assert!(
        stale.is_empty(),
        "lines for routes that are gone: {stale:?}"
    );

    // Every free-text field has a line showing markup kept as typed and shown escaped.
    let markup = [MARKUP, MARKUP_WORD, MARKUP_WORD_2];
    for route in FORM_ROUTES {
        for field in route.fields.iter().filter(|f| f.kind == Kind::Text) {
            let covered = FREE_TEXT.iter().any(|line| {
                line.route == route.route
                    && matches!(&line.send, Body::Form(form) if form.iter().any(|(n, v)| {
                        *n == field.name && ["{markup}", "{word}", "{word2}"].contains(v)
                    }))
            });
            assert!(covered, "{} {}: no FREE_TEXT line", route.route, field.name);
        }
    }
    for route in API_ROUTES {
        for field in route.fields.iter().filter(|f| f.kind == Kind::Text) {
            let covered = FREE_TEXT.iter().any(|line| {
                line.route == route.route
                    && matches!(&line.send, Body::Json(body) if get_json(&body(), field.name)
                        .as_str()
                        .is_some_and(|v| markup.contains(&v)))
            });
            assert!(covered, "{} {}: no FREE_TEXT line", route.route, field.name);
        }
    }
}

#[tokio::test]
async fn every_form_refuses_bad_input_with_a_message_and_stores_nothing() {
    let mut desk = Desk::open().await;
    let mut report = Report::default();
    let mut cases = 0;
    for route in FORM_ROUTES
        .iter()
        .filter(|r| r.route != "POST /inventory/import")
    {
        cases += sweep_form_route(&mut desk, route, &mut report).await;
    }
    eprintln!("form routes: {cases} bad inputs");
    report.assert_clean(cases);
    // The refused sign-ins are on record, but no longer than an address can be.
    let longest = id(
        &desk.app,
        "SELECT greatest((SELECT max(length(email)) FROM login_attempts),
                         (SELECT max(length(after->>'email')) FROM audit_log
                           WHERE action = 'login_failed'))::int8",
    );
    assert!(
        longest <= 254,
        "a refused sign-in kept {longest} characters"
    );
}

#[tokio::test]
async fn every_api_route_refuses_bad_input_naming_the_field_and_stores_nothing() {
    let desk = Desk::open().await;
    let mut report = Report::default();
    let mut cases = 0;
    for route in API_ROUTES {
        cases += sweep_api_route(&desk, route, &mut report).await;
    }
    eprintln!("API routes: {cases} bad inputs");
    report.assert_clean(cases);
}

async fn upload(desk: &Desk, content_type: &str, body: Vec<u8>) -> Answer {
    desk.send(
        desk.app
            .client
            .post(desk.app.url("/inventory/import"))
            // In the header, so the bodies below are sent exactly as written (the CSRF
            // token is never taken from the address).
            .header("X-CSRF-Token", &desk.csrf)
            .header("Content-Type", content_type)
            .body(body),
    )
    .await
}

fn multipart(file: &[u8]) -> (String, Vec<u8>) {
    let boundary = "bad-input-boundary-7261";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"stock.csv\"\r\nContent-Type: text/csv\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[tokio::test]
async fn the_inventory_import_refuses_bad_files() {
    let desk = Desk::open().await;
    let mut report = Report::default();
    let long_name = format!("sku,name\nNEW-1,{}\n", overlong());
    let huge = format!(
        "sku,name\n{}",
        "NEW-1,A thing\n".repeat(4 * 1024 * 1024 / 14 + 1)
    );
    let files: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "a name that is not UTF-8",
            b"sku,name\nNEW-1,caf\xe9\n".to_vec(),
            "utf-8",
        ),
        (
            "a name with a NUL",
            b"sku,name\nNEW-1,a\x00b\n".to_vec(),
            "nul character",
        ),
        (
            "a name of 12,000 characters",
            long_name.into_bytes(),
            "longer than 300 characters",
        ),
        (
            "a word for the reorder point",
            b"sku,name,reorder_point\nNEW-1,A thing,twelve\n".to_vec(),
            "reorder_point",
        ),
        (
            "an XSS payload for a column",
            format!("sku,{XSS_SCRIPT}\nNEW-1,A thing\n").into_bytes(),
            "unknown column",
        ),
        (
            "a SKU with spaces (SQL)",
            format!("sku,name\n\"{SQL}\",A thing\n").into_bytes(),
            "sku",
        ),
        ("an empty file", Vec::new(), "choose a csv file"),
        ("a file over 4 MiB", huge.into_bytes(), "too large"),
    ];
    let mut cases = 0;
    for (label, file, expect) in files {
        let case = format!("POST /inventory/import with {label}");
        let (content_type, body) = multipart(&file);
        let answer = upload(&desk, &content_type, body).await;
        let changed = desk.changes();
        check_page_refusal(&mut report, &case, &answer, expect, changed);
        cases += 1;
    }
    for (label, content_type, body, expect) in [
        (
            "a form instead of a file",
            FORM_TYPE,
            b"file=sku%2Cname".to_vec(),
            "upload",
        ),
        (
            "a multipart body cut off",
            "multipart/form-data; boundary=cut",
            b"--cut\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nsku".to_vec(),
            "upload",
        ),
    ] {
        let case = format!("POST /inventory/import with {label}");
        let answer = upload(&desk, content_type, body).await;
        let changed = desk.changes();
        check_page_refusal(&mut report, &case, &answer, expect, changed);
        cases += 1;
    }
    report.assert_clean(cases);

    // Markup in a product's name is a name like any other: kept, and shown escaped.
    let cell = MARKUP.replace('"', "\"\"");
    let (content_type, body) = multipart(format!("sku,name\nNEW-2,\"{cell}\"\n").as_bytes());
    let answer = upload(&desk, &content_type, body).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", clip(&answer.body));
    let stored = id(
        &desk.app,
        &format!(
            "SELECT count(*) FROM products WHERE sku = 'NEW-2' AND name = {}",
            quoted(MARKUP)
        ),
    );
    assert_eq!(stored, 1, "the name is stored as typed");
    for path in ["/inventory", "/inventory/NEW-2"] {
        let page = desk.page(path).await;
        assert_eq!(raw_markup(&page.body), None, "{path} holds raw markup");
        assert!(
            text_of(&page.body).contains(MARKUP),
            "{path} shows the name"
        );
    }
}

/// True when a person reads `text` on the page: as its text, or as a field's value.
fn shows(page: &str, text: &str) -> bool {
    // As Askama escapes.
    let escaped = text
        .replace('&', "&#38;")
        .replace('<', "&#60;")
        .replace('>', "&#62;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;");
    text_of(page).contains(text) || page.contains(&format!("value=\"{escaped}\""))
}

/// `text` as an SQL literal (dollar-quoted, so quotes need no escaping).
fn quoted(text: &str) -> String {
    assert!(!text.contains("$t$"));
    format!("$t${text}$t$")
}

#[tokio::test]
async fn free_text_with_markup_is_stored_as_typed_and_shown_escaped() {
    let desk = Desk::open().await;
    let mut report = Report::default();
    let stored_query = |line: &FreeText| {
        line.stored
            .replace("{markup}", &quoted(MARKUP))
            .replace("{word2}", &quoted(MARKUP_WORD_2))
            .replace("{word}", &quoted(MARKUP_WORD))
    };
    for line in FREE_TEXT {
        let case = line.route;
        let path = desk.fill_path(line.path);
        let before = id(&desk.app, &stored_query(line));
        let answer = match &line.send {
            Body::Form(form) => {
                let form: Vec<(String, String)> = form
                    .iter()
                    .map(|(name, value)| (desk.fill(name), desk.fill(value)))
                    .collect();
                desk.post_form(&path, FORM_TYPE, encode(&form, &desk.csrf), false)
                    .await
            }
            Body::Json(body) => {
                let method = line.route.split(' ').next().unwrap_or("POST");
                desk.call_api(method, &path, serde_json::to_vec(&body()).unwrap())
                    .await
            }
        };
        if !(answer.status.is_success() || answer.status.is_redirection()) {
            report.fail(
                case,
                format!(
                    "refused markup in free text: {} {}",
                    answer.status,
                    clip(&text_of(&answer.body))
                ),
            );
            continue;
        }
        if let Some(marker) = raw_markup(&answer.body) {
            report.fail(case, format!("the answer holds raw markup {marker:?}"));
        }
        if id(&desk.app, &stored_query(line)) <= before {
            report.fail(case, "the text was not stored as typed".to_owned());
        }
        for (page_path, visible) in line.shown {
            let page_path = desk.fill_path(page_path);
            let visible = desk.fill(visible);
            let page = desk.page(&page_path).await;
            let case = format!("{case}, then GET {page_path}");
            if page.status != StatusCode::OK {
                report.fail(&case, format!("answered {}", page.status));
            }
            if let Some(marker) = raw_markup(&page.body) {
                report.fail(&case, format!("the page holds raw markup {marker:?}"));
            }
            if !shows(&page.body, &visible) {
                report.fail(&case, format!("the page does not show {visible:?}"));
            }
        }
    }
    // The emails these made (the backorder notice to a customer with markup in the name,
    // the rep's own message) escape it in their HTML part too.
    let bodies: Vec<String> = diesel::dsl::sql::<Text>("SELECT body_html FROM messages")
        .load(&mut desk.app.conn())
        .expect("the emails");
    for body in &bodies {
        if let Some(marker) = raw_markup(body) {
            report.fail(
                "emails",
                format!("an HTML part holds raw markup {marker:?}"),
            );
        }
    }
    let escaped = bodies
        .iter()
        .filter(|body| text_of(body).contains(MARKUP))
        .count();
    if escaped < 2 {
        report.fail(
            "emails",
            format!("{escaped} emails show the markup as text (wanted the notice and the rep's)"),
        );
    }
    report.assert_clean(FREE_TEXT.len());
}
