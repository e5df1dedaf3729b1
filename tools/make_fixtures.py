#!/usr/bin/python3
"""Writes the PyTorch reference values cgrad's tests compare against.

Run with Debian's python3-torch:  /usr/bin/python3 tools/make_fixtures.py
It rewrites tests/fixtures/*.txt; the tests never need PyTorch.

Format, one tensor per two lines:
    name ndim d0 d1 ...
    v0 v1 ...            (float32 values, %.9g, row-major; empty for no elements)
"""
import math
import os
import sys
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, '..', 'tests', 'fixtures')


class Writer:
    def __init__(self, name):
        self.f = open(os.path.join(OUT, name), 'w')

    def put(self, name, t):
        t = t.detach().to(torch.float32).contiguous()
        self.f.write('%s %d %s\n' % (name, t.dim(), ' '.join(str(s) for s in t.shape)))
        self.f.write(' '.join('%.9g' % v for v in t.reshape(-1).tolist()) + '\n')

    def close(self):
        self.f.close()


def randn(*shape):
    return torch.randn(*shape)


def pos(*shape):
    return torch.rand(*shape) + 0.5


def ids(n, *shape):
    return torch.randint(0, n, shape).float()


# name: (function of the input list, inputs, which inputs are differentiable)
def op_cases():
    torch.manual_seed(1234)
    c = {}
    def case(name, fn, inputs, diff=None):
        c[name] = (fn, inputs, diff if diff is not None else [True] * len(inputs))
    case('add', lambda a, b: a + b, [randn(3, 1, 4), randn(2, 4)])
    case('sub', lambda a, b: a - b, [randn(2, 3), randn(3)])
    case('mul', lambda a, b: a * b, [randn(4, 1), randn(1, 5)])
    case('div', lambda a, b: a / b, [randn(2, 3), pos(2, 1)])
    case('pow', lambda a, b: torch.pow(a, b), [pos(2, 3), randn(3)])
    case('maximum', lambda a, b: torch.maximum(a, b), [randn(3, 4), randn(4)])
    case('minimum', lambda a, b: torch.minimum(a, b), [randn(3, 4), randn(3, 1)])
    case('add_scalar', lambda a: a + 2.5, [randn(2, 3)])
    case('sub_scalar', lambda a: a - 1.5, [randn(2, 3)])
    case('rsub_scalar', lambda a: 1.5 - a, [randn(2, 3)])
    case('mul_scalar', lambda a: a * -3.0, [randn(2, 3)])
    case('div_scalar', lambda a: a / 4.0, [randn(2, 3)])
    case('rdiv_scalar', lambda a: 2.0 / a, [pos(2, 3)])
    case('pow_scalar', lambda a: a ** 2.5, [pos(2, 3)])
    case('neg', lambda a: -a, [randn(5)])
    case('exp', lambda a: torch.exp(a), [randn(2, 3)])
    case('log', lambda a: torch.log(a), [pos(2, 3)])
    case('sqrt', lambda a: torch.sqrt(a), [pos(2, 3)])
    case('abs', lambda a: torch.abs(a), [randn(2, 3)])
    case('tanh', lambda a: torch.tanh(a), [randn(2, 3)])
    case('sigmoid', lambda a: torch.sigmoid(a), [randn(2, 3)])
    case('relu', lambda a: torch.relu(a), [randn(3, 4)])
    case('clamp', lambda a: torch.clamp(a, -0.5, 0.5), [randn(3, 4)])
    case('clamp_min', lambda a: torch.clamp(a, min=-0.2), [randn(3, 4)])
    case('where', lambda c_, a, b: torch.where(c_ != 0, a, b),
         [(torch.rand(3, 1) > 0.5).float(), randn(3, 4), randn(4)], [False, True, True])
    case('matmul_dot', lambda a, b: a @ b, [randn(4), randn(4)])
    case('matmul_mm', lambda a, b: a @ b, [randn(3, 4), randn(4, 5)])
    case('matmul_vm', lambda a, b: a @ b, [randn(4), randn(4, 5)])
    case('matmul_mv', lambda a, b: a @ b, [randn(3, 4), randn(4)])
    case('matmul_bm', lambda a, b: a @ b, [randn(2, 3, 4), randn(4, 5)])
    case('matmul_mb', lambda a, b: a @ b, [randn(3, 4), randn(2, 4, 5)])
    case('matmul_bb', lambda a, b: a @ b, [randn(2, 1, 3, 4), randn(3, 4, 2)])
    case('matmul_vb', lambda a, b: a @ b, [randn(4), randn(2, 4, 3)])
    case('matmul_bv', lambda a, b: a @ b, [randn(2, 3, 4), randn(4)])
    case('transpose', lambda a: a.transpose(-1, 0), [randn(2, 3, 4)])
    case('linear', lambda x, w, b: torch.nn.functional.linear(x, w, b), [randn(2, 3, 4), randn(5, 4), randn(5)])
    case('linear_add', lambda x, w, b, c: c + torch.nn.functional.linear(x, w, b),
         [randn(3, 4), randn(5, 4), randn(5), randn(3, 5)])
    case('linear_tanh', lambda x, w, b, c: torch.tanh(c + torch.nn.functional.linear(x, w, b)),
         [randn(3, 4), randn(5, 4), randn(5), randn(3, 5)])
    case('linear_relu', lambda x, w, b: torch.relu(torch.nn.functional.linear(x, w, b)),
         [randn(6, 4), randn(5, 4), randn(5)])
    case('permute', lambda a: a.permute(2, 0, 1), [randn(2, 3, 4)])
    case('reshape', lambda a: a.reshape(-1, 6) * 1.0, [randn(2, 3, 4)])
    case('unsqueeze', lambda a: a.unsqueeze(1) * 1.0, [randn(2, 3)])
    case('cat', lambda a, b: torch.cat([a, b], 1), [randn(2, 3, 2), randn(2, 1, 2)])
    case('stack', lambda a, b: torch.stack([a, b], -1), [randn(2, 3), randn(2, 3)])
    case('stack0', lambda a, b: torch.stack([a, b], 0), [randn(2, 3), randn(2, 3)])
    case('select', lambda a: a.select(1, -1), [randn(2, 3, 4)])
    case('select0', lambda a: a.select(0, 1), [randn(3, 4)])
    case('narrow', lambda a: a.narrow(0, 1, 2), [randn(4, 3)])
    case('slice', lambda a: a[:, :, 1:-1], [randn(2, 3, 5)])
    case('index_select', lambda a, i: a.index_select(1, i.long()), [randn(2, 4, 3), torch.tensor([3., 0., 3.])],
         [True, False])
    case('gather', lambda a, i: a.gather(1, i.long()), [randn(3, 4), ids(4, 3, 2)], [True, False])
    case('sum', lambda a: a.sum(), [randn(3, 4)])
    case('sum_dim', lambda a: a.sum(1), [randn(2, 3, 4)])
    case('sum_dim_keep', lambda a: a.sum(-1, keepdim=True), [randn(2, 3, 4)])
    case('mean', lambda a: a.mean(), [randn(3, 4)])
    case('mean_dim', lambda a: a.mean(0), [randn(3, 4)])
    case('max', lambda a: a.max(), [randn(3, 4)])
    case('max_dim', lambda a: a.max(1)[0], [randn(3, 4, 2)])
    case('softmax', lambda a: torch.softmax(a, 1), [randn(2, 3, 4)])
    case('log_softmax', lambda a: torch.log_softmax(a, -1), [randn(3, 5)])
    case('logsumexp', lambda a: torch.logsumexp(a, 1, keepdim=True), [randn(2, 3, 4)])
    F = torch.nn.functional
    case('cross_entropy', lambda a, t: F.cross_entropy(a, t.long()), [randn(4, 5), ids(5, 4)], [True, False])
    case('cross_entropy_sum', lambda a, t: F.cross_entropy(a, t.long(), reduction='sum'),
         [randn(4, 5), ids(5, 4)], [True, False])
    case('cross_entropy_none', lambda a, t: F.cross_entropy(a, t.long(), reduction='none'),
         [randn(4, 5), ids(5, 4)], [True, False])
    case('cross_entropy_ignore', lambda a, t: F.cross_entropy(a, t.long(), ignore_index=2),
         [randn(6, 3), torch.tensor([0., 2., 1., 2., 1., 0.])], [True, False])
    case('cross_entropy_smooth', lambda a, t: F.cross_entropy(a, t.long(), label_smoothing=0.1),
         [randn(4, 5), ids(5, 4)], [True, False])
    case('cross_entropy_1d', lambda a, t: F.cross_entropy(a, t.long()), [randn(5), torch.tensor(3.)],
         [True, False])
    case('cross_entropy_nd', lambda a, t: F.cross_entropy(a, t.long()), [randn(2, 3, 4), ids(3, 2, 4)],
         [True, False])
    case('cross_entropy_weight', lambda a, t, w: F.cross_entropy(a, t.long(), weight=w, ignore_index=1),
         [randn(6, 4), torch.tensor([0., 1., 3., 2., 3., 0.]), torch.rand(4) + 0.5], [True, False, False])
    case('cross_entropy_weight_smooth', lambda a, t, w: F.cross_entropy(a, t.long(), weight=w, label_smoothing=0.2),
         [randn(6, 4), ids(4, 6), torch.rand(4) + 0.5], [True, False, False])
    case('cross_entropy_probs', lambda a, t: F.cross_entropy(a, t),
         [randn(4, 5), torch.softmax(randn(4, 5), 1)], [True, False])
    case('cross_entropy_probs_nd', lambda a, t, w: F.cross_entropy(a, t, weight=w, label_smoothing=0.1, reduction='sum'),
         [randn(2, 3, 4), torch.softmax(randn(2, 3, 4), 1), torch.rand(3) + 0.5], [True, False, False])
    case('nll_loss', lambda a, t: F.nll_loss(a, t.long()), [randn(4, 5), ids(5, 4)], [True, False])
    case('nll_loss_weight', lambda a, t, w: F.nll_loss(a, t.long(), weight=w, reduction='none'),
         [randn(4, 5), ids(5, 4), torch.rand(5) + 0.5], [True, False, False])
    case('mse_loss', lambda a, b: F.mse_loss(a, b), [randn(3, 4), randn(3, 4)])
    case('mse_loss_sum', lambda a, b: F.mse_loss(a, b, reduction='sum'), [randn(3, 4), randn(3, 4)])
    case('embedding', lambda w, i: F.embedding(i.long(), w), [randn(5, 3), torch.tensor([[1., 4.], [1., 0.]])],
         [True, False])
    # (appended: the cases above keep their random inputs)
    case('gelu', lambda a: F.gelu(a), [randn(3, 4) * 2])
    case('gelu_tanh', lambda a: F.gelu(a, approximate='tanh'), [randn(3, 4) * 2])
    case('tril', lambda a: torch.tril(a), [randn(2, 4, 5)])
    case('triu_1', lambda a: torch.triu(a, 1), [randn(4, 5)])
    case('tril_neg', lambda a: torch.tril(a, -1), [randn(3, 3)])
    case('masked_fill', lambda a, m: a.masked_fill(m != 0, -1.5), [randn(3, 4), (torch.rand(4) > 0.5).float()],
         [True, False])
    case('layer_norm', lambda x, w, b: F.layer_norm(x, (5,), w, b), [randn(3, 5) * 3 + 1, randn(5), randn(5)])
    case('layer_norm_2d', lambda x: F.layer_norm(x, (3, 4)), [randn(2, 3, 4)])
    case('pow_2', lambda a: a ** 2, [randn(2, 3)])
    case('pow_3', lambda a: a ** 3, [randn(2, 3)])
    case('pow_inv', lambda a: a ** -1, [pos(2, 3)])
    case('pow_half', lambda a: a ** 0.5, [pos(2, 3)])
    # attention written out in 1.13's ops (its fused op came with 2.0)
    def sdpa(q, k, v, mask=None, causal=False):
        s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
        if mask is not None:
            s = s + mask
        if causal:
            s = s.masked_fill(torch.ones(s.shape[-2], s.shape[-1]).triu(1) != 0, float('-inf'))
        return torch.softmax(s, -1) @ v
    case('sdpa', sdpa, [randn(2, 3, 4, 5), randn(2, 3, 6, 5), randn(2, 3, 6, 2)])
    case('sdpa_causal', lambda q, k, v: sdpa(q, k, v, causal=True), [randn(2, 5, 4), randn(2, 5, 4), randn(2, 5, 3)])
    case('sdpa_mask', lambda q, k, v, m: sdpa(q, k, v, m), [randn(4, 3), randn(5, 3), randn(5, 2), randn(4, 5)],
         [True, True, True, False])
    case('expand', lambda a: a.expand(2, 3, -1, 4), [randn(3, 5, 1)])
    case('expand_new', lambda a: a.expand(3, 1, 4), [randn(4)])
    return c


