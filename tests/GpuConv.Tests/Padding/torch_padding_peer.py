"""PyTorch's answers for the padding-mode peer tests (PaddingModeTorchPeerTests.cs).

Reads a JSON list of cases from argv[1], writes their results to argv[2]. Each case is either a convolution
(F.pad(x, pad, mode) then F.conv{1,2,3}d with no padding; forward y and, by autograd for a given dy, dx and dw)
or a pad alone (F.pad forward, and dx for a given dy). Everything in float64.
Exit code 3 when torch cannot be imported (the test then skips, saying so).
"""
import json
import sys

try:
    import torch
    import torch.nn.functional as F
except ImportError as e:  # the test skips with this reason
    print(f"torch is not importable: {e}", file=sys.stderr)
    sys.exit(3)


def tensor(values, shape):
    return torch.tensor(values, dtype=torch.float64).reshape(shape)


def torch_pad(begin, end):
    # F.pad lists the last dimension first, in (begin, end) pairs.
    pad = []
    for b, e in zip(reversed(begin), reversed(end)):
        pad += [b, e]
    return pad


def conv_case(c):
    x = tensor(c["x"], c["xShape"]).requires_grad_(True)
    w = tensor(c["w"], c["wShape"]).requires_grad_(True)
    mode = c["mode"]
    xp = F.pad(x, torch_pad(c["padBegin"], c["padEnd"]), mode=mode) if mode != "zeros" else \
        F.pad(x, torch_pad(c["padBegin"], c["padEnd"]), mode="constant", value=0.0)
    conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[len(c["padBegin"])]
    y = conv(xp, w, None, stride=c["stride"], padding=0, dilation=c["dilation"], groups=c["groups"])
    dy = tensor(c["dy"], list(y.shape))
    y.backward(dy)
    return {"y": y.detach().flatten().tolist(), "yShape": list(y.shape),
            "dx": x.grad.flatten().tolist(), "dw": w.grad.flatten().tolist()}


def pad_case(c):
    x = tensor(c["x"], c["xShape"]).requires_grad_(True)
    mode = c["mode"]
    kwargs = {"value": c["value"]} if mode == "constant" else {}
    y = F.pad(x, torch_pad(c["padBegin"], c["padEnd"]), mode=mode, **kwargs)
    dy = tensor(c["dy"], list(y.shape))
    y.backward(dy)
    return {"y": y.detach().flatten().tolist(), "yShape": list(y.shape), "dx": x.grad.flatten().tolist()}


def main():
    with open(sys.argv[1]) as f:
        cases = json.load(f)
    results = [conv_case(c) if c["kind"] == "conv" else pad_case(c) for c in cases]
    with open(sys.argv[2], "w") as f:
        json.dump({"torch": torch.__version__, "results": results}, f)


if __name__ == "__main__":
    main()
