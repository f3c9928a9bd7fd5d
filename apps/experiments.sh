#!/usr/bin/env bash
# The paper's comparison on Fashion-MNIST, in one command: trains every model with the same
# stage-1 architecture, latent size and step budget, generates samples from each, and writes
# a results table (markdown + JSON):
#
#   model | test MSE | FID-FMNIST | FID-Inception (samples vs test set) | latent NLL | MIG on shapes
#         | training time
#
# Rows: decoupled AE + i-ResNet flow (ours: with the paper's N(0, I) base, and with a learnt
# MIXTURE_COMPONENTS-component Gaussian-mixture base), AE + GMM (RAE's ex-post density), AE + full
# Gaussian, VAE (gamma 0.5), VAE (tuned gamma), beta-VAE, VAE with learnt gamma (stage 1 of
# the 2-stage VAE), 2-stage VAE; plus the FID floor (training vs test images) and ceiling
# (uniform noise). A separate run on synthetic shapes gives MIG (AE codes z, flow output z',
# VAE means), and a gamma sweep gives the paper's Fig. 3 (reconstruction, KL and a picture of
# the aggregate posterior per gamma) and tunes gamma: the swept VAE (gamma > 0) with the lowest
# FID-FMNIST sets the "tuned gamma" rows (sweep/sweep_fid.md). TEMPERATURES (full mode: "1.25 1.5
# 1.75 2") samples every model at each temperature (the scale of its noise) and keeps, per
# model, the one whose samples are nearest the training images (FID-FMNIST against training
# images, never the test set; eval/temperatures.md lists them all).
#
#   apps/experiments.sh --quick            # smoke test: tiny subsets and models, minutes on 2 cores
#   apps/experiments.sh                    # the full comparison: about 70 min on 2 cores (EXPERIMENTS.md)
#   apps/experiments.sh --device cuda      # far faster on a GPU
#   AE_EPOCHS=10 TRAIN_LIMIT=20000 apps/experiments.sh   # other budgets: every knob below is an
#                                                          # environment variable
# Stage 1 of the AE rows trains on the Gaussian likelihood with a learnt decoder variance
# (train_ae --learn-gamma: the same minimiser as MSE, lower test MSE at a given budget;
# AE_LEARN_GAMMA=0 gives the paper's plain MSE).
# Output: $OUT (default runs/experiments or runs/experiments_quick): results.md, results.json,
# sweep/sweep.md, sweep/sweep_fid.md, and one folder per model with its checkpoint, metrics,
# samples.png (and samples.npy for FID-Inception).
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
device_flags=()
out=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) quick=1; shift ;;
    --device) device_flags=(--device "$2"); shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,31p' "$0"; exit 0 ;;
    *) echo "experiments.sh: unknown flag $1 (use --quick, --device D, --out DIR)" >&2; exit 2 ;;
  esac
done

if [[ $quick == 1 ]]; then
  : "${OUT:=${out:-runs/experiments_quick}}"
  : "${TRAIN_LIMIT:=512}" "${TEST_LIMIT:=256}" "${SAMPLES:=256}" "${CHANNELS:=16,32}" "${LATENT:=8}"
  : "${AE_STEPS:=8}" "${BATCH:=32}" "${FLOW_EPOCHS:=1}" "${FLOW_BLOCKS:=2}" "${FLOW_HIDDEN:=16}"
  : "${STAGE2_EPOCHS:=1}" "${STAGE2_HIDDEN:=32}" "${GMM_COMPONENTS:=3}"
  : "${CLASSIFIER_EPOCHS:=1}" "${CLASSIFIER_LIMIT:=1024}"
  : "${SHAPES_TRAIN:=256}" "${SHAPES_TEST:=64}" "${SHAPES_STEPS:=8}" "${MIG_SAMPLES:=512}"
  : "${SWEEP:=0,0.1,1}" "${SWEEP_STEPS:=4}" "${INCEPTION_SAMPLES:=16}"
