//! What a customer was told against what is true now (DESIGN §4.8): a new date is news
//! only when it is later than the last date an email stated for the line, and the email
//! names the real cause of the move. An earlier date is good news, never "sorry, later".

use chrono::NaiveDate;

/// What moved a line's date: the event the use case was handling when it recomputed the
/// queue. Stored with a pending ETA change, so the email says what actually happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EtaCause {
    /// A purchase order's expected date was changed.
    SupplierDateMoved { reference: String },
    /// A purchase order the line counted on was cancelled.
    PurchaseOrderCancelled { reference: String },
    /// A line ahead in the queue took more (a new order placed ahead, a cancellation or a
    /// choice that reshuffled the queue).
    QueueAhead,
    /// A receipt brought fewer units than the purchase order still expects.
    ReceiptShort { reference: String },
    /// Stock was counted or corrected down.
    StockCorrected,
    /// The shop changed how it schedules (handling days, the worst-case percentile, the
    /// queue's order).
    ScheduleChanged,
    /// New or changed supply (a purchase order created, a full receipt).
    SupplyChanged,
    /// The purchase order the line waits for is overdue and still not here.
    DeliveryLate { reference: String },
    /// The suppliers' recent deliveries ran later than planned, so the dates allow more.
    SupplierRecord,
    /// A pre-order's release day was moved.
    ReleaseMoved,
}

impl EtaCause {
    pub fn code(&self) -> &'static str {
        match self {
            EtaCause::SupplierDateMoved { .. } => "supplier_date",
            EtaCause::PurchaseOrderCancelled { .. } => "po_cancelled",
            EtaCause::QueueAhead => "queue_ahead",
            EtaCause::ReceiptShort { .. } => "receipt_short",
            EtaCause::StockCorrected => "stock",
            EtaCause::ScheduleChanged => "schedule",
            EtaCause::SupplyChanged => "supply",
            EtaCause::DeliveryLate { .. } => "delivery_late",
            EtaCause::SupplierRecord => "supplier_record",
            EtaCause::ReleaseMoved => "release_moved",
        }
    }

    pub fn reference(&self) -> Option<&str> {
        match self {
            EtaCause::SupplierDateMoved { reference }
            | EtaCause::PurchaseOrderCancelled { reference }
            | EtaCause::ReceiptShort { reference }
            | EtaCause::DeliveryLate { reference } => Some(reference),
            _ => None,
        }
    }

    /// Back from the stored code and reference; `None` for a code this version does not
    /// know.
    pub fn from_stored(code: &str, reference: Option<String>) -> Option<Self> {
        let reference = reference.unwrap_or_default();
        Some(match code {
            "supplier_date" => EtaCause::SupplierDateMoved { reference },
            "po_cancelled" => EtaCause::PurchaseOrderCancelled { reference },
            "queue_ahead" => EtaCause::QueueAhead,
            "receipt_short" => EtaCause::ReceiptShort { reference },
            "stock" => EtaCause::StockCorrected,
            "schedule" => EtaCause::ScheduleChanged,
            "supply" => EtaCause::SupplyChanged,
            "delivery_late" => EtaCause::DeliveryLate { reference },
            "supplier_record" => EtaCause::SupplierRecord,
            "release_moved" => EtaCause::ReleaseMoved,
            _ => return None,
        })
    }

    /// The cause as the customer reads it (no internal references).
    pub fn customer_words(&self) -> &'static str {
        match self {
            EtaCause::SupplierDateMoved { .. } => {
                "Our supplier moved its delivery to a later date."
            }
            EtaCause::PurchaseOrderCancelled { .. } => {
                "The delivery we had booked for it was cancelled, so it waits for a later one."
            }
            EtaCause::QueueAhead => {
                "Orders ahead of yours in line now need more of the next delivery."
            }
            EtaCause::ReceiptShort { .. } => {
                "The delivery that arrived was smaller than ordered, so it waits for the rest."
            }
            EtaCause::StockCorrected => "Units we had counted on turned out not to be available.",
            EtaCause::ScheduleChanged => "We changed how we plan and pack shipments.",
            EtaCause::SupplyChanged => "Our supplier's deliveries changed.",
            EtaCause::DeliveryLate { .. } => {
                "The delivery it waits for is late and has not arrived yet."
            }
            EtaCause::SupplierRecord => {
                "Our supplier's recent deliveries ran later than planned, so we allow more time."
            }
            EtaCause::ReleaseMoved => "The release date of this pre-order moved to a later day.",
        }
    }

    /// The cause as a rep reads it (with the purchase order).
    pub fn staff_words(&self) -> String {
        match self {
            EtaCause::SupplierDateMoved { reference } => {
                format!("{reference}'s expected date moved")
            }
            EtaCause::PurchaseOrderCancelled { reference } => format!("{reference} was cancelled"),
            EtaCause::QueueAhead => "a line ahead in the queue took more".to_owned(),
            EtaCause::ReceiptShort { reference } => format!("a receipt of {reference} was short"),
            EtaCause::StockCorrected => "stock was corrected".to_owned(),
            EtaCause::ScheduleChanged => "the shop's settings changed".to_owned(),
            EtaCause::SupplyChanged => "supply changed".to_owned(),
            EtaCause::DeliveryLate { reference } => format!("{reference} is overdue"),
            EtaCause::SupplierRecord => "the suppliers' record changed".to_owned(),
            EtaCause::ReleaseMoved => "the pre-order's release day moved".to_owned(),
        }
    }
}

