"""Claim specs: validation, YAML/JSON round trips, the verdict rule."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from harness.claims import ClaimSpec, apply_rule, find_claims, load_claim
from harness.errors import SpecError

BASE = {"statement": "CETT features predict hallucination.", "stage": "localization", "evidence": "readout",
        "estimand": {"kind": "detector_auroc"}, "pass_rule": {"kind": "lower_above", "threshold": 0.5}}


def test_shipped_claims_all_load():
    from pathlib import Path

    claims = find_claims(Path(__file__).resolve().parents[2] / "claims")
    assert len(claims) >= 4
    for path in claims.values():
        load_claim(path)


def test_spec_round_trips_through_yaml_and_json():
    spec = ClaimSpec.model_validate(BASE)
    again = ClaimSpec.model_validate(yaml.safe_load(yaml.safe_dump(spec.model_dump(mode="json"))))
    assert again == spec
    assert ClaimSpec.model_validate_json(spec.model_dump_json()) == spec


@pytest.mark.parametrize("text,match", [
    ("statement: [unclosed", "malformed YAML at line 1"),
    ("- a\n- b\n", "must be a YAML mapping"),
    ("id: x\n", "the claim id is the file name"),
])
def test_malformed_files(tmp_path, text, match):
    p = tmp_path / "c.yaml"
    p.write_text(text)
    with pytest.raises(SpecError, match=match) as e:
        load_claim(p)
    assert str(p) in str(e.value)


def test_wrong_type_names_the_field(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text(yaml.safe_dump({**BASE, "pipeline": {"sampling": {"k": "ten"}}}))
    with pytest.raises(SpecError, match=r"pipeline\.sampling\.k"):
        load_claim(p)


def test_missing_claim_file_is_clear(tmp_path):
    with pytest.raises(SpecError, match="cannot read"):
        load_claim(tmp_path / "nope.yaml")


def test_duplicate_claim_ids_are_refused(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "x.yaml").write_text("")
    (tmp_path / "b" / "x.yaml").write_text("")
    with pytest.raises(SpecError, match="used by two files"):
        find_claims(tmp_path)


def test_hf_model_needs_path():
    with pytest.raises(ValueError, match=r"needs model\.path"):
        ClaimSpec.model_validate({**BASE, "model": {"kind": "hf"}})


@given(low=st.floats(-5, 5), width=st.floats(0, 5), t=st.floats(-5, 5))
def test_rule_verdicts_are_consistent(low, width, t):
    high = low + width
    v, _, _ = apply_rule(type("R", (), {"kind": "lower_above", "threshold": t})(), low, high)
    assert v == ("SUPPORTED" if low > t else "REFUTED" if high <= t else "INCONCLUSIVE")
    w, _, _ = apply_rule(type("R", (), {"kind": "upper_below", "threshold": -t})(), -high, -low)
    assert w == v  # mirror image
