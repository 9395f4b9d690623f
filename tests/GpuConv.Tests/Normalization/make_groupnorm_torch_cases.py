# Writes torch_groupnorm_cases.json: PyTorch's own CPU results for group norm — native_group_norm's (y, mean, rstd)
# and the backward (x, weight and bias grads for a random dy, through autograd of F.group_norm) — bits of every
# float, so GroupNormTorchCasesTests can check the engine without PyTorch.
# Run with a Python that has torch and numpy: /usr/bin/python3 make_groupnorm_torch_cases.py  (torch 1.13 wrote the file)
import json
import numpy as np
import torch
import torch.nn.functional as F

rng = np.random.default_rng(17)

def values(shape, offset=0.0, scale=1.0):
    v = (rng.random(shape, dtype=np.float32) * 2 - 1) * scale + offset
    v[v == 0] = 0.5  # never zero
    return v.astype(np.float32)

def bits(a):
    return [int(b) for b in np.ascontiguousarray(a, dtype=np.float32).view(np.uint32).ravel()]

cases = []
def add(shape, groups, eps=1e-5, affine=True, offset=0.0, scale=1.0):
    n, c = shape[0], shape[1]
    hw = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    x = values(shape, offset, scale)
    weight = values((c,), 1.0, 0.5) if affine else None
    bias = values((c,), 0.0, 0.5) if affine else None
    t = torch.from_numpy(x.copy()).requires_grad_(True)
    w = torch.from_numpy(weight.copy()).requires_grad_(True) if affine else None
    b = torch.from_numpy(bias.copy()).requires_grad_(True) if affine else None
    y = F.group_norm(t, groups, w, b, eps)
    with torch.no_grad():
        y2, mean, rstd = torch.ops.aten.native_group_norm(torch.from_numpy(x.copy()), w, b, n, c, hw, groups, eps)
    assert torch.equal(y.detach(), y2)
    dy = values(tuple(y.shape), 0.0, 1.0)
    y.backward(torch.from_numpy(dy.copy()))
    cases.append(dict(shape=list(shape), groups=groups, eps=eps, affine=affine,
                      x=bits(x), weight=bits(weight) if affine else None, bias=bits(bias) if affine else None,
                      y=bits(y.detach().numpy()), mean=bits(mean.numpy()), rstd=bits(rstd.numpy()),
                      dy=bits(dy), dx=bits(t.grad.numpy()),
                      dweight=bits(w.grad.numpy()) if affine else None, dbias=bits(b.grad.numpy()) if affine else None))

# Every rank; groups = 1, = C and in between; N > 1; eps variants; affine=False; an offset mean; a unit of > 256 values.
add((4, 6), 3)
add((3, 4, 7), 2)
add((2, 6, 5), 6)                 # groups = C (instance norm)
add((2, 6, 5, 6), 1)              # groups = 1 (layer norm over C, H, W)
add((2, 6, 5, 6), 3, eps=1e-3)
add((2, 8, 5, 7), 4, eps=0.1)
add((2, 4, 9, 31), 2, affine=False)
add((2, 6, 4, 5, 6), 3, eps=1e-4)
add((2, 4, 17, 19), 2, offset=5.0, scale=0.25)   # a large mean next to a small spread
add((1, 3, 300), 1)               # one unit of 900 values: several rounds of the 256 partial sums
add((2, 32, 4, 4), 8)             # a ResNet-GN-like layer: 32 channels in 8 groups
with open('torch_groupnorm_cases.json', 'w') as f:
    json.dump(dict(torch=torch.__version__, cases=cases), f, separators=(',', ':'))
print(len(cases), 'cases')
