//! Exact amounts of a MES run as functions of the starting share t, and the
//! run's horizon: how far t can grow before a decision could flip.

use std::cmp::Ordering;

use num_bigint::{BigInt, BigUint, Sign};
use num_integer::Integer;
use num_traits::{One, Signed, ToPrimitive, Zero};

use crate::number::Rational;

/// Money as a function of the starting share t, times the run's common
/// denominator: `value + slope · (t − t₀)`, exact as long as the run's
/// decisions are. Slopes are kept only while the run tracks its horizon.
#[derive(Clone, Debug, Default)]
pub(super) struct Money {
    pub(super) value: BigInt,
    pub(super) slope: BigInt,
}

/// A sum of products `number × factor` with machine-word factors, added up
/// limb by limb in place: no allocation per term, which is what summing the
/// money of thousands of classes costs most otherwise. Negative numbers
/// (slopes may be) are added as big integers.
#[derive(Default)]
pub(super) struct ProductSum {
    /// The non-negative part, least significant limb first.
    limbs: Vec<u64>,
    rest: BigInt,
}

impl ProductSum {
    pub(super) fn add(&mut self, number: &BigInt, factor: u64) {
        if number.is_negative() {
            self.rest += number * factor;
            return;
        }
        let mut carry: u128 = 0;
        let mut at = 0;
        for digit in number.iter_u64_digits() {
            if at == self.limbs.len() {
                self.limbs.push(0);
            }
            // At most (2⁶⁴−1)² + 2·(2⁶⁴−1) = 2¹²⁸ − 1: no overflow.
            let total = u128::from(self.limbs[at]) + u128::from(digit) * u128::from(factor) + carry;
            self.limbs[at] = total as u64;
            carry = total >> 64;
            at += 1;
        }
        while carry != 0 {
            if at == self.limbs.len() {
                self.limbs.push(0);
            }
            let total = u128::from(self.limbs[at]) + carry;
            self.limbs[at] = total as u64;
            carry = total >> 64;
            at += 1;
        }
    }

    pub(super) fn add_big(&mut self, term: BigInt) {
        self.rest += term;
    }

    pub(super) fn total(self) -> BigInt {
        let digits: Vec<u32> = self
            .limbs
            .iter()
            .flat_map(|&limb| [limb as u32, (limb >> 32) as u32])
            .collect();
        BigInt::from_biguint(Sign::Plus, BigUint::new(digits)) + self.rest
    }
}

/// An exact fraction with a positive, not necessarily reduced, denominator.
#[derive(Clone, Debug)]
pub(super) struct Fraction {
    pub(super) numerator: BigInt,
    pub(super) denominator: BigInt,
}

impl Fraction {
    pub(super) fn cmp(&self, other: &Fraction) -> Ordering {
        (&self.numerator * &other.denominator).cmp(&(&other.numerator * &self.denominator))
    }

    pub(super) fn minus(&self, other: &Fraction) -> Fraction {
        Fraction {
            numerator: &self.numerator * &other.denominator - &other.numerator * &self.denominator,
            denominator: &self.denominator * &other.denominator,
        }
    }

    pub(super) fn from_rational(value: &Rational) -> Fraction {
        Fraction {
            numerator: value.numer().clone(),
            denominator: value.denom().clone(),
        }
    }

    /// The smallest fraction ≥ self with a power of two for denominator and
    /// about 64 significant bits.
    pub(super) fn ceil_dyadic(&self) -> Fraction {
        let negated = Fraction {
            numerator: -&self.numerator,
            denominator: self.denominator.clone(),
        }
        .floor_dyadic();
        Fraction {
            numerator: -negated.numerator,
            denominator: negated.denominator,
        }
    }

    /// The largest fraction ≤ self with a power of two for denominator and
    /// about 64 significant bits: cheap to compare and sort.
    pub(super) fn floor_dyadic(&self) -> Fraction {
        if self.numerator.is_zero() {
            return self.clone();
        }
        let bits = |number: &BigInt| i64::try_from(number.bits()).unwrap_or(i64::MAX);
        let shift = 64 + bits(&self.denominator) - bits(&self.numerator);
        if shift >= 0 {
            let floor = (&self.numerator << shift).div_floor(&self.denominator);
            // The only common factors can be twos: shift them out.
            let twos = floor
                .trailing_zeros()
                .unwrap_or(0)
                .min(shift.unsigned_abs());
            Fraction {
                numerator: floor >> twos,
                denominator: BigInt::one() << (shift.unsigned_abs() - twos),
            }
        } else {
            let scaled = &self.denominator << -shift;
            Fraction {
                numerator: self.numerator.div_floor(&scaled) << -shift,
                denominator: BigInt::one(),
            }
        }
    }
}

/// A price as a function of the starting share t.
#[derive(Clone, Debug)]
pub(super) struct Rho {
    pub(super) value: Fraction,
    pub(super) slope: Fraction,
}

/// A lower bound on a project's rho as a function of t ≥ t₀, kept as dyadic
/// floors of a price found earlier in the run.
#[derive(Clone, Debug)]
pub(super) struct LowerBound {
    pub(super) value: Fraction,
    pub(super) slope: Fraction,
    /// Order the value and the slope as they do, without multiplying (see
    /// [`DyadicOrder`]); `None` if the number does not allow it.
    value_order: Option<DyadicOrder>,
    slope_order: Option<DyadicOrder>,
}

