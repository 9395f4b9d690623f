# torch 1.13 CPU's upsampling on the shapes of tests/GpuConv.Benchmarks/UpsampleBenchmarks.cs, the peer of its numbers:
#   /usr/bin/python3 build/bench-upsample-torch.py [--threads 1]
# F.interpolate (scale 2, nearest and bilinear without align_corners) and aten's upsample_*2d_backward into a new
# tensor each call, 20 warm-up calls, then 7 rounds of 20 calls timed with time.perf_counter_ns; prints each round's
# mean and the median.
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
x = torch.randn(1, 64, 56, 56)
dy = torch.randn(1, 64, 112, 112)
cases = [
    ('NearestForward', lambda: F.interpolate(x, scale_factor=2, mode='nearest')),
    ('NearestBackward', lambda: torch.ops.aten.upsample_nearest2d_backward(dy, [112, 112], [1, 64, 56, 56], None)),
    ('BilinearForward', lambda: F.interpolate(x, scale_factor=2, mode='bilinear', align_corners=False)),
    ('BilinearBackward', lambda: torch.ops.aten.upsample_bilinear2d_backward(dy, [112, 112], [1, 64, 56, 56], False, None)),
]
with torch.no_grad():
    for name, f in cases:
        print(report(f"{name} 1,64,56,56 x2", a.threads, round_means(f, 20, a.rounds)))
