-- A pre-order's release day moved later is a cause of its own.
ALTER TABLE eta_update_causes DROP CONSTRAINT eta_update_causes_cause_check;
ALTER TABLE eta_update_causes ADD CONSTRAINT eta_update_causes_cause_check
    CHECK (cause IN ('supplier_date', 'po_cancelled', 'queue_ahead', 'receipt_short', 'stock',
        'schedule', 'supply', 'delivery_late', 'supplier_record', 'release_moved'));
