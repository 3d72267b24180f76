"""Request handling of the bulk deletion job routes (the api layer, beside `params.py`):
body validation with DRF's texts, the job object, and the page-number paging of the job list."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from replaystore.errors import ApiError, NotFound
from replaystore.fields.shape import iso
from replaystore.query.common import MAX_PAGE
from replaystore.storage.delete_jobs import Job

REQUIRED = "This field is required."
NOT_NULL = "This field may not be null."
BLANK = "This field may not be blank."
NOT_STRING = "Not a valid string."
NUL = "Null characters are not allowed."
BAD_DATETIME = (
    "Datetime has wrong format. Use one of these formats instead: "
    "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."
)
RANGE_ORDER = "rangeStart must be before rangeEnd"  # Sentry's own text
JOB_NOT_FOUND = "The requested resource does not exist"
MAX_ENVIRONMENTS = 100
MAX_TEXT = 8 * 1024
_CURSOR = re.compile(r"^(\d{1,4}):(\d{1,9}):([01])$")


class JobInvalid(ApiError):
    """A create request DRF would refuse: `errors` is the serializer's dictionary (under
    `data`); `detail` says the first problem in one line."""

    def __init__(self, errors: dict[str, Any]) -> None:
        super().__init__(_first(errors))
        self.errors = errors


def _first(errors: Any, path: str = "") -> str:
    if isinstance(errors, dict):
        key, value = next(iter(errors.items()))
        name = key if key == "non_field_errors" or not path else f"{path}.{key}"
        return _first(value, "" if key == "non_field_errors" else name)
    if isinstance(errors, list):
        return _first(errors[0], path)
    return f"{path}: {errors}" if path else str(errors)


def job_object(job: Job) -> dict[str, Any]:
    """The job as the routes answer it."""
    return {
        "id": job.id,
        "dateCreated": iso(job.date_created),
        "dateUpdated": iso(job.date_updated),
        "rangeStart": iso(job.range_start),
        "rangeEnd": iso(job.range_end),
        "environments": list(job.environments),
        "status": job.status,
        "query": job.query,
        "countDeleted": job.count_deleted,
    }


# ---- POST: validation


def parse_create(body: bytes) -> dict[str, Any]:
    """rangeStart, rangeEnd, environments, query of a create request, or JobInvalid."""
    try:
        doc = orjson.loads(body) if body.strip() else {}
    except orjson.JSONDecodeError:
        raise ApiError("Invalid request body: it must be a JSON object.") from None
    if not isinstance(doc, dict):
        raise ApiError("Invalid request body: it must be a JSON object.")
    if "data" not in doc:
        raise JobInvalid({"data": [REQUIRED]})
    data = doc["data"]
    if not isinstance(data, dict):
        kind = type(data).__name__ if data is not None else "null"
        detail = f"Invalid data. Expected a dictionary, but got {kind}."
        raise JobInvalid({"data": {"non_field_errors": [detail]}})
    errors: dict[str, Any] = {}
    parsed: dict[str, Any] = {}
    for name in ("rangeStart", "rangeEnd"):
        value, error = _datetime(data, name)
        _keep(parsed, errors, name, value, error)
    value, error = _environments(data)
    _keep(parsed, errors, "environments", value, error)
    value, error = _query(data)
    _keep(parsed, errors, "query", value, error)
    if not errors and parsed["rangeStart"] >= parsed["rangeEnd"]:
        errors["non_field_errors"] = [RANGE_ORDER]
    if errors:
        raise JobInvalid({"data": errors})
    return parsed


def _keep(parsed: dict, errors: dict, name: str, value: Any, error: Any) -> None:
    if error is not None:
        errors[name] = error
    else:
        parsed[name] = value


def _datetime(data: Mapping[str, Any], name: str) -> tuple[datetime | None, list[str] | None]:
    if name not in data:
        return None, [REQUIRED]
    value = data[name]
    if value is None:
        return None, [NOT_NULL]
    if not isinstance(value, str) or len(value) > 64:
        return None, [BAD_DATETIME]
    try:
        parsed = datetime.fromisoformat(value.strip())
        parsed = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        return None, [BAD_DATETIME]
    return parsed, None


def _environments(data: Mapping[str, Any]) -> tuple[tuple[str, ...] | None, Any]:
    if "environments" not in data:
        return None, [REQUIRED]
    value = data["environments"]
    if value is None:
        return None, [NOT_NULL]
    if not isinstance(value, list):
        kind = type(value).__name__
        return None, [f'Expected a list of items but got type "{kind}".']
    if len(value) > MAX_ENVIRONMENTS:
        return None, [f"Ensure this field has no more than {MAX_ENVIRONMENTS} elements."]
    errors: dict[str, list[str]] = {}
    kept: list[str] = []
    for index, item in enumerate(value):
        text = _text(item)
        if text is None or len(text) > MAX_TEXT:
            errors[str(index)] = [NOT_STRING if text is None else "Ensure this field is short."]
        elif "\x00" in text:
            errors[str(index)] = [NUL]
        elif not text.strip():
            errors[str(index)] = [BLANK]
        else:
            kept.append(text)
    return (None, errors) if errors else (tuple(dict.fromkeys(kept)), None)


def _text(item: Any) -> str | None:
    """DRF's CharField: strings, and numbers as their text; nothing else."""
    if isinstance(item, bool) or not isinstance(item, (str, int, float)):
        return None
    return item if isinstance(item, str) else str(item)


