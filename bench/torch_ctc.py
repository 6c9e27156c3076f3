#!/usr/bin/python3
"""torch_ctc.py DATA.h5 [--epochs 20] [--threads 2] [--batch 32] [--lr 0.002] [--seed 0]
[--target transcript] [--wer-goal 0.015] — the PyTorch reference for issue 15's speech benchmark:
the model of configs/ctc_digits.json trained on the same HDF5 file strata trains on, with the
same schedule, and evaluated after every epoch on the file's validation rows (/split == 1).

Model (configs/ctc_digits.json): conv1d 64 k5 -> BN -> hardswish; depthwise conv k5 stride 2 ->
BN -> hardswish -> SE (r 4) -> pointwise 96 -> BN -> hardswish; depthwise k5 stride 2 -> BN ->
hardswish -> SE -> pointwise 128 -> BN -> hardswish; 2-layer BiLSTM 128 (packed sequences, so
the padding never enters); dropout 0.1; linear to the vocabulary; CTC (blank 0, mean,
zero_infinity). The SE mean and the input standardisation count valid frames only, as strata's;
BatchNorm is PyTorch's own (it counts the padded frames, which length bucketing keeps few).
Training: Adam lr with a linear warmup over the first epoch from 0.01 lr, then cosine to 0 over
the rest (strata's warmup_cosine), gradient norm clipped to 5, batches of similar length (each
window of 32 batches sorted by length, batch order shuffled: data.bucket_by_length), greedy
decoding for the WER.

Prints one line per epoch and, at the end, one JSON line: samples/s of training, the wall time
(training + evaluation since the start of epoch 1) of the first evaluation whose WER is at most
--wer-goal, the final WER, and the per-epoch WERs. Debian's /usr/bin/python3 has torch and h5py."""
import argparse
import json
import math
import time

