#!/usr/bin/env bash
# Ekphrasis on an NVIDIA GPU without a Rust toolchain: the tiny-model parity checks against
# transformers/PyTorch (f32 and bf16), `bench compose` (5 s and 30 s of music, full-size random
# weights), `bench chain` (time to first audio per variant) and `bench train` (the paper's step,
# 16 clips of 30 s), ending with ONE table.
# Written by `cargo xtask gpu-bundle`; README.md beside it says more.
#
#   ./run.sh [--device cuda|cuda:N|cpu] [--quick] [--results DIR]
#
#   --quick    the tiny models of `ekphrasis models tiny` instead of full-size random weights,
#              small settings (1-2 s of music, 4 description tokens): the CPU check in CI
#   --results  where each step's full output goes (default: results/ beside this script)
#
# CUDA libraries: those cuda-libraries.txt names (none for a CPU build), found in the pip packages
# (site-packages/nvidia/...) of this machine's PyTorch: `python3`, or $PYTHON. EKPHRASIS_CUDA_LIBS
# (folders, colon-separated) replaces that search. libcuda.so.1 comes from the NVIDIA driver.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
device=cuda
quick=0
results=$here/results
while [ $# -gt 0 ]; do
  case $1 in
    --device) device=${2:?--device needs a value}; shift 2 ;;
    --quick) quick=1; shift ;;
    --results) results=${2:?--results needs a folder}; shift 2 ;;
    -h | --help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
mkdir -p "$results"
results=$(cd "$results" && pwd)

# --- the binary: shipped xz-compressed (86 MiB → 14 MiB), unpacked for this run only -----------
work=$(mktemp -d "${TMPDIR:-/tmp}/ekphrasis-gpu.XXXXXX")
trap 'rm -rf "$work"' EXIT
bin=$work/ekphrasis
if command -v xz >/dev/null 2>&1; then
  xz --decompress --stdout "$here/bin/ekphrasis.xz" >"$bin"
else
  "${PYTHON:-python3}" -c 'import lzma, shutil, sys
with lzma.open(sys.argv[1]) as packed, open(sys.argv[2], "wb") as out:
    shutil.copyfileobj(packed, out)' "$here/bin/ekphrasis.xz" "$bin"
fi || { echo "run.sh: cannot unpack bin/ekphrasis.xz" >&2; exit 3; }
chmod +x "$bin"

# --- the CUDA libraries -------------------------------------------------------------------------
find_cuda_libraries() {
  "${PYTHON:-python3}" - "$here/cuda-libraries.txt" <<'PY'
import glob, os, site, sys

wanted = [line.strip() for line in open(sys.argv[1]) if line.strip()]
roots = []
try:
    import nvidia  # the namespace package of NVIDIA's pip wheels, as PyTorch installs them
    roots += list(nvidia.__path__)
except ImportError:
    pass
for packages in site.getsitepackages() + [site.getusersitepackages()]:
    roots.append(os.path.join(packages, "nvidia"))
folders, missing = [], []
for name in wanted:
    found = None
    for root in dict.fromkeys(roots):
        hits = sorted(glob.glob(os.path.join(root, "**", name), recursive=True))
        if hits:
            found = os.path.dirname(os.path.realpath(hits[0]))
            break
    if found is None:
        missing.append(name)
    elif found not in folders:
        folders.append(found)
if missing:
    print("run.sh: not in this Python's NVIDIA packages: " + " ".join(missing), file=sys.stderr)
print(":".join(folders))
PY
}

if [ ! -s "$here/cuda-libraries.txt" ]; then
  # A CPU build (`cargo xtask gpu-bundle --binary`, as `cargo xtask test` packs it) needs none.
  libraries=""
  library_source="none needed: a CPU build"
elif [ -n "${EKPHRASIS_CUDA_LIBS:-}" ]; then
  libraries=$EKPHRASIS_CUDA_LIBS
  library_source="EKPHRASIS_CUDA_LIBS"
else
  libraries=$(find_cuda_libraries)
  library_source="${PYTHON:-python3}'s NVIDIA pip packages"
fi
export LD_LIBRARY_PATH="$libraries${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
if ! version=$("$bin" --version 2>"$results/loader.log"); then
  cat "$results/loader.log" >&2
  echo "run.sh: the binary cannot start: it needs $(tr '\n' ' ' <"$here/cuda-libraries.txt")" \
    "(CUDA 13: PyTorch built for cu13x, e.g. torch 2.9+ from its cu130 index) and the driver's" \
    "libcuda.so.1 (driver 580 or newer); set EKPHRASIS_CUDA_LIBS to the folders holding them." >&2
  exit 3
fi

echo "$version, --device $device$([ "$quick" = 1 ] && echo ', quick, the tiny models')"
echo "CUDA libraries ($library_source): ${libraries:-none}"
if command -v nvidia-smi >/dev/null 2>&1; then
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null |
    sed 's/^/GPU: /'
fi

# --- the steps ----------------------------------------------------------------------------------
if [ "$quick" = 1 ]; then
  short=1 long=2 chain_flags=(--seconds 1 --description-tokens 4) limit=300
  train_flags=(--seconds 1 --steps 1)
  # The tiny models (written below), so that even a debug build checks every step in seconds.
  tiny=$work/tiny musicgen_model=(--model "$work/tiny/musicgen") chain_models=(--models "$work/tiny")
