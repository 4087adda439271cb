//! The audit log in sentences: "Cancelled 2 units of order SO-1042 (customer changed
//! their mind)" instead of `order_line_cancelled` and a JSON blob. Pure: reads an entry's
//! action, record and the data it kept.

use serde_json::Value;

/// What kind of change an action is, for the filter's choices.
pub fn action_label(action: &str) -> String {
    let known = match action {
        "order_placed" => "Order placed",
        "order_shipped" => "Order shipped",
        "order_line_cancelled" => "Order line cancelled",
        "customer_choice" => "Customer's choice",
        "alternative_taken" => "Alternative taken",
        "note_added" => "Note added",
        "eta_update_queued" => "ETA update emailed",
        "stock_adjusted" => "Stock adjusted",
        "products_imported" => "Products imported",
        "product_created" => "Product created",
        "product_updated" => "Product updated",
        "purchase_order_created" => "Purchase order created",
        "purchase_order_received" => "Purchase order received",
        "purchase_order_date_changed" => "Purchase order date changed",
        "purchase_order_cancelled" => "Purchase order cancelled",
        "purchase_order_sent" => "Purchase order emailed to its supplier",
        "purchase_order_confirmed" => "Purchase order date confirmed by its supplier",
        "message_retried" => "Email retried",
        "message_composed" => "Email written by a rep",
        "bulk_message_queued" => "Update to everyone waiting",
        "restock_subscription_created" => "Notify-me sign-up",
        "restock_subscription_removed" => "Notify-me sign-up removed",
        "restock_unsubscribed" => "Notify-me unsubscribed",
        "discount_proposed" => "Discount proposed",
        "discount_approved" => "Discount approved",
        "discount_rejected" => "Discount rejected",
        "discount_withdrawn" => "Discount withdrawn",
        "api_token_created" => "API token created",
        "api_token_revoked" => "API token revoked",
        "login" => "Signed in",
        "login_failed" => "Sign-in failed",
        "user_added" => "User added",
        "user_role_changed" => "Role changed",
        "user_disabled" => "User disabled",
        "signed_out_everywhere" => "Signed out everywhere",
        "user_password_changed" => "Password changed",
        "user_enabled" => "User enabled",
        "settings_changed" => "Settings changed",
        "day_reviewed" => "Day reviewed",
        _ => "",
    };
    if known.is_empty() {
        let words = action.replace('_', " ");
        let mut chars = words.chars();
        match chars.next() {
            Some(first) => first.to_uppercase().chain(chars).collect(),
            None => String::new(),
        }
    } else {
        known.to_owned()
    }
}

/// What kind of record an entry is about, for the filter's choices.
pub fn entity_label(entity: &str) -> &'static str {
    match entity {
        "order" => "Orders",
        "product" => "Products",
        "purchase_order" => "Purchase orders",
        "message" => "Emails",
        "restock_subscription" => "Notify-me sign-ups",
        "discount_proposal" => "Discounts",
        "api_token" => "API tokens",
        "user" => "Users",
        "settings" => "Settings",
        "day_review" => "Daily reviews",
        _ => "Other",
    }
}

fn text<'a>(value: &'a Option<Value>, key: &str) -> Option<&'a str> {
    value.as_ref()?.get(key)?.as_str()
}

fn number(value: &Option<Value>, key: &str) -> Option<i64> {
    value.as_ref()?.get(key)?.as_i64()
}

fn units(n: i64) -> String {
    if n == 1 {
        "1 unit".to_owned()
    } else {
        format!("{n} units")
    }
}

