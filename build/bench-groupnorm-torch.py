# torch 1.13 CPU's group_norm and its backward on the shapes of /tmp-style probes and docs/benchmarks.md (s27):
#   /usr/bin/python3 build/bench-groupnorm-torch.py --threads 1|2
# aten.native_group_norm(x, w, b, N, C, HxW, G, eps) and aten.native_group_norm_backward(dy, x, mean, rstd, w, N, C,
# HxW, G, [True]*3), 20 warm-up calls, then 7 rounds of 30 calls timed with time.perf_counter_ns; prints each round's
# mean and the median.
import argparse
import torch
from torch_rounds import report, round_means

p = argparse.ArgumentParser()
p.add_argument('--threads', type=int, default=1)
p.add_argument('--rounds', type=int, default=7)
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)
for dims in [(8, 64, 56, 56, 32), (8, 256, 14, 14, 32), (32, 512, 7, 7, 32), (8, 32, 112, 112, 8)]:
    n, c, h, w, g = dims
    x = torch.randn(n, c, h, w); dy = torch.randn(n, c, h, w)
    wt = torch.full((c,), 1.1); b = torch.full((c,), 0.1)
    def fwd():
        return torch.ops.aten.native_group_norm(x, wt, b, n, c, h * w, g, 1e-5)
    _, mean, rstd = fwd()
    def bwd():
        return torch.ops.aten.native_group_norm_backward(dy, x, mean, rstd, wt, n, c, h * w, g, [True, True, True])
    with torch.no_grad():
        for name, f in (('GroupNormForward', fwd), ('GroupNormBackward', bwd)):
            print(report(f"{name} {','.join(map(str, dims))}", a.threads, round_means(f, 30, a.rounds)))