/// How a waiting line's date now stands against the last date the customer was told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Told {
    /// Never told a date (nothing to compare with).
    NeverTold,
    /// The same date as told.
    AsTold,
    /// Later than told: the only news worth a "sorry".
    Later { told: NaiveDate, now: NaiveDate },
    /// A date was told, and now there is none.
    NoDateNow { told: NaiveDate },
    /// Sooner than told: good news, never a delay.
    Earlier { told: NaiveDate, now: NaiveDate },
}

impl Told {
    pub fn is_bad_news(self) -> bool {
        matches!(self, Told::Later { .. } | Told::NoDateNow { .. })
    }
}

/// Compares the worst-case date now with the last date told.
pub fn against_told(told: Option<NaiveDate>, now: Option<NaiveDate>) -> Told {
    match (told, now) {
        (None, _) => Told::NeverTold,
        (Some(told), None) => Told::NoDateNow { told },
        (Some(told), Some(now)) if now > told => Told::Later { told, now },
        (Some(told), Some(now)) if now < told => Told::Earlier { told, now },
        (Some(_), Some(_)) => Told::AsTold,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, day).unwrap()
    }

    #[test]
    fn only_a_date_after_the_last_one_told_is_bad_news() {
        // The case: told Mon 14 Dec, the new date Thu 10 Dec is good news.
        assert_eq!(
            against_told(Some(d(14)), Some(d(10))),
            Told::Earlier {
                told: d(14),
                now: d(10)
            }
        );
        assert!(!against_told(Some(d(14)), Some(d(10))).is_bad_news());
        assert!(against_told(Some(d(4)), Some(d(10))).is_bad_news());
        assert!(against_told(Some(d(4)), None).is_bad_news());
        assert_eq!(against_told(Some(d(4)), Some(d(4))), Told::AsTold);
        assert_eq!(against_told(None, Some(d(4))), Told::NeverTold);
    }

    #[test]
    fn causes_round_trip_through_their_stored_form() {
        for cause in [
            EtaCause::SupplierDateMoved {
                reference: "PO-1".to_owned(),
            },
            EtaCause::PurchaseOrderCancelled {
                reference: "PO-2".to_owned(),
            },
            EtaCause::QueueAhead,
            EtaCause::ReceiptShort {
                reference: "PO-3".to_owned(),
            },
            EtaCause::StockCorrected,
            EtaCause::ScheduleChanged,
            EtaCause::SupplyChanged,
            EtaCause::DeliveryLate {
                reference: "PO-4".to_owned(),
            },
            EtaCause::SupplierRecord,
            EtaCause::ReleaseMoved,
        ] {
            let back = EtaCause::from_stored(cause.code(), cause.reference().map(str::to_owned));
            assert_eq!(back, Some(cause));
        }
        assert_eq!(EtaCause::from_stored("nonsense", None), None);
    }
}