def write_ops():
    w = Writer('ops.txt')
    for name, (fn, inputs, diff) in op_cases().items():
        xs = [x.clone().requires_grad_(d) for x, d in zip(inputs, diff)]
        out = fn(*xs)
        weight = torch.rand(out.shape) + 0.5
        (out * weight).sum().backward()
        for k, x in enumerate(xs):
            w.put('%s.in%d' % (name, k), x)
            if x.grad is not None:
                w.put('%s.grad%d' % (name, k), x.grad)
        w.put(name + '.out', out)
        w.put(name + '.w', weight)
    w.close()


def write_nets():
    """A 3-layer tanh MLP and a 50-step tanh recurrence built from matmul/add/tanh."""
    torch.manual_seed(7)
    w = Writer('nets.txt')
    x = torch.randn(4, 6)
    ps = [torch.randn(6, 8) * 0.5, torch.randn(8), torch.randn(8, 8) * 0.5, torch.randn(8),
          torch.randn(8, 3) * 0.5, torch.randn(3)]
    ps = [p.requires_grad_() for p in ps]
    h = x
    for i in range(3):
        h = torch.tanh(h @ ps[2 * i] + ps[2 * i + 1])
    loss = (h * h).sum()
    loss.backward()
    w.put('mlp.x', x)
    for i, p in enumerate(ps):
        w.put('mlp.p%d' % i, p)
        w.put('mlp.grad%d' % i, p.grad)
    w.put('mlp.loss', loss)

    T, B, I, H = 50, 2, 3, 5
    xs = torch.randn(T, B, I)
    wx = (torch.randn(I, H) * 0.5).requires_grad_()
    wh = (torch.randn(H, H) * 0.5).requires_grad_()
    b = torch.randn(H).requires_grad_()
    h0 = torch.zeros(B, H).requires_grad_()
    h = h0
    for t in range(T):
        h = torch.tanh(xs[t] @ wx + h @ wh + b)
    loss = h.sum()
    loss.backward()
    for name, t in [('x', xs), ('wx', wx), ('wh', wh), ('b', b), ('h0', h0)]:
        w.put('rec.' + name, t)
        if t.grad is not None:
            w.put('rec.grad_' + name, t.grad)
    w.put('rec.loss', loss)
    w.close()


