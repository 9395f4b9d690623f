# torch 1.13 CPU's pools on the shapes of tests/GpuConv.Benchmarks/PoolingBenchmarks.cs, the peer of its numbers:
#   /usr/bin/python3 build/bench-pool-torch.py --threads 1|2
# F.max_pool2d / F.avg_pool2d / F.adaptive_avg_pool2d, aten's max_pool2d_with_indices_backward and avg_pool2d_backward
# into a new tensor each call (as the functional API runs), 20 warm-up calls, then 7 rounds of 50 calls timed with
# time.perf_counter_ns; prints each round's mean and the median.
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
cases = [
    ('StemMaxPool', (1, 64, 112, 112), lambda x: F.max_pool2d(x, 3, 2, 1)),
    # The backward given the forward's indices (aten's own op; ours finds the maxima again from x).
    ('StemMaxPoolBackward', (1, 64, 112, 112), 'backward'),
    ('TransitionAvgPoolBackward', (1, 128, 56, 56), 'avg-backward'),
    ('AvgPool3x3', (1, 256, 56, 56), lambda x: F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)),
    ('SppMaxPool5x5', (1, 256, 13, 13), lambda x: F.max_pool2d(x, 5, 1, 2)),
    ('ResNet50GlobalAvg', (1, 2048, 7, 7), lambda x: F.adaptive_avg_pool2d(x, 1)),
    ('MobileNetV2GlobalAvg', (1, 1280, 7, 7), lambda x: F.adaptive_avg_pool2d(x, 1)),
]
with torch.no_grad():
    for name, dims, f in cases:
        x = torch.randn(dims)
        if f == 'backward':
            y, idx = F.max_pool2d(x, 3, 2, 1, return_indices=True)
            dy = torch.randn_like(y)
            f = lambda x: torch.ops.aten.max_pool2d_with_indices_backward(dy, x, [3, 3], [2, 2], [1, 1], [1, 1], False, idx)
        elif f == 'avg-backward':
            dy = torch.randn(F.avg_pool2d(x, 2, 2).shape)
            f = lambda x: torch.ops.aten.avg_pool2d_backward(dy, x, [2, 2], [2, 2], [0, 0], False, True, None)
        print(report(f"{name} {','.join(map(str, dims))}", a.threads, round_means(lambda: f(x), 50, a.rounds)))
