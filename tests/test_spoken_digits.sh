#!/usr/bin/env bash
# test_spoken_digits.sh — scripts/make_spoken_digits.sh on 60 utterances: the WAVs are 16 kHz
# mono 16-bit, the manifests have the right columns and rows, held-out voices are variants and
# never in both splits, the unseen accents stay out of manifest.csv, transcripts are 1–7 digit
# words, a seed gives the same bytes twice, --snr adds noise at that SNR and usage errors exit 2.
# Needs espeak-ng and sox (scripts/install-deps.sh). Prints TAP.
set -u
cd "$(dirname "$0")/.." || exit 1
export OMP_NUM_THREADS=1
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
n=0; fail=0
ok() { n=$((n+1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fail=1; sed 's/^/#   /' "$work/log" | tail -8; fi; }
gen() { scripts/make_spoken_digits.sh "$@" >"$work/log" 2>&1; }
: >"$work/log"
echo "1..14"

gen "$work/a" --utterances 60 --seed 3 --jobs 2
ok $? "makes 60 utterances"
A=$work/a

# soxi prints one line per file; every file must say 16000 / 1 / 16.
(cd "$A/wav" && find . -name "*.wav" | wc -l; soxi -r ./*.wav | sort -u; soxi -c ./*.wav | sort -u; soxi -b ./*.wav | sort -u) >"$work/log"
[ "$(tr '\n' ' ' <"$work/log")" = "60 16000 1 16 " ]
ok $? "60 WAVs, all 16 kHz mono 16-bit"

{ head -1 "$A/manifest.csv"; head -1 "$A/manifest_unseen_accents.csv"
  tail -n +2 "$A/manifest.csv" | wc -l; tail -n +2 "$A/manifest_unseen_accents.csv" | wc -l; } >"$work/log"
[ "$(tr '\n' ' ' <"$work/log")" = "path,transcript,group,split path,transcript,group,split 54 6 " ]
ok $? "manifest headers; 54 + 6 rows (every 10th utterance has an unseen accent)"

tail -q -n +2 "$A/manifest.csv" "$A/manifest_unseen_accents.csv" | awk -F, -v d="$A" '
  NF != 4 { print "row " NR ": " NF " columns"; bad = 1 }
  $1 !~ /^wav\/utt_[0-9]+\.wav$/ || system("test -s \"" d "/" $1 "\"") { print "bad path " $1; bad = 1 }
  { seen[$1]++ } END { for (p in seen) if (seen[p] > 1) { print "twice: " p; bad = 1 }; exit bad }' >"$work/log"
ok $? "every row has 4 columns and its own existing WAV, path relative to the manifest"

awk -F, 'NR > 1 && $4 == "test" && $3 !~ /\+/ { print "base voice in test: " $3; bad = 1 }
  NR > 1 && $4 != "test" && $4 != "train" { print "split " $4; bad = 1 } END { exit bad }' \
  "$A/manifest.csv" >"$work/log"
ok $? "manifest.csv: splits are train/test and every test group is a variant (has '+')"

awk -F, 'NR > 1 { s[$3] = s[$3] " " $4 } END {
  for (g in s) { if (s[g] ~ /train/ && s[g] ~ /test/) { print "both splits: " g; bad = 1 }
                 if (s[g] ~ /test/) t++; if (s[g] ~ /train/) r++ }
  if (!t || !r) { print "a split is empty"; bad = 1 }; exit bad }' "$A/manifest.csv" >"$work/log"
ok $? "no group in both splits, both splits present"

awk -F, 'FNR == 1 { next } { a = $3; sub(/\+.*/, "", a) }
  FILENAME ~ /unseen/ { un[a] = 1; if ($4 != "test") { print "split " $4; bad = 1 }; next } { main[a] = 1 }
  END { for (x in un) { k++; if (x in main) { print "accent in both: " x; bad = 1 } }
        if (k != 2) { print k " unseen accents"; bad = 1 }; exit bad }' \
  "$A/manifest.csv" "$A/manifest_unseen_accents.csv" >"$work/log"
ok $? "two unseen accents, split test, none of them in manifest.csv"

tail -q -n +2 "$A/manifest.csv" "$A/manifest_unseen_accents.csv" | awk -F, '
  { k = split($2, w, " "); if (k < 1 || k > 7) { print "length " k ": " $2; bad = 1 }
    for (i = 1; i <= k; i++) if (w[i] !~ /^(zero|one|two|three|four|five|six|seven|eight|nine)$/) {
      print "word " w[i]; bad = 1 }
    c[k]++ }
  END { if (length(c) < 5) { print "only " length(c) " distinct lengths"; bad = 1 }; exit bad }' >"$work/log"
ok $? "transcripts are 1-7 lowercase digit words, lengths varied"

gen "$work/b" --utterances 60 --seed 3 --jobs 1
cmp "$A/manifest.csv" "$work/b/manifest.csv" >"$work/log" 2>&1 &&
  cmp "$A/manifest_unseen_accents.csv" "$work/b/manifest_unseen_accents.csv" >>"$work/log" 2>&1 &&
  (cd "$A" && md5sum wav/*.wav) >"$work/sum_a" && (cd "$work/b" && md5sum wav/*.wav) >"$work/sum_b" &&
  diff "$work/sum_a" "$work/sum_b" >>"$work/log"
ok $? "same seed (1 job instead of 2): identical manifests and WAV bytes"

gen "$work/c" --utterances 60 --seed 4 --jobs 2
! cmp -s "$A/manifest.csv" "$work/c/manifest.csv"
ok $? "another seed: another manifest"

gen "$work/n" --utterances 60 --seed 3 --jobs 2 --snr 10
cmp "$A/manifest.csv" "$work/n/manifest.csv" >"$work/log" 2>&1 &&
  (cd "$work/n" && md5sum wav/*.wav) >"$work/sum_n" &&
  [ "$(paste -d' ' "$work/sum_a" "$work/sum_n" | awk '$1 == $3' | wc -l)" = 0 ]
ok $? "--snr 10: same manifest, every WAV changed"

# noisy = a * clean + noise, a by least squares (the noise is independent of the speech).
/usr/bin/python3 - "$A" "$work/n" >"$work/log" 2>&1 <<'EOF'
import sys, wave, glob, os
import numpy as np
def read(p):
    with wave.open(p) as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float64)
snr = []
for p in sorted(glob.glob(os.path.join(sys.argv[1], "wav", "*.wav"))):
    c, y = read(p), read(os.path.join(sys.argv[2], "wav", os.path.basename(p)))
    a = (c @ y) / (c @ c)
    snr.append(10 * np.log10(np.sum((a * c) ** 2) / np.sum((y - a * c) ** 2)))
print("SNR dB min %.2f max %.2f" % (min(snr), max(snr)))
sys.exit(0 if all(abs(s - 10) < 0.5 for s in snr) else 1)
EOF
ok $? "--snr 10: measured SNR within 0.5 dB of 10 in every WAV"

gen "$work/u" --utterances 0; [ $? = 2 ] && grep -q -- "--utterances must be" "$work/log"
ok $? "--utterances 0: usage error, exit 2"

mkdir "$work/bin"
for f in /usr/bin/*; do [ "$(basename "$f")" = espeak-ng ] || ln -s "$f" "$work/bin/"; done
PATH=$work/bin gen "$work/m"; [ $? = 1 ] && grep -q "espeak-ng not found: run scripts/install-deps.sh" "$work/log"
ok $? "without espeak-ng: a clear error naming it and install-deps.sh"

exit $fail
