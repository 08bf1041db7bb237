//! Numbers in words for the reasons of a score.
//!
//! Every explained score writes about a dozen numbers. `format!("{:.1}", x)` goes through the
//! exact (arbitrary-precision) float printer, which showed up as the largest single cost of a
//! ScoreCustomer call; these types print the same text through integer arithmetic whenever the
//! value fits, and fall back to the standard printer otherwise.

use std::fmt::{self, Write};

/// Largest magnitude (after scaling) printed by the integer path: every integer below 2^53 is
/// an exact `f64`, so rounding and splitting it loses nothing.
const EXACT: f64 = 9_007_199_254_740_992.0;

/// Writes the decimal digits of `n`.
fn int<W: Write>(w: &mut W, n: u64) -> fmt::Result {
    w.write_str(itoa::Buffer::new().format(n))
}

/// Writes `x` with `decimals` digits after the point (at most 6), rounded half away from zero,
/// with no minus sign on a value that rounds to zero.
///
/// Generic over the writer so that writing into a `String` compiles to plain appends.
pub fn write_fixed<W: Write>(w: &mut W, x: f64, decimals: u8) -> fmt::Result {
    let decimals = decimals.min(6);
    let scale = 10u64.pow(u32::from(decimals));
    let scaled = (x.abs() * scale as f64).round();
    if !scaled.is_finite() || scaled >= EXACT {
        return write!(w, "{:.*}", usize::from(decimals), x);
    }
    let n = scaled as u64;
    if x < 0.0 && n > 0 {
        w.write_char('-')?;
    }
    int(w, n / scale)?;
    if decimals > 0 {
        w.write_char('.')?;
        let frac = n % scale;
        // Leading zeros of the fraction: 7.05 is "7" "." "0" "5".
        let mut pad = scale / 10;
        while pad > 1 && frac < pad {
            w.write_char('0')?;
            pad /= 10;
        }
        int(w, frac)?;
    }
    Ok(())
}

/// Writes an amount of money with thousands separators and no decimals past the cent.
pub fn write_amount<W: Write>(w: &mut W, x: f64) -> fmt::Result {
    let cents_total = (x.abs() * 100.0).round();
    if !cents_total.is_finite() || cents_total >= EXACT {
        return write!(w, "{x}");
    }
    let cents_total = cents_total as u64;
    if x < 0.0 && cents_total > 0 {
        w.write_char('-')?;
    }
    let (whole, cents) = (cents_total / 100, cents_total % 100);
    let mut digits = itoa::Buffer::new();
    let digits = digits.format(whole);
    // The first group is 1-3 digits, then groups of three.
    let first = match digits.len() % 3 {
        0 => 3,
        n => n,
    };
    w.write_str(&digits[..first])?;
    for group in digits.as_bytes()[first..].chunks(3) {
        w.write_char(',')?;
        w.write_str(std::str::from_utf8(group).map_err(|_| fmt::Error)?)?;
    }
    match cents {
        0 => Ok(()),
        c if c % 10 == 0 => {
            w.write_char('.')?;
            int(w, c / 10)
        }
        c => {
            w.write_char('.')?;
            if c < 10 {
                w.write_char('0')?;
            }
            int(w, c)
        }
    }
}

/// A fraction as a whole percentage: `0.256` is `26 %`.
pub fn write_percent<W: Write>(w: &mut W, x: f64) -> fmt::Result {
    write_fixed(w, x * 100.0, 0)?;
    w.write_str(" %")
}

/// A duration in years, one decimal: `5.23` is `5.2 years`.
pub fn write_years<W: Write>(w: &mut W, x: f64) -> fmt::Result {
    write_fixed(w, x, 1)?;
    w.write_str(" years")
}

/// One sentence built by plain appends, for the reasons written on every scoring call.
#[derive(Debug)]
pub struct Sentence(String);

impl Sentence {
    pub fn new() -> Self {
        Sentence(String::with_capacity(96))
    }

    pub fn text(mut self, s: &str) -> Self {
        self.0.push_str(s);
        self
    }

    /// `x` with `decimals` digits after the point, as [`write_fixed`].
    pub fn fixed(mut self, x: f64, decimals: u8) -> Self {
        // Writing into a String cannot fail.
        let _ = write_fixed(&mut self.0, x, decimals);
        self
    }

