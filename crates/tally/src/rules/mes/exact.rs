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
    /// Orders bounds as their values, without multiplying (see
    /// [`dyadic_order`]); `None` if the value does not allow it.
    order: Option<(i64, u128)>,
}

impl LowerBound {
    pub(super) fn below(value: &Fraction, slope: &Fraction) -> LowerBound {
        let value = value.floor_dyadic();
        LowerBound {
            order: dyadic_order(&value),
            value,
            slope: slope.floor_dyadic(),
        }
    }

    /// Compares the values of two bounds.
    pub(super) fn cmp_value(&self, other: &LowerBound) -> Ordering {
        match (self.order, other.order) {
            (Some(mine), Some(theirs)) => mine.cmp(&theirs),
            _ => self.value.cmp(&other.value),
        }
    }
}

/// For a non-negative m·2^e with m odd and at most 128 bits wide: the
/// position of its leading bit and m aligned to the top of a u128, a pair
/// that compares as the numbers do. Dyadic floors have 65 bits at most.
fn dyadic_order(value: &Fraction) -> Option<(i64, u128)> {
    let (numerator, denominator) = (&value.numerator, &value.denominator);
    if numerator.is_negative() {
        return None;
    }
    let Some(twos) = numerator.trailing_zeros() else {
        return Some((i64::MIN, 0)); // zero
    };
    let power = denominator.trailing_zeros()?;
    if denominator.bits() != power + 1 {
        return None; // not a power of two
    }
    let odd = (numerator >> twos).to_u128()?;
    let leading = i64::try_from(numerator.bits()).ok()? - i64::try_from(power).ok()?;
    Some((leading, odd << odd.leading_zeros()))
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
