#!/usr/bin/python3
"""examples/gpt's program in PyTorch: nanoGPT's model and training loop (shakespeare_char),
written out here, decision for decision as gpt train makes them, so both print the same
losses for a seed and a config.

    bench/gpt_torch.py [--name=value ...]   nanoGPT's settings names (--config=baby too)
    bench/gpt_torch.py --data=FILE ...      the text (default data/tinyshakespeare.txt)
    bench/gpt_torch.py ... --save=W.safetensors   also the final weights (nanoGPT's state dict,
                                            the settings and vocabulary as metadata: what gpt import reads)
    bench/gpt_torch.py sample W.safetensors [--start=S --seed=N --num_samples=N --max_new_tokens=N
                                            --temperature=X --top_k=N]   nanoGPT's sample.py on those weights

Prints nanoGPT's lines (step N: train loss ..., val loss ...; iter N: loss ..., time ...ms)
and at the end `result ms_per_iter=... peak_rss_mb=...`. Debian's python3-torch (1.13) has no
F.scaled_dot_product_attention, so attention is written out (masked softmax), as nanoGPT's
own fallback does."""
import math
import os
import resource
import sys
import time

import torch
import torch.nn as nn
from torch.nn import functional as F

CFG = dict(block_size=256, n_layer=6, n_head=6, n_embd=384, dropout=0.2, bias=False, batch_size=64,
           gradient_accumulation_steps=1, learning_rate=1e-3, max_iters=5000, weight_decay=1e-1, beta1=0.9,
           beta2=0.99, grad_clip=1.0, decay_lr=True, warmup_iters=100, lr_decay_iters=5000, min_lr=1e-4,
           eval_interval=250, eval_iters=200, log_interval=10, seed=1337,
           data=os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'data', 'tinyshakespeare.txt'),
           save='')
MODEL_KEYS = ('block_size', 'n_layer', 'n_head', 'n_embd', 'dropout', 'bias')
BABY = dict(block_size=64, batch_size=12, n_layer=4, n_head=4, n_embd=128, max_iters=2000, lr_decay_iters=2000,
            dropout=0.0, eval_iters=20, log_interval=1)


def parse(argv):
    cfg = dict(CFG)
    for a in argv:
        k, _, v = a.lstrip('-').partition('=')
        k = k.replace('-', '_')
        if k == 'config':
            if v == 'baby':
                cfg.update(BABY)
            continue
        if k not in cfg:
            sys.exit('gpt_torch.py: unknown setting %s' % k)
        old = cfg[k]
        cfg[k] = (v == 'True') if isinstance(old, bool) else type(old)(v)
    return cfg


class LayerNorm(nn.Module):
    def __init__(self, n, bias):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))
        self.bias = nn.Parameter(torch.zeros(n)) if bias else None

    def forward(self, x):
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, 1e-5)


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c_attn = nn.Linear(c['n_embd'], 3 * c['n_embd'], bias=c['bias'])
        self.c_proj = nn.Linear(c['n_embd'], c['n_embd'], bias=c['bias'])
        self.attn_dropout = nn.Dropout(c['dropout'])
        self.resid_dropout = nn.Dropout(c['dropout'])
        self.n_head = c['n_head']
        T = c['block_size']
        self.register_buffer('mask', torch.tril(torch.ones(T, T)).view(1, 1, T, T))

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        att = att.masked_fill(self.mask[:, :, :T, :T] == 0, float('-inf'))
        att = self.attn_dropout(F.softmax(att, dim=-1))
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c_fc = nn.Linear(c['n_embd'], 4 * c['n_embd'], bias=c['bias'])
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * c['n_embd'], c['n_embd'], bias=c['bias'])
        self.dropout = nn.Dropout(c['dropout'])

    def forward(self, x):
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.ln_1 = LayerNorm(c['n_embd'], c['bias'])
        self.attn = Attention(c)
        self.ln_2 = LayerNorm(c['n_embd'], c['bias'])
        self.mlp = MLP(c)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, c, V):
        super().__init__()
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(V, c['n_embd']), wpe=nn.Embedding(c['block_size'], c['n_embd']),
            drop=nn.Dropout(c['dropout']), h=nn.ModuleList([Block(c) for _ in range(c['n_layer'])]),
            ln_f=LayerNorm(c['n_embd'], c['bias'])))
        self.lm_head = nn.Linear(c['n_embd'], V, bias=False)
        self.transformer.wte.weight = self.lm_head.weight  # tied
        self.apply(self._init)
        for n, p in self.named_parameters():
            if n.endswith('c_proj.weight'):
                torch.nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * c['n_layer']))

    @staticmethod
    def _init(m):
        if isinstance(m, nn.Linear):
            torch.nn.init.normal_(m.weight, mean=0.0, std=0.02)
            if m.bias is not None:
                torch.nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            torch.nn.init.normal_(m.weight, mean=0.0, std=0.02)

    def logits(self, idx):
        t = idx.size(1)
        tr = self.transformer
        x = tr.drop(tr.wte(idx) + tr.wpe(torch.arange(0, t, dtype=torch.long)))
        for b in tr.h:
            x = b(x)
        return self.lm_head(tr.ln_f(x))

    def forward(self, idx, targets):
        logits = self.logits(idx)
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)


