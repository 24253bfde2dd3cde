"""`train.py --plot`: the threshold plot renders, and a missing extra is one clear line."""

from __future__ import annotations

import builtins

import pytest

from bot import plot


def test_plot_renders_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    in_scope = [(0.9, True), (0.8, True), (0.4, False), (0.2, True), (0.05, False)]
    out = plot.plot_report(in_scope, [0.1, 0.02, 0.3], answer=0.5,
                           path=tmp_path / "sweep.png", title="test")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_coverage_curve_counts():
    curve = plot.coverage_curve([(0.9, True), (0.4, False)], [0.5], [0.0, 0.45, 0.95])
    assert list(curve["coverage"]) == [1.0, 0.5, 0.0]
    assert list(curve["wrong"]) == [0.5, 0.0, 0.0]
    assert list(curve["oos"]) == [1.0, 1.0, 0.0]


def test_missing_matplotlib_is_one_clear_line(monkeypatch, capsys):
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    import train

    assert train.main(["--no-train", "--eval", "x.jsonl", "--plot", "out.png"]) == 1
    assert capsys.readouterr().err == "matplotlib is not installed: pip install -e '.[plot]'\n"
