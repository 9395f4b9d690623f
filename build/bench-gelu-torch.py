# PyTorch's CPU GELU on the inputs of tests/GpuConv.Benchmarks/GeluBenchmarks.cs (2^20 floats; uniform in [-3, 3),
# N(0, 1), uniform in [-0.9, 0.9)), one thread unless --threads says otherwise:
#   /usr/bin/python3 build/bench-gelu-torch.py [--threads 1]
# F.gelu (approximate 'none' and 'tanh') and aten.gelu_backward, 20 warm-up calls, then 7 rounds of 50 calls timed with
# time.perf_counter_ns; prints each op's median round mean in microseconds per call and nanoseconds per float.
import argparse, statistics
import torch
from torch_rounds import round_means

p = argparse.ArgumentParser()
p.add_argument('--threads', type=int, default=1)
p.add_argument('--rounds', type=int, default=7)
a = p.parse_args()
torch.set_num_threads(a.threads)
g = torch.Generator().manual_seed(1)
n = 1 << 20
inputs = {"uniform3": torch.rand(n, generator=g) * 6 - 3, "normal": torch.randn(n, generator=g),
          "near": torch.rand(n, generator=g) * 1.8 - 0.9}
dy = torch.rand(n, generator=g) * 2 - 1
print(f"torch {torch.__version__}, {a.threads} thread(s), {n} floats")
with torch.no_grad():
    for name, x in inputs.items():
        ops = (("Gelu", lambda: torch.nn.functional.gelu(x)), ("GeluTanh", lambda: torch.nn.functional.gelu(x, approximate="tanh")),
               ("GeluBackward", lambda: torch.ops.aten.gelu_backward(dy, x)))
        for op, f in ops:
            m = statistics.median(round_means(f, 50, a.rounds))
            print(f"{op:13s} {name:9s} {m:9.1f} us  {m * 1e3 / n:.3f} ns/float")