    /// ` (got of max points)`, both with one decimal: how much of a factor's share a customer
    /// earned.
    pub fn points(self, got: f64, max: f64) -> Self {
        self.text(" (")
            .fixed(got, 1)
            .text(" of ")
            .fixed(max, 1)
            .text(" points)")
    }

    /// A value shown by its own `Display` (the shortest text that reads back as `x` for
    /// floats).
    pub fn shown(mut self, x: impl fmt::Display) -> Self {
        let _ = write!(self.0, "{x}");
        self
    }

    /// Appends with one of the `write_*` functions of this module.
    pub fn with(mut self, write: fn(&mut String, f64) -> fmt::Result, x: f64) -> Self {
        let _ = write(&mut self.0, x);
        self
    }

    pub fn done(self) -> String {
        self.0
    }
}

impl Default for Sentence {
    fn default() -> Self {
        Self::new()
    }
}

/// [`write_amount`] for `format!`: `12,400`, `-1,250.5`, `1,234,567.89`.
#[derive(Debug, Clone, Copy)]
pub struct Amount(pub f64);

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_amount(f, self.0)
    }
}

/// [`write_percent`] for `format!`.
#[derive(Debug, Clone, Copy)]
pub struct Percent(pub f64);

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_percent(f, self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fixed(x: f64, decimals: u8) -> String {
        let mut s = String::new();
        write_fixed(&mut s, x, decimals).unwrap();
        s
    }

    #[test]
    fn fixed_rounds_half_away_and_drops_negative_zero() {
        assert_eq!(fixed(2.25, 1), "2.3");
        assert_eq!(fixed(12.04, 1), "12.0");
        assert_eq!(fixed(-3.06, 1), "-3.1");
        assert_eq!(fixed(-0.01, 1), "0.0");
        assert_eq!(fixed(0.0, 0), "0");
        assert_eq!(fixed(99.5, 0), "100");
        assert_eq!(fixed(7.0, 3), "7.000");
        assert_eq!(fixed(f64::NAN, 1), "NaN");
        assert_eq!(fixed(1e300, 1), format!("{:.1}", 1e300));
    }

    #[test]
    fn amounts_group_thousands_and_keep_cents() {
        assert_eq!(Amount(12_400.0).to_string(), "12,400");
        assert_eq!(Amount(-1_250.5).to_string(), "-1,250.5");
        assert_eq!(Amount(1_234_567.891).to_string(), "1,234,567.89");
        assert_eq!(Amount(1_000_000.0).to_string(), "1,000,000");
        assert_eq!(Amount(1_002_003.07).to_string(), "1,002,003.07");
        assert_eq!(Amount(0.0).to_string(), "0");
        assert_eq!(Amount(-0.001).to_string(), "0");
        assert_eq!(Amount(999.0).to_string(), "999");
        assert_eq!(Amount(999.999).to_string(), "1,000");
        assert_eq!(Percent(-0.256).to_string(), "-26 %");
        let mut years = String::new();
        write_years(&mut years, 5.25).unwrap();
        assert_eq!(years, "5.3 years");
    }

    proptest! {
        /// Away from exact ties, the integer path prints what the standard printer prints.
        #[test]
        fn fixed_agrees_with_std(x in -1e9f64..1e9, d in 0u8..4) {
            let scaled = (x * 10f64.powi(i32::from(d))).abs();
            prop_assume!((scaled - scaled.trunc() - 0.5).abs() > 1e-6);
            let std = format!("{:.*}", usize::from(d), x);
            let std = std.strip_prefix('-').filter(|s| s.bytes().all(|b| b == b'0' || b == b'.'))
                .map_or(std.clone(), str::to_owned);
            prop_assert_eq!(fixed(x, d), std);
        }

        /// Removing the separators gives the amount back to the cent.
        #[test]
        fn amount_reads_back(x in -1e12f64..1e12) {
            let s = Amount(x).to_string().replace(',', "");
            let back: f64 = s.parse().map_err(|e| TestCaseError::fail(format!("{s}: {e}")))?;
            prop_assert!((back - x).abs() <= 0.005 + 1e-9 * x.abs());
        }
    }
}
