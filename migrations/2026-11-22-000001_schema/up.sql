-- The whole data model of Backorder Desk (DESIGN §3). Quantities are checked here as well
-- as in the engine, so no code path can store a negative stock or an over-allocation.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- Settings the shop can change from the admin page: one row.
CREATE TABLE shop_settings (
    id BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (id),
    shop_name TEXT NOT NULL DEFAULT 'Backorder Desk demo shop',
    currency TEXT NOT NULL DEFAULT 'EUR' CHECK (length(currency) = 3),
    queue_tier_first BOOLEAN NOT NULL DEFAULT FALSE,
    queue_lapsing_first BOOLEAN NOT NULL DEFAULT FALSE,
    handling_days INTEGER NOT NULL DEFAULT 1 CHECK (handling_days BETWEEN 0 AND 60),
    eta_samples INTEGER NOT NULL DEFAULT 300 CHECK (eta_samples BETWEEN 1 AND 5000),
    eta_worst_percentile INTEGER NOT NULL DEFAULT 90 CHECK (eta_worst_percentile BETWEEN 50 AND 99),
    delay_discount_percent INTEGER NOT NULL DEFAULT 10 CHECK (delay_discount_percent BETWEEN 0 AND 100),
    delay_discount_after_days INTEGER NOT NULL DEFAULT 7 CHECK (delay_discount_after_days >= 0),
    expiry_limit_days INTEGER NOT NULL DEFAULT 60 CHECK (expiry_limit_days > 0),
    expiry_offers_cancel BOOLEAN NOT NULL DEFAULT FALSE,
    status_update_after_days INTEGER NOT NULL DEFAULT 7 CHECK (status_update_after_days > 0),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
INSERT INTO shop_settings DEFAULT VALUES;

-- Secrets generated on first run when none is configured (so every instance shares them).
CREATE TABLE app_secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id BIGSERIAL PRIMARY KEY,
    email TEXT NOT NULL,
    name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    role TEXT NOT NULL CHECK (role IN ('rep', 'manager', 'admin')),
    password_hash TEXT NOT NULL,
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    -- Bumped to end every session of the user (disable, logout everywhere).
    session_epoch INTEGER NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE login_attempts (
    id BIGSERIAL PRIMARY KEY,
    email TEXT NOT NULL,
    ip TEXT NOT NULL,
    succeeded BOOLEAN NOT NULL,
    attempted_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX login_attempts_email_idx ON login_attempts (lower(email), attempted_at);
CREATE INDEX login_attempts_ip_idx ON login_attempts (ip, attempted_at);

CREATE TABLE api_tokens (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    token_hash TEXT NOT NULL UNIQUE,
    created_by BIGINT REFERENCES users (id),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_used_at TIMESTAMPTZ,
    revoked_at TIMESTAMPTZ
);

CREATE TABLE suppliers (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 200),
    email TEXT,
    lead_time_days INTEGER CHECK (lead_time_days >= 0),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE products (
    id BIGSERIAL PRIMARY KEY,
    sku TEXT NOT NULL UNIQUE CHECK (length(sku) BETWEEN 1 AND 64),
    name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 300),
    supplier_id BIGINT REFERENCES suppliers (id),
    on_hand INTEGER NOT NULL DEFAULT 0 CHECK (on_hand >= 0),
    allocated INTEGER NOT NULL DEFAULT 0 CHECK (allocated >= 0),
    reorder_point INTEGER NOT NULL DEFAULT 0 CHECK (reorder_point >= 0),
    safety_stock INTEGER NOT NULL DEFAULT 0 CHECK (safety_stock >= 0),
    backorderable BOOLEAN NOT NULL DEFAULT TRUE,
    unit_price_cents BIGINT NOT NULL DEFAULT 0 CHECK (unit_price_cents >= 0),
    -- Kept up to date in the transactions that change the queue, so pages need no aggregate.
    waiting_units INTEGER NOT NULL DEFAULT 0 CHECK (waiting_units >= 0),
    waiting_lines INTEGER NOT NULL DEFAULT 0 CHECK (waiting_lines >= 0),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT products_allocated_within_on_hand CHECK (allocated <= on_hand)
);
CREATE INDEX products_supplier_idx ON products (supplier_id);
CREATE INDEX products_sku_prefix_idx ON products (lower(sku) text_pattern_ops);
CREATE INDEX products_name_trgm_idx ON products USING gin (lower(name) gin_trgm_ops);
CREATE INDEX products_sku_trgm_idx ON products USING gin (lower(sku) gin_trgm_ops);
CREATE INDEX products_waiting_idx ON products (waiting_lines DESC, id) WHERE waiting_lines > 0;

-- The inventory ledger: on_hand and allocated are the running sums of these deltas.
CREATE TABLE stock_movements (
    id BIGSERIAL PRIMARY KEY,
    product_id BIGINT NOT NULL REFERENCES products (id),
    reason TEXT NOT NULL CHECK (reason IN ('receipt', 'adjustment', 'allocation', 'release', 'shipment')),
    on_hand_delta INTEGER NOT NULL,
    allocated_delta INTEGER NOT NULL,
    reference TEXT,
    note TEXT,
    order_line_id BIGINT,
    user_id BIGINT REFERENCES users (id),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX stock_movements_product_idx ON stock_movements (product_id, id DESC);
CREATE INDEX stock_movements_day_idx ON stock_movements (created_at, reason);

CREATE TABLE purchase_orders (
    id BIGSERIAL PRIMARY KEY,
    reference TEXT NOT NULL UNIQUE CHECK (length(reference) BETWEEN 1 AND 64),
    supplier_id BIGINT NOT NULL REFERENCES suppliers (id),
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'received', 'cancelled')),
    ordered_on DATE NOT NULL DEFAULT CURRENT_DATE,
    expected_on DATE NOT NULL,
    received_on DATE,
    created_by BIGINT REFERENCES users (id),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX purchase_orders_open_idx ON purchase_orders (expected_on) WHERE status = 'open';
CREATE INDEX purchase_orders_supplier_idx ON purchase_orders (supplier_id, status);

CREATE TABLE purchase_order_lines (
    id BIGSERIAL PRIMARY KEY,
    purchase_order_id BIGINT NOT NULL REFERENCES purchase_orders (id) ON DELETE CASCADE,
    product_id BIGINT NOT NULL REFERENCES products (id),
    qty_ordered INTEGER NOT NULL CHECK (qty_ordered > 0),
    qty_received INTEGER NOT NULL DEFAULT 0 CHECK (qty_received >= 0),
    CONSTRAINT purchase_order_lines_received_within_ordered CHECK (qty_received <= qty_ordered),
    UNIQUE (purchase_order_id, product_id)
);
CREATE INDEX purchase_order_lines_incoming_idx ON purchase_order_lines (product_id)
    INCLUDE (purchase_order_id, qty_ordered, qty_received) WHERE qty_received < qty_ordered;

-- Every change of a purchase order's expected date: supplier reliability is read from it.
CREATE TABLE purchase_order_date_changes (
    id BIGSERIAL PRIMARY KEY,
    purchase_order_id BIGINT NOT NULL REFERENCES purchase_orders (id) ON DELETE CASCADE,
    old_expected_on DATE NOT NULL,
    new_expected_on DATE NOT NULL,
    changed_by BIGINT REFERENCES users (id),
    changed_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX purchase_order_date_changes_po_idx ON purchase_order_date_changes (purchase_order_id);

CREATE TABLE purchase_order_receipts (
    id BIGSERIAL PRIMARY KEY,
    purchase_order_id BIGINT NOT NULL REFERENCES purchase_orders (id),
    -- A receipt sent twice (API retry, double-submitted form) is received once.
    idempotency_key TEXT UNIQUE,
    received_on DATE NOT NULL,
    -- The expected date in force when the goods came: slip = received_on - expected_on.
    expected_on DATE NOT NULL,
    created_by BIGINT REFERENCES users (id),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX purchase_order_receipts_po_idx ON purchase_order_receipts (purchase_order_id);

CREATE TABLE receipt_lines (
    id BIGSERIAL PRIMARY KEY,
    receipt_id BIGINT NOT NULL REFERENCES purchase_order_receipts (id) ON DELETE CASCADE,
    purchase_order_line_id BIGINT NOT NULL REFERENCES purchase_order_lines (id),
    quantity INTEGER NOT NULL CHECK (quantity > 0)
);
CREATE INDEX receipt_lines_receipt_idx ON receipt_lines (receipt_id);

CREATE TABLE customers (
    id BIGSERIAL PRIMARY KEY,
    email TEXT NOT NULL,
    name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    tier SMALLINT NOT NULL DEFAULT 0 CHECK (tier BETWEEN 0 AND 9),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX customers_email_key ON customers (lower(email));
CREATE INDEX customers_email_prefix_idx ON customers (lower(email) text_pattern_ops);
CREATE INDEX customers_name_trgm_idx ON customers USING gin (lower(name) gin_trgm_ops);
CREATE INDEX customers_email_trgm_idx ON customers USING gin (lower(email) gin_trgm_ops);

CREATE TABLE orders (
    id BIGSERIAL PRIMARY KEY,
    number TEXT NOT NULL UNIQUE CHECK (length(number) BETWEEN 1 AND 64),
    customer_id BIGINT NOT NULL REFERENCES customers (id),
    placed_at TIMESTAMPTZ NOT NULL,
    payment_authorized_until DATE,
    payment_state TEXT NOT NULL DEFAULT 'authorized'
        CHECK (payment_state IN ('authorized', 'partially_captured', 'captured', 'voided')),
    -- The customer's stated maximum wait (DESIGN §4.10), if any.
    max_wait_until DATE,
    -- sha256 of the API body that created it: the same body again is the same order.
    request_hash TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX orders_customer_idx ON orders (customer_id, placed_at DESC);
CREATE INDEX orders_number_prefix_idx ON orders (lower(number) text_pattern_ops);
CREATE INDEX orders_number_trgm_idx ON orders USING gin (lower(number) gin_trgm_ops);
CREATE INDEX orders_placed_idx ON orders (placed_at);

CREATE TABLE order_lines (
    id BIGSERIAL PRIMARY KEY,
    order_id BIGINT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    product_id BIGINT NOT NULL REFERENCES products (id),
    -- Copied from the order so the queue and the review are served by one index.
    customer_id BIGINT NOT NULL REFERENCES customers (id),
    placed_at TIMESTAMPTZ NOT NULL,
    qty INTEGER NOT NULL CHECK (qty > 0),
    allocated INTEGER NOT NULL DEFAULT 0 CHECK (allocated >= 0),
    shipped INTEGER NOT NULL DEFAULT 0 CHECK (shipped >= 0),
    cancelled INTEGER NOT NULL DEFAULT 0 CHECK (cancelled >= 0),
    unit_price_cents BIGINT NOT NULL CHECK (unit_price_cents >= 0),
    promised_on DATE,
    eta_likely DATE,
    eta_worst DATE,
    eta_is_estimate BOOLEAN NOT NULL DEFAULT FALSE,
    eta_reason TEXT,
    queue_position INTEGER,
    customer_choice TEXT NOT NULL DEFAULT 'wait' CHECK (customer_choice IN ('wait', 'ship_partial', 'cancel')),
    waiting_since TIMESTAMPTZ,
    waiting_ended_at TIMESTAMPTZ,
    completed_at TIMESTAMPTZ,
    last_notified_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT order_lines_quantities_within_qty CHECK (allocated + shipped + cancelled <= qty)
);
CREATE INDEX order_lines_order_idx ON order_lines (order_id);
CREATE INDEX order_lines_product_idx ON order_lines (product_id);
-- Waiting lines are a small share of all lines: partial indexes keep the queue pages cheap.
CREATE INDEX order_lines_waiting_age_idx ON order_lines (placed_at, id)
    WHERE qty > allocated + shipped + cancelled;
CREATE INDEX order_lines_waiting_product_idx ON order_lines (product_id, placed_at, id)
    INCLUDE (qty, allocated, shipped, cancelled) WHERE qty > allocated + shipped + cancelled;
CREATE INDEX order_lines_waiting_promise_idx ON order_lines (promised_on)
    INCLUDE (qty, allocated, shipped, cancelled, unit_price_cents) WHERE qty > allocated + shipped + cancelled;
CREATE INDEX order_lines_waiting_customer_idx ON order_lines (customer_id)
    WHERE qty > allocated + shipped + cancelled;
CREATE INDEX order_lines_waiting_since_idx ON order_lines (waiting_since) WHERE waiting_since IS NOT NULL;
CREATE INDEX order_lines_waiting_ended_idx ON order_lines (waiting_ended_at) WHERE waiting_ended_at IS NOT NULL;
CREATE INDEX order_lines_completed_idx ON order_lines (completed_at) WHERE completed_at IS NOT NULL;

CREATE TABLE order_line_eta_changes (
    id BIGSERIAL PRIMARY KEY,
    order_line_id BIGINT NOT NULL REFERENCES order_lines (id) ON DELETE CASCADE,
    eta_likely DATE,
    eta_worst DATE,
    eta_is_estimate BOOLEAN NOT NULL,
    reason TEXT,
    changed_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX order_line_eta_changes_line_idx ON order_line_eta_changes (order_line_id, id);

CREATE TABLE shipments (
    id BIGSERIAL PRIMARY KEY,
    order_id BIGINT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    is_partial BOOLEAN NOT NULL,
    created_by BIGINT REFERENCES users (id),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX shipments_order_idx ON shipments (order_id);
CREATE INDEX shipments_day_idx ON shipments (created_at);

CREATE TABLE shipment_lines (
    id BIGSERIAL PRIMARY KEY,
    shipment_id BIGINT NOT NULL REFERENCES shipments (id) ON DELETE CASCADE,
    order_line_id BIGINT NOT NULL REFERENCES order_lines (id),
    quantity INTEGER NOT NULL CHECK (quantity > 0)
);
CREATE INDEX shipment_lines_shipment_idx ON shipment_lines (shipment_id);

-- The email outbox (DESIGN §6): rows are queued in the transaction that causes them.
CREATE TABLE messages (
    id BIGSERIAL PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('backorder_notice', 'delay_notice', 'restock', 'shipment',
        'discount_offer', 'cancellation', 'back_in_stock', 'status_update', 'custom')),
    idempotency_key TEXT NOT NULL UNIQUE,
    order_id BIGINT REFERENCES orders (id) ON DELETE SET NULL,
    customer_id BIGINT REFERENCES customers (id),
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    body_text TEXT NOT NULL,
    body_html TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sending', 'sent', 'failed', 'dead')),
    attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_error TEXT,
    smtp_response TEXT,
    sent_at TIMESTAMPTZ,
    created_by BIGINT REFERENCES users (id),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX messages_due_idx ON messages (next_attempt_at) WHERE status = 'queued';
CREATE INDEX messages_order_idx ON messages (order_id, id);
CREATE INDEX messages_status_idx ON messages (status, kind, id DESC);

-- Self-service links are single-use: a used link's nonce is kept here.
CREATE TABLE link_uses (
    nonce TEXT PRIMARY KEY,
    order_line_id BIGINT,
    used_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE discount_proposals (
    id BIGSERIAL PRIMARY KEY,
    order_id BIGINT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('percent', 'amount', 'free_shipping')),
    -- percent: 1..100; amount: cents; free shipping: 0.
    value INTEGER NOT NULL CHECK (value >= 0),
    reason TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'proposed' CHECK (status IN ('proposed', 'approved', 'rejected')),
    proposed_by BIGINT REFERENCES users (id),
    decided_by BIGINT REFERENCES users (id),
    decided_at TIMESTAMPTZ,
    decision_note TEXT,
    coupon_code TEXT UNIQUE,
    -- The delay policy never proposes twice for the same order and delay.
    policy_key TEXT UNIQUE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT discount_percent_range CHECK (kind <> 'percent' OR value BETWEEN 1 AND 100)
);
CREATE INDEX discount_proposals_pending_idx ON discount_proposals (created_at) WHERE status = 'proposed';
CREATE INDEX discount_proposals_order_idx ON discount_proposals (order_id);

CREATE TABLE restock_subscriptions (
    id BIGSERIAL PRIMARY KEY,
    product_id BIGINT NOT NULL REFERENCES products (id),
    email TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    notified_at TIMESTAMPTZ,
    unsubscribed_at TIMESTAMPTZ
);
CREATE UNIQUE INDEX restock_subscriptions_active_key ON restock_subscriptions (product_id, lower(email))
    WHERE notified_at IS NULL AND unsubscribed_at IS NULL;

CREATE TABLE notes (
    id BIGSERIAL PRIMARY KEY,
    order_id BIGINT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    user_id BIGINT REFERENCES users (id),
    body TEXT NOT NULL CHECK (length(body) BETWEEN 1 AND 5000),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX notes_order_idx ON notes (order_id, id);

CREATE TABLE audit_log (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT REFERENCES users (id),
    -- Who acted when it was not a signed-in person: 'api:storefront', 'system', 'customer'.
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    entity TEXT NOT NULL,
    entity_id TEXT,
    before JSONB,
    after JSONB,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_created_idx ON audit_log (created_at DESC, id DESC);
CREATE INDEX audit_log_entity_idx ON audit_log (entity, entity_id);

CREATE TABLE day_reviews (
    day DATE PRIMARY KEY,
    reviewed_by BIGINT NOT NULL REFERENCES users (id),
    reviewed_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