def save_safetensors(path, tensors, meta):
    """The safetensors format by hand (PyPI's package is not in Debian): a length, a JSON
    header, the float32 data."""
    import json
    import struct
    header, blobs, at = {}, [], 0
    for name, t in tensors.items():
        b = t.detach().contiguous().float().numpy().tobytes()
        header[name] = {'dtype': 'F32', 'shape': list(t.shape), 'data_offsets': [at, at + len(b)]}
        blobs.append(b)
        at += len(b)
    header['__metadata__'] = meta
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * (-len(h) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)) + h + b''.join(blobs))


def load_safetensors(path):
    import json
    import struct
    import numpy as np
    raw = open(path, 'rb').read()
    n = struct.unpack('<Q', raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    meta = header.pop('__metadata__', {})
    data = raw[8 + n:]
    return {k: torch.from_numpy(np.frombuffer(data[v['data_offsets'][0]:v['data_offsets'][1]],
                                              dtype=np.float32).reshape(v['shape']).copy())
            for k, v in header.items()}, meta


def sample(argv):
    """nanoGPT's sample.py: seed, make the model (its constructor draws), load, generate."""
    opts = dict(start='\n', seed=1337, num_samples=10, max_new_tokens=500, temperature=0.8, top_k=200)
    path = argv[0]
    for a in argv[1:]:
        k, _, v = a.lstrip('-').partition('=')
        opts[k] = type(opts[k])(v) if k != 'start' else v
    sd, meta = load_safetensors(path)
    c = dict(CFG)
    for k in MODEL_KEYS:
        c[k] = (meta[k] == 'True') if k == 'bias' else type(CFG[k])(meta[k])
    chars = bytes.fromhex(meta['vocab_hex']).decode('utf-8')  # the vocabulary's characters, in order
    torch.manual_seed(opts['seed'])
    model = GPT(c, len(chars))
    missing, unexpected = model.load_state_dict(sd, strict=False)
    assert all(k.endswith('attn.mask') for k in missing) and not unexpected, (missing, unexpected)
    model.eval()
    stoi = {ch: i for i, ch in enumerate(chars)}
    out = sys.stdout.buffer
    with torch.no_grad():
        for _ in range(opts['num_samples']):
            idx = torch.tensor([stoi[ch] for ch in opts['start']], dtype=torch.long)[None, ...]
            for _ in range(opts['max_new_tokens']):
                cond = idx if idx.size(1) <= c['block_size'] else idx[:, -c['block_size']:]
                logits = model.logits(cond)[:, -1, :] / opts['temperature']
                if opts['top_k']:
                    v, _ = torch.topk(logits, min(opts['top_k'], logits.size(-1)))
                    logits[logits < v[:, [-1]]] = -float('Inf')
                probs = F.softmax(logits, dim=-1)
                idx = torch.cat((idx, torch.multinomial(probs, num_samples=1)), dim=1)
            out.write(''.join(chars[i] for i in idx[0].tolist()).encode('utf-8') + b'\n---------------\n')


def main():
    if sys.argv[1:2] == ['sample']:
        return sample(sys.argv[2:])
    c = parse(sys.argv[1:])
    with open(c['data'], 'r', encoding='utf-8') as f:  # prepare.py: the text's characters, sorted
        text = f.read()
    chars = sorted(set(text))
    stoi = {ch: i for i, ch in enumerate(chars)}
    data = torch.tensor([stoi[b] for b in text], dtype=torch.long)
    n = int(len(data) * 0.9)
    splits = {'train': data[:n], 'val': data[n:]}
    B, T = c['batch_size'], c['block_size']

    def get_batch(split):
        d = splits[split]
        ix = torch.randint(len(d) - T, (B,))
        return torch.stack([d[i:i + T] for i in ix]), torch.stack([d[i + 1:i + 1 + T] for i in ix])

    torch.manual_seed(c['seed'])
    torch.set_num_threads(int(os.environ.get('OMP_NUM_THREADS', '1')))  # bench/torch_env.sh sets it
    model = GPT(c, len(chars))
    params = [p for p in model.parameters()]
    decay = [p for p in params if p.dim() >= 2]
    nodecay = [p for p in params if p.dim() < 2]
    opt = torch.optim.AdamW([{'params': decay, 'weight_decay': c['weight_decay']},
                             {'params': nodecay, 'weight_decay': 0.0}], lr=c['learning_rate'],
                            betas=(c['beta1'], c['beta2']))

    def lr_at(it):
        if not c['decay_lr']:
            return c['learning_rate']
        if it < c['warmup_iters']:
            return c['learning_rate'] * (it + 1) / (c['warmup_iters'] + 1)
        if it > c['lr_decay_iters']:
            return c['min_lr']
        ratio = (it - c['warmup_iters']) / (c['lr_decay_iters'] - c['warmup_iters'])
        return c['min_lr'] + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (c['learning_rate'] - c['min_lr'])

    @torch.no_grad()
    def estimate_loss():
        model.eval()
        out = {}
        for split in ('train', 'val'):
            losses = torch.zeros(c['eval_iters'])
            for k in range(c['eval_iters']):
                X, Y = get_batch(split)
                losses[k] = model(X, Y).item()
            out[split] = losses.mean()
        model.train()
        return out

    X, Y = get_batch('train')
    it, t0, times = 0, time.time(), []
    while True:
        lr = lr_at(it)
        for g in opt.param_groups:
            g['lr'] = lr
        if it % c['eval_interval'] == 0:
            losses = estimate_loss()
            print('step %d: train loss %.4f, val loss %.4f' % (it, losses['train'], losses['val']))
        for _ in range(c['gradient_accumulation_steps']):
            loss = model(X, Y) / c['gradient_accumulation_steps']
            X, Y = get_batch('train')
            loss.backward()
        if c['grad_clip'] != 0.0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), c['grad_clip'])
        opt.step()
        opt.zero_grad(set_to_none=True)
        t1 = time.time()
        times.append(t1 - t0)
        if it % c['log_interval'] == 0:
            print('iter %d: loss %.4f, time %.2fms' % (it, loss.item() * c['gradient_accumulation_steps'],
                                                       (t1 - t0) * 1000))
        t0 = t1
        it += 1
        if it > c['max_iters']:
            break
    if c['save']:
        meta = {k: ('True' if c[k] else 'False') if k == 'bias' else repr(c[k]) if isinstance(c[k], float)
                else str(c[k]) for k in MODEL_KEYS}
        meta.update(vocab_size=str(len(chars)), vocab_hex=''.join(chars).encode('utf-8').hex(), format='pt')
        save_safetensors(c['save'], {k: v for k, v in model.state_dict().items() if not k.endswith('attn.mask')},
                         meta)
    steady = sorted(times[1:] or times)
    print('result ms_per_iter=%.2f peak_rss_mb=%.1f' % (1000 * steady[len(steady) // 2],
          resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


if __name__ == '__main__':
    main()
