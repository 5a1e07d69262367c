"""Dates as Twig handles them: PHP ``DateTime`` parsing (a strtotime subset), ``modify`` and
``date()`` format characters, on top of :mod:`zoneinfo`.

Supported input: timestamps (int or digit string, ``@123``), ISO 8601 (``2024-03-05``,
``2024-03-05 14:07[:00]``, ``2024-03-05T11:07:00+00:00``, ``Z``), ``05.03.2024``, ``03/05/2024``,
``March 5, 2024``, ``5 March 2024``, keywords (``now``, ``today``, ``midnight``, ``noon``,
``tomorrow``, ``yesterday``) and relative parts (``+1 day``, ``-2 weeks``, ``3 months ago``,
``next monday``, ``last friday``, ``first day of next month``, ``last day of this month``).
A string without a zone is read in the template's timezone, as Twig does with PHP's default
timezone set to it.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from functools import lru_cache, partial
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mailcard.errors import TemplateRuntimeError

__all__ = ["convert_date", "format_date", "get_zone", "modify_date"]

_ZONES: dict[str, tzinfo] = {}


def _offset_zone(delta: timedelta) -> timezone:
    """A fixed offset as PHP keeps one from "+03:00" or a timestamp: named "+03:00" (format ``e``),
    shown as "GMT+0300" by ``T``. (An unnamed ``timezone(timedelta(0))`` would be UTC itself.)"""
    total = int(delta.total_seconds())
    sign = "+" if total >= 0 else "-"
    hours, minutes = abs(total) // 3600, (abs(total) % 3600) // 60
    return timezone(delta, f"{sign}{hours:02d}:{minutes:02d}")


_TIMESTAMP_ZONE: Final = _offset_zone(timedelta(0))  # "@1700000000" and integer timestamps
# Zones PHP keeps as abbreviations: "Z" and "GMT" print as themselves; "UTC" is the UTC zone.
_ABBREVIATIONS: Final[dict[str, tzinfo]] = {
    "UTC": UTC,
    "Z": timezone(timedelta(0), "Z"),
    "GMT": timezone(timedelta(0), "GMT"),
}


def get_zone(name: str) -> tzinfo:
    zone = _ZONES.get(name)
    if zone is not None:
        return zone
    if name.upper() in _ABBREVIATIONS:
        zone = _ABBREVIATIONS[name.upper()]
    else:
        offset = _parse_offset(name)
        if offset is not None:
            zone = offset
        else:
            try:
                zone = ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
                raise TemplateRuntimeError(
                    f'unknown timezone "{name}"', hint="use a name like Europe/Moscow"
                ) from exc
    if len(_ZONES) < 1000:
        _ZONES[name] = zone
    return zone


def _parse_offset(text: str) -> timezone | None:
    match = re.fullmatch(r"(?:GMT|UTC)?([+-])(\d{1,2})(?::?(\d{2}))?", text.strip())
    if not match:
        return None
    hours, minutes = int(match.group(2)), int(match.group(3) or 0)
    if hours > 14 or minutes > 59:
        return None
    delta = timedelta(hours=hours, minutes=minutes)
    return _offset_zone(-delta if match.group(1) == "-" else delta)


_TIMESTAMP = re.compile(r"-?[0-9]+")


def convert_date(value: Any, tz: Any, default_tz: str) -> datetime:
    """Twig's ``convertDate``: ``tz`` None → the default zone, False → keep the value's own zone."""
    target: tzinfo | None
    if tz is False:
        target = None
    elif tz is None:
        target = get_zone(default_tz)
    else:
        target = get_zone(str(tz))
    if type(value) is str:
        # The common case, an ISO date string from the data, skips the general checks below.
        match = _ISO_FAST.fullmatch(value)
        if match is not None:
            result = _iso(match, get_zone(default_tz))
            return result.astimezone(target) if target is not None else result
    if isinstance(value, datetime):
        return value.astimezone(target) if target is not None else value
    if value is None or value == "now":
        return datetime.now(target or get_zone(default_tz))
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, float):
        value = int(value)
    text = str(value) if not isinstance(value, str) else str.__str__(value)
    if _TIMESTAMP.fullmatch(text):
        result = datetime.fromtimestamp(int(text), _TIMESTAMP_ZONE)
    else:
        result = parse_date(text, get_zone(default_tz))
    return result.astimezone(target) if target is not None else result


def modify_date(value: Any, modifier: Any, default_tz: str) -> datetime:
    base = convert_date(value, False, default_tz)
    return parse_date(str(modifier), base.tzinfo or get_zone(default_tz), base=base)


# --------------------------------------------------------------------------------------- parsing

_MONTHS = {
    name: index
    for index, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
_WEEKDAYS = {
    name: index
    for index, names in enumerate(
        [
            ("monday", "mon"),
            ("tuesday", "tue", "tues"),
            ("wednesday", "wed"),
            ("thursday", "thu", "thur", "thurs"),
            ("friday", "fri"),
            ("saturday", "sat"),
            ("sunday", "sun"),
        ]
    )
    for name in names
}
_UNITS = {
    "sec": "seconds",
    "second": "seconds",
    "min": "minutes",
    "minute": "minutes",
    "hour": "hours",
    "day": "days",
    "week": "weeks",
    "fortnight": "fortnights",
    "month": "months",
    "year": "years",
    "weekday": "weekdays",
}
_MONTH_RE = "|".join(sorted(_MONTHS, key=len, reverse=True))
_DAY_RE = "|".join(sorted(_WEEKDAYS, key=len, reverse=True))
_UNIT_RE = r"(?:sec|second|min|minute|hour|day|week|fortnight|month|year|weekday)s?"
_NUM_WORDS = {"next": 1, "last": -1, "previous": -1, "this": 0}
_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "last": -1}

_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("iso_date", re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})")),
    ("slash_ymd", re.compile(r"([0-9]{4})/([0-9]{1,2})/([0-9]{1,2})")),
    ("dot_dmy", re.compile(r"([0-9]{1,2})[.]([0-9]{1,2})[.]([0-9]{4}|[0-9]{2})(?![0-9:])")),
    ("slash_mdy", re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4}|[0-9]{2})")),
    (
        "text_mdy",
        re.compile(rf"({_MONTH_RE})\.?\s+([0-9]{{1,2}})(?:st|nd|rd|th)?(?:,?\s*([0-9]{{4}}))?\b", re.I),
    ),
    (
        "text_dmy",
        re.compile(
            rf"([0-9]{{1,2}})(?:st|nd|rd|th)?[ \-.]*({_MONTH_RE})\.?(?:[ \-.,]*([0-9]{{4}}))?\b", re.I
        ),
    ),
    ("text_my", re.compile(rf"({_MONTH_RE})\.?\s+([0-9]{{4}})\b", re.I)),
    ("month_name", re.compile(rf"({_MONTH_RE})\b\.?", re.I)),
    (
        "time",
        re.compile(
            r"[T]?([0-9]{1,2}):([0-9]{2})(?::([0-9]{2})(?:[.,]([0-9]+))?)?(?:\s*([ap])\.?m\.?)?", re.I
        ),
    ),
    ("time_ampm", re.compile(r"([0-9]{1,2})\s*([ap])\.?m\.?\b", re.I)),
    # "+03" is a zone but "+30 days" is a relative move: no unit word may follow an offset.
    ("tz_offset", re.compile(r"(?:GMT|UTC)?([+-])([0-9]{2})(?::?([0-9]{2}))?\b(?!\s*[a-zA-Z])")),
    ("tz_z", re.compile(r"(Z|UTC|GMT)\b", re.I)),
    ("tz_name", re.compile(r"([A-Z][A-Za-z_]+/[A-Za-z_/+-]+)")),
    ("day_of", re.compile(r"(first|last) day of\b", re.I)),
    ("weekday_of", re.compile(rf"(first|second|third|fourth|fifth|last) ({_DAY_RE}) of\b", re.I)),
    ("keyword", re.compile(r"(now|today|midnight|noon|tomorrow|yesterday)\b", re.I)),
    ("rel_word", re.compile(rf"(next|last|previous|this)\s+({_UNIT_RE}|{_DAY_RE})\b", re.I)),
    ("rel_num", re.compile(rf"([+-]?)\s*([0-9]+)\s*({_UNIT_RE})\b(\s+ago\b)?", re.I)),
    ("weekday", re.compile(rf"({_DAY_RE})\b", re.I)),
    ("at", re.compile(r"(at|of)\b", re.I)),
]


class _Parsed:
    def __init__(self) -> None:
        self.ymd: tuple[int, int, int] | None = None
        self.hms: tuple[int, int, int, int] | None = None
        self.zone: tzinfo | None = None
        self.reset_time = False
        self.rel: dict[str, int] = {}
        self.weekday: tuple[int, int] | None = None  # (weekday, direction)
        self.day_of: str | None = None
        self.weekday_of: tuple[int, int] | None = None  # (1..5, or -1 for last; weekday)
        self.month: int | None = None  # a month name alone ("february"): sets the month, keeps the day


def parse_date(text: str, default_zone: tzinfo, base: datetime | None = None) -> datetime:
    """Parse ``text`` like PHP's ``new DateTime($text)`` / ``$date->modify($text)``."""
    source = text.strip()
    if base is None:
        match = _ISO_FAST.fullmatch(source)
        if match is not None:
            return _iso(match, default_zone)
    parsed = _Parsed()
    if source.startswith("@") and re.fullmatch(r"@-?[0-9]+(?:\.[0-9]+)?", source):
        return datetime.fromtimestamp(float(source[1:]), _TIMESTAMP_ZONE)
    position = 0
    while position < len(source):
        while position < len(source) and source[position] in " \t,\n":
            position += 1
        if position >= len(source):
            break
        for kind, pattern in _PATTERNS:
            match = pattern.match(source, position)
            if match and match.end() > position:
                _apply(kind, match, parsed)
                position = match.end()
                break
        else:
            raise TemplateRuntimeError(
                f'cannot parse the date "{text[:60]}"', hint="use e.g. 2024-03-05 14:07:00"
            )
    zone = parsed.zone or (base.tzinfo if base is not None and base.tzinfo else default_zone)
    if base is None:
        now = datetime.now(zone)
        current = now.replace(microsecond=0) if parsed.ymd or parsed.hms else now
    else:
        current = base if parsed.zone is None else base.astimezone(zone)
    if parsed.ymd is not None:
        year, month, day = parsed.ymd
        current = _build(current, year, month, day)
        if parsed.hms is None:
            current = current.replace(hour=0, minute=0, second=0, microsecond=0)
    if parsed.reset_time:
        current = current.replace(hour=0, minute=0, second=0, microsecond=0)
    if parsed.hms is not None:
        hour, minute, second, micro = parsed.hms
        current = current.replace(hour=hour % 24, minute=minute, second=second, microsecond=micro)
    if parsed.zone is not None:
        current = current.replace(tzinfo=parsed.zone)
    # A date being modified keeps its summer or winter time where its wall time exists twice (the
    # result of an earlier date_modify may be the summer one); a date parsed afresh gets winter time.
    return _relative(_wall_time(current, None if base is None else bool(base.dst())), parsed)


