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
    case('nll_loss', lambda a, t: F.nll_loss(a, t.long()), [randn(4, 5), ids(5, 4)], [True, False])
    case('mse_loss', lambda a, b: F.mse_loss(a, b), [randn(3, 4), randn(3, 4)])
    case('mse_loss_sum', lambda a, b: F.mse_loss(a, b, reduction='sum'), [randn(3, 4), randn(3, 4)])
    case('embedding', lambda w, i: F.embedding(i.long(), w), [randn(5, 3), torch.tensor([[1., 4.], [1., 0.]])],
         [True, False])
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


if __name__ == '__main__':
    os.makedirs(OUT, exist_ok=True)
    write_ops()
    write_nets()
    write_random()
    write_printing()
    print('fixtures written to', os.path.normpath(OUT))
