#!/usr/bin/python3
"""PyTorch's side of the benchmark: the same workloads as bench/bench.c.

    bench_torch.py [--threads N] hello | floor | charrnn H T B | gemm M N K TA TB

Prints median_us and peak_rss_mb (and gflops for gemm), and the BLAS it ran:
openblas_core (openblas_get_corename) and openblas_threads. --threads sets
torch.set_num_threads (its OpenMP threads); OpenBLAS's own come from
OPENBLAS_NUM_THREADS, which bench/run sets for every row. Run with OpenBLAS on
LD_LIBRARY_PATH (bench/run does), so PyTorch is measured at its best."""
import ctypes
import math
import resource
import statistics
import sys
import time

import torch


MIN_TIMED_S = 0.5  # as bench.c's MIN_TIMED_US: both sides time their steps as long
MIN_SAMPLE_S = 20e-6  # as bench.c's MIN_SAMPLE_US: a sample is a batch of steps this long


def timed(step, warm, reps):
    """The median sample's mean step, samples being batches of at least MIN_SAMPLE_S
    (one step each for steps that long), over at least `reps` steps and MIN_TIMED_S."""
    w0 = time.perf_counter()
    for _ in range(warm):
        step()
    warm_step = (time.perf_counter() - w0) / warm if warm > 0 else MIN_SAMPLE_S
    batch = 1 if warm_step >= MIN_SAMPLE_S else math.ceil(MIN_SAMPLE_S / max(warm_step, 1e-9))
    times, total, steps = [], 0.0, 0
    while steps < reps or total < MIN_TIMED_S:
        t0 = time.perf_counter()
        for _ in range(batch):
            step()
        dt = time.perf_counter() - t0
        times.append(dt / batch)
        total += dt
        steps += batch
    return 1e6 * statistics.median(times)


def report(us):
    print('median_us %.3f' % us)
    print('peak_rss_mb %.1f' % (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))
    print('openblas_core %s' % blas_core())
    print('openblas_threads %s' % blas_threads())


def openblas():
    """The BLAS torch loaded (the same soname resolves to the loaded library)."""
    try:
        return ctypes.CDLL('libblas.so.3')
    except OSError:
        return None


def blas_core():
    lib = openblas()
    try:
        f = lib.openblas_get_corename
        f.restype = ctypes.c_char_p
        return f().decode()
    except (AttributeError, TypeError):
        return 'not-OpenBLAS'


def blas_threads():
    lib = openblas()
    try:
        return str(lib.openblas_get_num_threads())
    except (AttributeError, TypeError):
        return '?'


def rnn_step(V, H, T, B, lr, clip):
    torch.manual_seed(0)
    rnn, fc = torch.nn.RNN(V, H), torch.nn.Linear(H, V)
    params = list(rnn.parameters()) + list(fc.parameters())
    opt = torch.optim.Adam(params, lr=lr)
    x = torch.eye(V)[torch.randint(0, V, (T, B))]
    y = torch.randint(0, V, (T * B,))

    def step():
        out, _ = rnn(x)
        loss = torch.nn.functional.cross_entropy(fc(out).reshape(-1, V), y)
        opt.zero_grad()
        loss.backward()
        if clip:
            torch.nn.utils.clip_grad_norm_(params, clip)
        opt.step()
    return step


def main():
    args = sys.argv[1:]
    threads = 1
    if args[:1] == ['--threads']:
        threads, args = int(args[1]), args[2:]
    sys.argv = [sys.argv[0]] + args
    w = sys.argv[1]
    torch.set_num_threads(threads)
    if w == 'hello':
        report(timed(rnn_step(5, 8, 6, 1, 0.1, 0), 200, 2000))
    elif w == 'floor':
        torch.manual_seed(0)
        W = torch.randn(4, 4, requires_grad=True)
        x = torch.randn(4)
        b = torch.randn(4, requires_grad=True)

        def step():
            y = torch.tanh(W @ x + b).sum()
            W.grad = None
            b.grad = None
            y.backward()
        report(timed(step, 1000, 20000))
    elif w == 'charrnn':
        H, T, B = map(int, sys.argv[2:5])
        report(timed(rnn_step(65, H, T, B, 2e-3, 5.0), 3, 15))
    elif w == 'gemm':
        M, N, K, ta, tb = map(int, sys.argv[2:7])
        A = torch.rand(K, M).t() if ta else torch.rand(M, K)
        Bm = torch.rand(N, K).t() if tb else torch.rand(K, N)
        us = timed(lambda: torch.mm(A, Bm), 20, 200)
        report(us)
        print('gflops %.2f' % (2.0 * M * N * K / (us * 1e3)))
    else:
        sys.exit('usage: bench_torch.py [--threads N] hello | floor | charrnn H T B | gemm M N K TA TB')


if __name__ == '__main__':
    main()
