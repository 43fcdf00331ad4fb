"""The `thoughtcode corpus` commands as a user types them."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest

from thoughtcode.cli import build_parser, main


def test_stats_json_has_exact_counts(dev_file, capsys):
    assert main(["corpus", "stats", str(dev_file), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["conversations"] == 216 and stats["thoughts"]["total"] == 1128
    assert stats["format"] == "thoughttrace" and stats["skipped"] == 0


def test_broken_line_3_exits_non_zero_naming_line_3(sample_file, tmp_path):
    lines = sample_file.read_text().splitlines()[:5]
    lines[2] = lines[2][:100]
    path = tmp_path / "broken.jsonl"
    path.write_text("\n".join(lines) + "\n")
    result = subprocess.run(
        [sys.executable, "-m", "thoughtcode.cli", "corpus", "stats", str(path)], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert f"{path}:3:" in result.stderr


def test_skip_invalid_reports_what_was_skipped(sample_file, tmp_path, capsys):
    lines = sample_file.read_text().splitlines()[:5]
    lines[2] = "{"
    path = tmp_path / "broken.jsonl"
    path.write_text("\n".join(lines) + "\n")
    assert main(["corpus", "stats", str(path), "--skip-invalid", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["conversations"] == 4
    assert "skipped 1 invalid record" in captured.err and "line 3" in captured.err


def test_check_and_convert(sample_file, tmp_path, capsys):
    assert main(["corpus", "check", str(sample_file)]) == 0
    assert "findings" in capsys.readouterr().out
    out = tmp_path / "turns.parquet"
    assert main(["corpus", "convert", str(sample_file), "--out", str(out)]) == 0
    assert main(["corpus", "stats", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out.split("\n", 1)[1])["messages_total"] == 150


def test_units_export(sample_file, tmp_path, capsys):
    out = tmp_path / "turns.csv"
    assert main(["corpus", "units", str(sample_file), "--unit", "user_turn", "--out", str(out)]) == 0
    assert "wrote 75 user_turn units" in capsys.readouterr().out


def _command_paths(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = [prefix]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in dict.items(action.choices):
                paths.extend(_command_paths(child, (*prefix, name)))
    return paths


def test_every_subcommand_has_help(capsys):
    paths = _command_paths(build_parser())
    assert ("corpus", "stats") in paths and ("code",) in paths and ("agree",) in paths
    for path in paths:
        with pytest.raises(SystemExit) as info:
            main([*path, "--help"])
        assert info.value.code == 0, path
        out = capsys.readouterr().out
        assert out.startswith("usage: thoughtcode"), path
        assert len(out.splitlines()) > 3, path


def test_version():
    result = subprocess.run([sys.executable, "-m", "thoughtcode.cli", "--version"], capture_output=True, text=True)
    assert result.stdout.startswith("thoughtcode ")



def test_output_into_a_closed_pipe_ends_quietly(dev_file, monkeypatch, capsys):
    class ClosedPipe:  # stdout of `thoughtcode ... | head -1` once head has exited
        def write(self, text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self) -> None:
            raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    assert main(["corpus", "stats", str(dev_file)]) == 141  # 128 + SIGPIPE, as a shell reports it
    monkeypatch.undo()
    assert capsys.readouterr().err == ""
