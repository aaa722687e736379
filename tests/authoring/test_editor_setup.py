"""docs/editor-setup.md: the VS Code `yaml.schemas` mapping it shows is right.

Every schema the mapping names is written by `policy schema`, every glob matches shipped files,
and each matched file validates against the schema mapped to it (the way the editor would read
it: YAML 1.2, so dates are strings).
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from pathlib import Path

import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

REPO = Path(__file__).resolve().parents[2]
GUIDE = REPO / "docs" / "editor-setup.md"


def _settings() -> dict:
    text = GUIDE.read_text(encoding="utf-8")
    block = re.search(r"```json\n(.*?)```", text, re.S).group(1)
    return json.loads(block)


def _as_editor_sees(v):
    if isinstance(v, dict):
        return {str(k): _as_editor_sees(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_as_editor_sees(x) for x in v]
    if isinstance(v, (_dt.date, _dt.datetime)):
        return v.isoformat()
    return v


def test_schema_mapping_matches_shipped_files(tmp_path, run, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = run("schema", "schemas")
    assert r.exit_code == 0, r.output
    mapping = _settings()["yaml.schemas"]
    assert len(mapping) == 7
    for schema_path, globs in mapping.items():
        sch_file = tmp_path / schema_path
        assert sch_file.is_file(), schema_path
        sch = json.loads(sch_file.read_text(encoding="utf-8"))
        assert sch["$id"] == sch_file.name
        # resolve references the way an editor does: relative to the file itself
        registry = Registry().with_resource(sch_file.as_uri(), Resource.from_contents(sch))
        validator = Draft202012Validator(sch, registry=registry,
                                         format_checker=Draft202012Validator.FORMAT_CHECKER)
        files = [f for g in globs for f in sorted(REPO.glob(g))]
        assert files, f"{globs} match no shipped file"
        for f in files:
            data = _as_editor_sees(yaml.safe_load(f.read_text(encoding="utf-8")))
            errors = [e.message for e in validator.iter_errors(data)]
            assert not errors, (f, errors[:3])


def test_guide_names_every_written_schema(tmp_path, run):
    run("schema", tmp_path / "s")
    text = GUIDE.read_text(encoding="utf-8")
    for f in (tmp_path / "s").glob("*.schema.json"):
        assert f"`{f.name}`" in text, f.name
