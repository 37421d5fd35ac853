"""English (every en-* locale): `2026-11-30 14:05 UTC` for datetimes, `2026-11-30` for dates, the
same as the notes and chat replies (entitlements.wording.until)."""

DATETIME_FORMAT = "Y-m-d H:i T"
SHORT_DATETIME_FORMAT = DATETIME_FORMAT
DATE_FORMAT = "Y-m-d"
SHORT_DATE_FORMAT = DATE_FORMAT
TIME_FORMAT = "H:i"
