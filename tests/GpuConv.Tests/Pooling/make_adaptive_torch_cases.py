# Writes torch_adaptive_pool_cases.json: PyTorch's own CPU results for adaptive max / average pooling and their
# gradients, bits of every float, so AdaptivePoolTorchCasesTests can check the CPU definition (and so, through the
# interpreter tests, the kernels) bit for bit without PyTorch.
# Run with a Python that has torch and numpy: /usr/bin/python3 make_adaptive_torch_cases.py  (torch 1.13 wrote the file)
import json
import numpy as np
import torch
import torch.nn.functional as F

rng = np.random.default_rng(14)
special = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-40, -3e-39], dtype=np.float32)

def values(shape, nan):
    v = (rng.random(shape, dtype=np.float32) * 8 - 4).astype(np.float32)
    if nan:
        mask = rng.random(shape) < 0.1
        v[mask] = rng.choice(special, size=mask.sum())
    return v

def bits(a):
    return [int(b) for b in np.ascontiguousarray(a, dtype=np.float32).view(np.uint32).ravel()]

cases = []
def add(kind, shape, output_size, nan=False, ties=False):
    x = values(shape, nan)
    if ties:
        x = np.round(x).astype(np.float32)   # many equal values: the first of equal maxima takes the gradient
    t = torch.from_numpy(x.copy()).requires_grad_(True)
    rank = len(shape) - 2
    fn = {('max', 1): F.adaptive_max_pool1d, ('max', 2): F.adaptive_max_pool2d, ('max', 3): F.adaptive_max_pool3d,
          ('avg', 1): F.adaptive_avg_pool1d, ('avg', 2): F.adaptive_avg_pool2d, ('avg', 3): F.adaptive_avg_pool3d}[(kind, rank)]
    y = fn(t, output_size)
    dy = values(tuple(y.shape), False)
    y.backward(torch.from_numpy(dy.copy()))
    cases.append(dict(kind=kind, shape=list(shape), output_size=output_size if isinstance(output_size, list) else [output_size],
                      x=bits(x), y_shape=list(y.shape), y=bits(y.detach().numpy()), dy=bits(dy), dx=bits(t.grad.numpy())))

for kind in ('avg', 'max'):
    nan = kind == 'max'
    add(kind, (1, 3, 13), 5, nan)                 # 1-d, windows overlap by one
    add(kind, (2, 2, 7), 7, nan)                  # identity windows
    add(kind, (1, 2, 5), 8, nan)                  # more outputs than inputs: windows repeat inputs
    add(kind, (2, 3, 14, 11), [6, 4], nan)        # AlexNet-like, uneven
    add(kind, (1, 4, 12, 12), [3, 3], nan)        # divisible: an ordinary pool
    add(kind, (1, 2, 9, 10), 1, nan)              # global
    add(kind, (1, 2, 6, 5), [7, 2], nan)          # mixed up / down
    add(kind, (1, 2, 5, 7, 6), [3, 2, 4], nan)    # 3-d
    add(kind, (1, 1, 4, 9, 5), [4, 3, 1], nan)    # 3-d with a global dimension
add('max', (1, 2, 8, 9), [3, 4], ties=True)
add('max', (1, 1, 3, 4), [2, 3], nan=True, ties=True)

with open('torch_adaptive_pool_cases.json', 'w') as f:
    json.dump(dict(torch=torch.__version__, cases=cases), f, separators=(',', ':'))
print(len(cases), 'cases, torch', torch.__version__)
