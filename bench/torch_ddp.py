#!/usr/bin/python3
"""torch_ddp.py — PyTorch DistributedDataParallel reference for bench_dist.sh: the model of
torch_mlp.py (784-512-256-128-10, BatchNorm, ReLU, Dropout(0.2), AdamW, cross-entropy) trained
with DDP over gloo, RANKS processes x 1 thread, each pinned to its own core, on a global batch of
256 (256 / RANKS rows per rank), random in-memory data.

    /usr/bin/python3 bench/torch_ddp.py [RANKS] [STEPS]      (defaults: 2 ranks, 100 steps)

Runs 10 warm-up steps, times STEPS steps (each ends with DDP's gradient all-reduce inside
backward()) and prints one JSON line from rank 0: the median step and samples/s = 256 / median.
Set BLIS_ARCH_TYPE as for torch_mlp.py (bench_dist.sh does).
"""
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_mlp import build_model  # noqa: E402  (the same model as the single-process reference)

BATCH, WARMUP = 256, 10


def worker(rank, ranks, steps, port, queue):
    import torch
    import torch.distributed as dist
    from torch import nn

    os.sched_setaffinity(0, {rank % os.cpu_count()})
    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=ranks)
    torch.manual_seed(0)
    model = nn.parallel.DistributedDataParallel(build_model())
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    loss_fn = nn.CrossEntropyLoss()
    local = BATCH // ranks
    x = torch.rand(local, 784)
    y = (torch.arange(local) + rank * local) % 10
    times = []
    for s in range(WARMUP + steps):
        dist.barrier()
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        if s >= WARMUP:
            times.append(time.perf_counter() - t0)
    if rank == 0:
        step = statistics.median(times)
        queue.put({"framework": "pytorch-ddp-gloo", "torch_version": torch.__version__, "ranks": ranks,
                   "threads_per_rank": 1, "batch": BATCH, "steps": steps, "step_ms": round(step * 1e3, 4),
                   "samples_per_s": round(BATCH / step, 1)})
    dist.destroy_process_group()


def main():
    ranks = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    try:
        import torch.multiprocessing as mp
    except ImportError:
        print(json.dumps({"error": "torch not importable"}))
        sys.exit(3)
    ctx = mp.get_context("spawn")
    queue = ctx.SimpleQueue()
    port = 29500 + os.getpid() % 1000
    procs = [ctx.Process(target=worker, args=(r, ranks, steps, port, queue)) for r in range(ranks)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    if any(p.exitcode != 0 for p in procs):
        print(json.dumps({"error": "a DDP worker failed"}))
        sys.exit(1)
    print(json.dumps(queue.get()))


if __name__ == "__main__":
    main()
