"""What the DAL-service kinds (SCS, SSA) share: a metadata query that tells the answer's columns.

A DAL service describes its table by answering a query without rows (SCS ``SR=0``, SSA
``FORMAT=METADATA``); that query is also the cheapest valid request, so it is the availability
probe too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from typing_extensions import override

from gateway.formats.decode import decode
from gateway.kinds.registry import BackendKind
from planners.sql_catalog import ColumnInfo

if TYPE_CHECKING:
    import httpx

    from gateway.settings import BackendConfig


class MetadataQueryKind(BackendKind):
    """A kind whose catalogue source is the answer to ``metadata_query`` (not registered)."""

    metadata_query: ClassVar[tuple[tuple[str, str], ...]]

    @override
    def health_params(self, config: BackendConfig) -> tuple[tuple[str, str], ...]:
        """The metadata query: valid, and answered without rows."""
        del config
        return self.metadata_query

    def answer_columns(self, client: httpx.Client, config: BackendConfig) -> tuple[ColumnInfo, ...]:
        """The FIELDs of the service's answer to the metadata query.

        Raises
        ------
        httpx.HTTPError, gateway.formats.decode_votable.DecodeError
            The service did not answer with a VOTable.
        """
        assert config.url is not None  # check_config requires a url
        response = client.get(config.url, params=self.metadata_query)
        response.raise_for_status()
        return decode(response.content, "votable").columns


def position_column(columns: Sequence[ColumnInfo], ucd: str, url: str, utype: str = "") -> str:
    """The first column with the UCD ``ucd`` (or whose utype ends with ``utype``).

    Raises
    ------
    ValueError
        When there is none: cones cannot be pushed.
    """
    found = [
        c.name
        for c in columns
        if (c.ucd or "").lower() == ucd
        or (utype and (c.utype or "").lower().endswith(utype.lower()))
    ]
    if not found:
        msg = f"{url}: the service's answer has no position column with UCD {ucd}"
        raise ValueError(msg)
    return found[0]
