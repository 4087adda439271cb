//! Statuses stored as text, as Rust enums. The mapping is checked both ways: writing can
//! only store a word the table's CHECK constraint allows, and a word read back that is
//! not one of them is an error, not a silent default.

use std::fmt;
use std::io::Write;
use std::str::FromStr;

use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::pg::{Pg, PgValue};
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::Text;

/// A stored word that is not one of a status's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownStatus {
    pub what: &'static str,
    pub word: String,
}

impl fmt::Display for UnknownStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown {} {:?}", self.what, self.word)
    }
}

impl std::error::Error for UnknownStatus {}

macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal { $($(#[$vmeta:meta])* $variant:ident => $word:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, AsExpression, FromSqlRow)]
        #[diesel(sql_type = Text)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The word stored in the database (and shown by the API).
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $word),+
                }
            }
        }

        impl FromStr for $name {
            type Err = UnknownStatus;

            fn from_str(word: &str) -> Result<Self, UnknownStatus> {
                match word {
                    $($word => Ok($name::$variant),)+
                    _ => Err(UnknownStatus { what: $what, word: word.to_owned() }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ToSql<Text, Pg> for $name {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
                out.write_all(self.as_str().as_bytes())?;
                Ok(IsNull::No)
            }
        }

        impl FromSql<Text, Pg> for $name {
            fn from_sql(value: PgValue<'_>) -> deserialize::Result<Self> {
                let word = std::str::from_utf8(value.as_bytes())?;
                Ok(word.parse()?)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        /// As stored, for rows read from JSON (`db::prepared::json_rows`).
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let word = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                word.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

text_enum! {
    /// Where a purchase order stands (`purchase_orders.status`).
    PoStatus, "purchase-order status" {
        Open => "open",
        Received => "received",
        Cancelled => "cancelled",
    }
}

text_enum! {
    /// Where a discount proposal stands (`discount_proposals.status`).
    ProposalStatus, "proposal status" {
        Proposed => "proposed",
        Approved => "approved",
        Rejected => "rejected",
        /// The order no longer needed it (shipped, cancelled) before anyone decided.
        Withdrawn => "withdrawn",
    }
}

text_enum! {
    /// Where an outbox message stands (`messages.status`).
    MessageStatus, "message status" {
        Queued => "queued",
        /// Claimed by a worker that is sending it now.
        Sending => "sending",
        Sent => "sent",
        Failed => "failed",
        /// An address that can never work: not tried again.
        Dead => "dead",
        /// Queued with its facts, then nothing left to say by sending time.
        Withdrawn => "withdrawn",
    }
}

impl MessageStatus {
    /// As people read it: "Gave up" for `dead`.
    pub fn label(self) -> &'static str {
        match self {
            MessageStatus::Queued => "Queued",
            MessageStatus::Sending => "Sending",
            MessageStatus::Sent => "Sent",
            MessageStatus::Failed => "Failed",
            MessageStatus::Dead => "Gave up",
            MessageStatus::Withdrawn => "Withdrawn",
        }
    }

    /// Failed or given up: a rep may queue it again.
    pub fn undelivered(self) -> bool {
        matches!(self, MessageStatus::Failed | MessageStatus::Dead)
    }
}

text_enum! {
    /// Why stock changed (`stock_movements.reason`), one ledger row each.
    MovementReason, "stock movement reason" {
        Receipt => "receipt",
        Adjustment => "adjustment",
        Allocation => "allocation",
        Release => "release",
        Shipment => "shipment",
    }
}

impl MovementReason {
    /// As the product page's ledger says it.
    pub fn label(self) -> &'static str {
        match self {
            MovementReason::Receipt => "Receipt",
            MovementReason::Adjustment => "Adjustment",
            MovementReason::Allocation => "Allocated to an order",
            MovementReason::Release => "Released",
            MovementReason::Shipment => "Shipped",
        }
    }
}

text_enum! {
    /// What a supplier answered through its link (`supplier_answers.answer`).
    SupplierAnswer, "supplier answer" {
        /// The expected date stands.
        Confirmed => "confirmed",
        NewDate => "new_date",
    }
}

text_enum! {
    /// What ended an order line's wait (`order_lines.waiting_ended_by`).
    WaitEnd, "end of a wait" {
        Filled => "filled",
        Cancelled => "cancelled",
        /// Moved to an alternative the customer took instead.
        Swapped => "swapped",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_reads_back_as_its_status_and_others_are_refused() {
        for status in PoStatus::ALL {
            assert_eq!(status.as_str().parse::<PoStatus>(), Ok(*status));
        }
        for status in ProposalStatus::ALL {
            assert_eq!(status.as_str().parse::<ProposalStatus>(), Ok(*status));
        }
        for status in MessageStatus::ALL {
            assert_eq!(status.as_str().parse::<MessageStatus>(), Ok(*status));
        }
        for reason in MovementReason::ALL {
            assert_eq!(reason.as_str().parse::<MovementReason>(), Ok(*reason));
        }
        for answer in SupplierAnswer::ALL {
            assert_eq!(answer.as_str().parse::<SupplierAnswer>(), Ok(*answer));
        }
        for end in WaitEnd::ALL {
            assert_eq!(end.as_str().parse::<WaitEnd>(), Ok(*end));
        }
        assert!("Open".parse::<PoStatus>().is_err());
        assert!("".parse::<ProposalStatus>().is_err());
    }
}
