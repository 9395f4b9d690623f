#!/usr/bin/env python3
"""Merges coverlet JSON files (one per test process of build/gpu-coverage.sh) and reports the GPU code's coverage.

usage: gpu-coverage-report.py REPO_ROOT OUT.md coverage1.json [coverage2.json ...]

A line counts as covered when any run hit it; a branch (coverlet's line, IL offset, path, ordinal) likewise.
The table lists every file of the GPU folders with lines and branches covered / total; below it, each file's
uncovered blocks (consecutive instrumented lines no run hit, with the method they sit in).
"""
import json
import os
import sys
from collections import defaultdict

# The GPU code: folders by prefix, single files by exact path (relative to the repository root).
GPU_PREFIXES = ["src/GpuConv/Cuda/", "src/GpuConv/Backends/Cudnn/", "src/GpuConv/Backends/Ptx/", "src/GpuConv/Planning/"]
GPU_FILES_GLOB_PREFIX = "src/GpuConv/ConvEngine."  # ConvEngine.cs and its partial files: the GPU parts are inside them
GPU_FILES = ["src/GpuConv/Tensors/CudaMemorySpace.cs"]


def is_gpu(rel):
    if any(rel.startswith(p) for p in GPU_PREFIXES) or rel in GPU_FILES:
        return True
    return rel.startswith(GPU_FILES_GLOB_PREFIX) and "/" not in rel[len("src/GpuConv/"):]


def short_method(name):
    # "System.Void GpuConv.Cuda.CudaStream::Synchronize()" -> "CudaStream.Synchronize"
    core = name.split(" ", 1)[-1]
    cls, _, meth = core.partition("::")
    meth = meth.split("(", 1)[0]
    return cls.rsplit(".", 1)[-1].replace("/", ".") + "." + meth


def main():
    root, out_md, inputs = os.path.abspath(sys.argv[1]), sys.argv[2], sys.argv[3:]
    lines = defaultdict(dict)      # rel -> line -> hits
    owner = defaultdict(dict)      # rel -> line -> method
    branches = defaultdict(dict)   # rel -> key -> hits
    for path in inputs:
        with open(path) as f:
            data = json.load(f)
        for module, files in data.items():
            if not module.startswith("GpuConv.dll"):
                continue
            for file, classes in files.items():
                rel = os.path.relpath(file, root)
                for cls, methods in classes.items():
                    for meth, body in methods.items():
                        for ln, hits in body.get("Lines", {}).items():
                            ln = int(ln)
                            lines[rel][ln] = lines[rel].get(ln, 0) + hits
                            owner[rel].setdefault(ln, short_method(meth))
                        for b in body.get("Branches", []):
                            key = (cls, meth, b["Line"], b["Offset"], b["EndOffset"], b["Path"], b["Ordinal"])
                            branches[rel][key] = branches[rel].get(key, 0) + b["Hits"]

    def totals(files):
        lc = sum(1 for f in files for h in lines[f].values() if h > 0)
        lt = sum(len(lines[f]) for f in files)
        bc = sum(1 for f in files for h in branches[f].values() if h > 0)
        bt = sum(len(branches[f]) for f in files)
        return lc, lt, bc, bt

    def pct(a, b):
        return f"{100.0 * a / b:.1f}%" if b else "-"

    gpu = sorted(f for f in lines if is_gpu(f))
    everything = sorted(lines)
    out = []
    lc, lt, bc, bt = totals(everything)
    out.append(f"Assembly GpuConv (every file): lines {lc}/{lt} ({pct(lc, lt)}), branches {bc}/{bt} ({pct(bc, bt)})")
    lc, lt, bc, bt = totals(gpu)
    out.append(f"GPU files ({len(gpu)}): lines {lc}/{lt} ({pct(lc, lt)}), branches {bc}/{bt} ({pct(bc, bt)})")
    out.append("")
    out.append("| file | lines | % | branches | % |")
    out.append("|---|---|---|---|---|")
    for f in gpu:
        lc, lt, bc, bt = totals([f])
        out.append(f"| {f.removeprefix('src/GpuConv/')} | {lc}/{lt} | {pct(lc, lt)} | {bc}/{bt} | {pct(bc, bt)} |")
    out.append("")
    out.append("Uncovered blocks (file:first-last, lines not hit, method):")
    for f in gpu:
        ls = sorted(lines[f])
        blocks, cur = [], []
        for ln in ls:
            if lines[f][ln] == 0:
                cur.append(ln)
            elif cur:
                blocks.append(cur)
                cur = []
        if cur:
            blocks.append(cur)
        for b in blocks:
            methods = sorted({owner[f][ln] for ln in b})
            out.append(f"- {f}:{b[0]}-{b[-1]} ({len(b)}) {', '.join(methods)}")
    text = "\n".join(out) + "\n"
    with open(out_md, "w") as fh:
        fh.write(text)
    print("\n".join(out[:2]))


if __name__ == "__main__":
    main()
