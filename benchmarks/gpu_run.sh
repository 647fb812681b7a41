#!/usr/bin/env bash
# The GPU evidence in one call on a lent GPU machine (Python with torch and the scientific stack, no
# network): install this checkout offline, then, each step in its own time box inside one deadline,
#   1. the CUDA tests (pytest -m cuda tests/cuda),
#   2. the GPU benchmarks (rt bench gpu, rt bench packed --device cuda) into $OUT/gpu.json, packed.json,
#   3. examples/study.toml on the GPU with as many seeds as the time left holds (seed 0 first, timed;
#      then the seeds that fit at that pace), through the resumable store, copied to
#      $OUT/gpu-study/results.sqlite,
# and $OUT/gpu_run.json (hardware, versions, missing packages, each step's time box, wall time and
# exit status, the study's seeds) beside $OUT/gpu_run.log: 5 files in all.
#
#   OUT=/some/empty/folder bash benchmarks/gpu_run.sh            # on the GPU machine, ~8 minutes
#   OUT=/tmp/x RT_GPU_PYTHON=.venv/bin/python bash benchmarks/gpu_run.sh --dry-run
#
# --dry-run: the same steps on the CPU at tiny sizes (rt bench --tiny, a tiny config in place of the
# study, pip install --dry-run), so that a device call can fail only for GPU reasons; nothing it
# writes is a GPU figure. Settings (environment): OUT (required); RT_GPU_DEADLINE_S (480; dry run
# 300); RT_GPU_PYTHON (python3); RT_GPU_STUDY_WORKERS, RT_GPU_STUDY_THREADS (worker processes sharing
# the GPU and torch threads each: min(8, cores / 2) and 2; dry run 1 and 1); RT_GPU_MAX_SEEDS (100;
# dry run 2). Wheels of missing pure-Python packages, if any, travel in .whl/ and are installed first.
# Exit status: 0 when every step ran, 1 when one failed, was stopped or skipped, 2 on bad usage, 3
# when the real run finds no CUDA GPU.

set -u -o pipefail

usage() { echo "usage: OUT=DIR bash benchmarks/gpu_run.sh [--dry-run]" >&2; exit 2; }
MODE=real
case "${1:-}" in
    "") ;;
    --dry-run) MODE=dry-run ;;
    *) usage ;;
