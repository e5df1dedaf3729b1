#!/usr/bin/python3
"""charrnn's training in PyTorch, the same data pipeline and model, for comparison.

    /usr/bin/python3 bench/charrnn_torch.py FILE --hidden 256 --seq-len 64 --batch 32 \
        --lr 2e-3 --clip 5 --steps 2000 [--cell rnn] [--threads 1] [--time-steps N]

Text: sorted byte vocabulary, first 90% trains, the rest validates. B streams of
equal length read chunks of T characters; the hidden state is carried between
chunks with detach and reset when the streams wrap. One-hot input, RNN, Linear,
cross-entropy, Adam, clip_grad_norm_. Validation: mean loss over up to 64 chunks.
Prints 'val_loss X' at the end; with --time-steps N, the median step time too.
"""
import argparse
import statistics
import time

import torch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('file')
    ap.add_argument('--hidden', type=int, default=128)
    ap.add_argument('--layers', type=int, default=1)
    ap.add_argument('--cell', default='rnn')
    ap.add_argument('--seq-len', type=int, default=64)
    ap.add_argument('--batch', type=int, default=32)
    ap.add_argument('--lr', type=float, default=2e-3)
    ap.add_argument('--clip', type=float, default=5.0)
    ap.add_argument('--steps', type=int, default=500)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--eval-every', type=int, default=100)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--time-steps', type=int, default=0, help='only time this many steps')
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    data = open(a.file, 'rb').read()
    vocab = sorted(set(data))
    index = {c: i for i, c in enumerate(vocab)}
    ids = torch.tensor([index[c] for c in data], dtype=torch.long)
    V = len(vocab)
    n_train = len(ids) * 9 // 10
    train, val = ids[:n_train], ids[n_train:]
    T, B, H, L = a.seq_len, a.batch, a.hidden, a.layers

    torch.manual_seed(a.seed)
    cls = {'rnn': torch.nn.RNN, 'lstm': torch.nn.LSTM, 'gru': torch.nn.GRU}[a.cell]
    rnn = cls(V, H, num_layers=L)
    fc = torch.nn.Linear(H, V)
    params = list(rnn.parameters()) + list(fc.parameters())
    opt = torch.optim.Adam(params, lr=a.lr)
    eye = torch.eye(V)

    def batch(src, stream_len, pos, t):
        idx = torch.arange(B) * stream_len + pos
        rows = torch.stack([src[idx + k] for k in range(t + 1)])  # (t+1, B)
        return eye[rows[:-1]], rows[1:].reshape(-1)

    def zeros():
        h = torch.zeros(L, B, H)
        return (h, torch.zeros(L, B, H)) if a.cell == 'lstm' else h

    def detach(s):
        return tuple(x.detach() for x in s) if isinstance(s, tuple) else s.detach()

    def validate():
        slen = len(val) // B
        chunk = min(T, slen - 1)
        chunks = min((slen - 1) // chunk, 64)
        state, total = zeros(), 0.0
        with torch.no_grad():
            for k in range(chunks):
                x, y = batch(val, slen, k * chunk, chunk)
                out, state = rnn(x, state)
                total += torch.nn.functional.cross_entropy(fc(out).reshape(-1, V), y).item()
        return total / chunks

    stream_len = n_train // B
    state, pos, times, val_loss = zeros(), 0, [], float('nan')
    steps = a.time_steps or a.steps
    for step in range(1, steps + 1):
        if pos + T + 1 > stream_len:
            pos, state = 0, zeros()
        t0 = time.perf_counter()
        x, y = batch(train, stream_len, pos, T)
        out, state = rnn(x, detach(state))
        loss = torch.nn.functional.cross_entropy(fc(out).reshape(-1, V), y)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, a.clip)
        opt.step()
        times.append(time.perf_counter() - t0)
        pos += T
        if not a.time_steps and (step % a.eval_every == 0 or step == steps):
            val_loss = validate()
            print('step %d loss %.4f val_loss %.4f' % (step, loss.item(), val_loss), flush=True)
    if a.time_steps:
        print('median_step_ms %.3f' % (1000 * statistics.median(times[len(times) // 5:])))
    else:
        print('val_loss %.4f' % val_loss)


if __name__ == '__main__':
    main()
