#!/usr/bin/env bash
# neuromorph's ANN->SNN conversion vs SpikingJelly 2.0.0's ann2snn (RateCodingRecipe, 99.9%) on the
# Fashion-MNIST CNN of configs/fmnist-cnn.yaml: accuracy at T = 8..128, spikes, SOPs, images/s.
# Writes RESULTS.md next to this file; everything else goes to work/ (git-ignored).
#   bash experiments/conversion-bench/run.sh
#   LIMIT=300 RUNS=1 EPOCHS=1 PERF=0 bash experiments/conversion-bench/run.sh     # smoke test
# Environment (defaults): EPOCHS=5 CAL=1000 RUNS=3 THREADS=2 LIMIT= (all 10,000 test images)
#   TIMING_LIMIT=5000 (test images per timing run; LIMIT wins when set) TS=8,16,32,64,128
#   SJ_BATCHES="100 500" SJ_POLICIES="default PASSIVE" PROBE_IMAGES=500 PERF=1 PERF_IMAGES=2000
#   RESULTS=<this folder>/RESULTS.md
#   ISAS=auto (kernel paths: auto = every path this CPU offers, avx512 avx2 scalar; or a list; none = skip)
#   ISA_THREADS="1 2" (thread counts of the per-path timing; SpikingJelly on as many threads)
#   NM_BIN= (a release neuromorph built from this checkout; default: build one in .build-convbench)
# Needs: bash scripts/setup.sh (OpenBLAS, libomp, GSL, Fashion-MNIST) and pyenv's Python 3.11.7 (the
# torch 2.13.0+cpu wheel on these machines is for CPython 3.11).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
EPOCHS="${EPOCHS:-5}"
CAL="${CAL:-1000}"
RUNS="${RUNS:-3}"
THREADS="${THREADS:-2}"
LIMIT="${LIMIT:-}"
TIMING_LIMIT="${LIMIT:-${TIMING_LIMIT:-5000}}"
PROBE_IMAGES="${LIMIT:-${PROBE_IMAGES:-500}}"
TS="${TS:-8,16,32,64,128}"
SJ_BATCHES="${SJ_BATCHES:-100 500}"
SJ_POLICIES="${SJ_POLICIES:-default PASSIVE}"
PERF="${PERF:-1}"
PERF_IMAGES="${PERF_IMAGES:-2000}"
RESULTS="${RESULTS:-$HERE/RESULTS.md}"
ISA_THREADS="${ISA_THREADS:-1 2}"
ISAS="${ISAS:-auto}"
if [ "$ISAS" = auto ]; then   # issue 11: NM_ISA forces a kernel path; report.json's "isa" says which ran
    FLAGS="$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null || true)"
    ISAS=""
    [[ " $FLAGS " == *" avx512f "* ]] && ISAS="avx512"
    [[ " $FLAGS " == *" avx2 "* && " $FLAGS " == *" fma "* ]] && ISAS="$ISAS avx2"
    ISAS="${ISAS# } scalar"
    ISAS="${ISAS# }"
fi
[ "$ISAS" = none ] && ISAS=""
PY="${PYTHON:-/root/.pyenv/versions/3.11.7/bin/python3}"
WORK="$HERE/work"
VENV="$HERE/.venv"
export TQDM_DISABLE=1 PYTHONWARNINGS=ignore
mkdir -p "$WORK"
LIMIT_ARGS=()
[ -z "$LIMIT" ] || LIMIT_ARGS=(--limit "$LIMIT")
TMAX="${TS##*,}"

# 1. Python peer (idempotent): torch pinned to the CPU build, also as a constraint for spikingjelly
#    (which otherwise drags a CUDA torch; its torchvision/torchaudio are installed but never imported).
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
if ! "$VENV/bin/python" - <<'EOF' 2>/dev/null
from importlib.metadata import version
assert version("torch") == "2.13.0+cpu" and version("spikingjelly") == "2.0.0"
import safetensors, numpy
EOF
then
    "$VENV/bin/pip" install -q "torch==2.13.0+cpu" safetensors numpy
    "$VENV/bin/pip" install -q -c <(echo "torch==2.13.0+cpu") "spikingjelly==2.0.0"
fi
VPY="$VENV/bin/python"

