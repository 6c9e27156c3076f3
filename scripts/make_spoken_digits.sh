#!/usr/bin/env bash
# make_spoken_digits.sh — spoken digit strings as speech-like demo data for CTC (issue 15).
#
# Each utterance is 1–7 digit words ("three one four") said by espeak-ng in one of its English
# accents and voice variants at a random speed, pitch and word gap, converted by sox to 16 kHz
# mono 16-bit, optionally with white noise at a given SNR. Out come OUT_DIR/wav/utt_NNNNNN.wav,
# OUT_DIR/manifest.csv (path,transcript,group,split; group = the voice, e.g. en-gb-scotland+m3)
# and OUT_DIR/manifest_unseen_accents.csv (two accents never in manifest.csv, split test).
# Held out for test in manifest.csv: TEST_VARIANTS_PER_ACCENT of each seen accent's variants
# (20%), never a base voice. Every UNSEEN_EVERY-th utterance has an unseen accent.
# Deterministic for a seed: the plan is drawn by a portable PRNG (Wichmann–Hill in awk, exact
# in doubles), espeak-ng's output depends only on its arguments, and sox runs with -R.
#
#   scripts/make_spoken_digits.sh OUT_DIR [--utterances N] [--seed S] [--snr DB] [--jobs J]
set -euo pipefail

SEEN_ACCENTS=(en-gb en-us en-gb-scotland en-gb-x-gbclan en-gb-x-rp en-us-nyc)
UNSEEN_ACCENTS=(en-029 en-gb-x-gbcwmd)
VARIANTS=(m1 m2 m3 m4 m5 m6 m7 f1 f2 f3 f4 f5 klatt klatt2 klatt3 klatt4 Andy linda max steph)
TEST_VARIANTS_PER_ACCENT=4   # of the 20 variants: 20% of each seen accent's variants
UNSEEN_EVERY=10              # utterance i with i % 10 == 9 has an unseen accent (10%)
SPEED_WPM=(130 210)          # espeak-ng -s
PITCH=(25 75)                # espeak-ng -p
WORD_GAP=(0 8)               # espeak-ng -g, units of 10 ms at the default speed
DIGITS=(1 7)
RATE_HZ=16000
NOISE_SECONDS=30             # one white-noise track; each utterance mixes a random slice of it

usage() {
  echo "usage: $0 OUT_DIR [--utterances N] [--seed S] [--snr DB] [--jobs J]" >&2
  echo "  defaults: --utterances 400 --seed 1, no noise, --jobs the number of CPUs ($(cpus))" >&2
  exit 2
}
die() { echo "make_spoken_digits: $*" >&2; exit 1; }
bad() { echo "make_spoken_digits: $*" >&2; exit 2; }   # a usage error
# GNU nproc answers OMP_NUM_THREADS when it is set (1 in strata's test environment).
cpus() { env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc; }
is_int() { [[ $1 =~ ^[0-9]+$ ]]; }

# ---- arguments ----------------------------------------------------------------------------
[ $# -ge 1 ] || usage
OUT=$1; shift
[[ $OUT == -* ]] && usage
N=400 SEED=1 SNR="" JOBS=$(cpus)
while [ $# -gt 0 ]; do
  [ $# -ge 2 ] || { echo "make_spoken_digits: $1 needs a value" >&2; usage; }
  case $1 in
    --utterances) N=$2 ;;
    --seed) SEED=$2 ;;
    --snr) SNR=$2 ;;
    --jobs) JOBS=$2 ;;
    *) echo "make_spoken_digits: unknown option $1" >&2; usage ;;
  esac
  shift 2
