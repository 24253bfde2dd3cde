"""The command line in pipes, as a shell runs it: invalid bytes in, a reader that goes away
early, `eval --help`. Each test runs `python -m bot` in a subprocess with strict UTF-8 stdio
(PYTHONIOENCODING=utf-8: no locale fallback hides a decoding error)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from bot.cli import build_parser
from bot.paths import SEED_COPY
from tests.conftest import ROOT

TIMEOUT = 120  # seconds: a hang fails the test instead of the whole run
ENV = {**os.environ, "PYTHONIOENCODING": "utf-8"}


def _bot(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot", *args], input=stdin,
                          capture_output=True, cwd=ROOT, env=ENV, timeout=TIMEOUT)


def test_an_invalid_byte_costs_one_character_not_the_batch():
    lines = [b"how much does an infusion cost", b"caf\xe9 \xff\xfe what", b"kms",
             b"\xc3(", b"what's the capital of peru"]
    done = _bot("ask", "--json", stdin=b"\n".join(lines) + b"\n")
    assert done.returncode == 0, done.stderr
    assert b"Traceback" not in done.stderr
    rows = [json.loads(line) for line in done.stdout.decode("utf-8").splitlines()]
    assert len(rows) == len(lines)
    assert [rows[0]["status"], rows[2]["status"]] == ["answer", "crisis"]
    assert rows[4]["status"] == "unknown"


def test_chat_reads_past_an_invalid_byte():
    done = _bot("chat", stdin=b"hi\n\xff\xfe\nhow much does an infusion cost\n")
    assert done.returncode == 0, done.stderr
    assert b"Traceback" not in done.stderr
    out = done.stdout.decode("utf-8")
    assert "cost" in out.lower() and out.rstrip().endswith("Goodbye!")


def _with_reader_gone(args: list[str], stdin: bytes = b"") -> tuple[int, bytes]:
    """Run with stdout a pipe whose reading end is already closed (as after `| head -1`
    has read its line): the first write meets a broken pipe. Returns (exit code, stderr)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run([sys.executable, "-m", "bot", *args], input=stdin,
                              stdout=write_end, stderr=subprocess.PIPE, cwd=ROOT, env=ENV,
                              timeout=TIMEOUT)
    finally:
        os.close(write_end)
    return done.returncode, done.stderr


@pytest.mark.parametrize("args", [
    ["ask", "how much does an infusion cost"],
    ["ask", "--json", "how much does an infusion cost"],
    ["import", str(SEED_COPY)],
    ["chat"],
    ["eval", "LABELLED"],
], ids=["ask", "ask-json", "import", "chat", "eval"])
def test_a_closed_pipe_is_a_quiet_normal_exit(args, tmp_path):
    labelled = tmp_path / "labelled.jsonl"
    labelled.write_text('{"query": "kms", "expect": "crisis"}\n'
                        '{"query": "capital of peru", "expect": "abstain"}\n')
    args = [str(labelled) if arg == "LABELLED" else arg for arg in args]
    code, stderr = _with_reader_gone(args, stdin=b"hi\n")
    assert b"Traceback" not in stderr and b"BrokenPipeError" not in stderr, stderr
    assert code == 0


def test_batch_stops_quietly_when_the_reader_stops_reading():
    # `… | python -m bot ask --json | head -1`: the reader takes one line, then closes.
    with subprocess.Popen([sys.executable, "-m", "bot", "ask", "--json"], cwd=ROOT, env=ENV,
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE) as proc:
        proc.stdin.write(b"how long does an infusion take\n" * 1500)
        proc.stdin.close()  # 46 kB: fits in the pipe, so this cannot block
        first = proc.stdout.readline()
        proc.stdout.close()
        stderr = proc.stderr.read()
        code = proc.wait(timeout=TIMEOUT)
    assert json.loads(first)["status"]
    assert b"Traceback" not in stderr and b"BrokenPipeError" not in stderr, stderr
    assert code == 0


def test_eval_help_names_the_fields_of_a_labelled_file():
    parser = build_parser()
    subcommands = next(a for a in parser._actions if a.dest == "command")
    text = subcommands.choices["eval"].format_help()
    for needed in ('"query"', '"expect"', "answer", "abstain", "crisis", "safe", "seed",
                   "emergency", "concern", "none", "category", "lang", "faq.jsonl",
                   "queries_<split>.jsonl", '"expected"'):
        assert needed in text, needed
    # RawDescriptionHelpFormatter: the examples keep their lines.
    assert '\n     {"query": "what\'s the capital of peru", "expect": "abstain"}\n' in text