# 2. neuromorph in release, own scratch folder (NM_BIN=path: a release binary already built from this
#    checkout instead, e.g. experiments/onnx-models' .build-onnxbench/release/neuromorph).
if [ -n "${NM_BIN:-}" ]; then
    NM="$NM_BIN"
else
    (cd "$ROOT" && swift build -c release --product neuromorph --scratch-path .build-convbench 2>&1 | tail -1)
    NM="$ROOT/.build-convbench/release/neuromorph"
fi

# 3. Train (reused when config and epochs are unchanged).
CFG="$ROOT/configs/fmnist-cnn.yaml"
MODEL="$WORK/cnn"
STAMP="$(sha256sum "$CFG" | cut -c1-16) epochs=$EPOCHS"
if [ -f "$MODEL/model.safetensors" ] && [ "$(cat "$MODEL/.stamp" 2>/dev/null)" = "$STAMP" ]; then
    echo "reusing $MODEL ($STAMP)"
else
    rm -rf "$MODEL"
    "$NM" train "$CFG" --out "$MODEL" --epochs "$EPOCHS" --threads "$THREADS" | tail -1
    echo "$STAMP" > "$MODEL/.stamp"
fi

UPT="$WORK/uptime.tsv"
: > "$UPT"
: > "$WORK/sj.log"
up() { printf '%s\t%s\n' "$1" "$(uptime)" >> "$UPT"; }
{
    echo "model: $(lscpu | sed -n 's/^Model name: *//p') (family $(lscpu | sed -n 's/^CPU family: *//p'), model $(lscpu | sed -n 's/^Model: *//p'))"
    echo "cores: $(nproc)"
    echo "commit: $(cd "$ROOT" && git rev-parse HEAD)"
    echo "dirty_sources: $(cd "$ROOT" && git status --short Sources Package.swift | wc -l)"
    echo "swift: $(swift --version 2>&1 | head -1)"
    echo "python: $("$VPY" -c 'import sys; print(sys.version.split()[0])')"
    echo "env: OMP_NUM_THREADS=${OMP_NUM_THREADS:-unset} OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-unset} KMP_BLOCKTIME=${KMP_BLOCKTIME:-unset}"
    echo "settings: epochs=$EPOCHS calibration=$CAL runs=$RUNS threads=$THREADS accuracy images=${LIMIT:-all} timing images=$TIMING_LIMIT timesteps=$TS"
    echo "isa_paths: ${ISAS:-none}"
    echo "isa_threads: $ISA_THREADS"
    echo "binary: ${NM#"$ROOT"/}"
} > "$WORK/machine.txt"
up start

# 4. Accuracy runs (deterministic; once). neuromorph: defaults (headline), layer-wise, channel-wise
#    at the 99th percentile (more spikes, lower rounding error at small T), and the 99.9th percentile
#    over all activations, zeros included (SpikingJelly's convention).
nm_compare() {  # name, extra flags...
    local name="$1"; shift
    rm -rf "$WORK/$name"
    "$NM" compare "$MODEL" --timesteps "$TS" --out "$WORK/$name" --threads "$THREADS" --calibration "$CAL" \
        "${LIMIT_ARGS[@]}" "$@" > "$WORK/$name.log" 2>&1
    (cd "$ROOT" && git rev-parse --short HEAD) > "$WORK/$name.commit"
    tail -n +2 "$WORK/$name.log" | head -7 | sed "s/^/[$name] /"
}
up nm-compare;        nm_compare nm-compare
up nm-compare-layer;  nm_compare nm-compare-layer --normalization layer
up nm-compare-p99;    nm_compare nm-compare-p99 --percentile 99
up nm-compare-all;    nm_compare nm-compare-all --percentile-of all
# every kernel path: the same conversion and accuracy run with NM_ISA forced (results must be identical)
rm -rf "$WORK"/nm-compare-isa-*
for isa in $ISAS; do
    up "nm-compare-isa $isa"
    NM_ISA="$isa" nm_compare "nm-compare-isa-$isa"
done

