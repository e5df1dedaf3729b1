#!/usr/bin/env python3
"""docs/bptt.md's lab section, made from bptt_lab's own output so that it cannot drift.

    tools/bptt_doc.py LAB DOC            run LAB (build/examples/bptt_lab), rewrite DOC's
                                         generated blocks and docs/img/lab_*.svg
    tools/bptt_doc.py --check LAB DOC    the same run; exit 1 with a diff when DOC or a
                                         picture is not what the program makes now

Each experiment runs with its defaults, seed 0, on the AVX2 kernels and one thread
(CGRAD_NO_AVX512=1 CGRAD_THREADS=1): that path computes the same bits on every x86-64
with AVX2 and FMA, so the check holds on any such machine (elsewhere it is skipped, exit
77). The speed columns of the truncate table are timings and are not compared.
"""
import csv
import difflib
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile

EXPERIMENTS = ('flow', 'memory', 'truncate', 'clip')
PICTURES = {'flow': ['flow'], 'memory': ['memory'], 'truncate': ['truncate'], 'clip': ['clip_loss', 'clip_gradnorm']}
TIMING_COLUMNS = (2, 3)  # truncate: steps/s and chars/s


def deterministic_path_available():
    try:
        flags = open('/proc/cpuinfo').read()
    except OSError:
        return False
    return re.search(r'^flags\s*:.*\bavx2\b', flags, re.M) and re.search(r'^flags\s*:.*\bfma\b', flags, re.M)


def run_lab(lab, out):
    env = dict(os.environ, CGRAD_NO_AVX512='1', CGRAD_THREADS='1')
    printed = {}
    for e in EXPERIMENTS:
        r = subprocess.run([lab, e, '--out', out, '--seed', '0'], env=env, capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f'bptt_doc: {lab} {e} failed: {r.stderr.strip()}')
        printed[e] = r.stdout
    return printed


def series(path):
    """{series: [(x, y), ...]} from a bptt_lab CSV."""
    out = {}
    with open(path, newline='') as f:
        for row in list(csv.reader(f))[1:]:
            out.setdefault(row[0], []).append((float(row[1]), float(row[2])))
    return out


def two_digits(v):
    """5.1, 0.97, 640, 6.4e-3, 3.5e5: two significant digits, exponents where plain would be long."""
    if v == 0 or not math.isfinite(v):
        return str(v)
    e = math.floor(math.log10(abs(v)))
    if -2 <= e <= 3:
        return f'{v:.{max(0, 1 - e)}f}'
    m = v / 10 ** e
    if round(m, 1) >= 10:
        m, e = m / 10, e + 1
    return f'{m:.1f}e{e}'


def table(header, rows):
    lines = ['| ' + ' | '.join(header) + ' |', '|' + ' --- |' * len(header)]
    return lines + ['| ' + ' | '.join(r) + ' |' for r in rows]


def flow_block(out, _printed):
    s = series(os.path.join(out, 'flow.csv'))
    names = list(s)
    header = ['steps back'] + [n.replace('RNN rho=', 'ρ = ') for n in names]
    rows = []
    for back in (0, 10, 50, 99):
        rows.append([str(back)] + [two_digits(dict(s[n])[back]) for n in names])
    return table(header, rows)


def memory_block(out, _printed):
    s = series(os.path.join(out, 'memory.csv'))
    names = list(s)
    gaps = [int(x) for x, _ in s[names[0]]]
    header = ['gap'] + [n.replace('LSTM f+1', 'LSTM, forget bias 1') for n in names]
    rows = [[str(g)] + [f'{dict(s[n])[g]:.3f}' for n in names] for g in gaps]
    learnt = []
    for n in names:
        good = [int(g) for g, acc in s[n] if acc >= 0.9]
        learnt.append(f'{n} {"gap " + str(max(good)) if good else "none"}')
    return table(header, rows) + ['', '*The longest gap each learnt here (accuracy at least 0.9): ' + ', '.join(learnt) + '.*']


