"""Reading DALI parameters off an HTTP request: query string, urlencoded and multipart forms.

File parts of a multipart body are kept by name so ``UPLOAD=t,param:t`` can find them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.datastructures import UploadFile
from starlette.requests import Request

from gateway.tap_params import ParamBag


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
            form = await request.form(max_part_size=max_file_bytes)
            for key, value in form.multi_items():
                if isinstance(value, UploadFile):
                    files[key] = await value.read()
                    await value.close()
                else:
                    bag.add(key, value)
    return RequestParams(bag, files)