_ISO_FAST = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})(?:[T ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]{1,6})[0-9]*)?)?)?"
    r"(Z|[+-][0-9]{2}(?::?[0-9]{2})?)?"
)


def _iso(match: re.Match[str], default_zone: tzinfo) -> datetime:
    """The common ``2024-03-05[ 14:07[:00]][+03:00]`` shapes without the general parser."""
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    zone = default_zone
    if offset:
        zone = _ABBREVIATIONS["Z"] if offset == "Z" else (_parse_offset(offset) or default_zone)
    try:
        return _wall_time(
            datetime(
                int(year),
                int(month),
                int(day),
                int(hour or 0),
                int(minute or 0),
                int(second or 0),
                int((fraction or "0").ljust(6, "0")),
                tzinfo=zone,
            )
        )
    except ValueError:
        # Out-of-range parts (2024-02-31) overflow like PHP does.
        base = datetime(2000, 1, 1, tzinfo=zone)
        moved = _build(base, int(year), int(month), int(day))
        return _wall_time(
            moved.replace(
                hour=int(hour or 0) % 24, minute=int(minute or 0) % 60, second=int(second or 0) % 60
            )
        )


@lru_cache(maxsize=4096)
def _clock_changes_on(zone: ZoneInfo, year: int, month: int, day: int) -> bool:
    """Whether ``zone``'s UTC offset changes during that day (cached: dates repeat across a mailing)."""
    start, end = datetime(year, month, day, tzinfo=zone), datetime(year, month, day, 23, 59, 59, tzinfo=zone)
    offsets = {moment.replace(fold=fold).utcoffset() for moment in (start, end) for fold in (0, 1)}
    return len(offsets) > 1


