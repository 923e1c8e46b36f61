"""Reading DALI parameters off an HTTP request: query string, urlencoded and multipart forms.

File parts of a multipart body are kept by name so ``UPLOAD=t,param:t`` can find them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request

from gateway.tap.params import ParamBag, TapUsageError

#: Largest text field of a form (a QUERY with a long IN list); files have their own limit
#: (``upload_max_bytes``, checked where uploads are read).
FIELD_MAX_BYTES = 16 << 20


@dataclass(slots=True)
class RequestParams:
    """All parameters of one request plus the inline files of a multipart body."""

    bag: ParamBag
    files: dict[str, bytes] = field(default_factory=dict)


async def read_request_params(request: Request, *, max_file_bytes: int) -> RequestParams:
    """Collect query-string and body parameters; the body wins nothing, both accumulate.

    DALI does not say which wins when a parameter is in both places, and TAP clients never
    do that, so both are kept and single-valued parameters then fail as repeated.
    """
    bag = ParamBag(request.query_params.multi_items())
    files: dict[str, bytes] = {}
    if request.method == "POST":
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
            try:
                # Starlette's part limit applies to text fields, not to files: a small upload
                # limit must not refuse a long query.
                form = await request.form(max_part_size=max(max_file_bytes, FIELD_MAX_BYTES))
            except HTTPException as exc:
                raise TapUsageError(f"unreadable request body: {exc.detail}") from None
            for key, value in form.multi_items():
                if isinstance(value, UploadFile):
                    files[key] = await value.read()
                    await value.close()
                else:
                    bag.add(key, value)
    return RequestParams(bag, files)
