# Writes torch_upsample_cases.json: PyTorch's own CPU results for F.interpolate and its gradient (x.grad for a random dy),
# bits of every float, so UpsampleTorchCasesTests can check the reference and the CPU engine (and so, through the
# interpreter tests, the kernels) against PyTorch without it.
# Run with a Python that has torch and numpy: /usr/bin/python3 make_torch_cases.py  (torch 1.13 wrote the file)
import json
import numpy as np
import torch
import torch.nn.functional as F

rng = np.random.default_rng(14)

def values(shape):
    return (rng.random(shape, dtype=np.float32) * 8 - 4).astype(np.float32)

def bits(a):
    return [int(b) for b in np.ascontiguousarray(a, dtype=np.float32).view(np.uint32).ravel()]

cases = []
def add(mode, shape, size=None, scale=None, align=None, recompute=None):
    x = values(shape)
    t = torch.from_numpy(x.copy()).requires_grad_()
    y = F.interpolate(t, size=size, scale_factor=scale, mode=mode, align_corners=align, recompute_scale_factor=recompute)
    dy = values(tuple(y.shape))
    y.backward(torch.from_numpy(dy.copy()))
    # PyTorch 1.13's nearest backward (nearest_idx) copies at out = in and shifts at out = 2 * in before looking at a
    # given factor; its forward on NCHW (HelperInterpNearest) always uses the factor: there the backward is not the
    # forward's adjoint. The engine's backward is its forward's adjoint; such cases compare the forward only.
    factors = scale if isinstance(scale, (list, tuple)) else [scale] * (len(shape) - 2)
    torch_backward_differs = mode == 'nearest' and scale is not None and not recompute and any(
        o in (i, 2 * i) and f != o / i for i, o, f in zip(shape[2:], y.shape[2:], factors))
    lst = lambda v: None if v is None else [float(s) if scale is not None else int(s) for s in (v if isinstance(v, (list, tuple)) else [v] * (len(shape) - 2))]
    cases.append(dict(mode=mode, shape=list(shape), size=lst(size) if size is not None else None,
                      scale=lst(scale) if scale is not None else None, align=bool(align), recompute=bool(recompute),
                      torch_backward_differs=torch_backward_differs,
                      x=bits(x), y_shape=list(y.shape), y=bits(y.detach().numpy()), dy=bits(dy), dx=bits(t.grad.numpy())))

# nearest: integer, non-integer and downsampling factors, explicit sizes up and down, recompute_scale_factor
add('nearest', (2, 3, 7), scale=2.0)
add('nearest', (1, 2, 9), scale=1.7)
add('nearest', (1, 2, 11), scale=0.6)
add('nearest', (1, 2, 5), size=13)
add('nearest', (1, 2, 9), size=4)
# a factor whose output is 2 * in or in: see torch_backward_differs
add('nearest', (1, 2, 5), scale=2.1)
add('nearest', (2, 3, 6, 5), scale=[2.0, 2.0])
add('nearest', (1, 2, 3, 4), size=[7, 11])
add('nearest', (1, 2, 5, 6), scale=[1.5, 2.5])
add('nearest', (1, 2, 5, 6), scale=[2.1, 1.1])      # 2-d: out = 2 * in and out = in (see torch_backward_differs)
add('nearest', (1, 2, 9, 8), size=[4, 3])
add('nearest', (1, 2, 5, 6), scale=[1.7, 0.7], recompute=True)
add('nearest', (1, 2, 3, 4, 5), scale=[2.0, 2.0, 2.0])
add('nearest', (1, 2, 2, 3, 5), size=[3, 5, 4])
add('nearest', (1, 2, 4, 3, 5), scale=[1.3, 2.1, 0.8])
# nearest-exact
add('nearest-exact', (1, 2, 9), scale=1.7)
add('nearest-exact', (1, 2, 9), size=4)
add('nearest-exact', (1, 2, 5, 6), scale=[2.1, 1.1])
add('nearest-exact', (1, 2, 3, 4, 5), size=[5, 3, 8])
# linear, bilinear, trilinear: align_corners both ways, up and down, factors and sizes, out = in (copy), out = 1
for align in (False, True):
    add('linear', (2, 3, 7), scale=2.0, align=align)
    add('linear', (1, 2, 9), size=4, align=align)
    add('linear', (1, 2, 6), scale=1.3, align=align)
    add('bilinear', (2, 3, 6, 5), scale=[2.0, 2.0], align=align)
    add('bilinear', (1, 2, 4, 5), size=[9, 7], align=align)
    add('bilinear', (1, 2, 9, 8), size=[4, 3], align=align)
    add('bilinear', (1, 2, 5, 6), scale=[1.7, 2.3], align=align)
    add('bilinear', (1, 2, 5, 6), scale=[1.1, 0.6], align=align)
    add('bilinear', (1, 2, 5, 6), size=[1, 6], align=align)
    add('bilinear', (1, 2, 5, 6), scale=[1.7, 2.3], align=align, recompute=True)
    add('trilinear', (1, 2, 3, 4, 5), scale=[2.0, 2.0, 2.0], align=align)
    add('trilinear', (1, 2, 4, 3, 5), size=[3, 5, 7], align=align)
with open('torch_upsample_cases.json', 'w') as f:
    json.dump(dict(torch=torch.__version__, cases=cases), f, separators=(',', ':'))
print(len(cases), 'cases')
