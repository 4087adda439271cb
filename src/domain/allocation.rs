//! Handing new units down a product's queue (DESIGN §4.3, §4.5): receipts,
//! upward adjustments and units released by a cancellation all go to the
//! head of the queue first, and nobody skips ahead, not even a smaller line.

use serde::Serialize;

use super::types::LineId;

/// A line in its product's queue with the units it still waits for
/// (qty - allocated - shipped - cancelled).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct WaitingLine {
    /// The order line.
    pub line_id: LineId,
    /// Units it waits for.
    pub waiting_units: u32,
}

/// Units given to one line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct LineAllocation {
    /// The order line.
    pub line_id: LineId,
    /// Units to add to its `allocated`.
    pub units: u32,
}

/// The outcome of allocating free units down a queue.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct QueueAllocation {
    /// Lines that got units, in queue order; only the last may still wait.
    pub allocations: Vec<LineAllocation>,
    /// Free units left once every line was served.
    pub left_available: u32,
}

impl QueueAllocation {
    /// Units handed out in total.
    pub fn allocated_units(&self) -> u64 {
        self.allocations.iter().map(|a| u64::from(a.units)).sum()
    }
}

/// Gives `free_units` to `queue` (already in queue order, see
/// [`super::sort_queue`]). Pass the product's whole available count after the
/// change, not only the new units, so no free unit is ever left beside a
/// waiting line.
pub fn allocate_down_queue(free_units: u32, queue: &[WaitingLine]) -> QueueAllocation {
    let mut left = free_units;
    let mut allocations = Vec::new();
    for line in queue {
        if left == 0 {
            break;
        }
        if line.waiting_units == 0 {
            continue;
        }
        let units = line.waiting_units.min(left);
        left -= units;
        allocations.push(LineAllocation {
            line_id: line.line_id,
            units,
        });
        // A partly served head keeps the rest: stopping here is what keeps
        // smaller lines further back from jumping the queue.
        if units < line.waiting_units {
            break;
        }
    }
    QueueAllocation {
        allocations,
        left_available: left,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue(waiting: &[u32]) -> Vec<WaitingLine> {
        waiting
            .iter()
            .enumerate()
            .map(|(i, &waiting_units)| WaitingLine {
                line_id: i as LineId + 1,
                waiting_units,
            })
            .collect()
    }

    #[test]
    fn head_is_partly_served_and_nobody_skips_ahead() {
        let outcome = allocate_down_queue(7, &queue(&[3, 6, 1]));
        assert_eq!(
            outcome.allocations,
            [
                LineAllocation {
                    line_id: 1,
                    units: 3
                },
                LineAllocation {
                    line_id: 2,
                    units: 4
                }
            ]
        );
        assert_eq!(outcome.left_available, 0);
    }

    #[test]
    fn leftover_units_stay_free() {
        let outcome = allocate_down_queue(12, &queue(&[3, 0, 6]));
        assert_eq!(outcome.allocated_units(), 9);
        assert_eq!(outcome.left_available, 3);
        assert_eq!(outcome.allocations.len(), 2);
    }
}