def _wall_time(dt: datetime, keep_dst: bool | None = None) -> datetime:
    """``dt``'s wall-clock time resolved as PHP resolves it where the zone's clock jumps.

    A time that does not exist (spring forward, 02:30 in Paris on the last Sunday of March) moves on
    by the gap, to 03:30 summer time. A time that exists twice (fall back) is the later, standard-time
    one when it was parsed; after ``date_modify`` it keeps the summer or winter time the date had
    before (``keep_dst``). Python's ``fold`` would print a missing time as if it existed.
    """
    zone = dt.tzinfo
    if zone is None or isinstance(zone, timezone):
        return dt  # a fixed offset has no jumps
    if isinstance(zone, ZoneInfo) and not _clock_changes_on(zone, dt.year, dt.month, dt.day):
        return dt if not dt.fold else dt.replace(fold=0)  # the usual day: every wall time exists once
    first, second = dt.replace(fold=0), dt.replace(fold=1)
    if first.utcoffset() == second.utcoffset():
        return first
    round_trip = first.astimezone(UTC).astimezone(zone)
    if round_trip.replace(tzinfo=None) != first.replace(tzinfo=None):
        return round_trip  # it does not exist
    if keep_dst is None:
        return second
    return first if bool(first.dst()) == keep_dst else second


