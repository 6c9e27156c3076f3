#!/usr/bin/env bash
# test_convert_audio.sh — `strata convert audio` end to end on WAVs from tests/util/make_wavs.py:
# the report (utterances, durations, vocabulary, groups, splits, ignored columns, speed), the file
# as h5py sees it (shapes, zero padding past /lengths, the sequence target, the feature-option
# attributes), skipped files, exit status 1 naming the manifest line for a bad file with nothing
# left at -o, and usage errors (exit 2) naming the flag. Prints TAP.
set -u
cd "$(dirname "$0")/.."
S="$PWD/bin/strata"
PY=/usr/bin/python3
T=$(mktemp -d /tmp/strata_convert_audio.XXXXXX)
trap 'rm -rf "$T"' EXIT
n=0; failed=0
ok() { n=$((n+1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed+1)); fi; }
echo "1..7"
run() { "$@" >"$T/out" 2>"$T/err"; rc=$?; }
show() { sed 's/^/#   /' "$T/out" "$T/err"; }

mkdir -p "$T/wav"
$PY tests/util/make_wavs.py "$T/wav"
printf 'path,transcript,group,split,speaker_age\nwav/s0.wav,one two,ann,train,30\nwav/s1.wav,two,bob,train,41\n' >"$T/m.csv"
printf 'wav/s2.wav,three one,ann,val,30\n%s/wav/s3.wav,one,cy,test,22\n' "$T" >>"$T/m.csv"

# 1-2: a conversion and its report; the file as h5py reads it.
run "$S" convert audio "$T/m.csv" -o "$T/ok.h5" --threads 2 --norm global
[ "$rc" = 0 ] && grep -q "wrote $T/ok.h5: 4 utterances, 40 log-mels a frame (norm global)" "$T/out" &&
  grep -q "per file min 0.30 s, median 0.41 s, max 0.51 s" "$T/out" &&
  grep -q "target transcript: sequence, vocabulary 4 (index 0 = <blank>), longest 2 tokens" "$T/out" &&
  grep -q "groups: 3" "$T/out" && grep -q "splits: train 2, val 1, test 1" "$T/out" &&
  grep -q 'ignored column: "speaker_age"' "$T/out" && grep -qE "time: .* on 2 threads, [0-9]+x real time" "$T/out"
r=$?; [ $r = 0 ] || show
ok $r "convert audio writes 4 utterances and reports durations, vocabulary, groups, splits, ignored columns and speed"
$PY - "$T/ok.h5" <<'EOF'
import sys
import h5py
import numpy as np
f = h5py.File(sys.argv[1], "r")
X, L = f["X"][:], f["lengths"][:]
assert X.dtype == np.float32 and X.shape == (4, L.max(), 40), X.shape
assert list(L) == [28, 35, 42, 49], L  # 1 + (n - 400) // 160 for 0.30 .. 0.51 s
for i in range(4):
    assert not X[i, L[i]:].any(), f"row {i}: padding past its length is not 0"
    assert np.isfinite(X[i, :L[i]]).all()
assert list(f["targets/transcript"][:].ravel()) == [1, 3, 3, 0, 2, 1, 1, 0]
assert list(f["target_lengths/transcript"][:]) == [2, 1, 2, 1]
assert [v.decode() if isinstance(v, bytes) else v for v in f["targets/transcript"].attrs["vocabulary"]] == ["<blank>", "one", "three", "two"]
assert list(f["groups"][:]) == [0, 1, 0, 2] and list(f["split"][:]) == [0, 0, 1, 2]
a = f.attrs
assert a["audio_sample_rate"] == 16000 and a["audio_n_mels"] == 40 and abs(a["audio_preemphasis"] - 0.97) < 1e-12
assert a["audio_norm"] == "global" and a["audio_window"] == "hamming" and a["audio_norm_mean"].shape == (40,)
# the training rows (0, 1) normalised by their own statistics: mean 0, std 1 per feature
tr = np.concatenate([X[0, :L[0]], X[1, :L[1]]]).astype(np.float64)
assert np.abs(tr.mean(0)).max() < 1e-4 and np.abs(tr.std(0) - 1).max() < 1e-3
EOF
ok $? "h5py reads /X [4, T_max, 40] zero-padded past /lengths, the transcript target, groups, split and the feature attributes"

# 3: bad files skipped and listed.
printf 'path,label\nwav/s0.wav,a\nwav/nope.wav,b\nwav/text.wav,a\nwav/s1.wav,b\n' >"$T/skip.csv"
run "$S" convert audio "$T/skip.csv" -o "$T/skip.h5" --skip-bad-files --mfcc 13
[ "$rc" = 0 ] && grep -q "wrote $T/skip.h5: 2 utterances (2 of 4 skipped), 13 MFCCs a frame" "$T/out" &&
  grep -q "skipped line 3: $T/wav/nope.wav: cannot open" "$T/out" && grep -q "skipped line 4: $T/wav/text.wav: not an audio file" "$T/out"
r=$?; [ $r = 0 ] || show
ok $r "--skip-bad-files skips a missing file and a non-audio one, listing each with its manifest line"

# 4: without it, exit 1 naming the line and the file; no output, and an existing file untouched.
echo "an earlier file" >"$T/keep.h5"
run "$S" convert audio "$T/skip.csv" -o "$T/keep.h5"
[ "$rc" = 1 ] && grep -qF "strata: $T/skip.csv: line 3: $T/wav/nope.wav: cannot open" "$T/err" &&
  [ "$(cat "$T/keep.h5")" = "an earlier file" ] && [ ! -e "$T/keep.h5.tmp" ]
r=$?; [ $r = 0 ] || show
ok $r "a missing file is exit 1 naming the manifest line and the file; the existing output is untouched"

# 5-6: usage errors name the flag.
run "$S" convert audio "$T/m.csv" -o "$T/u.h5" --fmax 9000
[ "$rc" = 2 ] && grep -qF -- "--fmax 9000 must satisfy" "$T/err" && [ ! -e "$T/u.h5" ]
r=$?; [ $r = 0 ] || show
ok $r "--fmax above half the sample rate is a usage error naming --fmax"
run "$S" convert audio "$T/m.csv" -o "$T/u.h5" --norm loud
[ "$rc" = 2 ] && grep -qF -- "--norm loud: expected utterance, global or none" "$T/err"
r=$?; [ $r = 0 ] || show
ok $r "an unknown --norm is a usage error listing the choices"

# 7: a token not in --vocab names the line and the token.
printf 'one\ntwo\n' >"$T/v.txt"
run "$S" convert audio "$T/m.csv" -o "$T/v.h5" --vocab "$T/v.txt"
[ "$rc" = 1 ] && grep -qF "line 4: token \"three\" is not in the vocabulary $T/v.txt" "$T/err" && [ ! -e "$T/v.h5" ]
r=$?; [ $r = 0 ] || show
ok $r "a transcript token missing from --vocab is an error naming the line and the token"

exit $((failed > 0))
