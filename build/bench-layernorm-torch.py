# torch 1.13 CPU's channels-first LayerNorm as timm's LayerNorm2d runs it (ConvNeXt): x.permute(0, 2, 3, 1) ->
# F.layer_norm over C -> permute back, forward and its backward through autograd (dx, dweight, dbias), on ConvNeXt-T's
# four stage shapes at batch 8:
#   /usr/bin/python3 build/bench-layernorm-torch.py --threads 1|2
# 20 warm-up calls, then 7 rounds of 20 calls timed with time.perf_counter_ns; prints each round's mean and the median.
import argparse
import torch
import torch.nn.functional as F
from torch_rounds import report, round_means

p = argparse.ArgumentParser()
p.add_argument('--threads', type=int, default=1)
p.add_argument('--rounds', type=int, default=7)
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)
for dims in [(8, 96, 56, 56), (8, 192, 28, 28), (8, 384, 14, 14), (8, 768, 7, 7)]:
    n, c, h, w = dims
    x = torch.randn(dims, requires_grad=True); dy = torch.randn(dims)
    wt = torch.full((c,), 1.1, requires_grad=True); b = torch.full((c,), 0.1, requires_grad=True)
    def fwd():
        return F.layer_norm(x.permute(0, 2, 3, 1), (c,), wt, b, 1e-6).permute(0, 3, 1, 2)
    def fwd_nograd():
        with torch.no_grad():
            return fwd()
    y = fwd()
    def bwd():
        return torch.autograd.grad(y, (x, wt, b), dy, retain_graph=True)
    for name, f in (('LayerNormForward', fwd_nograd), ('LayerNormBackward', bwd)):
        print(report(f"{name} {','.join(map(str, dims))}", a.threads, round_means(f, 20, a.rounds)))
