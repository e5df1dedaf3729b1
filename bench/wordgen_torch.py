#!/usr/bin/env python3
"""PyTorch's side of examples/wordgen: the same six models (a small makemore:
bigram, mlp, rnn, gru, lstm, transformer), the same data, split, batches,
initialisation order and hyper-parameters, so the two programs can be compared
line for line (bench/wordgen_compare runs both).

  /usr/bin/python3 bench/wordgen_torch.py --model gru --steps 2000 [--input FILE]

Prints "step S train X test Y" at each evaluation and one closing line
"result model=... test_loss=... ms_per_step=... peak_rss_mb=...".
"""
import argparse
import math
import resource
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

def read_words(path):
    """makemore's create_datasets: the text's lines (str.splitlines), each stripped, the empty
    ones dropped; characters are the tokens (its sorted(set(''.join(words))))."""
    with open(path, 'r', encoding='utf-8') as f:
        data = f.read()
    return [w for w in (w.strip() for w in data.splitlines()) if w]


class Words:
    """Token 0 starts and ends a word; the characters seen, sorted, are 1..V-1."""

    def __init__(self, words, vocab):
        self.words = words
        self.stoi = {b: i + 1 for i, b in enumerate(vocab)}
        self.vocab_size = len(vocab) + 1

    def encode(self, w, T):
        x = torch.zeros(T, dtype=torch.long)
        y = torch.full((T,), -1, dtype=torch.long)
        ix = torch.tensor([self.stoi[b] for b in w], dtype=torch.long)
        x[1:1 + len(w)] = ix
        y[:len(w)] = ix
        y[len(w)] = 0
        return x, y

    def batch(self, rows, T):
        xs, ys = zip(*(self.encode(self.words[i], T) for i in rows))
        return torch.stack(xs), torch.stack(ys)


# ---- the six models ----------------------------------------------------------------------

class Bigram(nn.Module):
    def __init__(self, V, a):
        super().__init__()
        self.logits = nn.Parameter(torch.zeros(V, V))

    def forward(self, idx):
        return self.logits[idx]


class MLP(nn.Module):
    """Bengio et al. 2003: the embeddings of the block_size previous tokens, concatenated."""

    def __init__(self, V, a):
        super().__init__()
        self.block_size, self.V = a.block_size, V
        self.wte = nn.Embedding(V + 1, a.n_embd)  # token V: before the start
        self.mlp = nn.Sequential(nn.Linear(a.block_size * a.n_embd, a.n_embd2), nn.Tanh(),
                                 nn.Linear(a.n_embd2, V))

    def forward(self, idx):
        embs = []
        for _ in range(self.block_size):
            embs.append(self.wte(idx))
            idx = torch.roll(idx, 1, 1)
            idx[:, 0] = self.V
        return self.mlp(torch.cat(embs, -1))


class Recurrent(nn.Module):
    """A learned start state, then torch's RNN, GRU or LSTM over the embeddings."""

    def __init__(self, V, a):
        super().__init__()
        self.start = nn.Parameter(torch.zeros(1, a.n_embd2))
        self.wte = nn.Embedding(V, a.n_embd)
        cell = {'rnn': nn.RNN, 'gru': nn.GRU, 'lstm': nn.LSTM}[a.model]
        self.rnn = cell(a.n_embd, a.n_embd2, batch_first=True)
        self.lm_head = nn.Linear(a.n_embd2, V)
        self.lstm = a.model == 'lstm'

    def forward(self, idx):
        h0 = self.start.expand(idx.size(0), -1).unsqueeze(0).contiguous()
        emb = self.wte(idx)
        out, _ = self.rnn(emb, (h0, torch.zeros_like(h0)) if self.lstm else h0)
        return self.lm_head(out)


