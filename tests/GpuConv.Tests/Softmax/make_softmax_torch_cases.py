# Writes torch_softmax_cases.json: PyTorch's own CPU results for F.softmax / F.log_softmax over one dimension and
# their gradients (autograd of a random dy, i.e. _softmax_backward_data / _log_softmax_backward_data), bits of every
# float, so SoftmaxTorchCasesTests can check the engine and the float64 reference without PyTorch.
# Run with a Python that has torch and numpy: /usr/bin/python3 make_softmax_torch_cases.py  (torch 1.13 wrote the file)
import json
import numpy as np
import torch
import torch.nn.functional as F

rng = np.random.default_rng(23)

def values(shape, scale=1.0):
    v = (rng.random(shape, dtype=np.float32) * 2 - 1) * scale
    v[v == 0] = 0.5  # never zero
    return v.astype(np.float32)

def bits(a):
    return [int(b) for b in np.ascontiguousarray(a, dtype=np.float32).view(np.uint32).ravel()]

cases = []
def add(name, x, dim):
    x = np.ascontiguousarray(x, dtype=np.float32)
    case = dict(name=name, shape=list(x.shape), dim=dim, x=bits(x))
    dy = values(x.shape)
    for log, fn in ((False, F.softmax), (True, F.log_softmax)):
        t = torch.from_numpy(x.copy()).requires_grad_(True)
        y = fn(t, dim)
        y.backward(torch.from_numpy(dy.copy()))
        key = 'log_' if log else ''
        case[key + 'y'] = bits(y.detach().numpy())
        case[key + 'dx'] = bits(t.grad.numpy())
    case['dy'] = bits(dy)
    cases.append(case)

add('classification head [N, C], dim=-1', values((8, 10), 3.0), -1)
add('wide rows [3, 300], dim=1', values((3, 300), 5.0), 1)
add('segmentation NCHW dim=1', values((2, 21, 6, 7), 4.0), 1)
add('NCHW dim=-1 (over W)', values((2, 3, 4, 37), 2.0), -1)
add('NCHW dim=2 (over H)', values((2, 3, 9, 5), 2.0), 2)
add('dim=0', values((5, 3, 4), 2.0), 0)
add('1-d', values((77,), 3.0), 0)
add('large logits +-80', values((4, 40), 80.0), -1)
add('large logits +-1e4', values((3, 16, 5), 1e4), 1)
x = values((4, 12), 3.0); x[0, 3] = -np.inf; x[1, :5] = -np.inf; x[2, 7] = -np.inf; x[2, 0] = -np.inf
add('-inf entries', x, 1)
x = values((3, 9), 3.0); x[1, :] = -np.inf
add('a row of -inf only (NaN in torch)', x, -1)
x = values((3, 9, 4), 2.0); x[1, 4, 2] = np.nan; x[2, 0, 0] = np.inf
add('NaN and +inf propagate over their slice', x, 1)
x = values((2, 5, 3, 3), 1.0); x[:, :, 0, 0] = 1e-30
add('tiny spread', x, 1)
add('one-element axis', values((4, 1, 3), 2.0), 1)
with open('torch_softmax_cases.json', 'w') as f:
    json.dump(dict(torch=torch.__version__, cases=cases), f, separators=(',', ':'))
print(len(cases), 'cases')