impl LowerBound {
    pub(super) fn below(value: &Fraction, slope: &Fraction) -> LowerBound {
        let value = value.floor_dyadic();
        let slope = slope.floor_dyadic();
        LowerBound {
            value_order: DyadicOrder::of(&value),
            slope_order: DyadicOrder::of(&slope),
            value,
            slope,
        }
    }

    /// Compares the values of two bounds.
    pub(super) fn cmp_value(&self, other: &LowerBound) -> Ordering {
        match (self.value_order, other.value_order) {
            (Some(mine), Some(theirs)) => mine.cmp(&theirs),
            _ => self.value.cmp(&other.value),
        }
    }

    /// Whether the slope is surely at least a number whose dyadic ceiling
    /// has the order given (`false`: it may not be).
    pub(super) fn slope_at_least(&self, ceiling: Option<DyadicOrder>) -> bool {
        matches!((self.slope_order, ceiling), (Some(mine), Some(ceiling)) if mine >= ceiling)
    }
}

/// For a dyadic number ±m·2^e with m odd and at most 128 bits wide: its
/// sign, the position of its leading bit and m aligned to the top of a u128
/// (both reversed for negative numbers), which compare as the numbers do.
/// Dyadic floors and ceilings have 65 significant bits at most.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct DyadicOrder(i8, i64, u128);

impl DyadicOrder {
    pub(super) fn of(value: &Fraction) -> Option<DyadicOrder> {
        let (numerator, denominator) = (&value.numerator, &value.denominator);
        let Some(twos) = numerator.trailing_zeros() else {
            return Some(DyadicOrder(0, 0, 0)); // zero
        };
        let power = denominator.trailing_zeros()?;
        if denominator.is_negative() || denominator.bits() != power + 1 {
            return None; // not a positive power of two
        }
        let odd = (numerator.magnitude() >> twos).to_u128()?;
        let leading = i64::try_from(numerator.bits()).ok()? - i64::try_from(power).ok()?;
        let aligned = odd << odd.leading_zeros();
        Some(if numerator.is_negative() {
            DyadicOrder(-1, -leading, u128::MAX - aligned)
        } else {
            DyadicOrder(1, leading, aligned)
        })
    }
}

/// How many whole units t can grow from t₀, at least, before a decision
/// taken may flip.
pub(super) struct Horizon {
    pub(super) tracking: bool,
    pub(super) steps: Option<BigInt>,
}

impl Horizon {
    /// A decision rested on the sign (≥ 0 or < 0) of `value + slope·(t − t₀)`
    /// (times some positive number): note when that sign may change.
    pub(super) fn keep_sign(&mut self, value: &BigInt, slope: &BigInt) {
        if !self.tracking {
            return;
        }
        let binding = !value.is_negative() && slope.is_negative()
            || value.is_negative() && slope.is_positive();
        if !binding {
            return;
        }
        let (distance, speed) = (value.abs(), slope.abs());
        if let Some(known) = &self.steps {
            // ⌈distance / speed⌉ < known exactly when distance ≤ (known − 1)·speed:
            // a multiplication instead of a division, for the many that are not.
            if distance > (known - 1u32) * &speed {
                return;
            }
        }
        let steps = (distance + &speed - 1u32) / speed;
        if self.steps.as_ref().is_none_or(|known| steps < *known) {
            // The next run is at least one raise away whatever else the run
            // decides: past this point, tracking (and slopes) cannot matter.
            if steps <= BigInt::one() {
                self.tracking = false;
            }
            self.steps = Some(steps);
        }
    }

    pub(super) fn keep_sign_of(&mut self, value: &Fraction, slope: &Fraction) {
        if slope.numerator.is_zero() {
            return;
        }
        self.keep_sign(
            &(&value.numerator * &slope.denominator),
            &(&slope.numerator * &value.denominator),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fraction(numerator: i64, denominator: i64) -> Fraction {
        Fraction {
            numerator: numerator.into(),
            denominator: denominator.into(),
        }
    }

    #[test]
    fn dyadic_bounds_enclose_the_number() {
        for (numerator, denominator) in [(1, 3), (-1, 3), (22, 7), (-22, 7), (0, 5), (1 << 40, 3)] {
            let value = fraction(numerator, denominator);
            assert_ne!(
                value.floor_dyadic().cmp(&value),
                Ordering::Greater,
                "{value:?}"
            );
            assert_ne!(value.ceil_dyadic().cmp(&value), Ordering::Less, "{value:?}");
        }
    }

    #[test]
    fn dyadic_orders_compare_as_the_numbers() {
        let mut numbers = Vec::new();
        for numerator in [
            -1_000_003,
            -65,
            -64,
            -3,
            -1,
            0,
            1,
            2,
            3,
            64,
            65,
            999_999_937,
        ] {
            for denominator in [1, 2, 3, 7, 1024, 1_000_000_007] {
                let value = fraction(numerator, denominator);
                numbers.push(value.floor_dyadic());
                numbers.push(value.ceil_dyadic());
            }
        }
        for a in &numbers {
            for b in &numbers {
                let (Some(order_a), Some(order_b)) = (DyadicOrder::of(a), DyadicOrder::of(b))
                else {
                    panic!("dyadic floors and ceilings have orders: {a:?}, {b:?}");
                };
                assert_eq!(order_a.cmp(&order_b), a.cmp(b), "{a:?} against {b:?}");
            }
        }
        // Not dyadic: no order.
        assert_eq!(DyadicOrder::of(&fraction(1, 3)), None);
    }
}
