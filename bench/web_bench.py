#!/usr/bin/env python3
"""The web pages' step times in headless Chromium, in real time (not the virtual time the
tests use), through the DevTools protocol over a pipe: the hello page's step (one training
step and the forward pass for the loss it shows) and the char-RNN page's step with an RNN
of H=128 on windows T=64, B=32 — the shape of bench/run's char-RNN row.

    bench/web_bench.py [SITE]      (default build-web/site, made by ./dev.sh web)
"""
import json, os, subprocess, sys, time

site = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build-web/site")
browser = next((b for b in ("chromium", "chromium-browser", "google-chrome") if subprocess.run(
    ["sh", "-c", "command -v " + b], capture_output=True).returncode == 0), None)
if not browser:
    sys.exit("web_bench: no Chromium (apt-get install chromium)")


def evaluate_after(url, expression, seconds):
    """Opens url, waits, and returns the expression's value (CDP: NUL-separated JSON on fds 3 and 4)."""
    to_r, to_w = os.pipe()
    from_r, from_w = os.pipe()

    def child():
        os.dup2(to_r, 3)
        os.dup2(from_w, 4)
    p = subprocess.Popen([browser, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
                          "about:blank"], pass_fds=(3, 4), preexec_fn=child, stderr=subprocess.DEVNULL)
    os.close(to_r)
    os.close(from_w)
    pending = b""

    def call(i, method, params, session=None):
        nonlocal pending
        msg = {"id": i, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        os.write(to_w, json.dumps(msg).encode() + b"\0")
        while True:
            while b"\0" in pending:
                raw, pending = pending.split(b"\0", 1)
                reply = json.loads(raw)
                if reply.get("id") == i:
                    return reply["result"]
            pending += os.read(from_r, 1 << 16)
    try:
        target = call(1, "Target.createTarget", {"url": url})["targetId"]
        session = call(2, "Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        time.sleep(seconds)
        return call(3, "Runtime.evaluate", {"expression": expression}, session)["result"].get("value")
    finally:
        p.kill()


print("CPU:", next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?"))
print("Chromium:", subprocess.run([browser, "--version"], capture_output=True, text=True).stdout.strip())
rows = [("hello page step (train + shown loss)", "hello.html?autorun=20000", 15),
        ("char-RNN page step, RNN H=128 T=64 B=32", "charrnn.html?cell=rnn&hidden=128&seq=64&batch=32&autorun=49", 25)]
for name, page, wait in rows:
    got = evaluate_after("file://" + site + "/" + page, "document.body.dataset.done + ' ' + document.body.dataset.msperstep", wait)
    done, ms = (got or "? ?").split()
    print(f"{name}: {float(ms) * 1000:.1f} µs over {done} steps" if ms != "undefined" else f"{name}: did not finish in {wait} s")