else
  : "${OUT:=${out:-runs/experiments}}"
  # The settings of the measured table (EXPERIMENTS.md, session 9): about 70 minutes on 2 cores.
  : "${TRAIN_LIMIT:=0}" "${TEST_LIMIT:=0}" "${SAMPLES:=10000}" "${CHANNELS:=32,64}" "${LATENT:=32}"
  : "${AE_EPOCHS:=3}" "${AE_STEPS:=0}" "${BATCH:=64}" "${FLOW_EPOCHS:=30}" "${FLOW_BLOCKS:=10}"
  : "${FLOW_HIDDEN:=128}" "${STAGE2_EPOCHS:=30}" "${STAGE2_HIDDEN:=1024}" "${GMM_COMPONENTS:=10}"
  : "${CLASSIFIER_EPOCHS:=3}" "${CLASSIFIER_LIMIT:=0}"
  : "${SHAPES_TRAIN:=4000}" "${SHAPES_TEST:=500}" "${SHAPES_STEPS:=150}" "${MIG_SAMPLES:=5000}"
  : "${SWEEP:=0,0.001,0.01,0.1,1,10}" "${SWEEP_STEPS:=150}"
  # FID-Inception is off by default (any device): 10,000 samples per row cost about 2.5 hours of
  # Inception on 2 cores (INCEPTION_SAMPLES=10000 turns it on; a GPU should make that minutes,
  # not yet measured).
  : "${INCEPTION_SAMPLES:=0}"
fi
: "${SEED:=0}"       # seed of every model's training and samples (the classifier keeps its own)
: "${STAGE1_LR:=1e-3}"  # Adam lr of every stage-1 model (AE, VAEs, shapes runs, sweep)
: "${STAGE1_SCHEDULE:=cosine}"  # their lr schedule: cosine (down to 0 over the run) or constant
: "${AE_LEARN_GAMMA:=1}"  # 1: the AE rows' stage 1 with train_ae --learn-gamma; 0: plain MSE
: "${AE_FLAGS:=}"        # extra train_ae flags for the AE rows, e.g. "--latent-noise 0.1"
: "${FLOW_FLAGS:=--batch 64 --logdet roulette --activation lipswish --coeff 0.99}"  # extra train_flow flags (measured: see EXPERIMENTS.md)
if [[ $quick == 1 ]]; then : "${MIXTURE_COMPONENTS:=2}"; else : "${MIXTURE_COMPONENTS:=10}"; fi  # the mixture-base flow's row (0: no such row)
: "${TUNED_GAMMA:=auto}"  # auto: the sweep's gamma (> 0) with the lowest FID-FMNIST; or a number
: "${BETA:=4}"
: "${CLASSIFIER:=}"        # reuse trained classifier weights instead of training them here
# Sampling temperatures tried for every model, each row keeping the one its samples score best
# at against training images (measured: every model samples better above 1; EXPERIMENTS.md).
if [[ $quick == 1 ]]; then : "${TEMPERATURES:=1}"; else : "${TEMPERATURES:=1.25 1.5 1.75 2}"; fi
# FID-Inception (the standard scale): INCEPTION_SAMPLES samples per model (0 = skip the column)
# against the test set's Inception statistics, computed here or reused from
# INCEPTION_TEST_STATS (`fid stats fashion-mnist:test -o FILE`). Needs the converted weights
# (apps/get_fid_inception.sh); without them the column is skipped with a message.
: "${INCEPTION_TEST_STATS:=}"

build_dir=${KITE_BUILD_DIR:-build}
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release > /dev/null
  cmake --build "$build_dir" --parallel "$(nproc)" --target train_ae encode train_flow train_vae \
    train_two_stage train_classifier fit_gmm evaluate experiments_table fid
fi
bin="$build_dir/apps"
mkdir -p "$OUT/time"

# Budget: --epochs N, or --steps N when AE_STEPS is set (the quick mode).
if [[ "${AE_STEPS:-0}" != 0 ]]; then budget=(--steps "$AE_STEPS"); else budget=(--epochs "$AE_EPOCHS"); fi
data=(--train-limit "$TRAIN_LIMIT" --test-limit "$TEST_LIMIT")
seed=(--seed "$SEED")
arch=(--channels "$CHANNELS" --latent "$LATENT" --batch "$BATCH" --lr "$STAGE1_LR" --lr-schedule "$STAGE1_SCHEDULE" "${seed[@]}")
shapes=(--dataset shapes --image-size 32 --train-limit "$SHAPES_TRAIN" --test-limit "$SHAPES_TEST")
shapes_arch=(--channels "$CHANNELS" --latent 10 --batch "$BATCH" --lr "$STAGE1_LR" --lr-schedule "$STAGE1_SCHEDULE" --steps "$SHAPES_STEPS" "${seed[@]}")
# Both autoencoders (the table's, the shapes run): the loss that AE_LEARN_GAMMA picks.
ae_loss=()
[[ "$AE_LEARN_GAMMA" == 1 ]] && ae_loss=(--learn-gamma)
# Every flow (ours, its mixture-base variant, the shapes run): the same settings and FLOW_FLAGS.
read -r -a flow_flags <<< "$FLOW_FLAGS"
flow_arch=(--epochs "$FLOW_EPOCHS" --blocks "$FLOW_BLOCKS" --hidden "$FLOW_HIDDEN" "${flow_flags[@]}" "${seed[@]}" "${device_flags[@]}")

