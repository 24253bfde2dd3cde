#!/usr/bin/env bash
# Does the terminal chat wrap at the edge without breaking words? (a check, not a test: it
# needs tmux.) Runs `python -m bot` in a detached 80-column tmux session, asks ten questions,
# and captures the pane twice: as shown, and with the lines tmux itself wrapped joined (-J).
# If the bot wrapped every line before the edge, the two captures are identical.
#
#     bash benchmarks/terminal_wrap.sh [COLUMNS]
set -euo pipefail
cd "$(dirname "$0")/.."
columns=${1:-80}
python=${PYTHON:-.venv/bin/python}
session="faqbot-wrap-$$"
command -v tmux >/dev/null || { echo "tmux is not installed: SKIP"; exit 0; }
trap 'tmux kill-session -t "$session" 2>/dev/null || true' EXIT
tmux new-session -d -s "$session" -x "$columns" -y 2000 "$python -m bot; sleep 600"
sleep 3
for q in "what is ketamine" "how much does it cost" "is it safe with my meds? im on lexapro" \
         "can it help chronic pain?" "wat r the sid efects of ketamne" \
         "how long does an infusion take" "does insurance pay for it" \
         "what should I wear to my appointment" "can I drive home after" "what is esketamine"; do
  tmux send-keys -t "$session" "$q" Enter
  sleep 1.5
done
shown=$(tmux capture-pane -p -t "$session" -S -2000 | sed 's/ *$//')
joined=$(tmux capture-pane -p -J -t "$session" -S -2000 | sed 's/ *$//')
asked=$(grep -c '^you> .' <<<"$shown" || true)
widest=$(python3 -c 'import sys; print(max(len(l) for l in sys.stdin.read().splitlines()))' <<<"$shown")
echo "$asked questions asked at $columns columns; $(wc -l <<<"$shown") lines, widest $widest characters"
if [ "$asked" -ge 10 ] && [ "$shown" == "$joined" ]; then
  echo "PASS: every line ends before the edge (no line wrapped by the terminal, no word broken)"
else
  echo "FAIL: the terminal wrapped some lines itself (a word may be broken at the edge)"
  diff <(echo "$shown") <(echo "$joined") | head -20
  exit 1
fi
