//! Where the service reads the time.
//!
//! Everything that depends on "now" — today's date for status and validation, `scored_at`,
//! the creation time of runs and models — asks a [`Clock`] handed to the use-case layer, never
//! the system clock directly. The server runs on [`SystemClock`]; tests run on a
//! [`FixedClock`], so that a customer whose last purchase is "2026-10-01" is loyal today and
//! still loyal when the suite runs two years from now.

use std::sync::Mutex;

use time::{Date, Duration, OffsetDateTime};

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> OffsetDateTime;

    /// The latest calendar date that is today somewhere on Earth (UTC+14): a caller in any
    /// time zone may send its own today without it counting as the future.
    fn today(&self) -> Date {
        (self.now() + Duration::hours(14)).date()
    }
}

/// The operating system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that stands still until it is moved: for tests and for replaying a past day.
#[derive(Debug)]
pub struct FixedClock(Mutex<OffsetDateTime>);

impl FixedClock {
    pub fn at(instant: OffsetDateTime) -> Self {
        Self(Mutex::new(instant))
    }

    /// Noon UTC of `date`.
    pub fn on(date: Date) -> Self {
        Self::at(
            date.with_hms(12, 0, 0)
                .unwrap_or(date.midnight())
                .assume_utc(),
        )
    }

    pub fn set(&self, instant: OffsetDateTime) {
        *self.lock() = instant;
    }

    pub fn advance(&self, by: Duration) {
        let mut t = self.lock();
        *t += by;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, OffsetDateTime> {
        // A poisoned lock only means a panic elsewhere; the instant is intact.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Clock for FixedClock {
    fn now(&self) -> OffsetDateTime {
        *self.lock()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn today_is_the_date_at_utc_plus_14() {
        let c = FixedClock::at(datetime!(2026-12-01 09:59 UTC));
        assert_eq!(c.today(), date!(2026 - 12 - 01));
        c.set(datetime!(2026-12-01 10:00 UTC));
        assert_eq!(c.today(), date!(2026 - 12 - 02));
    }

    #[test]
    fn a_fixed_clock_moves_only_when_told() {
        let c = FixedClock::on(date!(2026 - 12 - 01));
        let t = c.now();
        assert_eq!(c.now(), t);
        c.advance(Duration::seconds(5));
        assert_eq!(c.now() - t, Duration::seconds(5));
        assert!(SystemClock.now() > datetime!(2026-01-01 0:00 UTC));
    }
}