def write_random():
    """The generator: values torch makes right after manual_seed."""
    w = Writer('random.txt')
    torch.manual_seed(0)
    w.put('rand_seed0', torch.rand(7))
    torch.manual_seed(42)
    w.put('uniform_seed42', torch.empty(3, 4).uniform_(-2, 3))
    torch.manual_seed(0)
    w.put('randn5_seed0', torch.randn(5))
    torch.manual_seed(0)
    w.put('randn37_seed0', torch.randn(37))
    torch.manual_seed(3)
    w.put('normal_seed3', torch.empty(20).normal_(1.0, 2.0))
    torch.manual_seed(0)
    a = torch.randn(3)
    b = torch.randn(3)  # the cached second Box-Muller value carries over
    w.put('randn3x2_seed0', torch.cat([a, b]))
    torch.manual_seed(5)
    w.put('dropout_seed5', torch.nn.functional.dropout(torch.ones(40), 0.3))
    torch.manual_seed(0)
    rnn = torch.nn.RNN(4, 2)
    w.put('rnn_weight_ih_seed0', rnn.weight_ih_l0)
    w.close()


def write_printing():
    """What print() shows, for the printing tests."""
    torch.manual_seed(0)
    cases = [
        ('vec', torch.tensor([1.5, -2.25, 3.0])),
        ('ints', torch.tensor([[1., 2.], [3., 40.]])),
        ('sci', torch.tensor([1e-5, 1.0, 3.0])),
        ('big', torch.tensor([1e9, 2.0])),
        ('scalar', torch.tensor(3.25)),
        ('empty', torch.zeros(0)),
        ('empty2', torch.zeros(2, 0)),
        ('wrap', torch.randn(20)),
        ('mat3', torch.randn(2, 2, 3)),
        ('summ', torch.arange(2000.) / 7),
        ('summ2', torch.randn(40, 40)),
        ('nonfinite', torch.tensor([float('nan'), float('inf'), -1.5])),
        ('zeros', torch.zeros(2, 2)),
    ]
    with open(os.path.join(OUT, 'print.txt'), 'w') as f:
        for name, t in cases:
            s = str(t)
            f.write('%s %d %s\n' % (name, t.dim(), ' '.join(str(d) for d in t.shape)))
            f.write(' '.join('%.9g' % v for v in t.reshape(-1).tolist()) + '\n')
            f.write('%d\n%s\n' % (s.count('\n') + 1, s))


