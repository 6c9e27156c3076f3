#!/usr/bin/python3
"""torch_seq.py MODEL THREADS [STEPS] — PyTorch's training and inference speed for issue 14's
sequence models on Fashion-MNIST-shaped input ([28, 28] sequences, 10 classes, batch 128, Adam
1e-3), on random data, as a reference measured in the same run as strata's (make bench).

  A  "enhanced CNN": 4 conv blocks k5 same (128, 256, 512, 256; conv -> BN -> relu -> dropout 0.2,
     max-pool 2 after blocks 1 and 2), global average pool, dense 256 -> relu -> dropout 0.3 -> 10
  B  "optimized": multi-scale block (conv k3, k5, k7 of 64 each -> concat -> BN -> relu -> SE r 8),
     max-pool 2, a second multi-scale block on 192 channels, BiLSTM 128 (sequences), BiLSTM 64
     (final states), dense 10
  C  2-layer BiLSTM 128 over the 28 steps, final states, dense 10

Prints one JSON line: model, threads, train and inference samples/s (median over STEPS timed
steps after 5 warm-up steps), and the kernels PyTorch ran: after the timed steps, one training
step and one inference forward run under torch.autograd.profiler, and the ATen ops that do the
work are named (aten::mkldnn_convolution = oneDNN for conv1d, aten::_slow_conv2d_* = its own
THNN loops; aten::mm / addmm = the BLAS GEMM, one per LSTM time step), with the BLAS library
the process loaded (Debian: libblas.so.3, the alternative in use). Debian's /usr/bin/python3
has torch."""
import json
import statistics
import sys
import time

import torch
import torch.nn as nn


class SE(nn.Module):
    def __init__(self, c, r):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(c, max(1, c // r)), nn.Linear(max(1, c // r), c)

    def forward(self, x):  # x [B, C, T]
        s = torch.sigmoid(self.fc2(torch.relu(self.fc1(x.mean(2)))))
        return x * s.unsqueeze(2)


class MultiScale(nn.Module):
    def __init__(self, c_in, c_each=64, r=8):
        super().__init__()
        self.convs = nn.ModuleList([nn.Conv1d(c_in, c_each, k, padding=k // 2) for k in (3, 5, 7)])
        self.bn, self.se = nn.BatchNorm1d(3 * c_each), SE(3 * c_each, r)

    def forward(self, x):
        return self.se(torch.relu(self.bn(torch.cat([c(x) for c in self.convs], 1))))


class ModelA(nn.Module):
    def __init__(self):
        super().__init__()
        layers, c = [], 28
        for i, out in enumerate((128, 256, 512, 256)):
            layers += [nn.Conv1d(c, out, 5, padding=2), nn.BatchNorm1d(out), nn.ReLU(), nn.Dropout(0.2)]
            if i < 2:
                layers.append(nn.MaxPool1d(2))
            c = out
        self.body = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Linear(256, 256), nn.ReLU(), nn.Dropout(0.3), nn.Linear(256, 10))

    def forward(self, x):  # x [B, T, C]
        return self.head(self.body(x.transpose(1, 2)).mean(2))


class ModelB(nn.Module):
    def __init__(self):
        super().__init__()
        self.ms1, self.pool, self.ms2 = MultiScale(28), nn.MaxPool1d(2), MultiScale(192)
        self.lstm1 = nn.LSTM(192, 128, batch_first=True, bidirectional=True)
        self.lstm2 = nn.LSTM(256, 64, batch_first=True, bidirectional=True)
        self.out = nn.Linear(128, 10)

    def forward(self, x):
        h = self.ms2(self.pool(self.ms1(x.transpose(1, 2)))).transpose(1, 2)
        h, _ = self.lstm1(h)
        _, (hn, _) = self.lstm2(h)
        return self.out(torch.cat([hn[0], hn[1]], 1))


class ModelC(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(28, 128, num_layers=2, batch_first=True, bidirectional=True)
        self.out = nn.Linear(256, 10)

    def forward(self, x):
        _, (hn, _) = self.lstm(x)
        return self.out(torch.cat([hn[-2], hn[-1]], 1))


def main():
    name, threads = sys.argv[1], int(sys.argv[2])
    steps = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = {"A": ModelA, "B": ModelB, "C": ModelC}[name]()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    B = 128
    x, y = torch.randn(B, 28, 28), torch.randint(0, 10, (B,))
    train, infer = [], []
    for i in range(steps + 5):
        model.train()
        t0 = time.perf_counter()
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        t1 = time.perf_counter()
        model.eval()
        with torch.no_grad():
            model(x)
        t2 = time.perf_counter()
        if i >= 5:
            train.append(t1 - t0), infer.append(t2 - t1)
    cfg = torch.__config__.show()
    print(json.dumps({"model": name, "threads": threads, "batch": B, "steps": steps,
                      "train_samples_per_s": B / statistics.median(train),
                      "infer_samples_per_s": B / statistics.median(infer),
                      "onednn": torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled,
                      "blas": next((l.split("=")[1].strip(" ,") for l in cfg.split() if l.startswith("BLAS_INFO=")), "?"),
                      "blas_library": blas_library(),
                      "kernels": kernels_run(model, opt, x, y),
                      "torch": torch.__version__}))


def blas_library():
    """The BLAS shared library this process mapped (Debian's libblas.so.3 is an alternative)."""
    import os
    with open("/proc/self/maps") as f:
        libs = {l.split()[-1] for l in f if "blas" in l.lower() and "/" in l}
    return ", ".join(sorted(os.path.realpath(p) for p in libs)) or "?"


# ATen ops that do a model's heavy work, and what runs them.
WORK_OPS = {"aten::mkldnn_convolution": "oneDNN conv", "aten::convolution_backward": "conv backward (the forward's backend)",
            "aten::_slow_conv2d_forward": "THNN conv (own loops)", "aten::thnn_conv2d": "THNN conv (own loops)",
            "aten::mm": "BLAS GEMM", "aten::addmm": "BLAS GEMM", "aten::bmm": "BLAS GEMM",
            "aten::mkldnn_rnn_layer": "oneDNN RNN", "aten::_thnn_fused_lstm_cell": "fused LSTM cell"}


def kernels_run(model, opt, x, y):
    """The work ops of one training step and one inference forward: {op: [calls, ms, what]}."""
    with torch.autograd.profiler.profile() as prof:
        model.train()
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        model.eval()
        with torch.no_grad():
            model(x)
    return {e.key: [e.count, round(e.self_cpu_time_total / 1e3, 2), WORK_OPS[e.key]]
            for e in prof.key_averages() if e.key in WORK_OPS}


if __name__ == "__main__":
    main()