# timed NAME command...: runs the command and records its wall time in $OUT/time/NAME (s).
timed() {
  local name=$1; shift
  local t0 t1
  t0=$(date +%s%N)
  "$@"
  t1=$(date +%s%N)
  echo $(( (t1 - t0) / 1000000 )) | awk '{printf "%.1f\n", $1 / 1000}' > "$OUT/time/$name"
}
t() { cat "$OUT/time/$1"; }
sum_times() { local s=0; for n in "$@"; do s=$(awk -v a="$s" -v b="$(t "$n")" 'BEGIN{print a + b}'); done; echo "$s"; }
step() { echo; echo "== $*"; }

# 1. The feature extractor of FID-FMNIST.
if [[ -z "$CLASSIFIER" ]]; then
  step "classifier ($CLASSIFIER_EPOCHS epoch(s))"
  "$bin/train_classifier" --out "$OUT/classifier" --epochs "$CLASSIFIER_EPOCHS" \
    --train-limit "$CLASSIFIER_LIMIT" "${device_flags[@]}"
  CLASSIFIER="$OUT/classifier/fmnist_classifier.safetensors"
fi
inception_weights="${KITE_CACHE_DIR:-${XDG_CACHE_HOME:-${HOME:-.}/.cache}/kite}/fid_inception_v3.safetensors"
inception=0
if [[ "$INCEPTION_SAMPLES" != 0 ]]; then
  if [[ -f "$inception_weights" ]]; then
    inception=1
  else
    echo "experiments.sh: FID-Inception column skipped: no weights at $inception_weights" \
      "(run apps/get_fid_inception.sh)" >&2
  fi
