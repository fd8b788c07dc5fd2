"""``realname risk generate`` and ``evaluate`` end to end on a small generated file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from realname.risk.cli import risk_app
from realname.risk.policy import default_policy

runner = CliRunner()


@pytest.fixture(scope="module")
def sessions_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("risk") / "sessions.jsonl"
    result = runner.invoke(
        risk_app, ["generate", "--sessions", "4000", "--seed", "11", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "wrote 4000 sessions" in result.output
    return out


def _share(output: str, label: str) -> float:
    match = re.search(rf"{label}\s+([\d.]+)%", output)
    assert match, output
    return float(match[1]) / 100


def test_evaluate_default_policy(sessions_file: Path, tmp_path: Path) -> None:
    chart = tmp_path / "chart.png"
    result = runner.invoke(risk_app, ["evaluate", str(sessions_file), "--chart", str(chart)])
    assert result.exit_code == 0, result.output
    # Issue 8's targets (99 % / 95 % / 3 %), with room for 4,000 sessions' noise.
    assert _share(result.output, "sim_swap_takeover") >= 0.97
    assert _share(result.output, r"friction \(legit stepped up\):") <= 0.035
    for label in ("synthetic_identity", "credential_stuffing", "relative_misuse"):
        assert _share(result.output, label) >= 0.92
    assert "confusion (label x strongest factor required)" in result.output
    assert re.search(r"legit\s+\d+\s+\d+\s+\d+\s+\d+", result.output)
    assert chart.read_bytes().startswith(b"\x89PNG")


def test_evaluate_with_a_stricter_policy_file(sessions_file: Path, tmp_path: Path) -> None:
    data = default_policy().model_dump(mode="json")
    for plan in data["actions"].values():
        plan["baseline"] = ["face"]
    policy = tmp_path / "strict.yaml"
    policy.write_text(yaml.safe_dump(data), encoding="utf-8")
    result = runner.invoke(risk_app, ["evaluate", str(sessions_file), "--policy", str(policy)])
    assert result.exit_code == 0, result.output
    assert _share(result.output, "relative_misuse") == 1.0


def test_malformed_file_is_refused_whole(tmp_path: Path, sessions_file: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    lines = sessions_file.read_text(encoding="utf-8").splitlines()[:5]
    lines.insert(3, '{"label": "legit", "signals": {"action": "login", "consent": "maybe"}}')
    bad.write_text("\n".join(lines), encoding="utf-8")
    result = runner.invoke(risk_app, ["evaluate", str(bad)])
    assert result.exit_code == 2
    assert "line 4: signals.consent" in result.output
    assert "detection" not in result.output


def test_bad_policy_is_refused(tmp_path: Path, sessions_file: Path) -> None:
    policy = tmp_path / "bad.yaml"
    policy.write_text("version: 1\nrules: []\nactions: {}\n", encoding="utf-8")
    result = runner.invoke(risk_app, ["evaluate", str(sessions_file), "--policy", str(policy)])
    assert result.exit_code == 2
    assert "RISK_POLICY_INVALID" in result.output
    assert "rules" in result.output