esac
(( $# <= 1 )) || usage
[[ -n "${OUT:-}" ]] || { echo "gpu_run.sh: set OUT to a folder for the results" >&2; exit 2; }

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd) || exit 2
PY=${RT_GPU_PYTHON:-python3}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpu_run.XXXXXX") || exit 2
LOG=$OUT/gpu_run.log
: >"$LOG"
: >"$WORK/steps.tsv"
T0=$SECONDS
export PYTHONUNBUFFERED=1
CORES=$(nproc 2>/dev/null || echo 2)

if [[ $MODE == dry-run ]]; then
    DEADLINE=${RT_GPU_DEADLINE_S:-300}
    DEVICE=cpu
    TINY=(--tiny)
    WORKERS=${RT_GPU_STUDY_WORKERS:-1}
    THREADS=${RT_GPU_STUDY_THREADS:-1}
    MAX_SEEDS=${RT_GPU_MAX_SEEDS:-2}
    REQUIRE_CUDA=0
    STUDY_CONFIG=$WORK/tiny_study.toml STUDY_LABEL="the dry run's tiny config (written by the script)"
    # in place of examples/study.toml: the same sections, tiny sizes, one plugin at one strength
    cat >"$STUDY_CONFIG" <<'EOF'
name = "tiny_study"
seeds = [0]
[source]
dataset = "printed_digits"
options = { n_train = 64, n_val = 0, n_test = 32, size = 8, distractors = 0.0 }
[target]
dataset = "handwritten_digits"
options = { size = 8 }
[model]
name = "cifar_cnn"
options = { width = 0.25, hidden = 8, image_size = 8 }
[train]
epochs = 1
batch_size = 32
lr = 0.01
weight_decay = 0.0
[transfer]
probe_iters = 20
[attack]
steps = 2
n_eval = 16
[[sweep]]
plugin = "blur"
strengths = [1.0]
EOF
    # step caps (s) and what later steps keep back: the study's minimum, and FINISH for a stopped sweep's
    # 20 s of grace, the copy of its store and the summary
    CAP_INSTALL=90 CAP_ENV=60 CAP_TESTS=90 CAP_GPU=120 CAP_PACKED=90 CAP_SEED0=120 CAP_COPY=60
    STUDY_MIN=60 FINISH=40
else
    DEADLINE=${RT_GPU_DEADLINE_S:-480}
    DEVICE=cuda
    TINY=()
    HALF=$(( CORES / 2 ))
    WORKERS=${RT_GPU_STUDY_WORKERS:-$(( HALF > 8 ? 8 : (HALF < 1 ? 1 : HALF) ))}
    THREADS=${RT_GPU_STUDY_THREADS:-2}
    MAX_SEEDS=${RT_GPU_MAX_SEEDS:-100}
    REQUIRE_CUDA=1
    STUDY_CONFIG=examples/study.toml STUDY_LABEL=examples/study.toml
    CAP_INSTALL=120 CAP_ENV=30 CAP_TESTS=120 CAP_GPU=180 CAP_PACKED=90 CAP_SEED0=150 CAP_COPY=20
    STUDY_MIN=120 FINISH=40
fi
MIN_BOX=10

log() { printf '[gpu_run %4ds] %s\n' "$(( SECONDS - T0 ))" "$*" | tee -a "$LOG"; }
left() { echo $(( DEADLINE - (SECONDS - T0) )); }
record() { printf '%s\t%s\t%s\t%s\t%s\n' "$@" >>"$WORK/steps.tsv"; }
skip() { log "skip $1: $2"; record "$1" 0 0 "" "skipped: $2"; FAILED=1; }

# step NAME CAP RESERVE CMD...: CMD in a time box of min(CAP, seconds left - RESERVE), its output into
# the log; a command past its box gets SIGTERM (a sweep stops cleanly and resumes), SIGKILL 20 s later.
# Sets RC (124: stopped by its box) and WALL. RC1 (if set) says what exit status 1 means for CMD.
step() {
    local name=$1 cap=$2 reserve=$3 box start status
    shift 3
    box=$(( $(left) - reserve ))
    (( box > cap )) && box=$cap
    if (( box < MIN_BOX )); then
        skip "$name" "no time left ($(left) s to the deadline, $reserve s kept for later steps)"
        RC=-1 WALL=0
        return 1
    fi
    log "== $name: time box $box s: $*"
    start=$SECONDS
    timeout -k 20 "$box" "$@" 2>&1 | tee -a "$LOG"
    RC=${PIPESTATUS[0]}
    WALL=$(( SECONDS - start ))
    case $RC in
        0) status=ok ;;
        124 | 137) status="stopped by its time box ($box s)" ;;
        1) status="exit 1${RC1:+: $RC1}" ;;
        *) status="exit $RC" ;;
    esac
    log "-- $name: $status after $WALL s"
    record "$name" "$box" "$WALL" "$RC" "$status"
    return "$RC"
}

FAILED=0 RC1=
log "mode $MODE, device $DEVICE, deadline $DEADLINE s, python $PY, OUT $OUT, work folder $WORK"
[[ $MODE == dry-run ]] && log "DRY RUN on the CPU at tiny sizes: no number it prints or writes is a GPU figure"