fi
save_samples=()
[[ $inception == 1 ]] && save_samples=(--save-samples "$INCEPTION_SAMPLES")
evaluate() {
  "$bin/evaluate" --classifier "$CLASSIFIER" --samples "$SAMPLES" "${save_samples[@]}" \
    "${seed[@]}" "${device_flags[@]}" "$@"
}
json_number() { sed -n "s/^ *\"$2\": \([-0-9.eE+]*\),*\$/\1/p" "$1" | head -n 1; }
two_decimals() { if [[ -n "$1" ]]; then awk -v f="$1" 'BEGIN { printf "%.2f", f }'; else echo n/a; fi; }
# evaluate_row NAME ARGS...: the model of a table row into $OUT/eval/NAME, sampled at each of
# TEMPERATURES (into $OUT/eval/temperatures/NAME/T<t>) and kept at the temperature whose samples
# are nearest the training images; then its FID-Inception.
read -r -a temperatures <<< "$TEMPERATURES"
[[ ${#temperatures[@]} -gt 0 ]] || { echo "experiments.sh: TEMPERATURES is empty" >&2; exit 2; }
if [[ ${#temperatures[@]} -gt 1 ]]; then
  mkdir -p "$OUT/eval"
  {
    echo "| model | temperature | FID-FMNIST vs training images (picks) | FID-FMNIST vs test |"
    echo "|---|---|---|---|"
  } > "$OUT/eval/temperatures.md"
fi
evaluate_row() {
  local name=$1; shift
  if [[ ${#temperatures[@]} == 1 ]]; then
    evaluate "$@" --temperature "${temperatures[0]}" --name "$name" --out "$OUT/eval/$name"
  else
    local best="" best_fid="" T dir fid
    for T in "${temperatures[@]}"; do
      dir="$OUT/eval/temperatures/$name/T$T"
      evaluate "$@" --temperature "$T" --name "$name" --out "$dir"
      fid=$(json_number "$dir/metrics.json" fid_fmnist_vs_train)
      echo "| $name | $T | $(two_decimals "$fid") | $(two_decimals "$(json_number "$dir/metrics.json" fid_fmnist)") |" \
        >> "$OUT/eval/temperatures.md"
      if [[ -n "$fid" ]] && { [[ -z "$best_fid" ]] || awk -v a="$fid" -v b="$best_fid" 'BEGIN { exit !(a < b) }'; }; then
        best=$T; best_fid=$fid
      fi
    done
    [[ -n "$best" ]] || { echo "experiments.sh: $name: no temperature gave an FID" >&2; exit 1; }
    echo "$name: temperature $best (FID-FMNIST against training images $best_fid)"
    rm -rf "$OUT/eval/$name"
    cp -r "$OUT/eval/temperatures/$name/T$best" "$OUT/eval/$name"
  fi
  inception_fid "$OUT/eval/$name"
}
# inception_fid DIR: FID-Inception of DIR/samples.npy (written by evaluate) into DIR/inception.json,
# which experiments_table finds next to DIR/metrics.json.
inception_fid() {
  [[ $inception == 1 ]] || return 0
  "$bin/fid" distance "$1/samples.npy" "$OUT/eval/inception_test.npz" --json "$1/inception.json" \
    "${device_flags[@]}"
}

step "FID floor and ceiling"
evaluate --reference "${data[@]}" --out "$OUT/eval/reference"
if [[ $inception == 1 ]]; then
  step "FID-Inception: test set statistics and the floor ($INCEPTION_SAMPLES training images)"
  if [[ -n "$INCEPTION_TEST_STATS" ]]; then
    cp "$INCEPTION_TEST_STATS" "$OUT/eval/inception_test.npz"
  else
    "$bin/fid" stats fashion-mnist:test --limit "$TEST_LIMIT" -o "$OUT/eval/inception_test.npz" \
      "${device_flags[@]}"
  fi
  "$bin/fid" distance fashion-mnist:train "$OUT/eval/inception_test.npz" --limit "$INCEPTION_SAMPLES" \
    --json "$OUT/eval/reference/inception.json" "${device_flags[@]}"
fi

# 2. Stage 1 autoencoder, shared by ours, AE + GMM and AE + Gaussian.
step "autoencoder"
# shellcheck disable=SC2086  # AE_FLAGS is a list of flags
timed ae "$bin/train_ae" --out "$OUT/ae" --overwrite "${data[@]}" "${arch[@]}" "${budget[@]}" "${ae_loss[@]}" \
  "${device_flags[@]}" $AE_FLAGS
timed encode "$bin/encode" --checkpoint "$OUT/ae/last.safetensors" --out "$OUT/ae/codes.safetensors" "${device_flags[@]}"
step "i-ResNet flow on the codes"
timed flow "$bin/train_flow" --codes "$OUT/ae/codes.safetensors" --out "$OUT/flow" "${flow_arch[@]}"
if [[ "$MIXTURE_COMPONENTS" != 0 ]]; then
  step "i-ResNet flow with a $MIXTURE_COMPONENTS-component mixture base"
  timed flow_mixture "$bin/train_flow" --codes "$OUT/ae/codes.safetensors" --out "$OUT/flow_mixture" \
    "${flow_arch[@]}" --base-components "$MIXTURE_COMPONENTS"
fi
step "Gaussian mixture on the codes"
timed gmm "$bin/fit_gmm" --codes "$OUT/ae/codes.safetensors" --out "$OUT/gmm" --components "$GMM_COMPONENTS" "${seed[@]}"

ae_eval=(--checkpoint "$OUT/ae/last.safetensors" --codes "$OUT/ae/codes.safetensors")
step "evaluate: ours, AE + GMM, AE + Gaussian"
evaluate_row ours "${ae_eval[@]}" --flow "$OUT/flow/best.safetensors"
if [[ "$MIXTURE_COMPONENTS" != 0 ]]; then
  evaluate_row ours_mixture "${ae_eval[@]}" --flow "$OUT/flow_mixture/best.safetensors"
fi
evaluate_row ae_gmm "${ae_eval[@]}" --gmm "$OUT/gmm/gmm.safetensors"
evaluate_row ae_gaussian "${ae_eval[@]}" --prior gaussian

# 3. The paper's Fig. 3: a sweep over gamma. Its models also tune gamma for the VAE rows: each
#    is sampled and scored by FID-FMNIST, and TUNED_GAMMA=auto takes the best gamma > 0.
step "gamma sweep ($SWEEP)"
"$bin/train_vae" --gamma-sweep "$SWEEP" --out "$OUT/sweep" --overwrite "${data[@]}" "${arch[@]}" --steps "$SWEEP_STEPS" "${device_flags[@]}"
{
  echo "| gamma | FID-FMNIST ($SAMPLES samples, $SWEEP_STEPS steps) |"
  echo "|---|---|"
} > "$OUT/sweep/sweep_fid.md"
best_fid=""
for g in $(for dir in "$OUT"/sweep/gamma_*/; do dir=${dir%/}; echo "${dir##*/gamma_}"; done | sort -g); do
  "$bin/evaluate" --classifier "$CLASSIFIER" --samples "$SAMPLES" "${seed[@]}" "${device_flags[@]}" \
    --checkpoint "$OUT/sweep/gamma_$g/last.safetensors" --out "$OUT/eval/sweep_gamma_$g"
  fid=$(json_number "$OUT/eval/sweep_gamma_$g/metrics.json" fid_fmnist)
  echo "| $g | $(two_decimals "$fid") |" \
    >> "$OUT/sweep/sweep_fid.md"
  if [[ -n "$fid" ]] && awk -v g="$g" 'BEGIN { exit !(g > 0) }' &&
     { [[ -z "$best_fid" ]] || awk -v a="$fid" -v b="$best_fid" 'BEGIN { exit !(a < b) }'; }; then
    best_fid=$fid; best_gamma=$g
  fi
done
if [[ "$TUNED_GAMMA" == auto ]]; then
  [[ -n "$best_fid" ]] || { echo "experiments.sh: no sweep model with gamma > 0 has an FID" >&2; exit 1; }
  TUNED_GAMMA=$best_gamma
  echo "tuned gamma: $TUNED_GAMMA (sweep FID-FMNIST $best_fid)" | tee -a "$OUT/sweep/sweep_fid.md"
fi

# 4. The VAEs, same architecture and budget.
vae() {
  local name=$1; shift
  step "VAE: $name"
  timed "$name" "$bin/train_vae" --out "$OUT/$name" --overwrite "${data[@]}" "${arch[@]}" "${budget[@]}" "${device_flags[@]}" "$@"
  evaluate_row "$name" --checkpoint "$OUT/$name/last.safetensors"
}
vae vae_gamma_0.5 --gamma 0.5
vae vae_tuned --gamma "$TUNED_GAMMA"
vae beta_vae --gamma "$TUNED_GAMMA" --beta "$BETA"
vae vae_learnt_gamma --learn-gamma
step "2-stage VAE: stage 2"
timed two_stage "$bin/train_two_stage" --stage1 "$OUT/vae_learnt_gamma/last.safetensors" --out "$OUT/two_stage" --overwrite \
  --epochs "$STAGE2_EPOCHS" --hidden "$STAGE2_HIDDEN" "${seed[@]}" "${device_flags[@]}"
evaluate_row two_stage --checkpoint "$OUT/two_stage/last.safetensors"

# 5. MIG on synthetic shapes (separate models, same recipe).
step "shapes: autoencoder + flow, VAE, beta-VAE (MIG)"
# shellcheck disable=SC2086
timed shapes_ae "$bin/train_ae" --out "$OUT/shapes/ae" --overwrite "${shapes[@]}" "${shapes_arch[@]}" "${ae_loss[@]}" \
  "${device_flags[@]}" $AE_FLAGS
"$bin/encode" --checkpoint "$OUT/shapes/ae/last.safetensors" --out "$OUT/shapes/ae/codes.safetensors" "${device_flags[@]}"
"$bin/train_flow" --codes "$OUT/shapes/ae/codes.safetensors" --out "$OUT/shapes/flow" "${flow_arch[@]}"
"$bin/evaluate" --checkpoint "$OUT/shapes/ae/last.safetensors" --flow "$OUT/shapes/flow/best.safetensors" \
  --mig --mig-samples "$MIG_SAMPLES" --out "$OUT/eval/shapes_ae" "${seed[@]}" "${device_flags[@]}"
for spec in "vae:--gamma $TUNED_GAMMA" "beta_vae:--gamma $TUNED_GAMMA --beta $BETA" \
            "vae_gamma_0.5:--gamma 0.5" "vae_learnt_gamma:--learn-gamma"; do
  name=${spec%%:*}
  # shellcheck disable=SC2086
  "$bin/train_vae" --out "$OUT/shapes/$name" --overwrite "${shapes[@]}" "${shapes_arch[@]}" "${device_flags[@]}" ${spec#*:}
  "$bin/evaluate" --checkpoint "$OUT/shapes/$name/last.safetensors" --mig --mig-samples "$MIG_SAMPLES" \
    --out "$OUT/eval/shapes_$name" "${seed[@]}" "${device_flags[@]}"
done

# 6. The table.
step "results"
e="$OUT/eval"
note="Seed $SEED. Budget: stage-1 models ${budget[*]} at batch $BATCH and Adam lr $STAGE1_LR ($STAGE1_SCHEDULE schedule; train limit $TRAIN_LIMIT, 0 = all 60000; test limit $TEST_LIMIT, 0 = all 10000), channels $CHANNELS, latent $LATENT; flow $FLOW_EPOCHS epochs x $FLOW_BLOCKS blocks${FLOW_FLAGS:+ ($FLOW_FLAGS)};${ae_loss[*]:+ autoencoder with a learnt gamma (--learn-gamma);}${AE_FLAGS:+ autoencoder $AE_FLAGS;} stage 2 $STAGE2_EPOCHS epochs; $SAMPLES samples per model at the temperature picked from ($TEMPERATURES); MIG on $MIG_SAMPLES shapes (32x32, latent 10, $SHAPES_STEPS steps). FID-Inception: $INCEPTION_SAMPLES samples per model vs the test set. Training time: wall seconds of the training commands of each row (AE rows include the shared autoencoder). ${device_flags[*]:-cpu}."
rows=(--row "decoupled AE + i-ResNet, N(0, I) base (ours, the paper's);$e/ours/metrics.json;$(sum_times ae encode flow);$e/shapes_ae/metrics.json;mig_flow")
if [[ "$MIXTURE_COMPONENTS" != 0 ]]; then
  # No MIG: the shapes run trains the paper's flow only.
  rows+=(--row "decoupled AE + i-ResNet, $MIXTURE_COMPONENTS-component mixture base (ours);$e/ours_mixture/metrics.json;$(sum_times ae encode flow_mixture)")
fi
"$bin/experiments_table" --out "$OUT/results" --reference "$e/reference/metrics.json" --note "$note" \
  "${rows[@]}" \
  --row "AE codes z (ours, before the flow);$e/ours/metrics.json;;$e/shapes_ae/metrics.json;mig" \
  --row "AE + GMM ($GMM_COMPONENTS components);$e/ae_gmm/metrics.json;$(sum_times ae encode gmm);$e/shapes_ae/metrics.json;mig" \
  --row "AE + full Gaussian;$e/ae_gaussian/metrics.json;$(sum_times ae encode);$e/shapes_ae/metrics.json;mig" \
  --row "VAE (gamma 0.5);$e/vae_gamma_0.5/metrics.json;$(t vae_gamma_0.5);$e/shapes_vae_gamma_0.5/metrics.json;mig" \
  --row "VAE (gamma $TUNED_GAMMA);$e/vae_tuned/metrics.json;$(t vae_tuned);$e/shapes_vae/metrics.json;mig" \
  --row "beta-VAE (gamma $TUNED_GAMMA, beta $BETA);$e/beta_vae/metrics.json;$(t beta_vae);$e/shapes_beta_vae/metrics.json;mig" \
  --row "VAE (learnt gamma = 2-stage stage 1);$e/vae_learnt_gamma/metrics.json;$(t vae_learnt_gamma);$e/shapes_vae_learnt_gamma/metrics.json;mig" \
  --row "2-stage VAE;$e/two_stage/metrics.json;$(sum_times vae_learnt_gamma two_stage);$e/shapes_vae_learnt_gamma/metrics.json;mig"
echo
echo "Done: $OUT/results.md, $OUT/results.json, $OUT/sweep/sweep.md"