done
is_int "$N" && [ ${#N} -le 6 ] && [ "$N" -ge 1 ] || bad "--utterances must be in 1..999999, got '$N'"
is_int "$SEED" && [ ${#SEED} -le 10 ] && [ "$SEED" -le 2147483647 ] || bad "--seed must be an integer in 0..2^31-1, got '$SEED'"
is_int "$JOBS" && [ ${#JOBS} -le 4 ] && [ "$JOBS" -ge 1 ] || bad "--jobs must be a positive integer, got '$JOBS'"
[ -z "$SNR" ] || [[ $SNR =~ ^-?[0-9]+([.][0-9]+)?$ ]] || bad "--snr must be a number of dB, got '$SNR'"

# ---- tools and voices ---------------------------------------------------------------------
for t in espeak-ng sox soxi; do
  command -v "$t" >/dev/null ||
    die "$t not found: run scripts/install-deps.sh (Debian packages espeak-ng and sox)"
done
# espeak-ng silently falls back to a default for an unknown voice or variant: check them here.
known_accents=$(espeak-ng --voices=en | awk 'NR > 1 { print $2 }')
known_variants=$(espeak-ng --voices=variant | awk 'NR > 1 { sub(/^!v\//, "", $5); print $5 }')
for a in "${SEEN_ACCENTS[@]}" "${UNSEEN_ACCENTS[@]}"; do
  grep -qx -- "$a" <<<"$known_accents" || die "espeak-ng has no English accent '$a' (espeak-ng --voices=en)"
done
for v in "${VARIANTS[@]}"; do
  grep -qx -- "$v" <<<"$known_variants" || die "espeak-ng has no voice variant '$v' (espeak-ng --voices=variant)"
done

START_NS=$(date +%s%N)
mkdir -p "$OUT/wav"
find "$OUT/wav" -maxdepth 1 -name 'utt_*.wav' -delete
rm -f "$OUT/manifest.csv" "$OUT/manifest_unseen_accents.csv"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/spoken_digits.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# ---- the plan: one line per utterance -----------------------------------------------------
# Fields: id voice split manifest speed pitch gap noise_offset words (joined by '-').
# manifest is "main" or "unseen". The voice order is shuffled once and cycled through, so every
# voice gets about the same number of utterances.
awk -v n="$N" -v seed="$SEED" -v every="$UNSEEN_EVERY" -v n_test="$TEST_VARIANTS_PER_ACCENT" \
    -v seen="${SEEN_ACCENTS[*]}" -v unseen="${UNSEEN_ACCENTS[*]}" -v variants="${VARIANTS[*]}" \
    -v s_lo="${SPEED_WPM[0]}" -v s_hi="${SPEED_WPM[1]}" -v p_lo="${PITCH[0]}" -v p_hi="${PITCH[1]}" \
    -v g_lo="${WORD_GAP[0]}" -v g_hi="${WORD_GAP[1]}" -v d_lo="${DIGITS[0]}" -v d_hi="${DIGITS[1]}" \
    -v noise_samples="$((NOISE_SECONDS * RATE_HZ))" '
  # Wichmann–Hill: three small LCGs, exact in doubles, the same in mawk and gawk.
  function rnd(  u) {
    s1 = (171 * s1) % 30269; s2 = (172 * s2) % 30307; s3 = (170 * s3) % 30323
    u = s1 / 30269 + s2 / 30307 + s3 / 30323
    return u - int(u)
  }
  function randint(lo, hi) { return lo + int(rnd() * (hi - lo + 1)) }
  function shuffle(a, m,  i, j, t) {   # Fisher–Yates over a[1..m]
    for (i = m; i > 1; i--) { j = randint(1, i); t = a[i]; a[i] = a[j]; a[j] = t }
  }
  BEGIN {
    s1 = 1 + seed % 30268; s2 = 1 + (seed * 1009 + 7) % 30306; s3 = 1 + (seed * 3571 + 19) % 30322
    for (i = 0; i < 20; i++) rnd()
    split("zero one two three four five six seven eight nine", word, " ")
    n_var = split(variants, var, " ")
    n_seen = split(seen, acc, " ")
    n_main = 0
    for (a = 1; a <= n_seen; a++) {
      n_main++; voice[n_main] = acc[a]; split_of[n_main] = "train"   # the base voice
      for (v = 1; v <= n_var; v++) order[v] = var[v]
      shuffle(order, n_var)
      for (v = 1; v <= n_var; v++) {
        n_main++; voice[n_main] = acc[a] "+" order[v]
        split_of[n_main] = (v <= n_test) ? "test" : "train"
      }
    }
    for (i = 1; i <= n_main; i++) perm[i] = i
    shuffle(perm, n_main)
    n_un_acc = split(unseen, uacc, " ")
    n_unseen = 0
    for (a = 1; a <= n_un_acc; a++) {
      n_unseen++; uvoice[n_unseen] = uacc[a]
      for (v = 1; v <= n_var; v++) { n_unseen++; uvoice[n_unseen] = uacc[a] "+" var[v] }
    }
    for (i = 1; i <= n_unseen; i++) uperm[i] = i
    shuffle(uperm, n_unseen)
    k_main = 0; k_unseen = 0
    for (i = 0; i < n; i++) {
      if (i % every == every - 1) {
        vo = uvoice[uperm[k_unseen % n_unseen + 1]]; sp = "test"; man = "unseen"; k_unseen++
      } else {
        j = perm[k_main % n_main + 1]; vo = voice[j]; sp = split_of[j]; man = "main"; k_main++
      }
      nd = randint(d_lo, d_hi); text = ""
      for (d = 0; d < nd; d++) text = text (d ? "-" : "") word[randint(1, 10)]
      printf "utt_%06d %s %s %s %d %d %d %d %s\n", i, vo, sp, man, randint(s_lo, s_hi),
             randint(p_lo, p_hi), randint(g_lo, g_hi), randint(0, noise_samples - 1), text
    }
  }' >"$WORK/plan"

# ---- rendering, J processes ---------------------------------------------------------------
NOISE_RMS=""
if [ -n "$SNR" ]; then
  sox -R -n -r "$RATE_HZ" -c 1 -b 16 "$WORK/noise.wav" synth "$NOISE_SECONDS" whitenoise
  NOISE_RMS=$(sox "$WORK/noise.wav" -n stat 2>&1 | awk '/^RMS +amplitude/ { print $3 }')
fi

# render_batch ID VOICE SPLIT MANIFEST SPEED PITCH GAP NOISE_OFFSET WORDS [ID ...]: nine
# fields per utterance; writes OUT/wav/ID.wav, its peak normalised to -1 dBFS (espeak-ng's
# variants differ in level). With SNR set, the noise slice is scaled so that
# rms(speech) / rms(noise) = 10^(SNR/20) over the whole utterance, and the mix is normalised
# again (the ratio is kept). The halvings (vol 0.5, -v 0.5) keep resampling and mixing from
# clipping before the normalisation.
render_batch() {
  set -euo pipefail
  local tmp
  tmp=$(mktemp -d "$WORK/r.XXXXXX")
  while [ $# -ge 9 ]; do
    local id=$1 voice=$2 speed=$5 pitch=$6 gap=$7 off=$8 text=${9//-/ }
    shift 9
    espeak-ng -v "$voice" -s "$speed" -p "$pitch" -g "$gap" -w "$tmp/raw.wav" "$text" ||
      { echo "make_spoken_digits: espeak-ng failed on $id ($voice)" >&2; return 1; }
    if [ -z "$SNR" ]; then
      sox -R "$tmp/raw.wav" -b 16 "$OUT/wav/$id.wav" channels 1 vol 0.5 rate "$RATE_HZ" gain -n -1
      continue
    fi
    sox -R "$tmp/raw.wav" -b 16 "$tmp/clean.wav" channels 1 vol 0.5 rate "$RATE_HZ" gain -n -1
    local len rms scale
    len=$(soxi -s "$tmp/clean.wav")
    rms=$(sox "$tmp/clean.wav" -n stat 2>&1 | awk '/^RMS +amplitude/ { print $3 }')
    [ "$len" -lt $((NOISE_SECONDS * RATE_HZ)) ] ||
      { echo "make_spoken_digits: $id is longer than the ${NOISE_SECONDS} s noise track" >&2; return 1; }
    off=$((off % (NOISE_SECONDS * RATE_HZ - len)))
    scale=$(awk -v s="$rms" -v nr="$NOISE_RMS" -v snr="$SNR" 'BEGIN { printf "%.6g", 0.5 * s / (nr * 10 ^ (snr / 20)) }')
    sox -R -m -v 0.5 "$tmp/clean.wav" -v "$scale" "|sox $WORK/noise.wav -p trim ${off}s ${len}s" \
        -b 16 "$OUT/wav/$id.wav" gain -n -1
  done
  rm -rf "$tmp"
}
export -f render_batch
export OUT WORK SNR NOISE_RMS RATE_HZ NOISE_SECONDS

per_call=$(( (N + JOBS - 1) / JOBS )); [ "$per_call" -le 20 ] || per_call=20
xargs -P "$JOBS" -n $((9 * per_call)) bash -c 'render_batch "$@"' _ <"$WORK/plan" ||
  die "rendering failed (see the messages above)"

# ---- manifests and summary ----------------------------------------------------------------
awk -v out="$OUT" '
  BEGIN { h = "path,transcript,group,split"; print h > (out "/manifest.csv"); print h > (out "/manifest_unseen_accents.csv") }
  { t = $9; gsub(/-/, " ", t)
    f = ($4 == "main") ? out "/manifest.csv" : out "/manifest_unseen_accents.csv"
    printf "wav/%s.wav,%s,%s,%s\n", $1, t, $2, $3 > f }' "$WORK/plan"

awk '{ print $1 ".wav" }' "$WORK/plan" | (cd "$OUT/wav" && xargs soxi -D) | paste -d' ' "$WORK/plan" - | awk -v n="$N" -v jobs="$JOBS" \
    -v secs="$(( ($(date +%s%N) - START_NS) / 1000000 ))" -v snr="${SNR:-none}" -v out="$OUT" '
  { k = ($4 == "main") ? $3 : "unseen-accent-test"; c[k]++; d[k] += $10; total += $10 }
  END {
    printf "make_spoken_digits: %d utterances, %.2f h of audio (%.2f s mean), SNR %s, in %.1f s with %d jobs\n",
           n, total / 3600, total / n, snr, secs / 1000, jobs
    split("train test unseen-accent-test", ks, " ")
    for (i = 1; i <= 3; i++) printf "  %-18s %6d utterances %8.3f h\n", ks[i], c[ks[i]], d[ks[i]] / 3600
    printf "  %s/manifest.csv, %s/manifest_unseen_accents.csv\n", out, out
  }'
