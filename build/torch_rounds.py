"""The timing loop the build/bench-*-torch.py peers share: warm-up calls, then rounds of calls timed with
time.perf_counter_ns; each round's mean in microseconds a call, and the line those scripts print from them."""
import statistics
import time


def round_means(f, calls, rounds, warmup=20):
    """Calls f() warmup times untimed, then `rounds` rounds of `calls` calls; returns each round's mean in µs."""
    for _ in range(warmup):
        f()
    means = []
    for _ in range(rounds):
        t = time.perf_counter_ns()
        for _ in range(calls):
            f()
        means.append((time.perf_counter_ns() - t) / calls / 1000)
    return means


def report(label, threads, means):
    """'<label> threads=T: median M us  rounds r1 r2 …', the scripts' line."""
    return f"{label} threads={threads}: median {statistics.median(means):.1f} us  rounds {' '.join(f'{r:.0f}' for r in means)}"