def _query(data: Mapping[str, Any]) -> tuple[str | None, list[str] | None]:
    if "query" not in data:
        return None, [REQUIRED]
    value = data["query"]
    if value is None:
        return "", None  # Sentry stores a null query as ""
    text = _text(value)
    if text is None:
        return None, [NOT_STRING]
    if "\x00" in text:
        return None, [NUL]
    return text, None


def parse_range(start: str | datetime, end: str | datetime) -> tuple[datetime, datetime]:
    """A job's range from ISO 8601 texts or datetimes (naive = UTC), for the CLI and the
    Python store; ApiError naming the bad one."""
    given = {"start": start, "end": end}
    parsed: dict[str, datetime] = {}
    for name, value in given.items():
        if isinstance(value, datetime):
            parsed[name] = value.replace(tzinfo=UTC) if value.tzinfo is None else value
            continue
        found, error = _datetime({name: value}, name)
        if error is not None or found is None:
            raise ApiError(f"{name}: {error[0] if error else BAD_DATETIME}")
        parsed[name] = found
    if parsed["start"] >= parsed["end"]:
        raise ApiError("start must be before end")
    return parsed["start"], parsed["end"]


# ---- GET list: Sentry's page-number paginator (`<per page>:<page>:<is_prev>` cursors)


def parse_list_page(per_page: str | None, cursor: str | None) -> tuple[int, int]:
    """(page size, page number) of a list request, or Sentry's 400s."""
    size = MAX_PAGE
    if per_page is not None:
        if not re.fullmatch(r"\d{1,9}", per_page) or int(per_page) < 1:
            raise ApiError("Invalid per_page parameter.")
        size = int(per_page)
        if size > MAX_PAGE:
            raise ApiError(f"Invalid per_page value. Cannot exceed {MAX_PAGE}.")
    number = 0
    if cursor:
        found = _CURSOR.match(cursor)
        if found is None:
            raise ApiError("Invalid cursor parameter.")
        number = int(found.group(2))
    return size, number


def list_page(
    jobs: Sequence[Job], size: int, number: int, url: str, query: Mapping[str, Sequence[str]]
) -> tuple[list[dict[str, Any]], str]:
    """One page of jobs (newest first) and its `Link` header."""
    start = number * size
    items = [job_object(j) for j in jobs[start : start + size]]
    kept = [(k, v) for k, vs in query.items() if k != "cursor" for v in vs]

    def link(page: int, is_prev: int, rel: str, results: bool) -> str:
        cursor = f"{size}:{page}:{is_prev}"
        encoded = urllib.parse.urlencode([*kept, ("cursor", cursor)], safe=":")
        flag = "true" if results else "false"
        return f'<{url}?{encoded}>; rel="{rel}"; results="{flag}"; cursor="{cursor}"'

    previous = link(max(number - 1, 0), 1, "previous", number > 0)
    following = link(number + 1, 0, "next", start + size < len(jobs))
    return items, f"{previous}, {following}"


def one_job(jobs: Sequence[Job], project_id: int, job_id: int) -> dict[str, Any]:
    found = next((j for j in jobs if j.id == job_id and j.project_id == project_id), None)
    if found is None:
        raise NotFound(JOB_NOT_FOUND)
    return job_object(found)
