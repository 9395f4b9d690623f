# Writes torch_concat_cases.json: PyTorch's own results for torch.cat, torch.narrow and torch.split, bits of every float,
# so ConcatTorchCasesTests can check the engine's Concat, Narrow and Split bit for bit without PyTorch (negative dims and
# starts, uneven sizes, inputs listed twice, NaN/±Inf/−0/subnormals carried as they are).
# Run with a Python that has torch and numpy: /usr/bin/python3 make_torch_cases.py  (torch 1.13 wrote the file)
import json
import numpy as np
import torch

rng = np.random.default_rng(14)
special = np.array([np.nan, np.inf, -np.inf, -0.0, 1e-40, -3e-39], dtype=np.float32)

def values(shape):
    v = (rng.random(shape, dtype=np.float32) * 8 - 4).astype(np.float32)
    v[v == 0] = 0.5  # never zero, but -0 and the specials below
    mask = rng.random(shape) < 0.05
    v[mask] = rng.choice(special, size=mask.sum())
    return v

def bits(a):
    return [int(b) for b in np.ascontiguousarray(a, dtype=np.float32).view(np.uint32).ravel()]

cases = []

def cat(shapes, dim, repeat=None):
    xs = [values(s) for s in shapes]
    order = repeat if repeat is not None else list(range(len(xs)))
    y = torch.cat([torch.from_numpy(xs[i]) for i in order], dim)
    cases.append(dict(op='cat', shapes=[list(s) for s in shapes], order=order, dim=dim,
                      xs=[bits(x) for x in xs], y_shape=list(y.shape), y=bits(y.numpy())))

def narrow(shape, dim, start, length):
    x = values(shape)
    y = torch.narrow(torch.from_numpy(x), dim, start, length)
    cases.append(dict(op='narrow', shapes=[list(shape)], dim=dim, start=start, length=length,
                      xs=[bits(x)], y_shape=list(y.shape), y=bits(y.numpy())))

def split(shape, dim, sizes):
    x = values(shape)
    parts = torch.split(torch.from_numpy(x), sizes, dim)
    cases.append(dict(op='split', shapes=[list(shape)], dim=dim, sizes=sizes, xs=[bits(x)],
                      part_shapes=[list(p.shape) for p in parts], parts=[bits(p.numpy()) for p in parts]))

# U-Net decoder skip join (channels), DenseNet growth, an Inception block's four branches, YOLO's route along channels.
cat([(2, 3, 4, 5), (2, 5, 4, 5)], 1)
cat([(1, 4, 3, 3), (1, 2, 3, 3), (1, 2, 3, 3)], 1)
cat([(2, 2, 3, 4), (2, 3, 3, 4), (2, 1, 3, 4), (2, 2, 3, 4)], -3)
cat([(3, 2, 5), (3, 2, 1)], -1)
cat([(1, 2, 2, 3, 4), (1, 2, 3, 3, 4)], 2)
cat([(2, 7), (5, 7), (1, 7)], 0)
cat([(2, 3, 4), (2, 3, 2)], 2, repeat=[0, 1, 0])
cat([(4, 3)], -2)
narrow((2, 6, 3, 4), 1, 2, 3)
narrow((2, 6, 3, 4), -1, -3, 2)
narrow((5, 4, 3), 0, 4, 1)
narrow((1, 3, 2, 5, 6), 3, 0, 5)
split((2, 8, 3, 3), 1, [3, 5])
split((2, 5, 4), -1, [1, 1, 2])
split((7, 3), 0, [2, 4, 1])
split((1, 2, 3, 4, 5), 2, [3])

with open('torch_concat_cases.json', 'w') as f:
    json.dump(dict(torch=torch.__version__, cases=cases), f, separators=(',', ':'))
    f.write('\n')
