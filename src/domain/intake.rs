//! Taking a new order (DESIGN §4.1): each line takes free units first and
//! backorders the rest; one line the shop cannot fill refuses the whole order,
//! so nothing is stored for it.

use std::fmt;

use serde::Serialize;

use super::types::{Quantity, Sku};

/// What intake needs to know about a product named on the order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProductForIntake {
    /// The product.
    pub sku: Sku,
    /// Free units before this order.
    pub available: u32,
    /// Whether the shop takes orders beyond its stock.
    pub backorderable: bool,
    /// An open purchase order or a supplier lead time exists ([`super::supply_known`]).
    pub supply_known: bool,
}

/// One line of the order as the customer asked for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestedLine {
    /// The product asked for.
    pub sku: Sku,
    /// Units asked for.
    pub quantity: Quantity,
}

/// What happens to one requested line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct LineIntake {
    /// Units reserved from stock now.
    pub allocated: u32,
    /// Units that join the product's queue.
    pub backordered: u32,
}

/// The accepted order: `lines[i]` belongs to the i-th requested line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IntakePlan {
    /// Per requested line, in the order given.
    pub lines: Vec<LineIntake>,
    /// Units to add to each product's `allocated` column, one entry per SKU
    /// that got any, in first-seen order.
    pub allocated_per_product: Vec<(Sku, u32)>,
}

/// Why a line cannot be taken.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RefusalReason {
    /// No such product among those given.
    UnknownProduct,
    /// Not backorderable and not enough free units.
    NotBackorderable {
        /// Free units the product had.
        available: u32,
        /// Units the order asks of it, over all its lines so far.
        requested: u64,
    },
    /// Backorderable, but nothing is known to refill it.
    NoSupplyKnown {
        /// Free units the product had.
        available: u32,
        /// Units the order asks of it, over all its lines so far.
        requested: u64,
    },
}

/// One refused line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LineRefusal {
    /// Index of the line in the request (0-based).
    pub line_index: usize,
    /// The product it named.
    pub sku: Sku,
    /// Why.
    pub reason: RefusalReason,
}

/// The order is refused whole; every line at fault is listed so the API can
/// name each one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IntakeRefused {
    /// The refused lines, in request order.
    pub refusals: Vec<LineRefusal>,
}

/// Decides a new order: lines of the same SKU share its free units in the
/// order they appear.
pub fn take_order(
    products: &[ProductForIntake],
    requested: &[RequestedLine],
) -> Result<IntakePlan, IntakeRefused> {
    let mut free: Vec<u32> = products.iter().map(|p| p.available).collect();
    let mut asked: Vec<u64> = vec![0; products.len()];
    let mut given: Vec<u32> = vec![0; products.len()];
    let mut lines = Vec::with_capacity(requested.len());
    let mut refusals = Vec::new();

    for (line_index, line) in requested.iter().enumerate() {
        let Some(at) = products.iter().position(|p| p.sku == line.sku) else {
            refusals.push(LineRefusal {
                line_index,
                sku: line.sku.clone(),
                reason: RefusalReason::UnknownProduct,
            });
            continue;
        };
        let product = &products[at];
        let quantity = line.quantity.get();
        asked[at] += u64::from(quantity);
        let allocated = quantity.min(free[at]);
        free[at] -= allocated;
        given[at] += allocated;
        let backordered = quantity - allocated;
        if backordered > 0 {
            let (available, requested) = (product.available, asked[at]);
            let reason = if !product.backorderable {
                Some(RefusalReason::NotBackorderable {
                    available,
                    requested,
                })
            } else if !product.supply_known {
                Some(RefusalReason::NoSupplyKnown {
                    available,
                    requested,
                })
            } else {
                None
            };
            if let Some(reason) = reason {
                refusals.push(LineRefusal {
                    line_index,
                    sku: line.sku.clone(),
                    reason,
                });
                continue;
            }
        }
        lines.push(LineIntake {
            allocated,
            backordered,
        });
    }

    if !refusals.is_empty() {
        return Err(IntakeRefused { refusals });
    }
    let allocated_per_product = products
        .iter()
        .zip(given)
        .filter(|(_, units)| *units > 0)
        .map(|(p, units)| (p.sku.clone(), units))
        .collect();
    Ok(IntakePlan {
        lines,
        allocated_per_product,
    })
}

impl fmt::Display for LineRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sku = &self.sku;
        match &self.reason {
            RefusalReason::UnknownProduct => write!(f, "{sku} is not a product of this shop"),
            RefusalReason::NotBackorderable {
                available,
                requested,
            } => write!(
                f,
                "{sku} is out of stock: {requested} asked, {available} available, and it cannot be backordered"
            ),
            RefusalReason::NoSupplyKnown {
                available,
                requested,
            } => write!(
                f,
                "{sku} cannot be backordered: {requested} asked, {available} available, and no purchase order or supplier lead time is known"
            ),
        }
    }
}

impl fmt::Display for IntakeRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("order refused: ")?;
        for (i, refusal) in self.refusals.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{refusal}")?;
        }
        Ok(())
    }
}

impl std::error::Error for IntakeRefused {}

#[cfg(test)]
mod tests {
    use super::*;

    fn product(
        sku: &str,
        available: u32,
        backorderable: bool,
        supply_known: bool,
    ) -> ProductForIntake {
        ProductForIntake {
            sku: Sku::parse(sku).unwrap(),
            available,
            backorderable,
            supply_known,
        }
    }

    fn line(sku: &str, quantity: u32) -> RequestedLine {
        RequestedLine {
            sku: Sku::parse(sku).unwrap(),
            quantity: Quantity::new(quantity).unwrap(),
        }
    }

    #[test]
    fn takes_free_units_first_and_backorders_the_rest() {
        let plan = take_order(&[product("A", 3, true, true)], &[line("A", 5)]).unwrap();
        assert_eq!(
            plan.lines,
            [LineIntake {
                allocated: 3,
                backordered: 2
            }]
        );
        assert_eq!(plan.allocated_per_product, [(Sku::parse("A").unwrap(), 3)]);
    }

    #[test]
    fn lines_of_one_product_share_its_free_units() {
        let plan = take_order(
            &[product("A", 4, true, true), product("B", 9, false, false)],
            &[line("A", 3), line("B", 2), line("A", 3)],
        )
        .unwrap();
        let split: Vec<(u32, u32)> = plan
            .lines
            .iter()
            .map(|l| (l.allocated, l.backordered))
            .collect();
        assert_eq!(split, [(3, 0), (2, 0), (1, 2)]);
    }

    #[test]
    fn one_unfillable_line_refuses_the_whole_order_naming_the_sku() {
        let refused = take_order(
            &[
                product("A", 10, true, true),
                product("OLD-1", 1, false, false),
            ],
            &[line("A", 1), line("OLD-1", 2), line("NOPE", 1)],
        )
        .unwrap_err();
        assert_eq!(refused.refusals.len(), 2);
        assert_eq!(refused.refusals[0].line_index, 1);
        let words = refused.to_string();
        assert!(words.contains("OLD-1 is out of stock"), "{words}");
        assert!(words.contains("NOPE is not a product"), "{words}");
    }

    #[test]
    fn backorderable_without_supply_is_refused() {
        let refused = take_order(&[product("A", 0, true, false)], &[line("A", 1)]).unwrap_err();
        assert!(matches!(
            refused.refusals[0].reason,
            RefusalReason::NoSupplyKnown { .. }
        ));
        // Enough stock needs no supply at all.
        assert!(take_order(&[product("A", 1, false, false)], &[line("A", 1)]).is_ok());
    }
}