def _build(current: datetime, year: int, month: int, day: int) -> datetime:
    # PHP lets days overflow into the next month (2024-02-31 is 2024-03-02).
    month_index = year * 12 + (month - 1)
    year, month = divmod(month_index, 12)
    first = current.replace(year=max(1, min(9999, year)), month=month + 1, day=1)
    return first + timedelta(days=day - 1)


def _apply(kind: str, match: re.Match[str], parsed: _Parsed) -> None:
    groups = match.groups()
    if kind in ("iso_date", "slash_ymd"):
        parsed.ymd = (int(groups[0]), int(groups[1]), int(groups[2]))
    elif kind == "dot_dmy":
        parsed.ymd = (_year(groups[2]), int(groups[1]), int(groups[0]))
    elif kind == "slash_mdy":
        parsed.ymd = (_year(groups[2]), int(groups[0]), int(groups[1]))
    elif kind == "text_mdy":
        year = int(groups[2]) if groups[2] else datetime.now().year
        parsed.ymd = (year, _MONTHS[groups[0].lower()], int(groups[1]))
    elif kind == "text_dmy":
        year = int(groups[2]) if groups[2] else datetime.now().year
        parsed.ymd = (year, _MONTHS[groups[1].lower()], int(groups[0]))
    elif kind == "text_my":
        parsed.ymd = (int(groups[1]), _MONTHS[groups[0].lower()], 1)
    elif kind == "month_name":
        parsed.month = _MONTHS[groups[0].lower()]
    elif kind == "time":
        hour = int(groups[0])
        if groups[4]:
            hour = hour % 12 + (12 if groups[4].lower() == "p" else 0)
        micro = int((groups[3] or "0")[:6].ljust(6, "0"))
        parsed.hms = (hour, int(groups[1]), int(groups[2] or 0), micro)
    elif kind == "time_ampm":
        hour = int(groups[0]) % 12 + (12 if groups[1].lower() == "p" else 0)
        parsed.hms = (hour, 0, 0, 0)
    elif kind == "tz_offset":
        delta = timedelta(hours=int(groups[1]), minutes=int(groups[2] or 0))
        parsed.zone = _offset_zone(-delta if groups[0] == "-" else delta)
    elif kind == "tz_z":
        parsed.zone = _ABBREVIATIONS[groups[0].upper()]
    elif kind == "tz_name":
        parsed.zone = get_zone(groups[0])
    elif kind == "day_of":
        parsed.day_of = groups[0].lower()
    elif kind == "weekday_of":
        parsed.weekday_of = (_ORDINALS[groups[0].lower()], _WEEKDAYS[groups[1].lower()])
    elif kind == "keyword":
        word = groups[0].lower()
        if word in ("today", "midnight"):
            parsed.reset_time = True
        elif word == "noon":
            parsed.reset_time = True
            parsed.hms = (12, 0, 0, 0)
        elif word == "tomorrow":
            parsed.reset_time = True
            parsed.rel["days"] = parsed.rel.get("days", 0) + 1
        elif word == "yesterday":
            parsed.reset_time = True
            parsed.rel["days"] = parsed.rel.get("days", 0) - 1
    elif kind == "rel_word":
        amount = _NUM_WORDS[groups[0].lower()]
        target = groups[1].lower()
        if target in _WEEKDAYS:
            parsed.weekday = (_WEEKDAYS[target], amount if amount else 0)
            parsed.reset_time = True
        else:
            unit = _UNITS[target.rstrip("s") if target.rstrip("s") in _UNITS else target]
            parsed.rel[unit] = parsed.rel.get(unit, 0) + amount
    elif kind == "rel_num":
        amount = int(groups[1]) * (-1 if groups[0] == "-" else 1)
        if groups[3]:
            amount = -amount
        word = groups[2].lower()
        unit = _UNITS[word[:-1] if word.endswith("s") and word[:-1] in _UNITS else word]
        parsed.rel[unit] = parsed.rel.get(unit, 0) + amount
    elif kind == "weekday":
        parsed.weekday = (_WEEKDAYS[groups[0].lower()], 0)
        parsed.reset_time = True