def truncate_block(_out, printed):
    rows = []
    for line in printed['truncate'].splitlines():
        f = line.split()
        if len(f) == 5 and f[0].isdigit():
            chunk, steps, per_s, chars_s, loss = f
            rows.append([chunk, steps, f'{float(per_s):.0f}', f'{float(chars_s) / 1000:.0f}k', f'{float(loss):.2f}'])
    return table(['chunk T', 'steps', 'steps/s', 'chars/s', 'final training loss'], rows)


def clip_block(out, _printed):
    loss, norm = series(os.path.join(out, 'clip_loss.csv')), series(os.path.join(out, 'clip_gradnorm.csv'))
    plain, clipped = loss['no clipping'], loss['clip_grad_norm 1.0']
    dead = next((int(x) for x, y in plain if not math.isfinite(y)), None)
    fate = (f'the loss is NaN by step {dead} and training is over' if dead
            else f'the loss ends at {plain[-1][1]:.3g}')
    return [f'*The first gradient has norm {norm["no clipping"][0][1]:.4g}. Unclipped, that step throws the weights '
            f'so far that {fate}; clipped, the same gradient direction with norm 1 is taken, and the loss goes '
            f'from {clipped[0][1]:.3g} to {clipped[-1][1]:.3g} in {len(clipped)} steps.*']


BLOCKS = {'flow': flow_block, 'memory': memory_block, 'truncate': truncate_block, 'clip': clip_block}


def rewrite(doc_text, out, printed):
    for e in EXPERIMENTS:
        begin = f'<!-- bptt_lab {e}: made by tools/bptt_doc.py from the program\'s output -->'
        end = f'<!-- end bptt_lab {e} -->'
        if begin not in doc_text or end not in doc_text:
            sys.exit(f'bptt_doc: the document has no block for {e} (want the lines {begin} and {end})')
        head, rest = doc_text.split(begin, 1)
        _, tail = rest.split(end, 1)
        doc_text = head + begin + '\n' + '\n'.join(BLOCKS[e](out, printed)) + '\n' + end + tail
    return doc_text


def without_timings(text):
    """The truncate table with its speed columns blanked (they are timings, not results)."""
    lines = text.split('\n')
    for i, line in enumerate(lines):
        cells = line.split(' | ')
        if line.startswith('| ') and len(cells) == 5 and cells[0][2:].isdigit():
            for c in TIMING_COLUMNS:
                cells[c] = '·'
            lines[i] = ' | '.join(cells)
    return '\n'.join(lines)


def main():
    args = sys.argv[1:]
    check = args[:1] == ['--check']
    if check:
        args = args[1:]
    if len(args) != 2:
        sys.exit(__doc__)
    lab, doc = args
    img = os.path.join(os.path.dirname(os.path.abspath(doc)), 'img')
    if not deterministic_path_available():
        print('bptt_doc: this machine has no AVX2 and FMA, the kernels the document was made with: skipped')
        sys.exit(77)
    with tempfile.TemporaryDirectory() as out:
        printed = run_lab(lab, out)
        old = open(doc, encoding='utf-8').read()
        new = rewrite(old, out, printed)
        pictures = [(os.path.join(out, p + '.svg'), os.path.join(img, 'lab_' + p + '.svg'))
                    for e in EXPERIMENTS for p in PICTURES[e]]
        if not check:
            open(doc, 'w', encoding='utf-8').write(new)
            for made, kept in pictures:
                shutil.copyfile(made, kept)
            print(f'bptt_doc: {doc} and {len(pictures)} pictures in {img} rewritten')
            return
        stale = [kept for made, kept in pictures
                 if not os.path.exists(kept) or open(made, 'rb').read() != open(kept, 'rb').read()]
        if without_timings(new) != without_timings(old) or stale:
            sys.stdout.writelines(difflib.unified_diff(without_timings(old).splitlines(True),
                                                       without_timings(new).splitlines(True), doc, 'bptt_lab'))
            for kept in stale:
                print(f'bptt_doc: {kept} is not the picture bptt_lab draws now')
            print('bptt_doc: run tools/bptt_doc.py build/examples/bptt_lab docs/bptt.md and commit the result')
            sys.exit(1)
        print(f'bptt_doc: {doc} and {len(pictures)} pictures are what bptt_lab prints and draws')


if __name__ == '__main__':
    main()
