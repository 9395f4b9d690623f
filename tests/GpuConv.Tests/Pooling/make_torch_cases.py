# Writes torch_pool_cases.json: PyTorch's own CPU results for the pools and their gradients, bits of every float, so PoolTorchCasesTests
# can check the CPU definition (and so, through the interpreter tests, the kernels) bit for bit without PyTorch.
# Run with a Python that has torch and numpy: /usr/bin/python3 make_torch_cases.py  (torch 1.13 wrote the file)
import json
import numpy as np
import torch
import torch.nn.functional as F

rng = np.random.default_rng(13)
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
def add(kind, shape, kernel, stride=None, padding=0, dilation=1, ceil=False, include=True, nan=False):
    x = values(shape, nan)
    t = torch.from_numpy(x.copy()).requires_grad_(kind != 'global')
    rank = len(shape) - 2
    fn = {('max', 1): F.max_pool1d, ('max', 2): F.max_pool2d, ('max', 3): F.max_pool3d,
          ('avg', 1): F.avg_pool1d, ('avg', 2): F.avg_pool2d, ('avg', 3): F.avg_pool3d, ('global', 1): None}
    if kind == 'max':
        y = fn[(kind, rank)](t, kernel, stride if stride is not None else kernel, padding, dilation, ceil_mode=ceil)
    elif kind == 'avg':
        y = fn[(kind, rank)](t, kernel, stride if stride is not None else kernel, padding, ceil_mode=ceil, count_include_pad=include)
    else:
        y = {1: F.adaptive_avg_pool1d, 2: F.adaptive_avg_pool2d, 3: F.adaptive_avg_pool3d}[rank](t, 1)
    # The backward: x.grad for a random dy (max: to each window's argmax; avg: dy / divisor to every input of the window).
    dy = values(tuple(y.shape), False)
    dx = None
    if kind != 'global':
        y.backward(torch.from_numpy(dy.copy()))
        dx = t.grad.numpy()
    lst = lambda v: v if isinstance(v, list) else [v]
    cases.append(dict(kind=kind, shape=list(shape), kernel=lst(kernel), stride=None if stride is None else lst(stride),
                      padding=lst(padding), dilation=lst(dilation), ceil=ceil, include=include,
                      x=bits(x), y_shape=list(y.shape), y=bits(y.detach().numpy()),
                      dy=bits(dy), dx=None if dx is None else bits(dx)))

# ResNet's stem pool, odd sizes, ceil-mode edge windows, padding, NaN/Inf/-0.
add('max', (2, 3, 13, 11), 3, 2, 1)
add('max', (1, 2, 9, 10), 3, 2, 1, ceil=True, nan=True)
add('max', (1, 2, 8, 7), [3, 2], [2, 3], [1, 1], dilation=[2, 1], ceil=True, nan=True)
add('max', (2, 2, 17), 4, 3, 2, dilation=2, ceil=True, nan=True)
add('max', (1, 2, 5, 6, 7), [3, 2, 3], [2, 2, 1], [1, 1, 0], ceil=True, nan=True)
add('avg', (2, 3, 13, 11), 3, 2, 1)
add('avg', (1, 2, 9, 10), 3, 2, 1, ceil=True)
add('avg', (1, 2, 9, 10), 3, 2, 1, ceil=True, include=False)
add('avg', (1, 2, 7, 8), [4, 3], [3, 2], [2, 1], ceil=True, include=True, nan=True)
add('avg', (1, 2, 7, 8), [4, 3], [3, 2], [2, 1], ceil=True, include=False)
add('avg', (2, 2, 19), 5, 3, 2, ceil=True, include=True)
add('avg', (2, 2, 19), 5, 3, 2, ceil=True, include=False)
add('avg', (1, 2, 6, 5, 7), [2, 3, 3], [2, 2, 2], [1, 1, 1], ceil=True, include=True)
add('avg', (1, 2, 6, 5, 7), [2, 3, 3], [2, 2, 2], [1, 1, 1], ceil=True, include=False)
add('max', (1, 3, 6, 7), [3, 3], [1, 1], [1, 1], nan=True)
add('avg', (1, 3, 6, 7), [3, 3], [1, 1], [1, 1], include=False)
add('global', (2, 3, 7, 7), 1)
with open('torch_pool_cases.json', 'w') as f:
    json.dump(dict(torch=torch.__version__, cases=cases), f, separators=(',', ':'))
print(len(cases), 'cases')
