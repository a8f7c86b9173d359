#!/usr/bin/env python3
"""The Python contender for bench/: a helper process driven by the C harness.

    peer.py spawn SIZE_MIB      subprocess.run(['/bin/true']) from a parent holding SIZE_MIB
    peer.py capture GEN BYTES   subprocess.run([GEN, BYTES], stdout=PIPE)  (communicate)
    peer.py cat BYTES           subprocess.run(['/bin/cat'], input=..., stdout=PIPE)
    peer.py rss GEN BYTES       peak RSS growth (KiB) during that capture
    peer.py echo                subprocess.run(['/bin/echo', 'hi'], stdout=PIPE)

It prints "ready" once set up, then answers each "go" line with one number measured here,
inside Python (nanoseconds, or KiB for rss), or with "error: why". EOF ends it.
"""
import subprocess
import sys
import time


def payload_ok(buf):
    # The pattern bench/gen writes: 'a' + offset % 26.
    n = len(buf)
    for i in list(range(0, n, 4093)) + ([n - 1] if n else []):
        if buf[i] != 97 + i % 26:
            return False
    return True


def rss_kib(field):
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])
    return 0


def main():
    mode = sys.argv[1]
    ballast = None
    if mode == 'spawn':
        # bytes * n is built with memset: every page is really touched.
        ballast = b'\x5a' * (int(sys.argv[2]) << 20)
    elif mode == 'cat':
        n = int(sys.argv[2])
        data = bytes(97 + i % 26 for i in range(26)) * (n // 26 + 1)
        data = data[:n]
    print('ready', flush=True)

    for line in sys.stdin:
        if line.strip() != 'go':
            break
        try:
            if mode == 'spawn':
                t0 = time.perf_counter_ns()
                r = subprocess.run(['/bin/true'])
                t1 = time.perf_counter_ns()
                ok = r.returncode == 0
            elif mode == 'capture':
                t0 = time.perf_counter_ns()
                r = subprocess.run([sys.argv[2], sys.argv[3]], stdout=subprocess.PIPE)
                t1 = time.perf_counter_ns()
                ok = r.returncode == 0 and len(r.stdout) == int(sys.argv[3]) and payload_ok(r.stdout)
                del r
            elif mode == 'cat':
                t0 = time.perf_counter_ns()
                r = subprocess.run(['/bin/cat'], input=data, stdout=subprocess.PIPE)
                t1 = time.perf_counter_ns()
                ok = r.returncode == 0 and r.stdout == data
                del r
            elif mode == 'echo':
                t0 = time.perf_counter_ns()
                r = subprocess.run(['/bin/echo', 'hi'], stdout=subprocess.PIPE)
                t1 = time.perf_counter_ns()
                ok = r.returncode == 0 and r.stdout == b'hi\n'
            elif mode == 'rss':
                with open('/proc/self/clear_refs', 'w') as f:
                    f.write('5')
                before = rss_kib('VmRSS:')
                r = subprocess.run([sys.argv[2], sys.argv[3]], stdout=subprocess.PIPE)
                ok = r.returncode == 0 and len(r.stdout) == int(sys.argv[3])
                t0, t1 = before, rss_kib('VmHWM:')
                del r
            else:
                print('error: unknown mode ' + mode, flush=True)
                return 2
        except OSError as e:
            print('error: %s' % e, flush=True)
            continue
        print(t1 - t0 if ok else 'error: wrong result', flush=True)
    del ballast
    return 0


if __name__ == '__main__':
    sys.exit(main())
