# Writes torch_batchnorm_cases.json: PyTorch's own CPU results for F.batch_norm (training with the running-statistics
# update, eval) and its backward (x, weight and bias grads for a random dy), bits of every float, so
# BatchNormTorchCasesTests can check the engine without PyTorch.
# Run with a Python that has torch and numpy: /usr/bin/python3 make_torch_cases.py  (torch 1.13 wrote the file)
import json
import numpy as np
import torch
import torch.nn.functional as F

rng = np.random.default_rng(13)

def values(shape, offset=0.0, scale=1.0):
    v = (rng.random(shape, dtype=np.float32) * 2 - 1) * scale + offset
    v[v == 0] = 0.5  # never zero
    return v.astype(np.float32)

def bits(a):
    return [int(b) for b in np.ascontiguousarray(a, dtype=np.float32).view(np.uint32).ravel()]

cases = []
def add(shape, eps=1e-5, momentum=0.1, affine=True, training=True, offset=0.0, scale=1.0):
    c = shape[1]
    x = values(shape, offset, scale)
    gamma = values((c,), 1.0, 0.5) if affine else None
    beta = values((c,), 0.0, 0.5) if affine else None
    rm0 = values((c,), 0.0, 0.5)
    rv0 = values((c,), 1.5, 0.5)
    t = torch.from_numpy(x.copy()).requires_grad_(True)
    g = torch.from_numpy(gamma.copy()).requires_grad_(True) if affine else None
    b = torch.from_numpy(beta.copy()).requires_grad_(True) if affine else None
    rm = torch.from_numpy(rm0.copy())
    rv = torch.from_numpy(rv0.copy())
    y = F.batch_norm(t, rm, rv, g, b, training=training, momentum=momentum, eps=eps)
    dy = values(tuple(y.shape), 0.0, 1.0)
    y.backward(torch.from_numpy(dy.copy()))
    cases.append(dict(shape=list(shape), eps=eps, momentum=momentum, affine=affine, training=training,
                      x=bits(x), gamma=bits(gamma) if affine else None, beta=bits(beta) if affine else None,
                      running_mean=bits(rm0), running_var=bits(rv0),
                      y=bits(y.detach().numpy()), new_running_mean=bits(rm.numpy()), new_running_var=bits(rv.numpy()),
                      dy=bits(dy), dx=bits(t.grad.numpy()),
                      dgamma=bits(g.grad.numpy()) if affine else None, dbeta=bits(b.grad.numpy()) if affine else None))

# Training: every rank, N·spatial = 2 (the smallest allowed), eps and momentum variants, affine=False, an offset mean.
add((4, 3))
add((2, 1))                      # N·spatial = 2
add((1, 2, 2))                   # N·spatial = 2 through the spatial dimension
add((3, 4, 7))
add((2, 3, 5, 6))
add((2, 3, 5, 6), eps=1e-3, momentum=0.01)
add((2, 3, 5, 6), eps=0.1, momentum=1.0)
add((2, 3, 5, 6), momentum=0.0)
add((2, 2, 9, 31), affine=False)
add((2, 3, 4, 5, 6), eps=1e-4, momentum=0.3)
add((4, 2, 17, 19), offset=5.0, scale=0.25)   # a large mean next to a small spread
add((3, 5, 300))                 # a channel of 900 values: several rounds of the 256 partial sums
# Eval mode (the running statistics, not updated).
add((4, 3), training=False)
add((2, 3, 5, 6), training=False, eps=1e-3)
add((2, 3, 4, 5, 6), training=False, affine=False)
with open('torch_batchnorm_cases.json', 'w') as f:
    json.dump(dict(torch=torch.__version__, cases=cases), f, separators=(',', ':'))
print(len(cases), 'cases')
