// @generated automatically by Diesel CLI.

diesel::table! {
    api_tokens (id) {
        id -> Int8,
        name -> Text,
        token_hash -> Text,
        created_by -> Nullable<Int8>,
        created_at -> Timestamptz,
        last_used_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    app_secrets (name) {
        name -> Text,
        value -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    audit_log (id) {
        id -> Int8,
        user_id -> Nullable<Int8>,
        actor -> Text,
        action -> Text,
        entity -> Text,
        entity_id -> Nullable<Text>,
        before -> Nullable<Jsonb>,
        after -> Nullable<Jsonb>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    customers (id) {
        id -> Int8,
        email -> Text,
        name -> Text,
        tier -> Int2,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    day_reviews (day) {
        day -> Date,
        reviewed_by -> Int8,
        reviewed_at -> Timestamptz,
    }
}

diesel::table! {
    discount_proposals (id) {
        id -> Int8,
        order_id -> Int8,
        kind -> Text,
        value -> Int4,
        reason -> Text,
        status -> Text,
        proposed_by -> Nullable<Int8>,
        decided_by -> Nullable<Int8>,
        decided_at -> Nullable<Timestamptz>,
        decision_note -> Nullable<Text>,
        coupon_code -> Nullable<Text>,
        policy_key -> Nullable<Text>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    link_uses (nonce) {
        nonce -> Text,
        order_line_id -> Nullable<Int8>,
        used_at -> Timestamptz,
    }
}

diesel::table! {
    login_attempts (id) {
        id -> Int8,
        email -> Text,
        ip -> Text,
        succeeded -> Bool,
        attempted_at -> Timestamptz,
    }
}

diesel::table! {
    messages (id) {
        id -> Int8,
        kind -> Text,
        idempotency_key -> Text,
        order_id -> Nullable<Int8>,
        customer_id -> Nullable<Int8>,
        recipient -> Text,
        subject -> Text,
        body_text -> Text,
        body_html -> Text,
        status -> Text,
        attempts -> Int4,
        next_attempt_at -> Timestamptz,
        last_error -> Nullable<Text>,
        smtp_response -> Nullable<Text>,
        sent_at -> Nullable<Timestamptz>,
        created_by -> Nullable<Int8>,
        created_at -> Timestamptz,
        attachment_name -> Nullable<Text>,
        attachment_type -> Nullable<Text>,
        attachment_body -> Nullable<Text>,
        facts -> Nullable<Jsonb>,
    }
}

diesel::table! {
    notes (id) {
        id -> Int8,
        order_id -> Int8,
        user_id -> Nullable<Int8>,
        body -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    order_line_eta_changes (id) {
        id -> Int8,
        order_line_id -> Int8,
        eta_likely -> Nullable<Date>,
        eta_worst -> Nullable<Date>,
        eta_is_estimate -> Bool,
        reason -> Nullable<Text>,
        changed_at -> Timestamptz,
    }
}

diesel::table! {
    order_lines (id) {
        id -> Int8,
        order_id -> Int8,
        product_id -> Int8,
        customer_id -> Int8,
        placed_at -> Timestamptz,
        qty -> Int4,
        allocated -> Int4,
        shipped -> Int4,
        cancelled -> Int4,
        unit_price_cents -> Int8,
        promised_on -> Nullable<Date>,
        eta_likely -> Nullable<Date>,
        eta_worst -> Nullable<Date>,
        eta_is_estimate -> Bool,
        eta_reason -> Nullable<Text>,
        queue_position -> Nullable<Int4>,
        customer_choice -> Text,
        waiting_since -> Nullable<Timestamptz>,
        waiting_ended_at -> Nullable<Timestamptz>,
        completed_at -> Nullable<Timestamptz>,
        last_notified_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        waiting_ended_by -> Nullable<Text>,
        waiting -> Int4,
        lapses_on -> Nullable<Date>,
        wait_limit_on -> Nullable<Date>,
    }
}

diesel::table! {
    orders (id) {
        id -> Int8,
        number -> Text,
        customer_id -> Int8,
        placed_at -> Timestamptz,
        payment_authorized_until -> Nullable<Date>,
        payment_state -> Text,
        max_wait_until -> Nullable<Date>,
        request_hash -> Nullable<Text>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    products (id) {
        id -> Int8,
        sku -> Text,
        name -> Text,
        supplier_id -> Nullable<Int8>,
        on_hand -> Int4,
        allocated -> Int4,
        reorder_point -> Int4,
        safety_stock -> Int4,
        backorderable -> Bool,
        unit_price_cents -> Int8,
        waiting_units -> Int4,
        waiting_lines -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        preorder_release_on -> Nullable<Date>,
    }
}

diesel::table! {
    product_alternatives (product_id, alternative_id) {
        product_id -> Int8,
        alternative_id -> Int8,
        position -> Int4,
    }
}

diesel::table! {
    product_suppliers (product_id, supplier_id) {
        product_id -> Int8,
        supplier_id -> Int8,
        lead_time_days -> Nullable<Int4>,
        unit_cost_cents -> Nullable<Int8>,
        position -> Int4,
    }
}

diesel::table! {
    purchase_order_date_changes (id) {
        id -> Int8,
        purchase_order_id -> Int8,
        old_expected_on -> Date,
        new_expected_on -> Date,
        changed_by -> Nullable<Int8>,
        changed_at -> Timestamptz,
        by_supplier -> Bool,
        note -> Nullable<Text>,
    }
}

diesel::table! {
    purchase_order_lines (id) {
        id -> Int8,
        purchase_order_id -> Int8,
        product_id -> Int8,
        qty_ordered -> Int4,
        qty_received -> Int4,
    }
}

diesel::table! {
    purchase_order_receipts (id) {
        id -> Int8,
        purchase_order_id -> Int8,
        idempotency_key -> Nullable<Text>,
        received_on -> Date,
        expected_on -> Date,
        created_by -> Nullable<Int8>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    purchase_order_sends (id) {
        id -> Int8,
        purchase_order_id -> Int8,
        sent_to -> Text,
        token_hash -> Text,
        message_id -> Nullable<Int8>,
        sent_by -> Nullable<Int8>,
        sent_at -> Timestamptz,
    }
}

diesel::table! {
    purchase_orders (id) {
        id -> Int8,
        reference -> Text,
        supplier_id -> Int8,
        status -> Text,
        ordered_on -> Date,
        expected_on -> Date,
        received_on -> Nullable<Date>,
        created_by -> Nullable<Int8>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    receipt_lines (id) {
        id -> Int8,
        receipt_id -> Int8,
        purchase_order_line_id -> Int8,
        quantity -> Int4,
    }
}

diesel::table! {
    restock_subscriptions (id) {
        id -> Int8,
        product_id -> Int8,
        email -> Text,
        created_at -> Timestamptz,
        notified_at -> Nullable<Timestamptz>,
        unsubscribed_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    review_snapshots (day) {
        day -> Date,
        open_lines -> Int8,
        waiting_units -> Int8,
        value_waiting_cents -> Int8,
        overdue_lines -> Int8,
        median_age_days -> Nullable<Float8>,
        oldest_age_days -> Nullable<Int8>,
        taken_at -> Timestamptz,
    }
}

diesel::table! {
    shipment_lines (id) {
        id -> Int8,
        shipment_id -> Int8,
        order_line_id -> Int8,
        quantity -> Int4,
    }
}

diesel::table! {
    shipments (id) {
        id -> Int8,
        order_id -> Int8,
        is_partial -> Bool,
        created_by -> Nullable<Int8>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    shop_settings (id) {
        id -> Bool,
        shop_name -> Text,
        currency -> Text,
        queue_tier_first -> Bool,
        queue_lapsing_first -> Bool,
        handling_days -> Int4,
        eta_samples -> Int4,
        eta_worst_percentile -> Int4,
        delay_discount_percent -> Int4,
        delay_discount_after_days -> Int4,
        expiry_limit_days -> Int4,
        expiry_offers_cancel -> Bool,
        status_update_after_days -> Int4,
        updated_at -> Timestamptz,
        placed_at_max_age_days -> Int4,
        eta_update_window_hours -> Int4,
        bulk_cancel_max_lines -> Int4,
    }
}

diesel::table! {
    stock_movements (id) {
        id -> Int8,
        product_id -> Int8,
        reason -> Text,
        on_hand_delta -> Int4,
        allocated_delta -> Int4,
        reference -> Nullable<Text>,
        note -> Nullable<Text>,
        order_line_id -> Nullable<Int8>,
        user_id -> Nullable<Int8>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    storefront_skus (platform, storefront_sku) {
        platform -> Text,
        storefront_sku -> Text,
        product_id -> Int8,
        mapped_by -> Nullable<Int8>,
        mapped_at -> Timestamptz,
    }
}

diesel::table! {
    suppliers (id) {
        id -> Int8,
        name -> Text,
        email -> Nullable<Text>,
        lead_time_days -> Nullable<Int4>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    supplier_answers (id) {
        id -> Int8,
        purchase_order_id -> Int8,
        send_id -> Int8,
        answer -> Text,
        expected_on -> Date,
        note -> Nullable<Text>,
        answered_at -> Timestamptz,
    }
}

diesel::table! {
    swaps (id) {
        id -> Int8,
        order_id -> Int8,
        from_line_id -> Int8,
        to_line_id -> Int8,
        units -> Int4,
        price_difference_cents -> Int8,
        channel -> Text,
        created_by -> Nullable<Int8>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    user_sessions (token_hash) {
        token_hash -> Text,
        user_id -> Int8,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
    }
}

diesel::table! {
    users (id) {
        id -> Int8,
        email -> Text,
        name -> Text,
        role -> Text,
        password_hash -> Text,
        disabled -> Bool,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Int8,
        platform -> Text,
        delivery_key -> Text,
        topic -> Text,
        status -> Text,
        order_number -> Nullable<Text>,
        outcome -> Text,
        payload -> Nullable<Text>,
        unknown_skus -> Array<Text>,
        received_at -> Timestamptz,
        processed_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    webhook_secrets (platform) {
        platform -> Text,
        secret -> Text,
        updated_by -> Nullable<Int8>,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    told_dates (id) {
        id -> Int8,
        order_line_id -> Int8,
        told_on -> Date,
        message_id -> Nullable<Int8>,
        told_at -> Timestamptz,
    }
}

diesel::table! {
    eta_updates_pending (order_id) {
        order_id -> Int8,
        first_changed_at -> Timestamptz,
        last_changed_at -> Timestamptz,
        due_at -> Timestamptz,
    }
}

diesel::table! {
    eta_update_causes (order_line_id) {
        order_line_id -> Int8,
        order_id -> Int8,
        cause -> Text,
        reference -> Nullable<Text>,
        changed_at -> Timestamptz,
    }
}

diesel::joinable!(api_tokens -> users (created_by));
diesel::joinable!(audit_log -> users (user_id));
diesel::joinable!(day_reviews -> users (reviewed_by));
diesel::joinable!(discount_proposals -> orders (order_id));
diesel::joinable!(messages -> customers (customer_id));
diesel::joinable!(messages -> orders (order_id));
diesel::joinable!(messages -> users (created_by));
diesel::joinable!(notes -> orders (order_id));
diesel::joinable!(notes -> users (user_id));
diesel::joinable!(order_line_eta_changes -> order_lines (order_line_id));
diesel::joinable!(order_lines -> customers (customer_id));
diesel::joinable!(order_lines -> orders (order_id));
diesel::joinable!(order_lines -> products (product_id));
diesel::joinable!(orders -> customers (customer_id));
diesel::joinable!(product_suppliers -> products (product_id));
diesel::joinable!(product_suppliers -> suppliers (supplier_id));
diesel::joinable!(products -> suppliers (supplier_id));
diesel::joinable!(purchase_order_date_changes -> purchase_orders (purchase_order_id));
diesel::joinable!(purchase_order_date_changes -> users (changed_by));
diesel::joinable!(purchase_order_lines -> products (product_id));
diesel::joinable!(purchase_order_lines -> purchase_orders (purchase_order_id));
diesel::joinable!(purchase_order_receipts -> purchase_orders (purchase_order_id));
diesel::joinable!(purchase_order_receipts -> users (created_by));
diesel::joinable!(purchase_order_sends -> messages (message_id));
diesel::joinable!(purchase_order_sends -> purchase_orders (purchase_order_id));
diesel::joinable!(purchase_order_sends -> users (sent_by));
diesel::joinable!(purchase_orders -> suppliers (supplier_id));
diesel::joinable!(purchase_orders -> users (created_by));
diesel::joinable!(receipt_lines -> purchase_order_lines (purchase_order_line_id));
diesel::joinable!(receipt_lines -> purchase_order_receipts (receipt_id));
diesel::joinable!(restock_subscriptions -> products (product_id));
diesel::joinable!(shipment_lines -> order_lines (order_line_id));
diesel::joinable!(shipment_lines -> shipments (shipment_id));
diesel::joinable!(shipments -> orders (order_id));
diesel::joinable!(shipments -> users (created_by));
diesel::joinable!(stock_movements -> products (product_id));
diesel::joinable!(storefront_skus -> products (product_id));
diesel::joinable!(stock_movements -> users (user_id));
diesel::joinable!(supplier_answers -> purchase_order_sends (send_id));
diesel::joinable!(supplier_answers -> purchase_orders (purchase_order_id));
diesel::joinable!(swaps -> orders (order_id));
diesel::joinable!(swaps -> users (created_by));
diesel::joinable!(user_sessions -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    api_tokens,
    app_secrets,
    audit_log,
    customers,
    day_reviews,
    discount_proposals,
    eta_update_causes,
    eta_updates_pending,
    link_uses,
    login_attempts,
    messages,
    notes,
    order_line_eta_changes,
    order_lines,
    orders,
    product_alternatives,
    product_suppliers,
    products,
    purchase_order_date_changes,
    purchase_order_lines,
    purchase_order_receipts,
    purchase_order_sends,
    purchase_orders,
    receipt_lines,
    restock_subscriptions,
    review_snapshots,
    shipment_lines,
    shipments,
    shop_settings,
    stock_movements,
    storefront_skus,
    supplier_answers,
    suppliers,
    swaps,
    told_dates,
    user_sessions,
    users,
    webhook_deliveries,
    webhook_secrets,
);
