//! One order line's units through their life (DESIGN §4.4, §4.5): shipping
//! sends what is reserved and leaves the rest queued; cancelling gives back
//! the reserved part so the caller can hand it down the queue.

use std::fmt;

use serde::Serialize;

use super::types::Quantity;

/// The unit columns of an order line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LineUnits {
    /// Units ordered.
    pub quantity: u32,
    /// Units reserved from stock and not yet shipped.
    pub allocated: u32,
    /// Units shipped.
    pub shipped: u32,
    /// Units cancelled.
    pub cancelled: u32,
}

/// Why a change to a line was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineError {
    /// More units than the line still waits for.
    AllocatesTooMuch {
        /// Units it waits for.
        waiting: u32,
    },
    /// More units than are neither shipped nor cancelled.
    CancelsTooMuch {
        /// Units that could be cancelled.
        open: u32,
    },
}

/// A cancellation decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Cancellation {
    /// The line afterwards.
    pub line: LineUnits,
    /// Reserved units given back to the product: allocate them down its
    /// queue with [`super::allocate_down_queue`].
    pub released: u32,
}

impl LineUnits {
    /// A new line of `quantity` units with `allocated` of them reserved.
    pub fn new(quantity: Quantity, allocated: u32) -> LineUnits {
        LineUnits {
            quantity: quantity.get(),
            allocated: allocated.min(quantity.get()),
            shipped: 0,
            cancelled: 0,
        }
    }

    /// Units neither shipped nor cancelled.
    pub fn open(&self) -> u32 {
        self.quantity
            .saturating_sub(self.shipped)
            .saturating_sub(self.cancelled)
    }

    /// Units still waiting for stock (the backorder).
    pub fn waiting(&self) -> u32 {
        self.open().saturating_sub(self.allocated)
    }

    /// The line after `units` more are reserved for it.
    pub fn allocate(self, units: u32) -> Result<LineUnits, LineError> {
        if units > self.waiting() {
            return Err(LineError::AllocatesTooMuch {
                waiting: self.waiting(),
            });
        }
        Ok(LineUnits {
            allocated: self.allocated + units,
            ..self
        })
    }

    /// Ships everything reserved; returns the line after and the units shipped.
    pub fn ship_allocated(self) -> (LineUnits, u32) {
        let shipped = self.allocated;
        let line = LineUnits {
            allocated: 0,
            shipped: self.shipped + shipped,
            ..self
        };
        (line, shipped)
    }

    /// Cancels `units` of the line. Waiting units go first: the customer
    /// keeps what is already reserved for them, and reserved units are only
    /// released when more is cancelled than still waits.
    pub fn cancel(self, units: Quantity) -> Result<Cancellation, LineError> {
        let units = units.get();
        if units > self.open() {
            return Err(LineError::CancelsTooMuch { open: self.open() });
        }
        let released = units.saturating_sub(self.waiting());
        Ok(Cancellation {
            line: LineUnits {
                allocated: self.allocated - released,
                cancelled: self.cancelled + units,
                ..self
            },
            released,
        })
    }
}

/// Units a shipment of an order sends, per line: what is reserved.
pub fn shipment_of(lines: &[LineUnits]) -> Vec<u32> {
    lines.iter().map(|line| line.allocated).collect()
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LineError::AllocatesTooMuch { waiting } => {
                write!(f, "the line waits for only {waiting} units")
            }
            LineError::CancelsTooMuch { open } => {
                write!(f, "only {open} units of the line can still be cancelled")
            }
        }
    }
}

impl std::error::Error for LineError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn line() -> LineUnits {
        LineUnits {
            quantity: 10,
            allocated: 4,
            shipped: 2,
            cancelled: 0,
        }
    }

    #[test]
    fn shipping_sends_what_is_reserved_and_keeps_the_rest_queued() {
        assert_eq!(shipment_of(&[line()]), [4]);
        let (after, shipped) = line().ship_allocated();
        assert_eq!(shipped, 4);
        assert_eq!((after.shipped, after.allocated, after.waiting()), (6, 0, 4));
    }

    #[test]
    fn cancelling_takes_waiting_units_before_reserved_ones() {
        let small = line().cancel(Quantity::new(3).unwrap()).unwrap();
        assert_eq!(small.released, 0);
        assert_eq!(small.line.waiting(), 1);
        let whole = line().cancel(Quantity::new(8).unwrap()).unwrap();
        assert_eq!(whole.released, 4);
        assert_eq!((whole.line.open(), whole.line.allocated), (0, 0));
        assert_eq!(
            line().cancel(Quantity::new(9).unwrap()),
            Err(LineError::CancelsTooMuch { open: 8 })
        );
    }

    #[test]
    fn allocation_is_capped_by_what_waits() {
        assert_eq!(line().allocate(4).map(|l| l.waiting()), Ok(0));
        assert_eq!(
            line().allocate(5),
            Err(LineError::AllocatesTooMuch { waiting: 4 })
        );
    }
}