else
  short=5 long=30 chain_flags=() limit=0
  # The paper's step: 16 clips of 30 s (does it fit the GPU, and how long does it take?).
  train_flags=(--seconds 30 --batch-size 16 --steps 2)
  # Full-size random weights built from the published configs.
  tiny="" musicgen_model=() chain_models=()
fi
failures=0
steps=()

# step NAME SECONDS ARGS...: runs the binary with ARGS under a time limit (--quick: $limit),
# standard output to $results/NAME.out, standard error to $results/NAME.log.
step() {
  local name=$1 seconds=$2
  shift 2
  [ "$limit" -gt 0 ] && seconds=$limit
  local started=$SECONDS
  echo "... $name" >&2
  timeout --kill-after=10 "$seconds" "$bin" "$@" >"$results/$name.out" 2>"$results/$name.log"
  local status=$?
  local took=$((SECONDS - started))
  if [ "$status" = 0 ]; then
    steps+=("$name: ok, ${took} s")
  elif [ "$status" = 124 ] || [ "$status" = 137 ]; then
    steps+=("$name: TIMED OUT after ${seconds} s")
    failures=$((failures + 1))
  else
    steps+=("$name: FAILED (exit $status, ${took} s; see $results/$name.log)")
    failures=$((failures + 1))
  fi
}

# Limits sum to 9.5 minutes (one 10-minute call on a GPU machine); on an H100 the whole
# run is expected to take a few minutes.
fixtures=$here/fixtures
step parity-f32 60 parity --fixtures "$fixtures" --device "$device" --dtype f32 --format tsv
step parity-bf16 60 parity --fixtures "$fixtures" --device "$device" --dtype bf16 --format tsv
[ -n "$tiny" ] && step tiny-models 60 models tiny --out "$tiny"
step "compose-${short}s" 90 bench compose --device "$device" --seconds "$short" "${musicgen_model[@]}"
step "compose-${long}s" 120 bench compose --device "$device" --seconds "$long" "${musicgen_model[@]}"
step chain 150 bench chain --device "$device" "${chain_flags[@]}" "${chain_models[@]}"
step train 90 bench train --device "$device" "${train_flags[@]}" "${musicgen_model[@]}"

# --- one table ----------------------------------------------------------------------------------
# value FILE LABEL: the first word after LABEL on its line in FILE ("?" when absent).
value() {
  awk -v label="$2" 'index($0, label) {
      split(substr($0, index($0, label) + length(label)), words, " ")
      print words[1]; found = 1; exit
    } END { if (!found) print "?" }' "$1" 2>/dev/null || echo "?"
}
# setup FILE: the seconds to build the random weights, or (--quick) to load the tiny ones.
setup() {
  local seconds
  seconds=$(value "$1" "building weights")
  [ "$seconds" = "?" ] && seconds=$(value "$1" "loading weights")
  echo "$seconds"
}

echo
echo "| part | measure | value | limit | result |"
echo "|---|---|---|---|---|"
for dtype in f32 bf16; do
  awk -F '\t' -v dtype="$dtype" 'NF == 7 {
      figure = ($5 == "-") ? $4 : $4 " abs, " $5 " rel"
      printf "| parity %s | %s: %s | %s | %s | %s |\n", dtype, $1, $2, figure, $6, $7
    }' "$results/parity-$dtype.out" 2>/dev/null
done
for seconds in "$short" "$long"; do
  log=$results/compose-${seconds}s.out
  echo "| compose ${seconds} s | decoder steps/s (guidance 3) | $(value "$log" "decoder steps/s (guidance 3)") | | |"
  echo "| compose ${seconds} s | time to first audio chunk | $(value "$log" "time to first audio chunk") s | | |"
  echo "| compose ${seconds} s | real-time factor (time / audio) | $(value "$log" "real-time factor (time / audio)") | | |"
  echo "| compose ${seconds} s | building (--quick: loading) weights | $(setup "$log") s | | |"
done
awk '/^Summary/ { summary = 1; next }
  summary && $1 ~ /^(emotive|narrative|lyrical|optimized)$/ {
    first = ($2 == "-") ? "-" : $2 " s"; whole = ($2 == "-") ? $3 : $4
    printf "| chain | %s: time to first audio, whole chain | %s, %s s | | |\n", $1, first, whole
  }' "$results/chain.out" 2>/dev/null
echo "| chain | building (--quick: loading) weights, all four models | $(setup "$results/chain.out") s | | |"
log=$results/train.out
echo "| train | ${train_flags[*]}: seconds a step | $(value "$log" "seconds a step") | | |"
echo "| train | decoder positions/s | $(value "$log" "decoder positions/s") | | |"
echo "| train | TFLOP/s reached | $(value "$log" "TFLOP/s reached") | | |"
echo "| train | peak memory of the process (RSS; not the GPU's) | $(value "$log" "peak memory (RSS)") GiB | | |"
for line in "${steps[@]}"; do
  case $line in
    *": ok,"*) echo "| step | ${line%%:*} | ${line#*: } | | ok |" ;;
    *) echo "| step | ${line%%:*} | ${line#*: } | | FAIL |" ;;
  esac
done
echo
echo "Full output of each step: $results"
if [ "$failures" -gt 0 ]; then
  echo "run.sh: $failures step(s) failed" >&2
  exit 1
fi
