//! `Timestamp`: a UTC instant stored the way Django stores it on each
//! backend. PostgreSQL has `timestamp with time zone`; SQLite has no date
//! type and Django writes naive UTC text such as `2026-11-23 17:50:12.345678`
//! (no fraction when it is zero). doorman writes that same text so Django
//! reads doorman's rows, and reads the variants Django and other tools write
//! (`T` separator, `Z` or `+00:00` suffix, any fraction length).

use sqlx::{
    Decode, Encode, Postgres, Sqlite, Type,
    encode::IsNull,
    error::BoxDynError,
    postgres::{PgArgumentBuffer, PgTypeInfo, PgValueRef},
    sqlite::{SqliteArgumentsBuffer, SqliteTypeInfo, SqliteValueRef},
};
use time::{
    OffsetDateTime, PrimitiveDateTime, UtcOffset, format_description::BorrowedFormatItem,
    macros::format_description,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(pub OffsetDateTime);

impl Timestamp {
    /// The current instant, to the microsecond (what both backends and
    /// Django keep), so a value read back equals the value written.
    pub fn now() -> Self {
        let now = OffsetDateTime::now_utc();
        Timestamp(
            now.replace_nanosecond(now.microsecond() * 1000)
                .unwrap_or(now),
        )
    }
}

// Equal instants hash alike whatever their offsets (as `Eq` compares them).
impl std::hash::Hash for Timestamp {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.unix_timestamp_nanos().hash(state);
    }
}

impl From<OffsetDateTime> for Timestamp {
    fn from(t: OffsetDateTime) -> Self {
        Timestamp(t)
    }
}

const DJANGO_TEXT: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day] [hour]:[minute]:[second].[subsecond digits:6]");
const DJANGO_TEXT_WHOLE: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
const READ_TEXT: &[BorrowedFormatItem<'static>] = format_description!(
    "[year]-[month]-[day] [hour]:[minute][optional [:[second][optional [.[subsecond]]]]]"
);
const READ_OFFSET: &[BorrowedFormatItem<'static>] =
    format_description!("[offset_hour sign:mandatory][optional [:]][offset_minute]");

/// `YYYY-MM-DD HH:MM:SS` in UTC, for people (CLI listings).
pub fn timestamp_text(t: Timestamp) -> String {
    let text = to_django_text(t.0);
    text.get(..19).unwrap_or(&text).to_string()
}

/// Django's SQLite text for an instant (in UTC).
pub fn to_django_text(t: OffsetDateTime) -> String {
    let utc = t.to_offset(UtcOffset::UTC);
    let naive = PrimitiveDateTime::new(utc.date(), utc.time());
    let format = if utc.microsecond() == 0 {
        DJANGO_TEXT_WHOLE
    } else {
        DJANGO_TEXT
    };
    // Formatting a valid date with a fixed numeric description cannot fail.
    naive.format(format).unwrap_or_default()
}

/// Parses the SQLite text forms described in the module comment.
pub fn from_django_text(text: &str) -> Result<OffsetDateTime, String> {
    let text = text.trim().replacen('T', " ", 1);
    let (body, offset) = split_offset(&text);
    let naive = PrimitiveDateTime::parse(body, READ_TEXT)
        .map_err(|e| format!("unreadable timestamp `{text}`: {e}"))?;
    let offset = match offset {
        None => UtcOffset::UTC,
        Some(o) => UtcOffset::parse(o, READ_OFFSET)
            .map_err(|e| format!("unreadable offset in `{text}`: {e}"))?,
    };
    Ok(naive.assume_offset(offset).to_offset(UtcOffset::UTC))
}

/// Splits `2026-01-01 10:00:00+02:00` into the local part and the offset;
/// a trailing `Z` means UTC.
fn split_offset(text: &str) -> (&str, Option<&str>) {
    if let Some(body) = text.strip_suffix('Z') {
        return (body, None);
    }
    // The offset sign can only appear after the time, i.e. past the date's
    // own dashes (index 10).
    match text.get(10..).and_then(|t| t.rfind(['+', '-'])) {
        Some(i) => (&text[..10 + i], Some(&text[10 + i..])),
        None => (text, None),
    }
}

impl Type<Sqlite> for Timestamp {
    fn type_info() -> SqliteTypeInfo {
        <String as Type<Sqlite>>::type_info()
    }

    fn compatible(ty: &SqliteTypeInfo) -> bool {
        <OffsetDateTime as Type<Sqlite>>::compatible(ty) || <String as Type<Sqlite>>::compatible(ty)
    }
}

impl Encode<'_, Sqlite> for Timestamp {
    fn encode_by_ref(&self, buf: &mut SqliteArgumentsBuffer) -> Result<IsNull, BoxDynError> {
        <String as Encode<Sqlite>>::encode(to_django_text(self.0), buf)
    }
}

impl<'r> Decode<'r, Sqlite> for Timestamp {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        let text = <&str as Decode<Sqlite>>::decode(value)?;
        Ok(Timestamp(from_django_text(text)?))
    }
}

impl Type<Postgres> for Timestamp {
    fn type_info() -> PgTypeInfo {
        <OffsetDateTime as Type<Postgres>>::type_info()
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        <OffsetDateTime as Type<Postgres>>::compatible(ty)
    }
}

impl Encode<'_, Postgres> for Timestamp {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        <OffsetDateTime as Encode<Postgres>>::encode_by_ref(&self.0, buf)
    }
}

impl<'r> Decode<'r, Postgres> for Timestamp {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(Timestamp(<OffsetDateTime as Decode<Postgres>>::decode(
            value,
        )?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn writes_djangos_text() {
        assert_eq!(
            to_django_text(datetime!(2026-11-23 17:50:12.345678 UTC)),
            "2026-11-23 17:50:12.345678"
        );
        assert_eq!(
            to_django_text(datetime!(2026-11-23 17:50:12 UTC)),
            "2026-11-23 17:50:12"
        );
        assert_eq!(
            to_django_text(datetime!(2026-11-23 19:50:12 +02:00)),
            "2026-11-23 17:50:12"
        );
    }

    #[test]
    fn reads_every_variant() {
        let want = datetime!(2026-11-23 17:50:12.5 UTC);
        for text in [
            "2026-11-23 17:50:12.5",
            "2026-11-23 17:50:12.500000",
            "2026-11-23T17:50:12.500Z",
            "2026-11-23 17:50:12.5+00:00",
            "2026-11-23 19:50:12.5+02:00",
            "2026-11-23 12:50:12.5-0500",
        ] {
            assert_eq!(from_django_text(text).unwrap(), want, "{text}");
        }
        assert_eq!(
            from_django_text("2026-11-23 17:50").unwrap(),
            datetime!(2026-11-23 17:50 UTC)
        );
        for bad in [
            "",
            "yesterday",
            "2026-13-01 00:00:00",
            "2026-11-23 17:50:12+99",
        ] {
            assert!(from_django_text(bad).is_err(), "{bad}");
        }
    }
}
