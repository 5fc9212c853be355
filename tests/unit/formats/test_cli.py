"""`customs-broker convert` and `validate`: in-process through `broker.cli.main`, once for real."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from broker.cli import main
from broker.formats import default_registry
from tests.unit.formats.support import DATA, golden_documents, mismatches

REGISTRY = default_registry()
ROOT = Path(__file__).resolve().parents[3]

# Conversions a format refuses rather than write a misleading document: (sample, target) -> fields.
REFUSED = {
    ("rail-chongqing-vientiane-bangkok.xml", "acdd-xml"): {"importer.street"},
    ("road-chongqing-hanoi-pingxiang.gbk.xml", "acdd-xml"): {
        "importer.street",
        "declaration_number",
    },
    ("sea-singapore-qinzhou-import.gb18030.xml", "acdd-xml"): {
        "importer.street",
        "declaration_number",
    },
    ("cancellation-vientiane-bangkok.xml", "cn-swxml"): {"function"},
    ("sea-chongqing-qinzhou-singapore.edi", "cn-swxml"): {"function"},
    ("rail-chongqing-vientiane-bangkok-transit.json", "cn-swxml"): {"kind"},
}
# Converted, but China drops ACDD's mandatory parties' details, so it cannot come back.
REFUSED_BACK = {
    ("rail-vientiane-bangkok.xml", "cn-swxml"): {
        "exporter.identifier",
        "importer.street",
        "declarant.identifier",
    },
}
CASES = [
    (source, path, target)
    for source, path in golden_documents()
    for target in REGISTRY.ids()
    if target != source
]


@pytest.mark.parametrize(
    ("source", "path", "target"), CASES, ids=[f"{p.name}->{t}" for _, p, t in CASES]
)
def test_golden_sample_converts_to_every_format_and_back(
    source: str, path: Path, target: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    there, back = tmp_path / "there", tmp_path / "back"
    status = main(["convert", "--from", source, "--to", target, str(path), "-o", str(there)])
    errors = capsys.readouterr().err
    refused = REFUSED.get((path.name, target))
    if refused:
        assert status == 1
        assert all(f"- {field}: " in errors for field in refused), errors
        return
    assert status == 0, errors
    status = main(["convert", "--from", target, "--to", source, str(there), "-o", str(back)])
    errors = capsys.readouterr().err
    if (path.name, target) in REFUSED_BACK:
        assert status == 1
        assert all(f"- {field}: " in errors for field in REFUSED_BACK[(path.name, target)])
        return
    assert status == 0, errors
    original = REGISTRY.get(source).parse(path.read_bytes())
    lost = REGISTRY.get(target).render(original).loss.paths
    lost |= REGISTRY.get(source).render(REGISTRY.get(target).parse(there.read_bytes())).loss.paths
    carried = REGISTRY.get(source).capabilities & REGISTRY.get(target).capabilities
    assert mismatches(original, REGISTRY.get(source).parse(back.read_bytes()), carried, lost) == {}


def test_loss_is_listed_on_stderr(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    path = DATA / "canonical-json/rail-chongqing-vientiane-bangkok-transit.json"
    assert main(["convert", "--from", "canonical-json", "--to", "cusdec", str(path)]) == 0
    captured = capsysbinary.readouterr()
    assert captured.out.startswith(b"UNA:+.? '\nUNB+UNOW:4+")
    errors = captured.err.decode()
    assert "note: cusdec cannot carry everything" in errors
    assert "- message_id: cusdec has no place for it" in errors
    assert "- extensions (2x): CUSDEC carries only segments a CUSDEC reader kept" in errors


def test_validate_says_what_it_read(capsys: pytest.CaptureFixture[str]) -> None:
    path = DATA / "cusdec/road-chongqing-hanoi-pingxiang.edi"
    assert main(["validate", "--format", "cusdec", str(path)]) == 0
    assert "cusdec export declaration CQHN2025092000017, 2 goods item(s)" in capsys.readouterr().out


def test_every_problem_is_printed_with_file_location_and_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (DATA / "cn-swxml/rail-chongqing-vientiane-bangkok.xml").read_text("utf-8")
    bad = tmp_path / "bad.xml"
    bad.write_text(
        text.replace("<GQty>0.5815</GQty>", "<GQty>3,5</GQty>").replace(
            "<IEFlag>E</IEFlag>", "<IEFlag>X</IEFlag>"
        ),
        encoding="utf-8",
    )
    assert main(["validate", "--format", "cn-swxml", str(bad)]) == 1
    errors = capsys.readouterr().err
    assert f"{bad}:/DecMessage/DecLists/DecList[3]/GQty: goods_items.2.quantity: " in errors
    assert f"{bad}:/DecMessage/DecHead/IEFlag: kind: " in errors
    assert "(got '3,5')" in errors
    assert "2 problem(s)" in errors
    assert "Traceback" not in errors


def test_stdin_and_the_size_bound(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = (DATA / "acdd-xml/rail-vientiane-bangkok.xml").read_bytes()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    assert main(["validate", "--format", "acdd-xml", "-"]) == 0
    assert "ok: <stdin>: acdd-xml export declaration" in capsys.readouterr().out
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    assert main(["validate", "--format", "acdd-xml", "--max-bytes", "1000", "-"]) == 1
    assert "input is larger than 1000 bytes" in capsys.readouterr().err


def test_missing_file_is_an_error_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", "--format", "cusdec", str(tmp_path / "none.edi")]) == 1
    assert "cannot read" in capsys.readouterr().err


def test_unknown_format_is_refused_by_the_parser(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["validate", "--format", "edifact-d93a", "x"])
    assert exited.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_a_real_process_converts_from_stdin_to_stdout() -> None:
    data = (DATA / "cn-swxml/road-chongqing-hanoi-pingxiang.gbk.xml").read_bytes()
    done = subprocess.run(
        [sys.executable, "-m", "broker", "convert", "--from", "cn-swxml", "--to", "acdd-xml", "-"],
        input=data,
        capture_output=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1  # a China export has no consignee address, ACDD requires one
    assert b"consignee address" in done.stderr
    assert b"Traceback" not in done.stderr
    done = subprocess.run(
        [sys.executable, "-m", "broker", "convert", "--from", "cn-swxml", "--to", "cusdec", "-"],
        input=data,
        capture_output=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    declaration = REGISTRY.get("cusdec").parse(done.stdout)
    assert declaration.exporter is not None
    assert declaration.exporter.name == "重庆东盟快线物流有限公司"


REAL = DATA / "real"


def test_validate_prints_warnings_with_locations_and_passes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = REAL / "cn-export-pre-acceptance.xml"
    assert main(["validate", "--format", "cn-swxml", str(path)]) == 0
    captured = capsys.readouterr()
    assert "ok: " in captured.out
    assert f"warning: {path}:/DecMessage/DecHead/PreEntryId: functional_reference: " in (
        captured.err
    )
    assert "(got 'LAO000')" in captured.err


def test_validate_strict_fails_on_warnings(capsys: pytest.CaptureFixture[str]) -> None:
    path = REAL / "cn-export-pre-acceptance.xml"
    assert main(["validate", "--strict", "--format", "cn-swxml", str(path)]) == 1
    assert "warning(s) and --strict" in capsys.readouterr().err
    clean = DATA / "cusdec/road-chongqing-hanoi-pingxiang.edi"
    assert main(["validate", "--strict", "--format", "cusdec", str(clean)]) == 0


def test_problems_are_capped_so_hostile_input_cannot_flood_the_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (DATA / "cn-swxml/rail-chongqing-vientiane-bangkok.xml").read_text("utf-8")
    lines = "".join(f"<DecList><GNo>x{n}</GNo></DecList>" for n in range(5000))
    bad = tmp_path / "flood.xml"
    bad.write_text(text.replace("<DecLists>", "<DecLists>" + lines), encoding="utf-8")
    assert main(["validate", "--format", "cn-swxml", str(bad)]) == 1
    errors = capsys.readouterr().err
    assert errors.count("\n  - ") == 101  # the first 100, then one line for the rest
    assert errors.splitlines()[-1].endswith(" more")
    assert len(errors) < 100_000


def test_several_messages_convert_to_one_file_each(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = REAL / "cusdec-three-messages.edi"
    assert main(["convert", "--from", "cusdec", "--to", "canonical-json", str(path)]) == 1
    assert "holds 3 declarations: give -o" in capsys.readouterr().err
    out = tmp_path / "batch.json"
    assert (
        main(["convert", "--from", "cusdec", "--to", "canonical-json", str(path), "-o", str(out)])
        == 0
    )
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == ["batch.1.json", "batch.2.json", "batch.3.json"]
    assert b"CQ2025101800002" in (tmp_path / "batch.2.json").read_bytes()