/// "“old” to “new”" for a value that changed, in the value's own words.
fn shown(value: &Value) -> String {
    match value {
        Value::Bool(true) => "on".to_owned(),
        Value::Bool(false) => "off".to_owned(),
        Value::Null => "none".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The settings' names as the Settings page shows them.
fn setting_name(key: &str) -> String {
    match key {
        "shop_name" => "shop name".to_owned(),
        "currency" => "currency".to_owned(),
        "queue_tier_first" => "serve higher tiers first".to_owned(),
        "queue_lapsing_first" => "serve lapsing authorizations first".to_owned(),
        "handling_days" => "handling days".to_owned(),
        "eta_worst_percentile" => "how sure the date told must be (percent)".to_owned(),
        "delay_discount_percent" => "delay discount (percent)".to_owned(),
        "delay_discount_after_days" => "delay discount after (days late)".to_owned(),
        "expiry_limit_days" => "waiting limit (days)".to_owned(),
        "expiry_offers_cancel" => "offer to cancel long waits".to_owned(),
        "status_update_after_days" => "status update after (days without news)".to_owned(),
        "placed_at_max_age_days" => "refuse orders placed more than (days) ago".to_owned(),
        "eta_update_window_hours" => {
            "at most one date-change email per order in (hours)".to_owned()
        }
        "bulk_cancel_max_lines" => "bulk cancel without a manager (lines)".to_owned(),
        other => other.replace('_', " "),
    }
}

/// The settings that changed: "handling days 1 to 2; currency EUR to USD".
fn changed_settings(before: &Option<Value>, after: &Option<Value>) -> String {
    let (Some(Value::Object(before)), Some(Value::Object(after))) = (before, after) else {
        return String::new();
    };
    let changes: Vec<String> = after
        .iter()
        .filter(|(key, value)| before.get(*key) != Some(*value))
        .map(|(key, value)| {
            let was = before
                .get(key)
                .map(shown)
                .unwrap_or_else(|| "none".to_owned());
            format!("{} {was} to {}", setting_name(key), shown(value))
        })
        .collect();
    if changes.is_empty() {
        "nothing changed".to_owned()
    } else {
        changes.join("; ")
    }
}

/// One audit entry as a sentence.
pub fn describe(
    action: &str,
    entity_id: Option<&str>,
    before: &Option<Value>,
    after: &Option<Value>,
) -> String {
    let id = entity_id.unwrap_or("");
    match action {
        "order_placed" => match number(after, "lines") {
            Some(n) => format!(
                "Order {id} placed with {n} {}",
                if n == 1 { "line" } else { "lines" }
            ),
            None => format!("Order {id} placed"),
        },
        "order_shipped" => {
            let parts: Vec<String> = after
                .as_ref()
                .and_then(|a| a.get("lines"))
                .and_then(Value::as_array)
                .map(|lines| {
                    lines
                        .iter()
                        .filter_map(|l| {
                            let pair = l.as_array()?;
                            Some(format!(
                                "{} × {}",
                                pair.get(1)?.as_i64()?,
                                pair.first()?.as_str()?
                            ))
                        })
                        .collect()
                })
                .unwrap_or_default();
            if parts.is_empty() {
                format!("Shipped order {id}")
            } else {
                format!("Shipped {} of order {id}", parts.join(", "))
            }
        }
        "order_line_cancelled" => {
            let what = number(after, "units")
                .map(units)
                .unwrap_or_else(|| "the open units".to_owned());
            match text(after, "reason") {
                Some(reason) => format!("Cancelled {what} of order {id} ({reason})"),
                None => format!("Cancelled {what} of order {id}"),
            }
        }
        "alternative_taken" => match text(after, "outcome") {
            Some(outcome) => format!("Order {id}: the customer took an alternative: {outcome}"),
            None => format!("Order {id}: the customer took an alternative"),
        },
        "customer_choice" => {
            let choice =
                crate::services::orders::choices::label(text(after, "choice").unwrap_or("wait"));
            let how = if text(after, "channel") == Some("rep") {
                "recorded by a rep"
            } else {
                "by the link in an email"
            };
            match text(after, "outcome") {
                Some(outcome) => {
                    format!("Order {id}: the customer chose “{choice}” ({how}); {outcome}")
                }
                None => format!("Order {id}: the customer chose “{choice}” ({how})"),
            }
        }
        "note_added" => match text(after, "note") {
            Some(note) => format!("Note on order {id}: “{note}”"),
            None => format!("Note on order {id}"),
        },
        "eta_update_queued" => format!("Emailed the customer of order {id} their current dates"),
        "stock_adjusted" => {
            let change = number(after, "change").unwrap_or(0);
            let signed = if change > 0 {
                format!("+{change}")
            } else {
                change.to_string()
            };
            let on_hand = number(after, "on_hand")
                .map(|n| format!(", now {n} on hand"))
                .unwrap_or_default();
            match text(after, "note").filter(|n| !n.is_empty()) {
                Some(note) => format!("Stock of {id} adjusted by {signed} ({note}){on_hand}"),
                None => format!("Stock of {id} adjusted by {signed}{on_hand}"),
            }
        }
        "products_imported" => format!(
            "Imported products: {} created, {} updated",
            number(after, "created").unwrap_or(0),
            number(after, "updated").unwrap_or(0)
        ),
        "product_created" => format!("Product {id} created"),
        "product_updated" => format!("Product {id} updated"),
        "purchase_order_created" => match text(after, "expected_on") {
            Some(on) => format!("Purchase order {id} created, expected {on}"),
            None => format!("Purchase order {id} created"),
        },
        "purchase_order_received" => {
            let received: i64 = after
                .as_ref()
                .and_then(|a| a.get("received"))
                .and_then(Value::as_array)
                .map(|lines| {
                    lines
                        .iter()
                        .filter_map(|l| l.get("quantity").and_then(Value::as_i64))
                        .sum()
                })
                .unwrap_or(0);
            if received > 0 {
                format!("Received {} on purchase order {id}", units(received))
            } else {
                format!("Received goods on purchase order {id}")
            }
        }
        "purchase_order_date_changed" => format!(
            "Purchase order {id} now expected {} (was {}){}",
            text(after, "expected_on").unwrap_or("?"),
            text(before, "expected_on").unwrap_or("?"),
            match (text(after, "by"), text(after, "note")) {
                (Some("supplier"), Some(note)) => format!(", given by the supplier: “{note}”"),
                (Some("supplier"), None) => ", given by the supplier".to_owned(),
                _ => String::new(),
            }
        ),
        "purchase_order_sent" => format!(
            "Purchase order {id} emailed to {}",
            text(after, "sent_to").unwrap_or("its supplier")
        ),
        "purchase_order_confirmed" => format!(
            "The supplier confirmed purchase order {id} for {}",
            text(after, "expected_on").unwrap_or("?")
        ),
        "purchase_order_cancelled" => format!("Purchase order {id} cancelled"),
        "message_retried" => format!("Email {id} put back in the queue to try again"),
        "message_composed" => match text(after, "to") {
            Some(to) => format!("Wrote an email to {to}"),
            None => "Wrote an email".to_owned(),
        },
        "bulk_message_queued" => format!(
            "Emailed everyone waiting on {id} ({} orders)",
            number(after, "orders").unwrap_or(0)
        ),
        "restock_subscription_created" => format!(
            "{} signed up to hear when {} is back",
            text(after, "email").unwrap_or("a customer"),
            text(after, "sku").unwrap_or("a product")
        ),
        "restock_subscription_removed" => format!(
            "Removed {}'s sign-up for {}",
            text(before, "email").unwrap_or("a customer"),
            text(before, "sku").unwrap_or("a product")
        ),
        "restock_unsubscribed" => "A customer stopped back-in-stock emails".to_owned(),
        "discount_proposed" => {
            let value = number(after, "value").unwrap_or(0);
            let what = match text(after, "kind") {
                Some("percent") => format!("{value}% off"),
                Some("amount") => format!("{} off", crate::format::money(value, "").trim_end()),
                _ => "free shipping".to_owned(),
            };
            format!(
                "Proposed {what} for order {} ({})",
                text(after, "order").unwrap_or("?"),
                text(after, "reason").unwrap_or("no reason given")
            )
        }
        "discount_approved" => match text(after, "coupon") {
            Some(code) => format!("Approved discount {id}: coupon {code}"),
            None => format!("Approved discount {id}"),
        },
        "discount_rejected" => format!("Rejected discount {id}"),
        "discount_withdrawn" => format!(
            "Withdrew discount {id} for order {} ({})",
            text(after, "order").unwrap_or("?"),
            text(after, "reason").unwrap_or("nothing is left to ship")
        ),
        "api_token_created" => format!(
            "Created the API token “{}”",
            text(after, "name").unwrap_or("?")
        ),
        "api_token_revoked" => format!("Revoked API token {id}"),
        "login" => "Signed in".to_owned(),
        "login_failed" => format!(
            "Failed sign-in for {}",
            text(after, "email").unwrap_or("an unknown account")
        ),
        "user_added" => format!(
            "Added {} ({}) as {}",
            text(after, "name").unwrap_or("a user"),
            text(after, "email").unwrap_or("?"),
            text(after, "role").unwrap_or("?")
        ),
        "user_role_changed" => format!(
            "Changed user {id}'s role from {} to {}",
            text(before, "role").unwrap_or("?"),
            text(after, "role").unwrap_or("?")
        ),
        "user_disabled" => format!("Disabled user {id}"),
        "signed_out_everywhere" => format!(
            "Signed out everywhere ({} sessions ended)",
            number(after, "sessions_ended").unwrap_or(0)
        ),
        "user_password_changed" => format!(
            "Set a new password for user {id} ({} sessions ended)",
            number(after, "sessions_ended").unwrap_or(0)
        ),
        "user_enabled" => format!("Enabled user {id}"),
        "settings_changed" => format!("Changed settings: {}", changed_settings(before, after)),
        "day_reviewed" => format!("Marked {id} reviewed"),
        other => {
            let label = action_label(other);
            if id.is_empty() {
                label
            } else {
                format!("{label}: {id}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn entries_read_as_sentences_without_json() {
        let cancelled = describe(
            "order_line_cancelled",
            Some("SO-1042"),
            &None,
            &Some(json!({"line": 7, "units": 2, "released": 0, "reason": "changed their mind"})),
        );
        assert_eq!(
            cancelled,
            "Cancelled 2 units of order SO-1042 (changed their mind)"
        );
        let choice = describe(
            "customer_choice",
            Some("SO-1"),
            &None,
            &Some(json!({"choice": "cancel", "outcome": "2 units cancelled", "channel": "rep"})),
        );
        assert_eq!(
            choice,
            "Order SO-1: the customer chose “Cancel the waiting items” (recorded by a rep); 2 units cancelled"
        );
        let settings = describe(
            "settings_changed",
            None,
            &Some(json!({"handling_days": 1, "currency": "EUR"})),
            &Some(json!({"handling_days": 2, "currency": "EUR"})),
        );
        assert_eq!(settings, "Changed settings: handling days 1 to 2");
        for text in [cancelled, choice, settings] {
            assert!(!text.contains('{') && !text.contains('_'), "{text}");
        }
    }

    #[test]
    fn a_suppliers_answers_read_as_its_own() {
        let moved = describe(
            "purchase_order_date_changed",
            Some("PO-7"),
            &Some(json!({"expected_on": "2026-12-10"})),
            &Some(json!({"expected_on": "2026-12-24", "by": "supplier", "note": "Port strike"})),
        );
        assert_eq!(
            moved,
            "Purchase order PO-7 now expected 2026-12-24 (was 2026-12-10), given by the supplier: “Port strike”"
        );
        let sent = describe(
            "purchase_order_sent",
            Some("PO-7"),
            &None,
            &Some(json!({"sent_to": "orders@acme.example.com"})),
        );
        assert_eq!(
            sent,
            "Purchase order PO-7 emailed to orders@acme.example.com"
        );
        let confirmed = describe(
            "purchase_order_confirmed",
            Some("PO-7"),
            &None,
            &Some(json!({"expected_on": "2026-12-10", "note": null})),
        );
        assert_eq!(
            confirmed,
            "The supplier confirmed purchase order PO-7 for 2026-12-10"
        );
    }

    #[test]
    fn unknown_actions_still_read() {
        assert_eq!(action_label("something_new"), "Something new");
        assert_eq!(
            describe("something_new", Some("X"), &None, &None),
            "Something new: X"
        );
    }
}
