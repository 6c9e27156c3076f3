#!/usr/bin/python3
"""recommender_reference.py - a PyTorch reference score on make_recommender.py's CSV.

Usage: /usr/bin/python3 scripts/recommender_reference.py OUT_PREFIX [--epochs 12] [--seed 0]

Trains a small multi-task MLP on the train rows of OUT_PREFIX.csv and prints its category
accuracy, tools micro-F1 (threshold 0.5) and reward R^2 on train and test next to the ceilings of
OUT_PREFIX.ceiling.json, so a strata run on the same data has a figure to be compared with
(docs/multitask.md). Not part of strata or its tests; it needs torch (Debian's /usr/bin/python3
has it) and runs on one thread (about 7 s for the default 24,000 rows and 12 epochs).

Model: embeddings of width 8 for relationship, occasion, budget_tier and preference, concatenated
with za = (age - 45) / 20, zb = (ln budget - ln 80) / 1.2 and the 7 hobby bits -> [41];
dense 128, ReLU, dense 128, ReLU; three heads: 8 logits (cross-entropy), 45 logits (binary
cross-entropy x 9, about 45 / 5 tools per row), 1 value (squared error on the reward
standardised with the train mean and std). AdamW, lr 2e-3, weight decay 1e-4, batch 128.
"""
import argparse
import json

import numpy as np
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.ModuleList([nn.Embedding(n, 8) for n in (11, 10, 4, 7)])
        self.body = nn.Sequential(nn.Linear(4 * 8 + 9, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU())
        self.cat, self.tools, self.reward = nn.Linear(128, 8), nn.Linear(128, 45), nn.Linear(128, 1)

    def forward(self, ids, x):                      # ids [B, 4] int64, x [B, 9] float32
        h = self.body(torch.cat([e(ids[:, k]) for k, e in enumerate(self.emb)] + [x], 1))
        return self.cat(h), self.tools(h), self.reward(h)[:, 0]


def load(prefix):
    d = np.genfromtxt(prefix + ".csv", delimiter=",", names=True, dtype=None, encoding="utf-8")
    ids = np.stack([d[k] for k in ("relationship", "occasion", "budget_tier", "preference")], 1).astype(np.int64)
    x = np.stack([(d["age"] - 45) / 20, (np.log(d["budget"]) - np.log(80)) / 1.2] +
                 [d[f"hobby_{h}"] for h in range(7)], 1).astype(np.float32)
    tools = np.stack([d[f"tool_{j}"] for j in range(45)], 1).astype(np.int64)
    return d["split"], ids, x, d["category"].astype(np.int64), tools, d["reward"].astype(np.float32)


def scores(model, ids, x, cat, tools, rew, mean, std):
    with torch.no_grad():
        c, t, r = model(torch.from_numpy(ids), torch.from_numpy(x))
    p = (t >= 0).numpy().astype(np.int64)          # sigmoid >= 0.5
    tp = (p & tools).sum()
    f1 = 2 * tp / (2 * tp + (p & (1 - tools)).sum() + ((1 - p) & tools).sum())
    pred = r.numpy() * std + mean
    r2 = 1 - ((rew - pred) ** 2).sum() / ((rew - rew.mean()) ** 2).sum()
    return {"category_accuracy": float((c.argmax(1).numpy() == cat).mean()), "tools_micro_f1": float(f1),
            "reward_r2": float(r2)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out_prefix")
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(a.seed)
    split, ids, x, cat, tools, rew = load(a.out_prefix)
    tr = np.flatnonzero(split == "train")
    mean, std = rew[tr].mean(), rew[tr].std()
    model = Net()
    opt = torch.optim.AdamW(model.parameters(), 2e-3, weight_decay=1e-4)
    rz = torch.from_numpy((rew - mean) / std)
    tids, tx, tcat, ttools = (torch.from_numpy(v) for v in (ids, x, cat, tools.astype(np.float32)))
    order = np.random.default_rng(a.seed)
    for _ in range(a.epochs):
        idx = order.permutation(tr)
        for b in range(0, len(idx), 128):
            j = torch.from_numpy(idx[b:b + 128])
            c, t, r = model(tids[j], tx[j])
            loss = (nn.functional.cross_entropy(c, tcat[j]) +
                    9 * nn.functional.binary_cross_entropy_with_logits(t, ttools[j]) + ((r - rz[j]) ** 2).mean())
            opt.zero_grad()
            loss.backward()
            opt.step()
    ceiling = json.load(open(a.out_prefix + ".ceiling.json"))["ceiling"]
    print(f"{'':22s}{'MLP train':>10s}{'MLP test':>10s}{'ceiling test':>14s}")
    got = {p: scores(model, ids[m], x[m], cat[m], tools[m], rew[m], mean, std)
           for p, m in (("train", split == "train"), ("test", split == "test"))}
    for k in ("category_accuracy", "tools_micro_f1", "reward_r2"):
        print(f"{k:22s}{got['train'][k]:10.3f}{got['test'][k]:10.3f}{ceiling['test'][k]:14.3f}")


if __name__ == "__main__":
    main()
