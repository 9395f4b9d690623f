# torch 1.13 CPU's batch_norm (training) and its backward on the shapes of tests/GpuConv.Benchmarks/BatchNormBenchmarks.cs:
#   /usr/bin/python3 build/bench-batchnorm-torch.py --threads 1|2
# aten.native_batch_norm(x, w, b, running_mean, running_var, training=True, momentum, eps) and
# aten.native_batch_norm_backward(dy, x, w, running_mean, running_var, save_mean, save_invstd, True, eps, [True]*3),
# 20 warm-up calls, then 7 rounds of 50 calls timed with time.perf_counter_ns; prints each round's mean and the median.
import argparse
import torch
from torch_rounds import report, round_means

p = argparse.ArgumentParser()
p.add_argument('--threads', type=int, default=1)
p.add_argument('--rounds', type=int, default=7)
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)
for dims in [(8, 64, 56, 56), (8, 256, 14, 14), (32, 512, 7, 7), (8, 32, 112, 112)]:
    c = dims[1]
    x = torch.randn(dims); dy = torch.randn(dims)
    w = torch.full((c,), 1.1); b = torch.full((c,), 0.1)
    rm = torch.zeros(c); rv = torch.ones(c)
    def fwd():
        return torch.ops.aten.native_batch_norm(x, w, b, rm, rv, True, 0.1, 1e-5)
    _, sm, si = fwd()
    def bwd():
        return torch.ops.aten.native_batch_norm_backward(dy, x, w, rm, rv, sm, si, True, 1e-5, [True, True, True])
    with torch.no_grad():
        for name, f in (('TrainingForward', fwd), ('Backward', bwd)):
            print(report(f"{name} {','.join(map(str, dims))}", a.threads, round_means(f, 50, a.rounds)))
