-- Several suppliers per product (issue 18, part 3): each with its own lead time and
-- unit cost. products.supplier_id stays the primary one and is kept here at position 0.
CREATE TABLE product_suppliers (
    product_id BIGINT NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    supplier_id BIGINT NOT NULL REFERENCES suppliers (id),
    lead_time_days INTEGER CHECK (lead_time_days BETWEEN 0 AND 365),
    unit_cost_cents BIGINT CHECK (unit_cost_cents BETWEEN 0 AND 10000000000),
    position INTEGER NOT NULL CHECK (position >= 0),
    PRIMARY KEY (product_id, supplier_id),
    UNIQUE (product_id, position) DEFERRABLE INITIALLY DEFERRED
);
CREATE INDEX product_suppliers_supplier ON product_suppliers (supplier_id);

INSERT INTO product_suppliers (product_id, supplier_id, lead_time_days, unit_cost_cents, position)
SELECT p.id, p.supplier_id, least(greatest(s.lead_time_days, 0), 365), NULL, 0
  FROM products p JOIN suppliers s ON s.id = p.supplier_id;