# 5. SpikingJelly: pick batch size x OpenMP wait policy on a short probe (500 images, T = 32), then the
#    accuracy run (hooks for spikes/SOPs) with the chosen setting.
sj() {  # policy, args...
    local pol="$1"; shift
    if [ "$pol" = default ]; then "$VPY" "$HERE/sj_bench.py" "$@"; else OMP_WAIT_POLICY="$pol" "$VPY" "$HERE/sj_bench.py" "$@"; fi
}
best=""; bestv=0
: > "$WORK/sj-probe.tsv"
for b in $SJ_BATCHES; do
    for pol in $SJ_POLICIES; do
        up "sj-probe b=$b $pol"
        sj "$pol" timing "$MODEL" --calibration "$CAL" --batch "$b" --threads "$THREADS" --limit "$PROBE_IMAGES" --timesteps 32 \
            --out "$WORK/sj-probe-$b-$pol.json" 2>> "$WORK/sj.log" > /dev/null
        v=$("$VPY" -c "import json; print(json.load(open('$WORK/sj-probe-$b-$pol.json'))['images_per_second'])")
        printf '%s\t%s\t%s\n' "$b" "$pol" "$v" >> "$WORK/sj-probe.tsv"
        echo "[sj-probe] batch $b, OMP_WAIT_POLICY=$pol: $v images/s at T=32"
        if "$VPY" -c "import sys; sys.exit(0 if $v > $bestv else 1)"; then best="$b $pol"; bestv=$v; fi
    done
done
read -r SJB SJP <<< "$best"
echo "[sj] using batch $SJB, OMP_WAIT_POLICY=$SJP"
up sj-accuracy
sj "$SJP" accuracy "$MODEL" --calibration "$CAL" --batch "$SJB" --threads "$THREADS" "${LIMIT_ARGS[@]}" --timesteps "$TS" \
    --out "$WORK/sj-accuracy.json" 2>> "$WORK/sj.log" > /dev/null
"$VPY" - "$WORK" <<'PYEOF'
import json, sys
nm = json.load(open(f"{sys.argv[1]}/nm-compare/report.json")); sj = json.load(open(f"{sys.argv[1]}/sj-accuracy.json"))
print(f"[ann] test accuracy: neuromorph {100 * nm['ann_accuracy']:.2f}%, PyTorch {100 * sj['ann_accuracy']:.2f}% ({nm['images']} images)")
print("[sj] SNN accuracy: " + ", ".join(f"T={r['timesteps']} {100 * r['accuracy']:.2f}%" for r in sj["snn"]))
PYEOF