def _year(text: str) -> int:
    year = int(text)
    if len(text) == 2:
        year += 2000 if year < 70 else 1900
    return year


def _relative(current: datetime, parsed: _Parsed) -> datetime:
    """Apply the relative parts on the wall clock, as PHP 8.2 does: "+24 hours" across the spring
    change lands on the same clock time, one real hour short of a day."""
    keep_dst = bool(current.dst())
    rel = parsed.rel
    months = rel.get("months", 0) + 12 * rel.get("years", 0)
    if parsed.day_of is not None or parsed.weekday_of is not None:
        # "first/last day of" picks the day after the month moved from the 1st, so 31 January
        # "+1 month" does not overflow into March first ("last day of next month" is 28 February).
        current = current.replace(day=1)
    if parsed.month is not None:
        current = _build(current, current.year, parsed.month, current.day)
    if months:
        current = _build(current, current.year, current.month + months, current.day)
    if parsed.day_of == "last":
        current = current.replace(day=calendar.monthrange(current.year, current.month)[1])
    if parsed.weekday_of is not None:
        # "first monday of next month": that weekday counted in the month, at midnight.
        count, weekday = parsed.weekday_of
        current = current.replace(hour=0, minute=0, second=0, microsecond=0)
        if count > 0:
            current += timedelta(days=(weekday - current.weekday()) % 7 + 7 * (count - 1))
        else:
            current = current.replace(day=calendar.monthrange(current.year, current.month)[1])
            current -= timedelta(days=(current.weekday() - weekday) % 7)
    days = rel.get("days", 0) + 7 * rel.get("weeks", 0) + 14 * rel.get("fortnights", 0)
    if days:
        current = current + timedelta(days=days)
    weekdays = rel.get("weekdays", 0)
    step = 1 if weekdays > 0 else -1
    while weekdays:
        current = current + timedelta(days=step)
        if current.weekday() < 5:
            weekdays -= step
    seconds = rel.get("hours", 0) * 3600 + rel.get("minutes", 0) * 60 + rel.get("seconds", 0)
    if seconds:
        current = current + timedelta(seconds=seconds)
    if parsed.weekday is not None:
        target, direction = parsed.weekday
        delta = (target - current.weekday()) % 7
        if direction > 0 and delta == 0:
            delta = 7
        elif direction < 0:
            delta = -((current.weekday() - target) % 7 or 7)
        current = current + timedelta(days=delta)
    return _wall_time(current, keep_dst)