class CausalSelfAttention(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.n_head = a.n_head
        self.c_attn = nn.Linear(a.n_embd, 3 * a.n_embd)
        self.c_proj = nn.Linear(a.n_embd, a.n_embd)
        self.register_buffer('bias', torch.tril(torch.ones(a.block_size, a.block_size)), persistent=False)

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        att = F.softmax(att.masked_fill(self.bias[:T, :T] == 0, float('-inf')), dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        return self.c_proj(y)


class Block(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.ln_1 = nn.LayerNorm(a.n_embd)
        self.attn = CausalSelfAttention(a)
        self.ln_2 = nn.LayerNorm(a.n_embd)
        self.mlp = nn.ModuleDict(dict(c_fc=nn.Linear(a.n_embd, 4 * a.n_embd),
                                      c_proj=nn.Linear(4 * a.n_embd, a.n_embd)))

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp.c_proj(F.gelu(self.mlp.c_fc(self.ln_2(x)), approximate='tanh'))


class Transformer(nn.Module):
    """A small GPT: token and position embeddings, pre-LN blocks, a final LayerNorm."""

    def __init__(self, V, a):
        super().__init__()
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(V, a.n_embd), wpe=nn.Embedding(a.block_size, a.n_embd),
            h=nn.ModuleList([Block(a) for _ in range(a.n_layer)]), ln_f=nn.LayerNorm(a.n_embd)))
        self.lm_head = nn.Linear(a.n_embd, V, bias=False)

    def forward(self, idx):
        pos = torch.arange(idx.size(1)).unsqueeze(0)
        x = self.transformer.wte(idx) + self.transformer.wpe(pos)
        for block in self.transformer.h:
            x = block(x)
        return self.lm_head(self.transformer.ln_f(x))


MODELS = {'bigram': Bigram, 'mlp': MLP, 'rnn': Recurrent, 'gru': Recurrent, 'lstm': Recurrent,
          'transformer': Transformer}


# ---- training ------------------------------------------------------------------------------

def loss_of(model, x, y, reduction='mean'):
    logits = model(x)
    return F.cross_entropy(logits.view(-1, logits.size(-1)), y.view(-1), ignore_index=-1, reduction=reduction)


@torch.no_grad()
def evaluate(model, data, count, T, batch):
    """The mean loss per predicted token over the first count words, a training batch at a time."""
    model.eval()
    total, tokens = 0.0, 0
    for lo in range(0, count, batch):
        x, y = data.batch(range(lo, min(lo + batch, count)), T)
        total += loss_of(model, x, y, 'sum').item()
        tokens += int((y != -1).sum())
    model.train()
    return total / tokens


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--input', default='/usr/share/dict/words')
    p.add_argument('--model', default='transformer', choices=sorted(MODELS))
    p.add_argument('--steps', type=int, default=2000)
    p.add_argument('--seed', type=int, default=3407)
    p.add_argument('--batch-size', type=int, default=32)
    p.add_argument('--eval-every', type=int, default=500)
    p.add_argument('--lr', type=float, default=5e-4)
    p.add_argument('--weight-decay', type=float, default=0.01)
    p.add_argument('--n-embd', type=int, default=64)
    p.add_argument('--n-embd2', type=int, default=64)
    p.add_argument('--n-layer', type=int, default=4)
    p.add_argument('--n-head', type=int, default=4)
    a = p.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(a.seed)

    words = read_words(a.input)
    vocab = sorted(set(b for w in words for b in w))
    T = max(len(w) for w in words) + 1
    a.block_size = T
    perm = torch.randperm(len(words)).tolist()
    n_test = min(1000, len(words) // 10)
    train = Words([words[i] for i in perm[:len(words) - n_test]], vocab)
    test = Words([words[i] for i in perm[len(words) - n_test:]], vocab)
    V = train.vocab_size
    model = MODELS[a.model](V, a)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=a.weight_decay, betas=(0.9, 0.99), eps=1e-8)
    n_eval_train = min(1000, len(train.words))

    train_time, test_loss, train_loss = 0.0, float('nan'), float('nan')
    for step in range(1, a.steps + 1):
        t0 = time.perf_counter()
        rows = torch.randint(0, len(train.words), (a.batch_size,)).tolist()
        x, y = train.batch(rows, T)
        loss = loss_of(model, x, y)
        model.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        train_time += time.perf_counter() - t0
        if step % a.eval_every == 0 or step == a.steps:
            train_loss = evaluate(model, train, n_eval_train, T, a.batch_size)
            test_loss = evaluate(model, test, len(test.words), T, a.batch_size)
            print('step %d train %.4f test %.4f' % (step, train_loss, test_loss), flush=True)
    print('result model=%s steps=%d seed=%d params=%d train_loss=%.4f test_loss=%.4f ms_per_step=%.3f '
          'peak_rss_mb=%.1f' % (a.model, a.steps, a.seed, sum(q.numel() for q in model.parameters()), train_loss,
                                test_loss, 1000 * train_time / max(a.steps, 1),
                                resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


if __name__ == '__main__':
    main()