# 0. install, offline: carried wheels first, then this checkout, the plugin template and the benchmarks
# (editable, no dependencies, no build isolation: setuptools comes from the machine)
INSTALLED=1
if compgen -G ".whl/*.whl" >/dev/null; then
    step wheels "$CAP_INSTALL" $(( STUDY_MIN + FINISH )) "$PY" -m pip install -q --no-index --no-deps --no-compile \
        --no-cache-dir --upgrade --target "$WORK/site" .whl/*.whl || FAILED=1
    export PYTHONPATH=$WORK/site${PYTHONPATH:+:$PYTHONPATH}
fi
PIP_FLAGS=(--no-deps --no-build-isolation --no-index --disable-pip-version-check --root-user-action=ignore)
[[ $MODE == dry-run ]] && PIP_FLAGS+=(--dry-run)  # resolves and builds the metadata offline, installs nothing
if ! step install "$CAP_INSTALL" $(( STUDY_MIN + FINISH )) "$PY" -m pip install "${PIP_FLAGS[@]}" \
        -e . -e examples/plugin-template -e benchmarks; then
    INSTALLED=0 FAILED=1
fi

# 1. the environment: hardware, versions, the pyproject dependencies that are missing, and which steps
# cannot import what they need (ready.tsv: the step, then nothing or the reason)
step env "$CAP_ENV" $(( STUDY_MIN + FINISH )) "$PY" -m benchmarks.gpu_run env "$WORK/env.json" \
    --steps "$WORK/ready.tsv" || FAILED=1
NO_GPU=0
if [[ $MODE == real ]] && ! grep -q '"cuda_visible": true' "$WORK/env.json" 2>/dev/null; then
    log "no CUDA GPU is visible to torch: no GPU step can run, so none is tried"
    NO_GPU=1
fi

# ready STEP: whether STEP can run (the install worked, a GPU is there, its modules import)
ready() {
    local why
    if (( INSTALLED == 0 )); then skip "$1" "the install failed"; return 1; fi
    if (( NO_GPU == 1 )); then skip "$1" "no CUDA GPU visible"; return 1; fi
    why=$(awk -F '\t' -v s="$1" '$1 == s { print ($2 == "" ? "ok" : $2) }' "$WORK/ready.tsv" 2>/dev/null)
    if [[ $why != ok ]]; then skip "$1" "${why:-the environment step did not say}"; return 1; fi
    return 0
}

# 2. the CUDA tests (on the CPU they all skip: the dry run checks that they collect)
if ready cuda-tests; then
    step cuda-tests "$CAP_TESTS" $(( STUDY_MIN + FINISH )) env RT_REQUIRE_CUDA=$REQUIRE_CUDA \
        "$PY" -m pytest -m cuda tests/cuda -q -rs || FAILED=1
fi

# 3. the GPU benchmarks, their results files straight into $OUT
if ready bench; then
    step bench-gpu "$CAP_GPU" $(( STUDY_MIN + FINISH )) "$PY" -m rt_core.cli bench gpu --device "$DEVICE" \
        --out "$OUT" ${TINY[@]+"${TINY[@]}"} || FAILED=1
    step bench-packed "$CAP_PACKED" $(( STUDY_MIN + FINISH )) "$PY" -m rt_core.cli bench packed \
        --device "$DEVICE" --out "$OUT" ${TINY[@]+"${TINY[@]}"} || FAILED=1
fi

# 4. the study: seed 0 timed, then the seeds that fit at that pace, in one resumable store. Its trials
# do not pack (batch norm, Nesterov momentum): the GPU is shared by worker processes instead.
STORE=$WORK/gpu-study
study() {
    local seeds per_seed first_rc
    RC1="every trial ran; some failed or a vanilla model did not learn (the log says which)"
    step study-seed-0 "$CAP_SEED0" "$FINISH" "$PY" -m rt_core.cli run "$STUDY_CONFIG" --out "$STORE" \
        --device "$DEVICE" --seeds 0 --workers "$WORKERS" --threads "$THREADS" --quiet
    first_rc=$RC per_seed=$WALL
    # exit 1: every trial ran, but some failed or a vanilla model did not learn (the log says which)
    (( first_rc == 0 || first_rc == 1 )) || return 1
    seeds=$("$PY" -m benchmarks.gpu_run seeds --left $(( $(left) - FINISH )) --per-seed "$per_seed" --first 1 \
        --max "$MAX_SEEDS")
    printf '{"config": "%s", "workers": %s, "threads": %s, "seed_0_wall_s": %s, "more_seeds": "%s"}\n' \
        "$STUDY_LABEL" "$WORKERS" "$THREADS" "$per_seed" "$seeds" >"$WORK/study_plan.json"
    if [[ -z $seeds ]]; then
        log "no further seed fits: $(left) s left, $per_seed s a seed"
        return 0
    fi
    log "seed 0 took $per_seed s: seeds $seeds fit in the $(( $(left) - FINISH )) s left"
    step study-more-seeds "$(left)" "$FINISH" "$PY" -m rt_core.cli run "$STUDY_CONFIG" --out "$STORE" \
        --device "$DEVICE" --seeds "$seeds" --workers "$WORKERS" --threads "$THREADS" --quiet
    (( RC == 0 || RC == 1 ))
}
if ready study; then
    study || FAILED=1
    RC1=
    if [[ -f $STORE/results.sqlite ]]; then
        # the store is what the study is for: copied even up to 60 s past the deadline (reserve -60)
        step copy-store "$CAP_COPY" -60 "$PY" -m benchmarks.gpu_run copy-store "$STORE" "$OUT/gpu-study" \
            --json "$WORK/study_store.json" || FAILED=1
    fi
fi

# 5. the summary, and what $OUT holds against the limits on what comes back
"$PY" -m benchmarks.gpu_run summary --work "$WORK" --out "$OUT/gpu_run.json" --mode "$MODE" --device "$DEVICE" \
    --deadline "$DEADLINE" --wall $(( SECONDS - T0 )) 2>&1 | tee -a "$LOG" || FAILED=1
"$PY" -m benchmarks.gpu_run check-out "$OUT" 2>&1 | tee -a "$LOG" || FAILED=1
log "done in $(( SECONDS - T0 )) s of $DEADLINE; files in $OUT: $(cd "$OUT" && find . -type f | sort | tr '\n' ' ')"
rm -rf "$WORK"
if (( NO_GPU == 1 )); then exit 3; fi
exit "$FAILED"