# --------------------------------------------------------------------------------------- format

_DAY_NAMES = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_MONTH_NAMES = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


def _offset(dt: datetime, colon: bool) -> str:
    delta = dt.utcoffset() or timedelta(0)
    total = int(delta.total_seconds())
    sign = "+" if total >= 0 else "-"
    total = abs(total)
    hours, minutes = total // 3600, (total % 3600) // 60
    return f"{sign}{hours:02d}:{minutes:02d}" if colon else f"{sign}{hours:02d}{minutes:02d}"


def _zone_name(dt: datetime) -> str:
    """Format ``e``: the zone's identifier ("Europe/Moscow", "UTC", "Z", "+03:00")."""
    zone = dt.tzinfo
    if isinstance(zone, ZoneInfo):
        return zone.key
    return dt.tzname() or _offset(dt, True)


def _zone_abbr(dt: datetime) -> str:
    """Format ``T``: the abbreviation ("MSK", "CEST"); a bare offset shows as "GMT+0300"."""
    name = dt.tzname() or ""
    if isinstance(dt.tzinfo, ZoneInfo):
        # PHP prints numeric abbreviations like "+03" as "+03"; keep zoneinfo's own text.
        return name
    if name[:1] in ("+", "-") or not name:
        return "GMT" + _offset(dt, False)
    return name


def _suffix(day: int) -> str:
    if 10 <= day % 100 <= 20:
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")


_COMMON: dict[str, Callable[[datetime], str]] = {
    "d": lambda dt: f"{dt.day:02d}",
    "j": lambda dt: str(dt.day),
    "m": lambda dt: f"{dt.month:02d}",
    "n": lambda dt: str(dt.month),
    "Y": lambda dt: str(dt.year),
    "y": lambda dt: f"{dt.year % 100:02d}",
    "H": lambda dt: f"{dt.hour:02d}",
    "G": lambda dt: str(dt.hour),
    "i": lambda dt: f"{dt.minute:02d}",
    "s": lambda dt: f"{dt.second:02d}",
}
# Parsed formats: a template uses a handful of constant formats, so each is split once into
# literal text (str) and format characters (callables). Bounded like the other caches here.
_FORMATS: dict[str, tuple[str | Callable[[datetime], str], ...]] = {}


