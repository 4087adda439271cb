-- Orders straight from the storefront (Shopify, WooCommerce): each delivery is kept by
-- the platform's own id, so a re-delivery stores nothing new, and one that could not be
-- taken in (an unknown SKU) keeps its payload until a person maps the SKU and replays it.
CREATE TABLE webhook_deliveries (
    id BIGSERIAL PRIMARY KEY,
    platform TEXT NOT NULL CHECK (platform IN ('shopify', 'woocommerce')),
    -- X-Shopify-Webhook-Id, or X-WC-Webhook-Delivery-ID.
    delivery_key TEXT NOT NULL,
    topic TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('processed', 'needs_attention', 'ignored')),
    order_number TEXT,
    -- What was done ("created", "already stored", "cancelled 2 lines") or what is wrong.
    outcome TEXT NOT NULL,
    -- The body as received, kept while the delivery needs a person.
    payload TEXT,
    -- Storefront SKUs that named no product, for the form that maps them.
    unknown_skus TEXT[] NOT NULL DEFAULT '{}',
    received_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    processed_at TIMESTAMPTZ,
    UNIQUE (platform, delivery_key)
);

CREATE INDEX webhook_deliveries_attention ON webhook_deliveries (received_at DESC)
    WHERE status = 'needs_attention';
CREATE INDEX webhook_deliveries_recent ON webhook_deliveries (received_at DESC);

-- A storefront SKU that differs from ours, mapped by a person on the Integrations page.
CREATE TABLE storefront_skus (
    platform TEXT NOT NULL CHECK (platform IN ('shopify', 'woocommerce')),
    storefront_sku TEXT NOT NULL,
    product_id BIGINT NOT NULL REFERENCES products (id),
    mapped_by BIGINT REFERENCES users (id),
    mapped_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (platform, storefront_sku)
);

-- Webhook secrets set on the Integrations page (the environment's take precedence).
CREATE TABLE webhook_secrets (
    platform TEXT PRIMARY KEY CHECK (platform IN ('shopify', 'woocommerce')),
    secret TEXT NOT NULL,
    updated_by BIGINT REFERENCES users (id),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