def write_safetensors(path, tensors):
    """The safetensors format, as safetensors.torch.save_file writes it (entries
    here in name order, not state-dict order, and the data 8-aligned)."""
    import json
    import struct
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        data = tensors[name].detach().contiguous().to(torch.float32).numpy().astype('<f4').tobytes()
        header[name] = {'dtype': 'F32', 'shape': list(tensors[name].shape), 'data_offsets': [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header['__metadata__'] = {'format': 'pt'}
    text = json.dumps(header, separators=(',', ':')).encode()
    text += b' ' * (-len(text) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


KINDS = {'RNN': 0, 'LSTM': 1, 'GRU': 2}

# name, kind, input, hidden, layers, relu, bias, batch_first, bidirectional, h0, unbatched, dropout
RNN_CONFIGS = [
    ('rnn1', 'RNN', 3, 4, 1, False, True, False, False, False, False, 0.0),
    ('rnn1_h0', 'RNN', 3, 4, 1, False, True, False, False, True, False, 0.0),
    ('rnn2_relu', 'RNN', 3, 4, 2, True, True, False, False, True, False, 0.0),
    ('rnn_bf', 'RNN', 3, 4, 1, False, True, True, False, True, False, 0.0),
    ('rnn_bidir2', 'RNN', 3, 4, 2, False, True, False, True, True, False, 0.0),
    ('rnn_nobias', 'RNN', 3, 4, 1, False, False, False, False, False, False, 0.0),
    ('rnn_unbatched', 'RNN', 3, 4, 2, False, True, False, False, True, True, 0.0),
    ('rnn_dropout', 'RNN', 3, 4, 3, False, True, False, False, False, False, 0.5),
    ('lstm1', 'LSTM', 3, 4, 1, False, True, False, False, False, False, 0.0),
    ('lstm2_h0', 'LSTM', 3, 4, 2, False, True, False, False, True, False, 0.0),
    ('lstm_bidir_bf', 'LSTM', 3, 4, 1, False, True, True, True, True, False, 0.0),
    ('lstm_unbatched', 'LSTM', 3, 4, 1, False, True, False, False, True, True, 0.0),
    ('gru1', 'GRU', 3, 4, 1, False, True, False, False, False, False, 0.0),
    ('gru2_h0', 'GRU', 3, 4, 2, False, True, False, False, True, False, 0.0),
    ('gru_bidir', 'GRU', 3, 4, 1, False, True, False, True, True, False, 0.0),
    ('gru_nobias_unbatched', 'GRU', 3, 4, 1, False, False, False, False, True, True, 0.0),
]


def write_nn():
    w = Writer('nn.txt')
    T, B = 5, 2
    for k, (name, kind, I, H, L, relu, bias, bf, bidir, has_h0, unbatched, dropout) in enumerate(RNN_CONFIGS):
        seed = 100 + k
        torch.manual_seed(seed)
        cls = getattr(torch.nn, kind)
        kw = dict(num_layers=L, bias=bias, batch_first=bf, bidirectional=bidir, dropout=dropout)
        if kind == 'RNN':
            kw['nonlinearity'] = 'relu' if relu else 'tanh'
        m = cls(I, H, **kw)
        D = 2 if bidir else 1
        shape = (T, I) if unbatched else ((B, T, I) if bf else (T, B, I))
        x = torch.randn(*shape).requires_grad_()
        sshape = (L * D, H) if unbatched else (L * D, B, H)
        h0 = torch.randn(*sshape).requires_grad_() if has_h0 else None
        c0 = torch.randn(*sshape).requires_grad_() if has_h0 and kind == 'LSTM' else None
        torch.manual_seed(999)  # dropout draws from here
        if kind == 'LSTM':
            out, (hn, cn) = m(x, (h0, c0) if has_h0 else None)
        else:
            out, hn = m(x, h0)
            cn = None
        w1, w2 = torch.rand(out.shape), torch.rand(hn.shape)
        loss = (out * w1).sum() + (hn * w2).sum()
        w.put(name + '.cfg', torch.tensor([KINDS[kind], I, H, L, relu, bias, bf, bidir, has_h0, unbatched,
                                           dropout, seed], dtype=torch.float64))
        if cn is not None:
            w3 = torch.rand(cn.shape)
            loss = loss + (cn * w3).sum()
            w.put(name + '.w3', w3)
            w.put(name + '.cn', cn)
        loss.backward()
        for pname, p in m.named_parameters():
            w.put(name + '.param.' + pname, p)
            w.put(name + '.grad.' + pname, p.grad)
        w.put(name + '.x', x)
        w.put(name + '.grad_x', x.grad)
        if h0 is not None:
            w.put(name + '.h0', h0)
            w.put(name + '.grad_h0', h0.grad)
        if c0 is not None:
            w.put(name + '.c0', c0)
            w.put(name + '.grad_c0', c0.grad)
        w.put(name + '.out', out)
        w.put(name + '.hn', hn)
        w.put(name + '.w1', w1)
        w.put(name + '.w2', w2)

    # cells: one step, batched
    for k, kind in enumerate(['RNNCell', 'LSTMCell', 'GRUCell']):
        torch.manual_seed(200 + k)
        m = getattr(torch.nn, kind)(3, 4)
        x = torch.randn(2, 3).requires_grad_()
        h = torch.randn(2, 4).requires_grad_()
        c = torch.randn(2, 4).requires_grad_()
        if kind == 'LSTMCell':
            hn, cn = m(x, (h, c))
            loss = (hn * torch.arange(8.).reshape(2, 4)).sum() + (cn * cn).sum()
            w.put(kind + '.c', c)
            w.put(kind + '.cn', cn)
        else:
            hn = m(x, h)
            loss = (hn * torch.arange(8.).reshape(2, 4)).sum()
        loss.backward()
        for pname, p in m.named_parameters():
            w.put(kind + '.param.' + pname, p)
            w.put(kind + '.grad.' + pname, p.grad)
        w.put(kind + '.x', x)
        w.put(kind + '.h', h)
        w.put(kind + '.hn', hn)
        w.put(kind + '.grad_x', x.grad)
        w.put(kind + '.grad_h', h.grad)
        if kind == 'LSTMCell':
            w.put(kind + '.grad_c', c.grad)

    torch.manual_seed(3)
    lin = torch.nn.Linear(7, 3)
    w.put('linear.weight', lin.weight)
    w.put('linear.bias', lin.bias)
    torch.manual_seed(4)
    emb = torch.nn.Embedding(6, 4)
    w.put('embedding.weight', emb.weight)

    # the seed program
    torch.manual_seed(0)
    h, e, l, o = [1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]
    x = torch.Tensor([[h, e, l, l, o], [e, o, l, l, l], [l, l, e, e, l]])
    rnn = torch.nn.RNN(4, 2)
    outputs, _status = rnn(x)
    w.put('seed.outputs', outputs)
    w.put('seed.status', _status)
    torch.manual_seed(0)
    rnn = torch.nn.RNN(4, 2, batch_first=True)
    outputs, _status = rnn(x)
    w.put('seed_bf.outputs', outputs)

    # hello: RNN(5, 8) + Linear(8, 5), Adam lr 0.1, the losses of 15 steps from seed 0
    torch.manual_seed(0)
    rnn = torch.nn.RNN(5, 8)
    fc = torch.nn.Linear(8, 5)
    vocab = 'hielo'
    idx = {'h': 0, 'i': 1, 'e': 2, 'l': 3, 'o': 4}
    xs = torch.eye(5)[[idx[ch] for ch in 'hihell']]
    ys = torch.tensor([idx[ch] for ch in 'ihello'])
    opt = torch.optim.Adam(list(rnn.parameters()) + list(fc.parameters()), lr=0.1)
    losses = []
    for step in range(15):
        out, _ = rnn(xs)
        loss = torch.nn.functional.cross_entropy(fc(out), ys)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    w.put('hello.losses', torch.tensor(losses))

    # Sequential: dotted names, PyTorch's init order, forward and gradients
    torch.manual_seed(8)
    seq = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Tanh(), torch.nn.Linear(6, 3), torch.nn.ReLU())
    x = torch.randn(5, 4)
    out = seq(x)
    (out * torch.arange(15.).reshape(5, 3)).sum().backward()
    w.put('seq.x', x)

    # a state_dict written in the safetensors format, loaded by the C tests
    torch.manual_seed(21)
    lstm = torch.nn.LSTM(3, 4, num_layers=2)
    write_safetensors(os.path.join(OUT, 'lstm_pytorch.safetensors'), lstm.state_dict())
    x2 = torch.randn(5, 2, 3)
    w.put('st.x', x2)
    w.put('st.out', lstm(x2)[0])
    w.put('seq.out', out)
    for pname, p in seq.named_parameters():
        w.put('seq.param.' + pname, p)
        w.put('seq.grad.' + pname, p.grad)

    # a tied weight, as nanoGPT ties lm_head to wte: one tensor in two modules, its
    # gradient the sum of both uses, listed once by parameters(), updated once
    torch.manual_seed(77)

    class Tied(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.wte = torch.nn.Embedding(7, 4)
            self.ln = torch.nn.LayerNorm(4)
            self.lm_head = torch.nn.Linear(4, 7, bias=False)
            self.lm_head.weight = self.wte.weight

    tied = Tied()
    assert [n for n, _ in tied.named_parameters()] == ['wte.weight', 'ln.weight', 'ln.bias']
    assert list(tied.state_dict()) == ['wte.weight', 'ln.weight', 'ln.bias', 'lm_head.weight']
    ids_in = torch.tensor([[1, 3, 5], [6, 0, 2]])
    target = torch.tensor([[3, 5, 6], [0, 2, 1]])
    w.put('tied.weight', tied.wte.weight)
    opt = torch.optim.AdamW(tied.parameters(), lr=0.01)
    for step in range(3):
        opt.zero_grad()
        logits = tied.lm_head(tied.ln(tied.wte(ids_in)))
        loss = torch.nn.functional.cross_entropy(logits.view(-1, 7), target.view(-1))
        loss.backward()
        opt.step()
        w.put('tied.loss.%d' % step, loss)
        w.put('tied.grad.%d' % step, tied.wte.weight.grad)
        w.put('tied.after.%d' % step, tied.wte.weight)
    w.close()


# name, class, kwargs (mirrored by the C test's table)
OPTIM_CONFIGS = [
    ('sgd', 'SGD', dict(lr=0.1)),
    ('sgd_momentum', 'SGD', dict(lr=0.1, momentum=0.9)),
    ('sgd_nesterov_wd', 'SGD', dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ('sgd_dampening_wd', 'SGD', dict(lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.1)),
    ('sgd_maximize', 'SGD', dict(lr=0.1, maximize=True)),
    ('adam', 'Adam', dict(lr=0.01)),
    ('adam_wd_amsgrad', 'Adam', dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    ('adam_betas', 'Adam', dict(lr=0.05, betas=(0.5, 0.9), eps=1e-6)),
    ('adamw', 'AdamW', dict(lr=0.01)),
    ('adamw_amsgrad', 'AdamW', dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    ('rmsprop', 'RMSprop', dict(lr=0.01)),
    ('rmsprop_full', 'RMSprop', dict(lr=0.01, momentum=0.9, centered=True, weight_decay=0.1)),
    ('adagrad', 'Adagrad', dict(lr=0.1)),
    ('adagrad_full', 'Adagrad', dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.1)),
]


# name, class, the constructor's options (group 0, and the defaults), group 1's own options
GROUP_CONFIGS = [
    ('sgd', 'SGD', dict(lr=0.1, momentum=0.9), dict(lr=0.05, momentum=0.0)),
    ('sgd_nesterov', 'SGD', dict(lr=0.1), dict(momentum=0.5, nesterov=True, weight_decay=0.1)),
    ('adam', 'Adam', dict(lr=0.01, weight_decay=0.1), dict(betas=(0.5, 0.9), amsgrad=True)),
    ('adamw', 'AdamW', dict(lr=0.02, betas=(0.9, 0.99), weight_decay=0.1), dict(weight_decay=0.0)),
    ('rmsprop', 'RMSprop', dict(lr=0.01), dict(lr=0.02, momentum=0.9, centered=True)),
    ('adagrad', 'Adagrad', dict(lr=0.1, initial_accumulator_value=0.1), dict(lr_decay=0.01, weight_decay=0.1)),
]


def write_optim():
    w = Writer('optim.txt')
    torch.manual_seed(55)
    p0, p1 = torch.randn(3, 4), torch.randn(5)
    a0, a1 = torch.rand(3, 4) + 0.5, torch.rand(5) + 0.5
    b0, b1 = torch.randn(3, 4), torch.randn(5)
    grads = [(torch.randn(3, 4), torch.randn(5)) for _ in range(5)]
    for t, v in [('p0', p0), ('p1', p1), ('a0', a0), ('a1', a1), ('b0', b0), ('b1', b1)]:
        w.put('init.' + t, v)
    for k, (g0, g1) in enumerate(grads):
        w.put('fixed.g0.%d' % k, g0)
        w.put('fixed.g1.%d' % k, g1)
    for name, cls, kw in OPTIM_CONFIGS:
        for problem in ['quadratic', 'fixed']:
            ps = [p0.clone().requires_grad_(), p1.clone().requires_grad_()]
            opt = getattr(torch.optim, cls)(ps, **kw)
            for k in range(5):
                opt.zero_grad()
                if problem == 'quadratic':
                    loss = (ps[0] * ps[0] * a0).sum() + (ps[1] * ps[1] * a1).sum() + (ps[0] * b0).sum() + (ps[1] * b1).sum()
                else:
                    loss = (ps[0] * grads[k][0]).sum() + (ps[1] * grads[k][1]).sum()
                loss.backward()
                opt.step()
                w.put('%s.%s.p0.%d' % (name, problem, k), ps[0])
                w.put('%s.%s.p1.%d' % (name, problem, k), ps[1])

    # parameter groups: p0 in the constructor's group, p1 added with options of its own
    # (the rest from the constructor's: torch's defaults), five steps on the quadratic,
    # with a scheduler moving both groups' rates from their own
    for name, cls, kw, group in GROUP_CONFIGS:
        ps = [p0.clone().requires_grad_(), p1.clone().requires_grad_()]
        # (both groups given to the constructor, which fills in the defaults as add_param_group
        # does; torch 1.13's Adagrad makes its state there only)
        opt = getattr(torch.optim, cls)([dict(params=[ps[0]]), dict(params=[ps[1]], **group)], **kw)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, 4, 0.001)
        for k in range(5):
            opt.zero_grad()
            loss = (ps[0] * ps[0] * a0).sum() + (ps[1] * ps[1] * a1).sum() + (ps[0] * b0).sum() + (ps[1] * b1).sum()
            loss.backward()
            opt.step()
            sched.step()
            w.put('groups.%s.p0.%d' % (name, k), ps[0])
            w.put('groups.%s.p1.%d' % (name, k), ps[1])
            w.put('groups.%s.lr.%d' % (name, k), torch.tensor([g['lr'] for g in opt.param_groups], dtype=torch.float64))

    # clipping
    torch.manual_seed(66)
    g0, g1 = torch.randn(3, 4), torch.randn(5)
    w.put('clip.g0', g0)
    w.put('clip.g1', g1)
    for max_norm in [1.0, 100.0]:
        ps = [torch.zeros(3, 4, requires_grad=True), torch.zeros(5, requires_grad=True)]
        ps[0].grad, ps[1].grad = g0.clone(), g1.clone()
        total = torch.nn.utils.clip_grad_norm_(ps, max_norm)
        w.put('clip.norm%g.total' % max_norm, total)
        w.put('clip.norm%g.g0' % max_norm, ps[0].grad)
        w.put('clip.norm%g.g1' % max_norm, ps[1].grad)
    ps = [torch.zeros(3, 4, requires_grad=True)]
    ps[0].grad = g0.clone()
    torch.nn.utils.clip_grad_value_(ps, 0.5)
    w.put('clip.value.g0', ps[0].grad)

    # schedulers: the lr after each of 12 steps (as float64 written to float, and also scaled)
    S = torch.optim.lr_scheduler
    for name, make in [('step', lambda o: S.StepLR(o, 3, 0.5)), ('exponential', lambda o: S.ExponentialLR(o, 0.9)),
                       ('cosine', lambda o: S.CosineAnnealingLR(o, 5, 0.01)),
                       ('linear', lambda o: S.LinearLR(o, 0.25, 1.0, 4))]:
        opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
        sched = make(opt)
        lrs = [opt.param_groups[0]['lr']]
        for _ in range(12):
            opt.step()
            sched.step()
            lrs.append(opt.param_groups[0]['lr'])
        w.put('sched.' + name, torch.tensor(lrs, dtype=torch.float64))
    w.close()


def edge_cases():
    """Degenerate shapes (0-d tensors, size-0 dims) through every public op: what
    PyTorch 1.13 returns (values and gradients), or that it refuses."""
    F = torch.nn.functional
    torch.manual_seed(99)
    c = {}
    def case(name, fn, inputs, diff=None):
        c[name] = (fn, inputs, diff if diff is not None else [True] * len(inputs))
    E = torch.zeros
    unary = {'neg': torch.neg, 'exp': torch.exp, 'tanh': torch.tanh, 'sigmoid': torch.sigmoid,
             'relu': torch.relu, 'abs': torch.abs, 'clamp': lambda a: torch.clamp(a, -0.5, 0.5),
             'pow_scalar': lambda a: a ** 2, 'mul_scalar': lambda a: a * 3, 'log': torch.log,
             'sqrt': torch.sqrt}
    for k, f in unary.items():
        case(k + '.d0', f, [torch.rand(()) + 0.5])
        case(k + '.e0', f, [E(0)])
        case(k + '.e203', f, [E(2, 0, 3)])
    for k, f in {'add': torch.add, 'sub': torch.sub, 'mul': torch.mul, 'div': torch.div,
                 'maximum': torch.maximum, 'minimum': torch.minimum, 'pow': torch.pow}.items():
        case(k + '.e03_3', f, [E(0, 3), torch.rand(3) + 0.5])
        case(k + '.e0_d0', f, [E(0), torch.rand(()) + 0.5])
        case(k + '.d0_d0', f, [torch.rand(()) + 0.5, torch.rand(()) + 0.5])
        case(k + '.e0_2', f, [E(0), torch.rand(2)])
        case(k + '.e20_1', f, [E(2, 0), torch.rand(1) + 0.5])
    case('where.e0', lambda c_, a, b: torch.where(c_ != 0, a, b), [E(0, 2), E(0, 2), torch.rand(2)],
         [False, True, True])
    case('matmul.e30_e04', lambda a, b: a @ b, [E(3, 0), E(0, 4)])
    case('matmul.e03_e32', lambda a, b: a @ b, [E(0, 3), torch.rand(3, 2)])
    case('matmul.e203_34', lambda a, b: a @ b, [E(2, 0, 3), torch.rand(3, 4)])
    case('matmul.e0_e0', lambda a, b: a @ b, [E(0), E(0)])
    case('matmul.d0_3', lambda a, b: a @ b, [torch.rand(()), torch.rand(3)])
    case('matmul.e0_e03', lambda a, b: a @ b, [E(0), E(0, 3)])
    case('linear.e20', lambda x, w, b: F.linear(x, w, b), [E(2, 0), E(3, 0), torch.rand(3)])
    case('linear.e04', lambda x, w, b: F.linear(x, w, b), [E(0, 4), torch.rand(3, 4), torch.rand(3)])
    case('linear.e04_e0', lambda x, w, b: F.linear(x, w, b), [E(0, 4), E(0, 4), E(0)])
    for k, f in {'sum': torch.sum, 'mean': torch.mean, 'max': torch.max}.items():
        case(k + '.d0', f, [torch.rand(())])
        case(k + '.e0', f, [E(0)])
        case(k + '.e23', f, [E(2, 0, 3)])
    for k, f in {'sum_dim': lambda a, d: torch.sum(a, d), 'mean_dim': lambda a, d: torch.mean(a, d),
                 'max_dim': lambda a, d: torch.max(a, d)[0], 'softmax': lambda a, d: torch.softmax(a, d),
                 'log_softmax': lambda a, d: torch.log_softmax(a, d),
                 'logsumexp': lambda a, d: torch.logsumexp(a, d)}.items():
        case(k + '.d0', lambda a, f=f: f(a, 0), [torch.rand(())])
        case(k + '.d0_neg', lambda a, f=f: f(a, -1), [torch.rand(())])
        case(k + '.e03_0', lambda a, f=f: f(a, 0), [E(0, 3)])
        case(k + '.e03_1', lambda a, f=f: f(a, 1), [E(0, 3)])
        case(k + '.e20_1', lambda a, f=f: f(a, 1), [E(2, 0)])
        case(k + '.e20_0', lambda a, f=f: f(a, 0), [E(2, 0)])
    case('reshape.e03_flat', lambda a: a.reshape(-1), [E(0, 3)])
    case('reshape.e03_3x', lambda a: a.reshape(3, -1), [E(0, 3)])
    case('reshape.e0_x0', lambda a: a.reshape(-1, 0), [E(0)])
    case('reshape.d0_1', lambda a: a.reshape(1, 1), [torch.rand(())])
    case('reshape.1_d0', lambda a: a.reshape(()), [torch.rand(1)])
    case('transpose.e03', lambda a: a.transpose(0, 1), [E(0, 3)])
    case('transpose.d0', lambda a: a.transpose(0, -1), [torch.rand(())])
    case('permute.e203', lambda a: a.permute(2, 0, 1), [E(2, 0, 3)])
    case('squeeze.d0', lambda a: a.squeeze(0), [torch.rand(())])
    case('squeeze.e0', lambda a: a.squeeze(0), [E(0)])
    case('unsqueeze.d0', lambda a: a.unsqueeze(0), [torch.rand(())])
    case('unsqueeze.e0', lambda a: a.unsqueeze(-1), [E(0)])
    case('cat.e03_23', lambda a, b: torch.cat([a, b], 0), [E(0, 3), torch.rand(2, 3)])
    case('cat.e0_e0', lambda a, b: torch.cat([a, b], 0), [E(0), E(0)])
    case('cat.d0_d0', lambda a, b: torch.cat([a, b], 0), [torch.rand(()), torch.rand(())])
    case('stack.d0_d0', lambda a, b: torch.stack([a, b], 0), [torch.rand(()), torch.rand(())])
    case('stack.e0_e0', lambda a, b: torch.stack([a, b], 1), [E(0), E(0)])
    case('select.d0', lambda a: a.select(0, 0), [torch.rand(())])
    case('select.e03', lambda a: a.select(0, 0), [E(0, 3)])
    case('select.e30', lambda a: a.select(0, 2), [E(3, 0)])
    case('narrow.e0', lambda a: a.narrow(0, 0, 0), [E(0)])
    case('t.d0', lambda a: a.t(), [torch.rand(())])
    case('t.d3', lambda a: a.t(), [torch.rand(3)])
    case('t.e03', lambda a: a.t(), [E(0, 3)])
    case('t.3d', lambda a: a.t(), [torch.rand(2, 2, 2)])
    case('split.d0', lambda a: a.split(1)[0], [torch.rand(())])
    case('split.e0', lambda a: a.split(2)[0], [E(0)])
    case('split.e03', lambda a: a.split(2, dim=1)[1], [E(0, 3)])
    case('chunk.d0', lambda a: a.chunk(2)[0], [torch.rand(())])
    case('chunk.e0', lambda a: a.chunk(3)[2], [E(0)])
    case('chunk.e30', lambda a: a.chunk(2, 1)[1], [E(3, 0)])
    case('narrow.23_len0', lambda a: a.narrow(1, 3, 0), [torch.rand(2, 3)])
    case('index_select.e_index', lambda a, i: a.index_select(0, i.long()), [torch.rand(3, 2), E(0)], [True, False])
    case('index_select.e30', lambda a, i: a.index_select(1, i.long()), [E(3, 0), E(0)], [True, False])
    case('index_select.d0', lambda a, i: a.index_select(0, i.long()), [torch.rand(()), E(1)], [True, False])
    # (4 indices into a 0-d tensor: 1.13 reads the first and fails in backward; later
    # versions refuse it, as cgrad does — tests/test_trust.c checks that)
    case('gather.e_index', lambda a, i: a.gather(1, i.long()), [torch.rand(2, 3), E(2, 0)], [True, False])
    case('gather.d0', lambda a, i: a.gather(0, i.long()), [torch.rand(()), E(())], [True, False])
    case('cross_entropy.e0', lambda a, t: F.cross_entropy(a, t.long()), [E(0, 3), E(0)], [True, False])
    case('cross_entropy_sum.e0', lambda a, t: F.cross_entropy(a, t.long(), reduction='sum'), [E(0, 3), E(0)],
         [True, False])
    case('cross_entropy.c0', lambda a, t: F.cross_entropy(a, t.long()), [E(2, 0), E(2)], [True, False])
    case('nll_loss.e0', lambda a, t: F.nll_loss(a, t.long()), [E(0, 3), E(0)], [True, False])
    case('mse_loss.e0', lambda a, b: F.mse_loss(a, b), [E(0), E(0)])
    case('mse_loss.d0', lambda a, b: F.mse_loss(a, b), [torch.rand(()), torch.rand(())])
    case('embedding.e_ids', lambda w, i: F.embedding(i.long(), w), [torch.rand(4, 2), E(0)], [True, False])
    case('embedding.e_dim', lambda w, i: F.embedding(i.long(), w), [E(4, 0), torch.tensor([1., 3.])],
         [True, False])
    case('one_hot.e0', lambda i: F.one_hot(i.long(), 3).float(), [E(0)], [False])
    case('one_hot.d0', lambda i: F.one_hot(i.long(), 3).float(), [torch.tensor(2.)], [False])
    case('dropout.e0', lambda a: F.dropout(a, 0.5, True), [E(0, 3)])
    case('clone.e0', lambda a: a.clone(), [E(0, 2)])
    case('gelu.d0', F.gelu, [torch.rand(())])
    case('gelu.e203', F.gelu, [E(2, 0, 3)])
    case('tril.e03', lambda a: torch.tril(a), [E(0, 3)])
    case('tril.d1', lambda a: torch.tril(a), [torch.rand(3)])
    case('masked_fill.e0', lambda a, m: a.masked_fill(m != 0, 2.0), [E(0, 3), torch.ones(3)], [True, False])
    case('masked_fill.d0', lambda a, m: a.masked_fill(m != 0, 2.0), [torch.rand(()), torch.ones(())], [True, False])
    case('layer_norm.e03', lambda a: F.layer_norm(a, (3,)), [E(0, 3)])
    case('layer_norm.d1', lambda a: F.layer_norm(a, (4,)), [torch.rand(4)])
    case('expand.d0', lambda a: a.expand(2, 3), [torch.rand(())])
    case('expand.e01', lambda a: a.expand(0, 3), [E(0, 1)])
    case('expand.d1_to0', lambda a: a.expand(0), [torch.rand(1)])
    case('expand.e0_lead', lambda a: a.expand(2, 0), [E(0)])
    case('expand.d0_to_e', lambda a: a.expand(0, 2), [torch.rand(())])
    case('expand.bad_size', lambda a: a.expand(3, 3), [torch.rand(2)])
    case('expand.bad_lead', lambda a: a.expand(-1, 2), [torch.rand(2)])
    case('expand.fewer', lambda a: a.expand(2), [torch.rand(2, 2)])
    return c

# Views: (name, chain, writable). tests/test_autograd.c applies the same chains in
# the same order to the same base, arange(24) as (2, 3, 4).
VIEW_CASES = [
    ('t01', lambda t: t.transpose(0, 1), True),
    ('t12', lambda t: t.transpose(1, 2), True),
    ('perm', lambda t: t.permute(2, 0, 1), True),
    ('narrow2', lambda t: t.narrow(2, 1, 2), True),
    ('select1', lambda t: t.select(1, 2), True),
    ('slice_neg', lambda t: t[:, :, -3:-1], True),
    ('expand', lambda t: t.narrow(1, 0, 1).expand(2, 3, 4), False),
    ('expand_new', lambda t: t.select(0, 1).select(0, 0).expand(3, 2, 4), False),
    ('narrow_view', lambda t: t.narrow(2, 0, 2).view(6, 2), True),
    ('t_reshape', lambda t: t.transpose(1, 2).reshape(2, 12), False),
    ('chain', lambda t: t.transpose(0, 2).narrow(0, 1, 2).select(2, 1), True),
    ('t_unsqueeze', lambda t: t.transpose(0, 1).unsqueeze(1).squeeze(1), True),
    ('tt', lambda t: t.transpose(0, 2).transpose(0, 2), True),
    ('split', lambda t: t.split(3, dim=2)[1], True),
    ('chunk', lambda t: t.chunk(2, dim=1)[1], True),
    ('t', lambda t: t.select(0, 1).t(), True),
]


def write_views():
    """Strided views: layout (contiguous?, offset, strides), values, the gradient a
    weighted sum sends to the base, and the base after a write through the view."""
    w = Writer('views.txt')
    prints = []
    for name, chain, writable in VIEW_CASES:
        base = torch.arange(24, dtype=torch.float32).view(2, 3, 4).requires_grad_(True)
        v = chain(base)
        layout = [float(v.is_contiguous()), float(v.storage_offset())] + [float(s) for s in v.stride()]
        w.put(name + '.layout', torch.tensor(layout))
        w.put(name + '.out', v)
        weight = (torch.arange(v.numel()) % 7 - 3).float().view(v.shape)
        (v * weight).sum().backward()
        w.put(name + '.grad', base.grad)
        prints.append((name, v, str(v)))
        if writable:
            b = torch.arange(24, dtype=torch.float32).view(2, 3, 4)
            chain(b).copy_(-1 - torch.arange(v.numel()).float().view(v.shape))
            w.put(name + '.written', b)
    w.close()
    with open(os.path.join(OUT, 'views_print.txt'), 'w') as f:  # what print() shows, grad_fn included
        for name, v, text in prints:
            f.write('%s %d %s\n' % (name, v.dim(), ' '.join(str(d) for d in v.shape)))
            f.write(' '.join('%.9g' % x for x in v.detach().reshape(-1).tolist()) + '\n')
            f.write('%d\n%s\n' % (text.count('\n') + 1, text))


def write_sampling():
    """torch's CPU sampling for fixed seeds: randint, randperm, bernoulli, multinomial."""
    w = Writer('sampling.txt')
    def put(name, seed, fn):
        torch.manual_seed(seed)
        w.put(name, fn().float())
    put('randint_small', 0, lambda: torch.randint(0, 10, (8,)))
    put('randint_wide', 1, lambda: torch.randint(3, 1000, (2, 5)))
    put('randperm_10', 0, lambda: torch.randperm(10))
    put('randperm_100', 3, lambda: torch.randperm(100))
    torch.manual_seed(40)
    p = torch.rand(4, 6)
    w.put('bernoulli_p', p)
    put('bernoulli', 4, lambda: torch.bernoulli(p))
    torch.manual_seed(50)
    probs = torch.rand(10) + 0.05
    probs2 = torch.rand(3, 7) + 0.05
    w.put('multinomial_p', probs)
    w.put('multinomial_p2', probs2)
    put('multinomial_repl', 5, lambda: torch.multinomial(probs, 20, replacement=True))
    put('multinomial_norepl', 6, lambda: torch.multinomial(probs, 6, replacement=False))
    put('multinomial_one', 7, lambda: torch.multinomial(probs, 1, replacement=True))
    put('multinomial_rows_norepl', 8, lambda: torch.multinomial(probs2, 4, replacement=False))
    put('multinomial_rows_repl', 9, lambda: torch.multinomial(probs2, 5, replacement=True))
    w.close()


def write_mha():
    """nn.MultiheadAttention: initial weights for a seed, output and every gradient."""
    w = Writer('mha.txt')
    for name, seed, causal, batch_first in [('plain', 0, False, False), ('causal_bf', 1, True, True)]:
        torch.manual_seed(seed)
        m = torch.nn.MultiheadAttention(8, 2, batch_first=batch_first)
        for n, p in m.named_parameters():
            w.put('%s.init.%s' % (name, n), p)
        x = torch.randn(*((3, 5, 8) if batch_first else (5, 3, 8)), requires_grad=True)
        mask = torch.full((5, 5), float('-inf')).triu(1) if causal else None
        out, _ = m(x, x, x, attn_mask=mask, need_weights=False)
        weight = torch.rand(out.shape)
        (out * weight).sum().backward()
        w.put(name + '.x', x)
        w.put(name + '.out', out)
        w.put(name + '.w', weight)
        w.put(name + '.grad_x', x.grad)
        for n, p in m.named_parameters():
            w.put('%s.grad.%s' % (name, n), p.grad)
    w.close()


def write_edges():
    w = Writer('edges.txt')
    for name, (fn, inputs, diff) in edge_cases().items():
        xs = [x.clone().requires_grad_(d) for x, d in zip(inputs, diff)]
        for k, x in enumerate(xs):
            w.put('%s.in%d' % (name, k), x)
        try:
            out = fn(*xs)
        except (RuntimeError, IndexError, ValueError):
            w.put(name + '.error', torch.ones(()))
            continue
        w.put(name + '.out', out)
        if out.requires_grad:
            try:
                out.backward(torch.ones_like(out))
            except (RuntimeError, IndexError):  # torch's own backward fails (a bug of its): any clean answer will do
                w.put(name + '.backward_error', torch.ones(()))
                continue
            for k, x in enumerate(xs):
                if x.grad is not None:
                    w.put('%s.grad%d' % (name, k), x.grad)
    w.close()


def write_wordgen():
    """bench/wordgen_torch.py's losses on tests/fixtures/words.txt after 40 steps, for each
    model: examples/wordgen must reach the same numbers (tests/programs.sh)."""
    import subprocess
    script = os.path.join(HERE, '..', 'bench', 'wordgen_torch.py')
    with open(os.path.join(OUT, 'wordgen.txt'), 'w') as f:
        f.write('# model train_loss test_loss: PyTorch after 40 steps (--n-layer 2 --batch-size 16)\n')
        for m in ['bigram', 'mlp', 'rnn', 'gru', 'lstm', 'transformer']:
            out = subprocess.run([sys.executable, script, '--input', os.path.join(OUT, 'words.txt'), '--model', m,
                                  '--steps', '40', '--eval-every', '40', '--n-layer', '2', '--batch-size', '16'],
                                 check=True, capture_output=True, text=True).stdout
            res = dict(kv.split('=') for kv in out.strip().split('\n')[-1].split()[1:])
            f.write('%s %s %s\n' % (m, res['train_loss'], res['test_loss']))
    # the same words with accented letters and a few of other scripts: makemore's vocabulary is
    # their characters (and its positions the longest word's characters), not their bytes
    utf8 = os.path.join(OUT, 'words_utf8.txt')
    swap = {'e': 'é', 'a': 'å', 'o': 'ø', 'u': 'ü', 'n': 'ñ', 'k': 'κ', 'z': '字'}
    with open(os.path.join(OUT, 'words.txt'), encoding='utf-8') as src, open(utf8, 'w', encoding='utf-8') as f:
        for i, w in enumerate(src.read().split()):
            f.write(''.join(swap[ch] if ch in swap and (i + j) % 4 == 0 else ch for j, ch in enumerate(w)) + '\n')
    with open(os.path.join(OUT, 'wordgen_utf8.txt'), 'w') as f:
        f.write('# model train_loss test_loss: PyTorch after 40 steps on words_utf8.txt (--n-layer 2 --batch-size 16)\n')
        for m in ['bigram', 'transformer']:
            out = subprocess.run([sys.executable, script, '--input', utf8, '--model', m, '--steps', '40',
                                  '--eval-every', '40', '--n-layer', '2', '--batch-size', '16'],
                                 check=True, capture_output=True, text=True).stdout
            res = dict(kv.split('=') for kv in out.strip().split('\n')[-1].split()[1:])
            f.write('%s %s %s\n' % (m, res['train_loss'], res['test_loss']))


# gpt: small configs of nanoGPT's loop on data/sonnets.txt, with and without dropout and
# gradient accumulation: examples/gpt must print the same lines (tests/programs.sh).
GPT_CONFIGS = {
    'plain': ['--config=baby', '--block_size=32', '--n_layer=2', '--n_embd=64', '--batch_size=8', '--max_iters=12',
              '--eval_interval=6', '--eval_iters=4', '--warmup_iters=4', '--lr_decay_iters=10'],
    'dropout_accum': ['--config=baby', '--block_size=16', '--n_layer=2', '--n_embd=32', '--n_head=2', '--batch_size=4',
                      '--max_iters=8', '--eval_interval=4', '--eval_iters=3', '--dropout=0.1', '--bias=True',
                      '--gradient_accumulation_steps=2', '--warmup_iters=2', '--lr_decay_iters=6'],
}


GPT_SAMPLE_FLAGS = ['--start=Love', '--num_samples=2', '--max_new_tokens=60', '--top_k=10', '--seed=5']


def write_gpt():
    """bench/gpt_torch.py's log lines (losses only) for each of GPT_CONFIGS."""
    import subprocess
    script = os.path.join(HERE, '..', 'bench', 'gpt_torch.py')
    sonnets = os.path.join(HERE, '..', 'data', 'sonnets.txt')
    with open(os.path.join(OUT, 'gpt.txt'), 'w') as f:
        f.write('# NAME: FLAGS, then PyTorch\'s lines (nanoGPT\'s loop, bench/gpt_torch.py) on data/sonnets.txt\n')
        for name, flags in GPT_CONFIGS.items():
            out = subprocess.run([sys.executable, script, '--data=' + sonnets] + flags, check=True,
                                 capture_output=True, text=True).stdout
            f.write('config %s %s\n' % (name, ' '.join(flags)))
            for line in out.splitlines():
                if line.startswith('step ') or line.startswith('iter '):
                    f.write('%s %s\n' % (name, line.split(', time')[0]))
    # PyTorch's weights (a tiny model, 30 iterations) and sample.py's text from them:
    # gpt import + gpt sample must print the same bytes
    weights = os.path.join(OUT, 'gpt_sample.safetensors')
    subprocess.run([sys.executable, script, '--data=' + sonnets, '--config=baby', '--block_size=16', '--n_layer=1',
                    '--n_embd=32', '--n_head=2', '--batch_size=4', '--max_iters=30', '--eval_interval=100',
                    '--eval_iters=2', '--warmup_iters=5', '--lr_decay_iters=30', '--save=' + weights],
                   check=True, capture_output=True)
    text = subprocess.run([sys.executable, script, 'sample', weights] + GPT_SAMPLE_FLAGS, check=True,
                          capture_output=True).stdout
    with open(os.path.join(OUT, 'gpt_sample.txt'), 'wb') as f:
        f.write(text)
    # a UTF-8 text (sonnets with accents and a few other scripts' letters): nanoGPT's
    # vocabulary is its characters, not its bytes; examples/gpt must print the same lines
    utf8 = os.path.join(OUT, 'gpt_utf8.txt')
    with open(sonnets, encoding='utf-8') as src, open(utf8, 'w', encoding='utf-8', newline='') as f:
        swap = {'e': 'é', 'o': 'ö', 'a': 'à', 'u': 'ü', 'c': 'ç', 'y': 'ÿ', 'k': 'κ', 'w': 'ω', 'z': '字'}
        for i, line in enumerate(src.read().splitlines()[:400]):
            f.write(''.join(swap[ch] if ch in swap and (i + j) % 3 == 0 else ch for j, ch in enumerate(line)) + '\n')
    out = subprocess.run([sys.executable, script, '--data=' + utf8] + GPT_CONFIGS['plain'], check=True,
                         capture_output=True, text=True).stdout
    with open(os.path.join(OUT, 'gpt_utf8_lines.txt'), 'w') as f:
        f.write("# bench/gpt_torch.py's lines (config plain) on gpt_utf8.txt, a text of UTF-8 characters\n")
        for line in out.splitlines():
            if line.startswith('step ') or line.startswith('iter '):
                f.write(line.split(', time')[0] + '\n')


if __name__ == '__main__':
    os.makedirs(OUT, exist_ok=True)
    parts = {'ops': write_ops, 'nets': write_nets, 'random': write_random, 'print': write_printing,
             'nn': write_nn, 'optim': write_optim, 'edges': write_edges, 'wordgen': write_wordgen,
             'sampling': write_sampling, 'mha': write_mha, 'gpt': write_gpt,
             'views': write_views}
    for part in sys.argv[1:] or parts:  # e.g. `make_fixtures.py edges` for one file
        parts[part]()
    print('fixtures written to', os.path.normpath(OUT))