import h5py
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class SE(nn.Module):
    def __init__(self, c, r):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(c, c // r), nn.Linear(c // r, c)

    def forward(self, x, mask):  # x [B, C, T], mask [B, 1, T]
        mean = (x * mask).sum(2) / mask.sum(2).clamp(min=1)
        return x * torch.sigmoid(self.fc2(torch.relu(self.fc1(mean)))).unsqueeze(2)


def out_len(n, k=5, s=2, p=2):
    return (n + 2 * p - k) // s + 1


class Model(nn.Module):
    def __init__(self, c_in, vocab):
        super().__init__()
        bn = nn.BatchNorm1d
        self.stem = nn.Sequential(nn.Conv1d(c_in, 64, 5, padding=2), bn(64), nn.Hardswish())
        self.dw1 = nn.Sequential(nn.Conv1d(64, 64, 5, 2, 2, groups=64), bn(64), nn.Hardswish())
        self.se1 = SE(64, 4)
        self.pw1 = nn.Sequential(nn.Conv1d(64, 96, 1), bn(96), nn.Hardswish())
        self.dw2 = nn.Sequential(nn.Conv1d(96, 96, 5, 2, 2, groups=96), bn(96), nn.Hardswish())
        self.se2 = SE(96, 4)
        self.pw2 = nn.Sequential(nn.Conv1d(96, 128, 1), bn(128), nn.Hardswish())
        self.lstm = nn.LSTM(128, 128, num_layers=2, bidirectional=True, batch_first=True)
        self.drop = nn.Dropout(0.1)
        self.out = nn.Linear(256, vocab)

    def forward(self, x, lengths):  # x [B, T, C]
        x = self.stem(x.transpose(1, 2))
        l1 = out_len(lengths)
        x = self.dw1(x)
        m1 = (torch.arange(x.shape[2])[None, :] < l1[:, None]).float().unsqueeze(1)
        x = self.pw1(self.se1(x, m1) * m1)
        l2 = out_len(l1)
        x = self.dw2(x)
        m2 = (torch.arange(x.shape[2])[None, :] < l2[:, None]).float().unsqueeze(1)
        x = self.pw2(self.se2(x, m2) * m2)
        packed = nn.utils.rnn.pack_padded_sequence(x.transpose(1, 2), l2, batch_first=True, enforce_sorted=False)
        y, _ = self.lstm(packed)
        y, _ = nn.utils.rnn.pad_packed_sequence(y, batch_first=True, total_length=x.shape[2])
        return self.out(self.drop(y)), l2


def load(path, target):
    with h5py.File(path, "r") as f:
        X = f["X"][...].astype(np.float32)
        lengths = f["lengths"][...].astype(np.int64)
        tok = f[f"targets/{target}"][...].astype(np.int64)
        tlen = f[f"target_lengths/{target}"][...].astype(np.int64)
        vocab = len(f[f"targets/{target}"].attrs["vocabulary"])
        split = f["split"][...] if "split" in f else np.zeros(len(X), np.uint8)
    return X, lengths, tok, tlen, vocab, split


def standardise(X, lengths, train):
    mask = np.arange(X.shape[1])[None, :] < lengths[:, None]
    valid = X[train][mask[train]]
    mean, std = valid.mean(0), valid.std(0)
    X = (X - mean) / np.maximum(std, 1e-6)
    X[~mask] = 0
    return X


def bucketed_batches(idx, lengths, batch, window, rng):
    idx = rng.permutation(idx)
    out = []
    for w in range(0, len(idx), batch * window):
        win = idx[w:w + batch * window]
        win = win[np.argsort(lengths[win], kind="stable")]
        out += [win[i:i + batch] for i in range(0, len(win), batch)]
    return [out[i] for i in rng.permutation(len(out))]


def greedy(logits, lens):
    best = logits.argmax(2)
    seqs = []
    for b, n in zip(best, lens):
        prev, s = 0, []
        for k in b[:n].tolist():
            if k != prev and k != 0:
                s.append(k)
            prev = k
        seqs.append(s)
    return seqs


def edits(a, b):
    d = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        prev, d[0] = d[0], i
        for j in range(1, len(b) + 1):
            cur = min(d[j] + 1, d[j - 1] + 1, prev + (a[i - 1] != b[j - 1]))
            prev, d[j] = d[j], cur
    return d[len(b)]


def evaluate(model, X, lengths, tok, tlen, idx):
    model.eval()
    e = n = 0
    with torch.no_grad():
        for i in range(0, len(idx), 256):
            b = idx[i:i + 256]
            T = int(lengths[b].max())
            logits, l2 = model(torch.from_numpy(X[b, :T]), torch.from_numpy(lengths[b]))
            for s, r, L in zip(greedy(logits, l2.tolist()), tok[b], tlen[b]):
                e += edits(list(r[:L]), s)
                n += int(L)
    model.train()
    return e / max(n, 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=0.002)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--target", default="transcript")
    ap.add_argument("--wer-goal", type=float, default=0.015)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    X, lengths, tok, tlen, vocab, split = load(a.data, a.target)
    train, val = np.where(split == 0)[0], np.where(split == 1)[0]
    X = standardise(X, lengths, split == 0)
    model = Model(X.shape[2], vocab)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    steps_per_epoch = math.ceil(len(train) / a.batch)
    total, warm = a.epochs * steps_per_epoch, steps_per_epoch

    def lr_at(step):  # strata's warmup_cosine: linear from 0.01 lr, then cosine to 0
        if step < warm:
            return a.lr * (0.01 + 0.99 * step / warm)
        return a.lr * 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, total - warm)))

    step, t0, train_s, first_goal, wers = 0, time.perf_counter(), 0.0, None, []
    for epoch in range(1, a.epochs + 1):
        te = time.perf_counter()
        for b in bucketed_batches(train, lengths, a.batch, 32, rng):
            for g in opt.param_groups:
                g["lr"] = lr_at(step)
            T = int(lengths[b].max())
            logits, l2 = model(torch.from_numpy(X[b, :T]), torch.from_numpy(lengths[b]))
            lp = F.log_softmax(logits, 2).transpose(0, 1)
            loss = F.ctc_loss(lp, torch.from_numpy(tok[b]), l2, torch.from_numpy(tlen[b]), blank=0,
                              reduction="mean", zero_infinity=True)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            step += 1
        train_s += time.perf_counter() - te
        wer = evaluate(model, X, lengths, tok, tlen, val)
        wers.append(wer)
        wall = time.perf_counter() - t0
        if first_goal is None and wer <= a.wer_goal:
            first_goal = {"epoch": epoch, "seconds": wall}
        print(f"epoch {epoch}/{a.epochs}  loss {loss.item():.4f}  val wer {100 * wer:.2f}%  {wall:.1f} s", flush=True)
    print(json.dumps({"reference": "pytorch", "threads": a.threads, "train_samples_per_s": len(train) * a.epochs / train_s,
                      "first_goal": first_goal, "wer_goal": a.wer_goal, "final_wer": wers[-1],
                      "wers": [round(w, 5) for w in wers], "seconds": time.perf_counter() - t0}))


if __name__ == "__main__":
    main()
