//! Exact numbers: the rational type every rule computes with, how amounts are
//! read from text and how they are written back. No floating point here or
//! anywhere in the engine.

use std::fmt;

use num_bigint::BigInt;
use num_integer::Integer;
use num_rational::BigRational;
use num_traits::{One, Signed, Zero};
use serde::{Serialize, Serializer};

/// An exact rational number: costs, budgets, weights, satisfactions, prices.
pub type Rational = BigRational;

/// Reads a number as pabulib files write them: an integer, a decimal with a
/// point or a comma (`"12.50"`, `"12,50"`), or a fraction `p/q`. Leading `+`
/// or `-` allowed. Returns `None` for anything else.
pub fn parse_rational(text: &str) -> Option<Rational> {
    let text = text.trim();
    if let Some((numerator, denominator)) = text.split_once('/') {
        let numerator = parse_decimal(numerator.trim())?;
        let denominator = parse_decimal(denominator.trim())?;
        return (!denominator.is_zero()).then(|| numerator / denominator);
    }
    parse_decimal(text)
}

fn parse_decimal(text: &str) -> Option<Rational> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (whole, fraction) = match digits.split_once(['.', ',']) {
        Some((whole, fraction)) => (whole, fraction),
        None => (digits, ""),
    };
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() && fraction.is_empty() || !all_digits(whole) || !all_digits(fraction) {
        return None;
    }
    let mantissa: BigInt = format!("{whole}{fraction}").parse().ok()?;
    let scale = BigInt::from(10u32).pow(u32::try_from(fraction.len()).ok()?);
    let value = Rational::new(mantissa, scale);
    Some(if negative { -value } else { value })
}

/// Writes a rational exactly: as a decimal when it has a finite decimal
/// expansion (`"12.5"`, `"-3"`), otherwise as a reduced fraction (`"220/3"`).
/// [`parse_rational`] reads both forms back, and so does pabutools.
pub fn format_rational(value: &Rational) -> String {
    let denominator = value.denom();
    let (mut twos, mut fives) = (0u32, 0u32);
    let mut rest = denominator.clone();
    let two = BigInt::from(2u32);
    let five = BigInt::from(5u32);
    while rest.is_even() {
        rest /= &two;
        twos += 1;
    }
    while (&rest % &five).is_zero() {
        rest /= &five;
        fives += 1;
    }
    if !rest.is_one() {
        return format!("{}/{}", value.numer(), denominator);
    }
    let places = twos.max(fives);
    let scaled = (value * Rational::from_integer(BigInt::from(10u32).pow(places))).to_integer();
    let digits = scaled.abs().to_string();
    let sign = if scaled.is_negative() { "-" } else { "" };
    let places = places as usize;
    if places == 0 {
        return format!("{sign}{digits}");
    }
    let padded = format!("{digits:0>width$}", width = places + 1);
    let (whole, fraction) = padded.split_at(padded.len() - places);
    format!("{sign}{whole}.{fraction}")
}

/// A rational rounded to `places` decimals (half away from zero), as text.
pub fn round(value: &Rational, places: u32) -> String {
    let scale = Rational::from_integer(BigInt::from(10u32).pow(places));
    format_rational(&((value * &scale).round() / scale))
}

/// A rational shown to people and to the API: serialises as the string of
/// [`format_rational`], so no precision is lost on the way to JSON.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Exact(pub Rational);

impl fmt::Display for Exact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_rational(&self.0))
    }
}

impl Serialize for Exact {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl From<Rational> for Exact {
    fn from(value: Rational) -> Self {
        Exact(value)
    }
}

/// The exact sum of rationals, adding over a common denominator and reducing
/// once at the end: far cheaper than reducing after every addition when
/// most terms share a denominator (whole weights, costs in cents).
pub fn sum<'a, I: IntoIterator<Item = &'a Rational>>(terms: I) -> Rational {
    let mut numerator = BigInt::zero();
    let mut denominator = BigInt::one();
    for term in terms {
        if *term.denom() == denominator {
            numerator += term.numer();
        } else {
            numerator = numerator * term.denom() + term.numer() * &denominator;
            denominator *= term.denom();
        }
    }
    Rational::new(numerator, denominator)
}

/// Shorthand for an integer as a rational.
pub fn integer(value: i64) -> Rational {
    Rational::from_integer(BigInt::from(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(numerator: i64, denominator: i64) -> Rational {
        Rational::new(BigInt::from(numerator), BigInt::from(denominator))
    }

    #[test]
    fn reads_integers_decimals_commas_and_fractions() {
        assert_eq!(parse_rational("155000"), Some(integer(155000)));
        assert_eq!(parse_rational(" 102533.36 "), Some(q(10253336, 100)));
        assert_eq!(parse_rational("12,5"), Some(q(25, 2)));
        assert_eq!(parse_rational("-0.5"), Some(q(-1, 2)));
        assert_eq!(parse_rational("1100/15"), Some(q(220, 3)));
        assert_eq!(parse_rational(".5"), Some(q(1, 2)));
    }

    #[test]
    fn rejects_what_is_not_a_number() {
        for text in ["", "abc", "1.2.3", "1e5", "1/0", "--1", ".", "1/x"] {
            assert_eq!(parse_rational(text), None, "{text:?}");
        }
    }

    #[test]
    fn writes_terminating_decimals_and_fractions_exactly() {
        assert_eq!(format_rational(&integer(7)), "7");
        assert_eq!(format_rational(&q(2563334, 25)), "102533.36");
        assert_eq!(format_rational(&q(-1, 8)), "-0.125");
        assert_eq!(format_rational(&q(1100, 15)), "220/3");
        assert_eq!(format_rational(&q(1, 20)), "0.05");
    }

    #[test]
    fn sums_are_exact_whatever_the_denominators() {
        let terms = [q(1, 3), q(1, 6), integer(2), q(-1, 2), q(1, 6)];
        assert_eq!(sum(&terms), q(13, 6));
        assert_eq!(sum(&[]), integer(0));
    }

    #[test]
    fn rounds_half_away_from_zero() {
        assert_eq!(round(&q(2, 3), 2), "0.67");
        assert_eq!(round(&q(-1, 8), 2), "-0.13");
        assert_eq!(round(&q(220, 3), 0), "73");
    }

    #[test]
    fn written_numbers_read_back_identically() {
        for value in [q(1, 3), q(-7, 40), q(123456789, 1000), integer(0)] {
            assert_eq!(parse_rational(&format_rational(&value)), Some(value));
        }
    }
}
