//! Card expiry (month and year), checked against an injected "now" so tests control time.

use super::CardError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expiry {
    month: u8,
    year: u16,
}

/// How far ahead an expiry may lie before it is taken for a typo.
const MAX_YEARS_AHEAD: u16 = 20;

impl Expiry {
    /// `year` may have two digits (`30` → 2030) or four. `now` is `(year, month)`.
    pub fn new(month: u32, year: u32, now: (u16, u8)) -> Result<Expiry, CardError> {
        if !(1..=12).contains(&month) {
            return Err(CardError::InvalidExpiry);
        }
        let year = match year {
            0..=99 => 2000 + year,
            1000..=9999 => year,
            _ => return Err(CardError::InvalidExpiry),
        };
        let (year, month) = (year as u16, month as u8);
        if (year, month) < now {
            return Err(CardError::ExpiredCard);
        }
        if year > now.0 + MAX_YEARS_AHEAD {
            return Err(CardError::InvalidExpiry);
        }
        Ok(Expiry { month, year })
    }

    pub fn month(self) -> u8 {
        self.month
    }

    pub fn year(self) -> u16 {
        self.year
    }
}

/// `(year, month)` in UTC of a Unix time, for `Expiry::new`.
pub fn year_month(unix_seconds: i64) -> (u16, u8) {
    // Civil-from-days (proleptic Gregorian), so core needs no date crate.
    let days = unix_seconds.div_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year as u16, month as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: (u16, u8) = (2026, 11);

    #[test]
    fn accepts_current_and_future_months() {
        assert_eq!(Expiry::new(11, 26, NOW).unwrap().year(), 2026);
        assert_eq!(Expiry::new(1, 2046, NOW).unwrap().month(), 1);
    }

    #[test]
    fn refuses_past_far_future_and_nonsense() {
        assert_eq!(Expiry::new(10, 2026, NOW), Err(CardError::ExpiredCard));
        assert_eq!(Expiry::new(1, 2047, NOW), Err(CardError::InvalidExpiry));
        assert_eq!(Expiry::new(13, 2030, NOW), Err(CardError::InvalidExpiry));
        assert_eq!(Expiry::new(0, 2030, NOW), Err(CardError::InvalidExpiry));
        assert_eq!(Expiry::new(5, 203, NOW), Err(CardError::InvalidExpiry));
    }

    #[test]
    fn year_month_from_unix_time() {
        assert_eq!(year_month(0), (1970, 1));
        assert_eq!(year_month(1_795_000_000), (2026, 11));
        assert_eq!(year_month(951_782_400), (2000, 2)); // 2000-02-29
    }
}
