#!/usr/bin/python3
"""torch_mlp.py — PyTorch reference for bench_step: one training step of the Fashion-MNIST MLP
784-512-256-128-10 (Linear without bias -> BatchNorm1d -> ReLU -> Dropout(0.2), x3, then
Linear 128-10), AdamW lr 1e-3 weight decay 0.01, cross-entropy, batch 256, random in-memory data.

    /usr/bin/python3 bench/torch_mlp.py [THREADS] [STEPS]     (defaults: 1 thread, 100 steps)

Runs 10 warm-up steps, times STEPS steps one by one and prints one JSON line with the median
(samples/s = 256 / median step time). Set BLIS_ARCH_TYPE the same way as for strata (Debian's
torch calls the system libblas.so.3, i.e. the same BLIS): bench/bench_vs_torch.sh does.
"""
import json
import os
import statistics
import sys
import time

try:
    import torch
    from torch import nn
except ImportError:
    print(json.dumps({"error": "torch not importable"}))
    sys.exit(3)

BATCH, WARMUP = 256, 10


def build_model():
    """784-512-256-128-10: (Linear without bias, BatchNorm1d, ReLU, Dropout(0.2)) x 3, Linear."""
    widths = [784, 512, 256, 128]
    layers = []
    for a, b in zip(widths, widths[1:]):
        layers += [nn.Linear(a, b, bias=False), nn.BatchNorm1d(b), nn.ReLU(), nn.Dropout(0.2)]
    layers.append(nn.Linear(128, 10))
    return nn.Sequential(*layers)


def main():
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = build_model()
    model.train()
    n_params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    loss_fn = nn.CrossEntropyLoss()
    x = torch.rand(BATCH, 784)
    y = torch.arange(BATCH) % 10

    times = []
    for s in range(WARMUP + steps):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        dt = time.perf_counter() - t0
        if s >= WARMUP:
            times.append(dt)
    step = statistics.median(times)
    print(json.dumps({
        "framework": "pytorch", "torch_version": torch.__version__, "threads": threads,
        "blis_arch_type": os.environ.get("BLIS_ARCH_TYPE"), "batch": BATCH, "steps": steps,
        "parameters": n_params, "step_ms": round(step * 1e3, 4),
        "samples_per_s": round(BATCH / step, 1), "loss": round(float(loss), 4),
    }))


if __name__ == "__main__":
    main()
