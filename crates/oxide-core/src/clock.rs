//! Time as a value: the system clock, or a fixed instant for deterministic tests and replays.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

#[derive(Debug, Clone, Copy, Default)]
pub struct Clock {
    fixed: Option<OffsetDateTime>,
}

impl Clock {
    pub fn system() -> Clock {
        Clock { fixed: None }
    }

    pub fn fixed(at: OffsetDateTime) -> Clock {
        Clock { fixed: Some(at) }
    }

    pub fn now(&self) -> OffsetDateTime {
        self.fixed.unwrap_or_else(OffsetDateTime::now_utc)
    }

    /// RFC 3339 UTC with millisecond precision, e.g. `2026-11-21T04:40:25.123Z`.
    pub fn now_rfc3339(&self) -> String {
        format_ts(self.now())
    }
}

/// Who did something and when (RFC 3339): the pair every recorded change carries into its
/// row and its audit event, passed as one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp<'a> {
    pub actor: &'a str,
    pub at: &'a str,
}

impl<'a> Stamp<'a> {
    pub fn new(actor: &'a str, at: &'a str) -> Stamp<'a> {
        Stamp { actor, at }
    }
}

pub fn format_ts(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let t = t
        .replace_nanosecond((t.nanosecond() / 1_000_000) * 1_000_000)
        .unwrap_or(t);
    t.format(&Rfc3339)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

pub fn parse_ts(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}
