"""Unit tests of the spectral planner, its constraint printer and specobjid helpers."""

from __future__ import annotations

import io

import httpx
import numpy as np
import pytest

from grammar import AdqlSemanticError, parse, parse_condition
from grammar.nodes import Identifier, TableName
from planners import spectral_constraint as sc
from planners.negotiate import negotiate
from planners.specobjid import pack, to_signed, to_unsigned, unpack
from planners.spectral import SpectralPlanner
from planners.spectral_reverse import spectral_params_to_query
from standins import specobjid as standin_ids

KINDS: dict[str, sc.Kind] = {"z": "num", "class": "str", "plate": "num"}


def test_specobjid_worked_example() -> None:
    assert pack(4055, 408, 55359, "v5_7_0") == 4565636362342690816
    parts = unpack(4565636362342690816)
    assert (parts.plate, parts.fiberid, parts.mjd, parts.run2d) == (4055, 408, 55359, "v5_7_0")


@pytest.mark.parametrize("run2d", ["26", "103", "v5_13_0", "v6_0_4"])
def test_specobjid_agrees_with_the_stand_in(run2d: str) -> None:
    ours = pack(9000, 1000, 58000, run2d)
    assert ours == standin_ids.pack(9000, 1000, 58000, run2d)
    assert to_unsigned(to_signed(ours)) == ours
    assert to_signed(ours) < 0


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("z > 0.1 AND class = 'GALAXY'", True),
        ("z / 2 > 0.1", False),
        ("class = 1", False),
        ("plate & 1 = 1", False),
        ("secret > 1", False),
        ("z > 0x10", False),
        ("NOT (z BETWEEN 1 AND 2 OR class LIKE 'Q%')", True),
        ("z = NULL", False),
        ("ABS(z - 1) < 0.5", True),
    ],
)
def test_constraint_allow_list(text: str, ok: bool) -> None:
    assert sc.pushable(parse_condition(text), KINDS) is ok


def test_constraint_text_is_printed_from_the_ast() -> None:
    cond = parse_condition("class = 'x'' OR 1=1 --' OR Z > 1")
    assert sc.render(cond, {"z": "z", "class": "class"}) == "(class = 'x'' OR 1=1 --' OR z > 1)"


def test_unknown_table_and_old_contexts() -> None:
    with pytest.raises(AdqlSemanticError, match=r"sdss_dr16\.specobj"):
        SpectralPlanner().scan(TableName((Identifier("sdss_dr16"), Identifier("specobject"))))
    with pytest.raises(ValueError, match="pre-DR8"):
        SpectralPlanner(contexts=("sdss_dr7",))


def test_reverse_mapping_round_trip() -> None:
    query = spectral_params_to_query(
        {
            "fields": "specobjid,z",
            "cond": "q3c_radial_query(ra,dec,30,1,0.05) AND z > 0.2 order by z limit 4",
        }
    )
    fragment = negotiate(SpectralPlanner(), query)
    cond = dict(fragment.requests[0].params)["cond"]
    assert cond == "q3c_radial_query(ra,dec,30.0,1.0,0.05) AND z > 0.2 order by z limit 4"


@pytest.mark.integration
def test_spectra_requests_against_the_stand_in(spectral_url: str) -> None:
    planner = SpectralPlanner(base_url=spectral_url)
    (request,) = negotiate(
        planner, parse("SELECT TOP 3 specobjid FROM sdss_dr16.specobj ORDER BY z")
    ).requests
    answer = httpx.get(request.url, params=list(request.params), timeout=30)
    ids = [int(line.split(",")[0]) for line in answer.text.splitlines()[1:]]
    assert len(ids) == 3
    (spectra,) = planner.spectra_requests(ids, values="flux,loglam")
    assert spectra.response_format == "npy"
    body = spectra.body or b""
    reply = httpx.post(
        spectra.url,
        content=body,
        headers={"content-type": "application/x-www-form-urlencoded"},
        timeout=30,
    )
    assert reply.status_code == 200, reply.text
    block = np.load(io.BytesIO(reply.content), allow_pickle=False)
    assert block.shape[0] == 3
    assert set(block.dtype.names or ()) == {"flux", "loglam"}
    single = planner.spectra_requests(ids, align=False)
    assert len(single) == 3