# 6. Timing runs, alternating frameworks so both see the same background load. neuromorph runs the
#    converted network from a folder (no re-calibration): one run to all T (its T_max figure) and one
#    run per smaller T; SpikingJelly's per-T figure is the wall time to reach step T in its one run.
#    The first TIMING_LIMIT test images, the same on both sides, keep the benchmark near 25 minutes.
#    The --percentile 99 network (more spikes) is timed too, to T_max, right after the default one.
rm -rf "$WORK/nm-snn" "$WORK/nm-snn-p99"
"$NM" convert "$MODEL" --out "$WORK/nm-snn" --calibration "$CAL" --threads "$THREADS" > /dev/null
"$NM" convert "$MODEL" --out "$WORK/nm-snn-p99" --calibration "$CAL" --threads "$THREADS" --percentile 99 > /dev/null
rm -rf "$WORK"/nm-time-p99-*
for r in $(seq 1 "$RUNS"); do
    up "nm-time r$r T=$TS"
    rm -rf "$WORK/nm-time-$r"
    "$NM" compare "$MODEL" "$WORK/nm-snn" --timesteps "$TS" --out "$WORK/nm-time-$r" --threads "$THREADS" --limit "$TIMING_LIMIT" > /dev/null 2>&1
    up "nm-time-p99 r$r T=$TMAX"
    rm -rf "$WORK/nm-time-p99-$r"
    "$NM" compare "$MODEL" "$WORK/nm-snn-p99" --timesteps "$TS" --out "$WORK/nm-time-p99-$r" --threads "$THREADS" --limit "$TIMING_LIMIT" > /dev/null 2>&1
    up "sj-time r$r"
    sj "$SJP" timing "$MODEL" --calibration "$CAL" --batch "$SJB" --threads "$THREADS" --limit "$TIMING_LIMIT" --timesteps "$TS" \
        --out "$WORK/sj-time-$r.json" 2>> "$WORK/sj.log" > /dev/null
    for t in ${TS//,/ }; do
        [ "$t" = "$TMAX" ] && continue
        up "nm-time r$r T=$t"
        rm -rf "$WORK/nm-time-$r-T$t"
        "$NM" compare "$MODEL" "$WORK/nm-snn" --timesteps "$t" --out "$WORK/nm-time-$r-T$t" --threads "$THREADS" --limit "$TIMING_LIMIT" > /dev/null 2>&1
    done
    echo "[time] run $r: neuromorph $("$VPY" -c "import json; print(round(json.load(open('$WORK/nm-time-$r/report.json'))['snn'][-1]['images_per_second'],1))") images/s (p99 $("$VPY" -c "import json; print(round(json.load(open('$WORK/nm-time-p99-$r/report.json'))['snn'][-1]['images_per_second'],1))")), SpikingJelly $("$VPY" -c "import json; print(round(json.load(open('$WORK/sj-time-$r.json'))['images_per_second'],1))") images/s at T=$TMAX ($(uptime | sed 's/.*load/load/'))"
done

# 6b. Every kernel path on every thread count of ISA_THREADS, against SpikingJelly on as many threads, at
#     T = T_max, interleaved per run (same load for all). Uses the network converted above (default path).
rm -rf "$WORK"/isa-time-* "$WORK"/sj-isa-time-*
if [ -n "$ISAS" ]; then
    for r in $(seq 1 "$RUNS"); do
        for th in $ISA_THREADS; do
            up "sj-isa-time r$r threads=$th"
            sj "$SJP" timing "$MODEL" --calibration "$CAL" --batch "$SJB" --threads "$th" --limit "$TIMING_LIMIT" --timesteps "$TMAX" \
                --out "$WORK/sj-isa-time-$r-t$th.json" 2>> "$WORK/sj.log" > /dev/null
            line="[isa] run $r, $th thread(s): SpikingJelly $("$VPY" -c "import json; print(round(json.load(open('$WORK/sj-isa-time-$r-t$th.json'))['images_per_second'],1))")"
            for isa in $ISAS; do
                up "nm-isa-time r$r threads=$th $isa"
                NM_ISA="$isa" "$NM" compare "$MODEL" "$WORK/nm-snn" --timesteps "$TMAX" --out "$WORK/isa-time-$r-t$th-$isa" \
                    --threads "$th" --limit "$TIMING_LIMIT" > /dev/null 2>&1
                line="$line, $isa $("$VPY" -c "import json; r = json.load(open('$WORK/isa-time-$r-t$th-$isa/report.json')); print(round(r['snn'][-1]['images_per_second'], 1), '(ran', str(r.get('isa') or 'unknown') + ')')")"
            done
            echo "$line images/s at T=$TMAX"
        done
    done
fi
up end

# 7. Optional profile of the neuromorph run (top symbols).
rm -f "$WORK/perf-top.txt" "$WORK/perf.data" "$WORK/perf.data.old"
if [ "$PERF" = 1 ] && command -v perf > /dev/null; then
    rm -rf "$WORK/nm-perf"
    if perf record -q -g -o "$WORK/perf.data" -- "$NM" compare "$MODEL" "$WORK/nm-snn" --timesteps "$TMAX" --out "$WORK/nm-perf" \
        --threads "$THREADS" --limit "$PERF_IMAGES" > /dev/null 2> "$WORK/perf.log"; then
        perf report -i "$WORK/perf.data" --stdio --no-children --sort symbol --percent-limit 1 -g none 2>/dev/null \
            | grep -v "^#" | grep -v "^$" | sed "s/[ -]*$//" | head -25 > "$WORK/perf-top.txt" || true
    fi
fi

# 8. Report.
rc=0
PERF_IMAGES="$PERF_IMAGES" ISAS="$ISAS" ISA_THREADS="$ISA_THREADS" "$VPY" "$HERE/report.py" "$WORK" "$TS" "$RUNS" "$SJB" "$SJP" > "$RESULTS.tmp" || rc=$?
mv "$RESULTS.tmp" "$RESULTS"
echo "wrote $RESULTS"
exit "$rc"