def _compile_format(fmt: str) -> tuple[str | Callable[[datetime], str], ...]:
    parts: list[str | Callable[[datetime], str]] = []
    index = 0
    length = len(fmt)
    while index < length:
        char = fmt[index]
        index += 1
        if char == "\\":
            if index < length:
                parts.append(fmt[index])
                index += 1
            continue
        common = _COMMON.get(char)
        if common is not None:
            parts.append(common)
        elif char in _FORMAT_CHARS:
            parts.append(partial(_format_char, char=char))
        else:
            parts.append(char)
    return tuple(parts)


def format_date(dt: datetime, fmt: str) -> str:
    """PHP ``DateTime::format``."""
    parts = _FORMATS.get(fmt)
    if parts is None:
        parts = _compile_format(fmt)
        if len(_FORMATS) < 256:
            _FORMATS[fmt] = parts
    return "".join([part if type(part) is str else part(dt) for part in parts])  # type: ignore[operator]


_FORMAT_CHARS = frozenset("dDjlNSwzWFmMntLoYyaABgGhHisuveIOPpTZcrU")


def _format_char(dt: datetime, char: str) -> str:
    if char == "d":
        return f"{dt.day:02d}"
    if char == "D":
        return _DAY_NAMES[dt.weekday()][:3]
    if char == "j":
        return str(dt.day)
    if char == "l":
        return _DAY_NAMES[dt.weekday()]
    if char == "N":
        return str(dt.isoweekday())
    if char == "S":
        return _suffix(dt.day)
    if char == "w":
        return str(dt.isoweekday() % 7)
    if char == "z":
        return str(dt.timetuple().tm_yday - 1)
    if char == "W":
        return f"{dt.isocalendar()[1]:02d}"
    if char == "F":
        return _MONTH_NAMES[dt.month - 1]
    if char == "m":
        return f"{dt.month:02d}"
    if char == "M":
        return _MONTH_NAMES[dt.month - 1][:3]
    if char == "n":
        return str(dt.month)
    if char == "t":
        return str(calendar.monthrange(dt.year, dt.month)[1])
    if char == "L":
        return "1" if calendar.isleap(dt.year) else "0"
    if char == "o":
        return str(dt.isocalendar()[0])
    if char == "Y":
        return str(dt.year)
    if char == "y":
        return f"{dt.year % 100:02d}"
    if char == "a":
        return "am" if dt.hour < 12 else "pm"
    if char == "A":
        return "AM" if dt.hour < 12 else "PM"
    if char == "B":
        utc = dt.astimezone(UTC)
        beats = int(((utc.hour * 3600 + utc.minute * 60 + utc.second + 3600) % 86400) / 86.4)
        return f"{beats:03d}"
    if char == "g":
        return str(dt.hour % 12 or 12)
    if char == "G":
        return str(dt.hour)
    if char == "h":
        return f"{dt.hour % 12 or 12:02d}"
    if char == "H":
        return f"{dt.hour:02d}"
    if char == "i":
        return f"{dt.minute:02d}"
    if char == "s":
        return f"{dt.second:02d}"
    if char == "u":
        return f"{dt.microsecond:06d}"
    if char == "v":
        return f"{dt.microsecond // 1000:03d}"
    if char == "e":
        return _zone_name(dt)
    if char == "I":
        dst = dt.dst()
        return "1" if dst else "0"
    if char == "O":
        return _offset(dt, False)
    if char == "P":
        return _offset(dt, True)
    if char == "p":
        return "Z" if not (dt.utcoffset() or timedelta(0)) else _offset(dt, True)
    if char == "T":
        return _zone_abbr(dt)
    if char == "Z":
        return str(int((dt.utcoffset() or timedelta(0)).total_seconds()))
    if char == "c":
        return format_date(dt, "Y-m-d\\TH:i:sP")
    if char == "r":
        return format_date(dt, "D, d M Y H:i:s O")
    if char == "U":
        return str(int(dt.timestamp()))
    return char


def today_in(zone_name: str) -> date:
    return datetime.now(get_zone(zone_name)).date()
