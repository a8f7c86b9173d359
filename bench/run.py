#!/usr/bin/env python3
"""Runs the benchmark programs built in BUILD and writes the report.

    run.py --build ../build/bench [--quick] [--command "make bench"]

Full mode writes docs/BENCHMARKS.md, docs/bench-spawn.png and docs/bench-throughput.png;
--quick writes them under BUILD
instead (so a quick run never replaces the committed results) and finishes in under a minute.
Either way it prints one line per comparison: `NAME ratio=R`, subproc's median divided by the
best other contender's median (raw syscall loops included), below 1 when subproc is faster;
`ratio=pending` while subproc's side of it is not written yet.

Sizes can be overridden: SPAWN_SIZES="10 1024 4096" (MiB), CAPTURE_BYTES, CAT_BYTES,
PIPE_BYTES, POOL_JOBS="2 64", POOL_N, REUSE_BYTES, TEE_BYTES, THREADS="1 2 4 8", THREAD_SPAWNS, PAR_N,
PAR_RSS_BYTES, PAR_REMOTE_N.

Adding a comparison (a new bench program or a new mode of one): run it in main() next to the
others with run(); its rows then appear in the summary and get a table under TITLES[name]; a
target it must meet goes in targets(), and what limits it, when missed, in LIMITS.
"""
import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MiB = 1 << 20

FULL = dict(spawn_sizes=[10, 256, 1024, 4096], capture=1024 * MiB, cat=256 * MiB,
            pipe=1024 * MiB, pool_jobs=[2, 64], pool_n=5000, rss=1024 * MiB, pty=64 * MiB,
            reuse=256 * MiB, tee=1024 * MiB, threads=[1, 2, 4, 8], thread_spawns=200,
            # GNU parallel takes seconds per thousand jobs: a warm-up and two rounds.
            par_n=10000, par_rss=100 * 1000 * 1000, par_rounds=('-m', '2', '-r', '3', '-t', '60'),
            # GNU parallel takes about 0.2 s per remote job here: one round of 1,000.
            par_remote_n=1000, par_remote_rounds=('-m', '1', '-r', '1', '-t', '1'),
            rounds=('-m', '5', '-r', '200', '-t', '15'), io_rounds=('-m', '5', '-r', '30', '-t', '30'),
            # Capture and the pipeline move 1 GiB per run and vary most between rounds: more rounds.
            long_rounds=('-m', '15', '-r', '40', '-t', '100'))
QUICK = dict(spawn_sizes=[10, 2048], capture=128 * MiB, cat=32 * MiB, pipe=128 * MiB,
             pool_jobs=[2, 64], pool_n=200, rss=128 * MiB, pty=16 * MiB,
             reuse=64 * MiB, tee=128 * MiB, threads=[1, 2, 4, 8], thread_spawns=20,
             par_n=1000, par_rss=25 * 1000 * 1000, par_rounds=('-m', '1', '-r', '1', '-t', '1'),
             par_remote_n=40, par_remote_rounds=('-m', '1', '-r', '1', '-t', '1'),
             rounds=('-m', '3', '-r', '40', '-t', '1.5'), io_rounds=('-m', '3', '-r', '5', '-t', '2'),
             long_rounds=('-m', '3', '-r', '5', '-t', '2'))

TITLES = {
    'spawn': 'Spawn + wait of /bin/true, by parent memory (touched)',
    'spawn-vfork': 'The same, without fork-based contenders in the rounds (caches not evicted by '
                   'forks), with the other languages\' standard spawners',
    'spawn-static': 'Spawn + wait of a static no-op program: the spawn itself, against the fewest '
                    'system calls that can do it',
    'threads': 'Spawns from many threads at once: a static no-op, N threads each spawning and '
               'waiting in a loop (whole batch; spawns/s = spawns / median)',
    'echo': 'Run and capture: `/bin/echo hi`, its output captured',
    'capture': 'Capture all of a child\'s stdout into memory',
    'capture-reuse': 'Capture again and again: the same capture repeated, into memory kept from '
                     'the last one where the contender can (steady state: every run after the '
                     'warm-up is at least the 2nd)',
    'tee': 'Capture and tee to a file (/dev/shm) at once',
    'forward': 'Pass output on to a file (/dev/shm) without keeping it (splice where the kernel '
               'allows)',
    'cat': 'Through /bin/cat: stdin written while stdout is read',
    'pipeline': '3-stage /bin/cat pipeline, drained by the parent',
    'pool': '/bin/true through a pool, whole batch',
    'rss': 'Peak parent RSS growth while capturing with a 1 MiB limit (KiB, lower is better)',
    'pty': 'Capture all of a child\'s output through a pseudo-terminal',
    'par': 'Command-line job runners: /bin/echo once per input line, whole batch',
    'par-remote': 'Job runners over two hosts (sshd on 127.0.0.2 and 127.0.0.3, logged in as a user '
                  'whose login shell is /bin/sh): /bin/echo once per input line, whole batch',
    'par-rss': 'Peak RSS of the job runner while four jobs write at once, output grouped (KiB, lower is better)',
}


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()
    except OSError:
        return ''


def machine():
    cpu = ''
    try:
        with open('/proc/cpuinfo') as f:
            cpu = next((l.split(':', 1)[1].strip() for l in f if l.startswith('model name')), '')
    except OSError:
        pass
    mem = sh("awk '/MemTotal/ {printf \"%.1f GiB\", $2/1048576}' /proc/meminfo")
    thp = sh('cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null')
    return [('nproc', str(os.cpu_count())), ('CPU', cpu), ('memory', mem),
            ('kernel', ' '.join(platform.uname()[i] for i in (0, 2, 4))),
            ('libc', sh('getconf GNU_LIBC_VERSION') or sh('ldd --version 2>&1 | head -1')),
            ('compiler', sh('${CC:-cc} --version | head -1')),
            ('transparent hugepages', thp or 'unknown'),
            ('load average at start', ' '.join('%.2f' % x for x in os.getloadavg())),
            ('peers', '; '.join(filter(None, [
                'python3 ' + platform.python_version(),
                'glib ' + sh('pkg-config --modversion glib-2.0 2>/dev/null'),
                'libuv ' + sh('pkg-config --modversion libuv 2>/dev/null'),
                'libpipeline ' + sh('pkg-config --modversion libpipeline 2>/dev/null'),
                sh('parallel --version 2>/dev/null | head -1'),
                sh('go version 2>/dev/null'), sh('rustc --version 2>/dev/null')]))),
            ('subproc', sh('git -C %s describe --always --dirty 2>/dev/null' % ROOT))]


LOADS = []  # the 1-minute load average before and after every program


def run(build, args, notes, prefix=()):
    LOADS.append(os.getloadavg()[0])
    cmd = list(prefix) + [os.path.join(build, args[0])] + list(args[1:])
    sys.stderr.write('bench: %s\n' % ' '.join(args))
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=build)
    LOADS.append(os.getloadavg()[0])
    if p.returncode != 0:
        notes.append('`%s` failed (exit %d): %s' % (' '.join(args), p.returncode, p.stderr.strip()[:300]))
    rows = []
    for line in p.stdout.splitlines():
        f = line.split('\t')
        if len(f) != 8 or f[0] != 'result':
            continue
        vals = [int(v) for v in f[7].split(',') if v]
        rows.append(dict(cmp=f[1], param=f[2], name=f[3], kind=f[4], unit=f[5], status=f[6], v=vals))
    return rows


def p90(v):
    s = sorted(v)
    return s[min(len(s) - 1, int(round(0.9 * (len(s) - 1))))]


def fmt(x, unit):
    if unit == 'KiB':
        return '%d KiB' % x if x < 10240 else '%.1f MiB' % (x / 1024)
    if x >= 1e9:
        return '%.2f s' % (x / 1e9)
    if x >= 1e6:
        return '%.1f ms' % (x / 1e6)
    return '%.0f µs' % (x / 1e3)


def groups(rows):
    out = {}
    for r in rows:
        if r['status'] == 'ok' and r['v']:
            r['median'] = statistics.median(r['v'])
            r['p90'] = p90(r['v'])
        out.setdefault((r['cmp'], r['param']), []).append(r)
    return out


def ratio(group):
    """subproc's median / the best other median, or a word saying why there is none."""
    sp = next((r for r in group if r['kind'] == 'subproc'), None)
    others = [r['median'] for r in group if r['kind'] not in ('subproc', 'variant') and 'median' in r]
    if sp is None or sp['status'] == 'pending':
        return 'pending'
    if 'median' not in sp:
        return 'error'
    if not others:
        return 'n/a'
    best = min(others)
    return '%.3f' % (sp['median'] / best) if best > 0 else 'n/a'


def plot(rows, out_png, notes):
    spawn = [r for r in rows if r['cmp'] == 'spawn' and 'median' in r]
    if not spawn:
        return False
    if not shutil.which('gnuplot'):
        notes.append('gnuplot not installed: no plot.')
        return False
    names = []
    for r in spawn:
        if r['name'] not in names:
            names.append(r['name'])
    dat = out_png[:-4] + '.dat'
    with open(dat, 'w') as f:
        for n in names:
            f.write('# %s\n' % n)
            for r in spawn:
                if r['name'] == n:
                    mib = int(r['param'][:-3]) * (1024 if r['param'].endswith('GiB') else 1)
                    f.write('%d %f\n' % (mib, r['median'] / 1e3))
            f.write('\n\n')
    script = ['set terminal png size 900,560 noenhanced', "set output '%s'" % out_png,
              "set title 'spawn + wait of /bin/true (median)'", 'set logscale xy',
              "set xlabel 'parent memory, MiB (touched)'", "set ylabel 'µs'",
              'set key outside right', 'set grid']
    script.append('plot ' + ', '.join("'%s' index %d with linespoints title '%s'" % (dat, i, n.replace("'", ''))
                                       for i, n in enumerate(names)))
    p = subprocess.run(['gnuplot'], input='\n'.join(script) + '\n', text=True, capture_output=True)
    os.unlink(dat)
    if p.returncode != 0:
        notes.append('gnuplot failed: ' + p.stderr.strip()[:200])
        return False
    return True


def size_bytes(param):
    """'256MiB' or '1GiB' -> bytes; None for other parameters."""
    for suffix, mult in (('GiB', 1 << 30), ('MiB', 1 << 20)):
        if param.endswith(suffix) and param[:-3].isdigit():
            return int(param[:-3]) * mult
    return None


def thread_param(param):
    """'T=4, 800 spawns' -> (4, 800)."""
    try:
        t, n = param.split(', ')
        return int(t[2:]), int(n.split()[0])
    except ValueError:
        return None


def plot_throughput(rows, out_png, notes):
    """Second plot: spawns/s against threads, and capture throughput per contender."""
    thr = [r for r in rows if r['cmp'] == 'threads' and 'median' in r and thread_param(r['param'])]
    cap = [r for r in rows if r['cmp'] in ('capture', 'capture-reuse') and 'median' in r
           and size_bytes(r['param'])]
    if not thr and not cap:
        return False
    if not shutil.which('gnuplot'):
        return False
    base = out_png[:-4]
    script = ['set terminal png size 1000,1100 noenhanced', "set output '%s'" % out_png,
              'set multiplot layout 2,1', 'set grid']
    names = []
    for r in thr:
        if r['name'] not in names:
            names.append(r['name'])
    with open(base + '-t.dat', 'w') as f:
        for n in names:
            f.write('# %s\n' % n)
            for r in thr:
                if r['name'] == n:
                    t, total = thread_param(r['param'])
                    f.write('%d %f\n' % (t, total / (r['median'] / 1e9)))
            f.write('\n\n')
    script += ["set title 'spawn + wait of a static no-op from N threads at once (median batch)'",
               "set xlabel 'threads'", "set ylabel 'spawns per second'", 'set logscale x 2',
               'set xtics (1, 2, 4, 8, 16, 32, 64)', 'set xrange [0.8:%g]' % (max(
                   [thread_param(r['param'])[0] for r in thr] or [8]) * 1.25),
               'set yrange [0:*]', 'set key top left']
    script.append('plot ' + ', '.join("'%s' index %d with linespoints lw 2 title '%s'"
                                       % (base + '-t.dat', i, n.replace("'", ''))
                                       for i, n in enumerate(names)) if names else 'plot 0 notitle')
    with open(base + '-c.dat', 'w') as f:
        for r in cap:
            f.write('"%s [%s %s]" %f %d\n' % (r['name'].replace('"', ''), r['cmp'], r['param'],
                                             size_bytes(r['param']) / MiB / (r['median'] / 1e9),
                                             1 if r['kind'] in ('subproc', 'variant') else 2))
    script += ['unset logscale x', 'set xtics auto', 'set autoscale x',
               "set title 'capture throughput (median; subproc purple)'",
               "set ylabel 'MiB/s'", "set xlabel ''", 'set style fill solid 0.6', 'set boxwidth 0.7',
               'set xtics rotate by 40 right font ",8"', 'set bmargin 16', 'set lmargin 16',
               'set yrange [0:*]',
               "plot '%s' using 0:2:3:xtic(1) with boxes lc variable notitle" % (base + '-c.dat'),
               'unset multiplot']
    p = subprocess.run(['gnuplot'], input='\n'.join(script) + '\n', text=True, capture_output=True)
    for x in ('-t.dat', '-c.dat'):
        os.unlink(base + x)
    if p.returncode != 0:
        notes.append('gnuplot failed (throughput): ' + p.stderr.strip()[:200])
        return False
    return True


def targets(g):
    """The targets, checked against this run where both sides have numbers."""
    out = []

    def med(cmp, param, name):
        r = next((r for r in g.get((cmp, param), []) if r['name'] == name), None)
        return r.get('median') if r else None

    def wins(cmp, param, name):
        """' (subproc faster in k of n rounds)': runs with the same index share a round."""
        grp = g.get((cmp, param), [])
        a = next((r['v'] for r in grp if r['kind'] == 'subproc' and r['status'] == 'ok'), None)
        b = next((r['v'] for r in grp if r['name'] == name and r['status'] == 'ok'), None)
        if not a or not b or len(a) != len(b):
            return ''
        return ' (subproc faster in %d of %d rounds)' % (sum(x < y for x, y in zip(a, b)), len(a))

    spawn_params = sorted({p for (c, p) in g if c == 'spawn'}, key=lambda p: int(p[:-3]) * (1024 if p.endswith('GiB') else 1))
    for p in spawn_params:
        sp, raw = med('spawn', p, 'subproc'), med('spawn', p, 'posix_spawn')
        if sp and raw:
            out.append(('spawn %s: within 1.10x of raw posix_spawn' % p, sp / raw, sp / raw <= 1.10))
        sp, raw = med('spawn-vfork', p, 'subproc'), med('spawn-vfork', p, 'posix_spawn')
        if sp and raw:
            out.append(('spawn %s, no fork-based contenders in the rounds: within 1.10x of raw '
                        'posix_spawn' % p, sp / raw, sp / raw <= 1.10))
        ct = med('spawn-vfork', p, 'subproc contained')
        if sp and ct:
            out.append(('contained spawn %s: in a cgroup of its own within 1.3x of plain spawn'
                        % p, ct / sp, ct / sp <= 1.3))
    if spawn_params:
        lo, hi = spawn_params[0], spawn_params[-1]
        sp = med('spawn', hi, 'subproc')
        for r in g[('spawn', hi)]:
            small = med('spawn', lo, r['name'])
            # "Fork-based" is read from the numbers: cost that grows 5x with parent memory.
            if r['kind'] != 'subproc' and 'median' in r and small and r['median'] > 5 * small and sp:
                x = r['median'] / sp
                out.append(('spawn %s: at least 50x faster than %s (fork-based)' % (hi, r['name']), x, x >= 50))
    for (c, p), grp in sorted(g.items()):
        if c == 'spawn-static':
            sp = med(c, p, 'subproc')
            raw = med(c, p, 'clone3(CLONE_VM|CLONE_VFORK)+execve+waitid')
            if sp and raw:
                out.append(('spawn-static: within 1.05x of raw clone3(CLONE_VM|CLONE_VFORK)+execve+'
                            'waitid%s' % wins(c, p, 'clone3(CLONE_VM|CLONE_VFORK)+execve+waitid'),
                            sp / raw, sp / raw <= 1.05))
            continue
        if c == 'capture-reuse':
            sp = med(c, p, 'subproc, subproc_buffers (reused)')
            fresh = med(c, p, 'subproc, fresh memory (one-shot)')
            if sp and fresh:
                out.append(('capture-reuse %s: reused memory at least 1.5x faster than a fresh '
                            'buffer' % p, fresh / sp, fresh / sp >= 1.5))
            for r in grp:
                if r['name'].startswith('go ') and 'median' in r and sp:
                    out.append(('capture-reuse %s: ahead of %s%s' % (p, r['name'], wins(c, p, r['name'])),
                                sp / r['median'], sp < r['median']))
            continue
        if c == 'tee':
            sp = med(c, p, 'subproc')
            for r in grp:
                if 'coreutils tee' in r['name'] and 'median' in r and sp:
                    x = r['median'] / sp
                    out.append(('tee %s: at least 1.5x as fast as %s%s' % (p, r['name'], wins(c, p, r['name'])),
                                x, x >= 1.5))
            continue
        sp = med(c, p, 'subproc')
        if not sp:
            continue
        peers = [r for r in grp if r['kind'] == 'peer' and 'median' in r]
        if c == 'capture':
            raw64, raw1m = med(c, p, 'raw read, 64 KiB pipe'), med(c, p, 'raw read, 1 MiB pipe')
            if raw64:
                x = raw64 / sp
                out.append(('capture %s: at least 2x as fast as the raw 64 KiB-pipe loop%s'
                            % (p, wins(c, p, 'raw read, 64 KiB pipe')), x, x >= 2))
            if raw1m:
                out.append(('capture %s: within 1.10x of the raw 1 MiB-pipe loop' % p, sp / raw1m, sp / raw1m <= 1.10))
            for r in peers:
                out.append(('capture %s: ahead of %s%s' % (p, r['name'], wins(c, p, r['name'])),
                            sp / r['median'], sp < r['median']))
        elif c == 'pipeline':
            bash = next((r for r in peers if r['name'].startswith('bash')), None)
            if bash:
                out.append(('pipeline %s: at least as fast as bash%s' % (p, wins(c, p, bash['name'])),
                            sp / bash['median'], sp <= bash['median']))
        elif c == 'pool':
            raw = med(c, p, 'raw posix_spawn+pidfd+epoll')
            if raw:
                out.append(('pool %s: within 1.05x of the raw loop' % p, sp / raw, sp / raw <= 1.05))
            xargs = next((r for r in peers if r['name'].startswith('xargs')), None)
            if xargs:
                out.append(('pool %s: ahead of xargs -P' % p, sp / xargs['median'], sp < xargs['median']))
    return out


# What limits subproc where a target of that kind is missed: measured on the machine the results
# in docs/ come from (see the commit messages of the perf branch for the numbers).
LIMITS = {
    'spawn': 'Whatever runs right after a fork of a big parent is slower: the fork copied the page '
             'tables and write-protected every private page, and the exec that follows frees it all '
             'again, leaving caches cold. subproc does a few steps more than glibc\'s posix_spawn (a '
             'pidfd from CLONE_PIDFD, close_range() in the child, a wait on the pidfd before the '
             'reap; its signal handlers are reset by the kernel, CLONE_CLEAR_SIGHAND, where glibc '
             'scans all 64 in the child), and those cost several times more in that state (on a '
             'bare clone, warm then after a fork, measured before CLONE_CLEAR_SIGHAND was used: '
             'CLONE_PIDFD 1 then 31 us, close_range 1 then 12 us, the signal scan 9 then 27 us). '
             'The harness therefore runs the contenders in a '
             'new random order every round; with the earlier fixed cyclic order subproc always ran '
             'right after a fork-based peer and posix_spawn almost never did, which measured '
             '1.11-1.37x. The "no fork-based contenders in the rounds" rows measure the two '
             'without any carry-over.',
    'contained': 'Most of the difference is the kernel\'s work on the cgroup itself, which no '
                 'caller can skip: measured with bare system calls (1,000 rounds, medians), '
                 'mkdir of the cgroup and opening it take 58 us, clone3 with CLONE_INTO_CGROUP 28 '
                 'us more than without, and the rmdir after the exit 31 us, 117 us together; '
                 'subproc\'s contained spawn, wait and free cost 175-180 us more than the plain '
                 'ones (spawn 96 against 239 us, free 4 against 39 us, same run). Against a plain '
                 'spawn of 560-640 us that lands at 1.27-1.31x. Reusing cgroups between spawns '
                 'would save the mkdir and rmdir, but a reused cgroup carries its counters '
                 '(cpu.stat) and, when the process dies, would outlive it.',
    'capture': 'The parent, not the pipe, sets the pace, and most of its time is the kernel\'s: every '
               'fresh 4 KiB page of the capture buffer costs a page fault (zeroing and a '
               'memory-cgroup charge); on this machine faulting in 1 GiB of new memory takes '
               '0.27-0.37 s even in 1 MiB batches (MADV_POPULATE_WRITE), 0.42-0.54 s one page at a '
               'time. subproc takes those faults just before each read, 1 MiB ahead, outside the '
               'pipe\'s mutex (src/io.c, prefault()); before that, each fault happened inside '
               'pipe_read() with the mutex held and the writer waited for it (subproc was then '
               '1.10x the raw 64 KiB loop, and libpipeline, which reads into a reused buffer and '
               'copies out afterwards, was ahead). What is left is the faults plus the two copies, '
               'which still take turns on the pipe\'s mutex: a profile of a 1 GiB capture shows the '
               'parent\'s copy-out 13%, the child\'s copy-in 9%, fault work ~15%, and a CPU idle ~24% '
               'of the time. Tried: huge pages for the buffer (MADV_HUGEPAGE, which would make the '
               'faults ~2x cheaper: 0.17 s per GiB when touched alone) were 2.1-2.5x slower in the '
               'capture; pipes of 256 KiB or 4 MiB and reads of 256 KiB were no faster (4 MiB: 1.7x '
               'slower). libuv and subproc are close (last two full runs: 1.01x with subproc faster in '
               '5 of 15 rounds, 1.11x with 7 of 15); libuv is ahead when it is because its '
               'UV_CREATE_PIPE is not a pipe: it '
               'connects the child\'s stdout with socketpair(AF_UNIX, SOCK_STREAM) (seen with '
               'strace); a stream socket lets the two copies overlap (a 1 GiB socket transfer ~650 ms '
               'against ~920-1050 ms for a plain pipe loop on this kernel). subproc keeps real pipes '
               'by default: a socket as stdout breaks programs that open /dev/stdout or '
               '/proc/self/fd/1 (ENXIO), which Python\'s subprocess users never see either. '
               'The socket is there for those who want it: stdio kind SUBPROC_IO_SOCKET, the '
               '"variant" row of the capture table (a 12-round check before this run: 641 ms, '
               'against libuv 756 ms and the raw 64 KiB loop 1.14 s, i.e. 1.78x that loop).',
    'pipeline': 'Once started, subproc\'s, the raw and bash\'s pipelines are the same four processes '
                '(gen and three cats) joined by the same default 64 KiB pipes, on 2 CPUs: the time '
                'is the kernel\'s scheduling of those processes, and the spread between rounds is '
                'larger than any difference in the few spawns at the start. Larger pipes between '
                'the stages do not help (a standalone check, 6 rounds: 64 KiB 0.69-0.81 s, 256 KiB '
                '0.70-0.91 s, 1 MiB 0.77-0.90 s, bash 0.65-0.81 s), so subproc keeps the default. '
                'Round by round it is a coin toss: in the last three full runs subproc was faster '
                'than bash in 20 of 33 rounds (median 0.99x), 15 of 35 (1.02x) and 19 of 30 '
                '(1.003x).',
    'spawn-static': 'The raw baseline does three system calls (clone3, execve in the child, '
                    'waitid). subproc does what a spawn must to be safe in a program it does not '
                    'own, with as few system calls as that allows: the child does not query the 64 '
                    'signal dispositions where the kernel resets the caught handlers (clone3 with '
                    'CLONE_CLEAR_SIGHAND, Linux 5.5, ignored ones staying ignored; the child\'s '
                    'own scan is left to other architectures, older kernels, the fork backend and '
                    'SUBPROC_RESET_SIGNALS), a blocking wait sleeps and reaps in two waitid calls '
                    'on the pidfd (not poll, waitid and wait4), and with no fd moves the child '
                    'closes stray fds once, not twice. Those three changes, measured with '
                    '`bench_threads NOOP 0` alone, 3,000 interleaved rounds per run, the library '
                    'before and after them in alternate runs (load average 2.3-2.6 on 2 CPUs): '
                    'before 1.29-1.33x (median of 12 runs 1.32x), after 1.14-1.17x (median of 6 '
                    'runs 1.15x; subproc 180-194 us, raw 155-170 us, and 0.82-0.83x of '
                    'posix_spawn). Each change alone: the kernel\'s reset 1.31x to 1.17x, the wait '
                    'and the single close about 1% each. What is left, about 23 us, measured apart '
                    'in bare clone3 loops pinned to one CPU: the pidfd about 9 us (CLONE_PIDFD '
                    'adds 4.6-5.5 us to the clone, closing it 3.3-4.1 us; pidfd_open costs the '
                    'same), the handle itself, which makes signalling and waiting race-free; the '
                    'child\'s one close_range about 3.5 us even with nothing to close, which keeps '
                    'the parent\'s fds (and ETXTBSY) away from the program; blocking every signal '
                    'around the clone 1.1-1.5 us, and the child\'s look for pending job-control '
                    'stops plus its mask restore about 1 us, which keep a stop or the caller\'s '
                    'handlers out of the setup; the second waitid 0.5-1.5 us, since the reap stays '
                    'under the handle\'s lock (one waitid that sleeps and reaps would consume a '
                    'ptrace stop when the caller is the tracer, and a signal by number must find '
                    'the child unreaped). Pinned to one CPU, subproc\'s spawn call costs what the '
                    'raw loop with those system calls added costs (86 against 90 us; the parent\'s '
                    'own preparation makes no system call and does not show in a profile); the '
                    'remaining few microseconds are not CPU work (a profile shows more idle time, '
                    'not more work). So 1.05x cannot be had without giving up the pidfd or the '
                    'early close.',
    'capture-reuse': 'With the buffer\'s pages kept, what is left is the two copies (child into the '
                     'pipe, pipe into the buffer), which take turns on the pipe\'s mutex: the raw '
                     'loop into a reused buffer is that floor.',
    'tee': 'The parent does all of it in one thread: it faults in the capture buffer, copies the '
           'pipe into it, and writes every byte to the file, whose page-cache pages are new too; '
           'gen | tee spreads the same work over three processes on 2 CPUs (an extra copy, but in '
           'parallel). Moving the file\'s copy into the kernel does not help: capturing 128 MiB '
           'and 256 MiB while writing them to a tmpfs file took 574 and 848 ms with read+write, '
           '539 and 874 ms with tee(2) into a second pipe, read and splice (medians of 14 and 8 '
           'interleaved runs), the same within the noise. Huge pages for the capture buffer '
           '(MADV_HUGEPAGE) make filling 1 GiB of new memory 0.9 s -> 0.2 s when the buffer is '
           'mapped once, but a growing malloc buffer moves (realloc\'s mremap), which splits '
           'them: 0.9 s more in the reallocs, and the tee was twice as slow. A second thread '
           'writing the file behind the reader measured 1.0-1.5 s against coreutils\' 2.2-2.9 s '
           'in a standalone loop, but the library starts no threads of its own, and the buffer '
           'it would write from moves as it grows.',
    'pool': 'Per job the pool makes the same system calls as the raw loop (a clone that returns '
            'the pidfd where the raw loop calls pidfd_open, epoll_ctl add and delete, one reap, '
            'close; about 8 in the parent), and shares the epoll_wait wake-ups; the run time is '
            'that of 5,000 spawns and exits, so the ratio moves with the machine\'s noise more '
            'than with the loop.',
}


def cell(text):
    return text.replace('|', '\\|')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--build', required=True)
    ap.add_argument('--quick', action='store_true')
    ap.add_argument('--command', default='make bench')
    ap.add_argument('--note', action='append', default=[],
                    help='a note for the report (e.g. on the machine\'s state), may be repeated')
    ap.add_argument('--replay', help='write the report again from the rows.json of an earlier run '
                    '(same numbers; for a change to the report\'s text only)')
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    cfg = dict(QUICK if a.quick else FULL)
    env = os.environ
    if env.get('SPAWN_SIZES'):
        cfg['spawn_sizes'] = [int(x) for x in env['SPAWN_SIZES'].split()]
    for k, e in (('capture', 'CAPTURE_BYTES'), ('cat', 'CAT_BYTES'), ('pipe', 'PIPE_BYTES'), ('pool_n', 'POOL_N'),
                 ('reuse', 'REUSE_BYTES'), ('tee', 'TEE_BYTES'), ('thread_spawns', 'THREAD_SPAWNS'),
                 ('par_n', 'PAR_N'), ('par_rss', 'PAR_RSS_BYTES'), ('par_remote_n', 'PAR_REMOTE_N')):
        if env.get(e):
            cfg[k] = int(env[e])
    if env.get('POOL_JOBS'):
        cfg['pool_jobs'] = [int(x) for x in env['POOL_JOBS'].split()]
    if env.get('THREADS'):
        cfg['threads'] = [int(x) for x in env['THREADS'].split()]

    if a.replay:
        with open(a.replay) as f:
            saved = json.load(f)
        rows, notes, info, took, LOADS[:] = (saved['rows'], saved['notes'], [tuple(kv) for kv in saved['info']],
                                             saved['took'], saved['loads'])
        started = datetime.datetime.fromisoformat(saved['started'])
    else:
        rows, notes, info, started, took = measure(build, cfg)
        with open(os.path.join(build, 'rows.json'), 'w') as f:
            json.dump(dict(rows=rows, notes=notes, info=info, took=took, loads=LOADS,
                           started=started.isoformat()), f)
    report(a, build, cfg, rows, notes + a.note, info, started, took)
    return 0


def measure(build, cfg):
    """Runs every benchmark program; returns rows, notes, machine info, start time, seconds."""
    notes = []
    try:
        with open(os.path.join(build, 'deps.txt')) as f:
            notes += [l.strip() for l in f if l.strip()]
    except OSError:
        pass
    info = machine()
    started = datetime.datetime.now(datetime.timezone.utc)

    # The spawn comparison holds the memory in up to four processes at once: the harness,
    # the Python helper, and the isolated libuv and libpipeline helpers (or, in the rounds
    # without fork-based contenders, the Go and Rust helpers).
    avail = int(sh("awk '/MemAvailable/ {print $2}' /proc/meminfo") or 0) // 1024
    sizes = []
    for s in cfg['spawn_sizes']:
        if s * 4 + 512 > avail:
            notes.append('spawn at %d MiB skipped: needs about %d MiB free, %d available.' % (s, s * 4 + 512, avail))
        else:
            sizes.append(s)

    gen, peer = os.path.join(build, 'gen'), os.path.join(HERE, 'peer.py')
    common = ['-g', gen, '-p', peer]
    rows = []
    if sizes:
        rows += run(build, ['bench_spawn', *cfg['rounds'], *common] + [str(s) for s in sizes], notes)
    io = ['bench_io', *cfg['io_rounds'], *common]
    io_long = ['bench_io', *cfg['long_rounds'], *common]
    rows += run(build, io_long + ['capture', str(cfg['capture'])], notes)
    rows += run(build, io + ['cat', str(cfg['cat'])], notes)
    rows += run(build, io_long + ['pipeline', str(cfg['pipe'])], notes)
    for j in cfg['pool_jobs']:
        rows += run(build, ['bench_pool', *cfg['io_rounds'], str(j), str(cfg['pool_n'])], notes)
    rows += run(build, io + ['rss', str(cfg['rss']), str(MiB)], notes)
    rows += run(build, io_long + ['capture-reuse', str(cfg['reuse'])], notes)
    rows += run(build, io + ['tee', str(cfg['tee'])], notes)
    rows += run(build, io + ['forward', str(cfg['tee'])], notes)
    rows += run(build, ['bench_io', *cfg['rounds'], *common, 'echo', '0'], notes)
    noop = os.path.join(build, 'noop')
    rows += run(build, ['bench_threads', *cfg['rounds'], noop, '0'], notes)
    rows += run(build, ['bench_threads', *cfg['io_rounds'], noop, str(cfg['thread_spawns'])]
                + [str(t) for t in cfg['threads']], notes)
    rows += run(build, io + ['pty', str(cfg['pty'])], notes)
    subproc_bin = os.path.join(os.path.dirname(build), 'subproc')
    rows += run(build, ['bench_par', *cfg['par_rounds'], subproc_bin, 'echo', str(cfg['par_n']),
                        str(os.cpu_count() or 1)], notes)
    rows += run(build, ['bench_par', *cfg['par_rounds'], '-g', gen, subproc_bin, 'rss',
                        str(cfg['par_rss'])], notes)
    # The same over two loopback sshd servers, which remote.sh starts (and stops) around it.
    if os.path.exists('/usr/sbin/sshd'):
        rows += run(build, ['bench_par', *cfg['par_remote_rounds'], subproc_bin, 'remote',
                            str(cfg['par_remote_n']), '2', '@SSH@', '@HOSTS@'], notes,
                    prefix=('sh', os.path.join(HERE, 'remote.sh'), os.path.dirname(build), '-', '--exec'))
    else:
        notes.append('par-remote skipped: sshd is not installed (openssh-server).')
    took = (datetime.datetime.now(datetime.timezone.utc) - started).total_seconds()
    info.insert(info.index(next(kv for kv in info if kv[0] == 'load average at start')) + 1,
                ('load average at end', ' '.join('%.2f' % x for x in os.getloadavg())))
    return rows, notes, info, started, took


def report(a, build, cfg, rows, notes, info, started, took):
    """Prints the ratios and writes the markdown and the plots."""
    g = groups(rows)
    summary = []
    for (cmp, param), grp in g.items():
        name = '%s[%s]' % (cmp, param.replace(' ', ''))
        summary.append((name, ratio(grp)))
        print('%s ratio=%s' % (name, summary[-1][1]))

    docs = build if a.quick else os.path.join(ROOT, 'docs')
    os.makedirs(docs, exist_ok=True)
    png = os.path.join(docs, 'bench-spawn.png')
    have_plot = plot(rows, png, notes)
    png2 = os.path.join(docs, 'bench-throughput.png')
    have_plot2 = plot_throughput(rows, png2, notes)

    md = ['# Benchmarks', '']
    md.append('Generated by `%s` (bench/run.py) on %s, in %.0f s.%s' % (
        a.command, started.strftime('%Y-%m-%d %H:%M UTC'), took,
        ' **Quick mode: small sizes and few rounds; not for quoting.**' if a.quick else ''))
    md += ['', 'Each comparison runs its contenders in rounds (one run each per round, in a new '
           'random order every round, seeded so that a run can be replayed), after one untimed '
           'warm-up run each, so drift on the machine hits them alike and no contender always '
           'follows the same neighbour (a fork of a big parent slows whatever runs right after '
           'it). '
           'Every run checks its result (exit status, byte count, byte pattern); a contender that '
           'got it wrong shows "error", never a number. Tables give the median and the 90th '
           'percentile of all rounds. **Ratio** is subproc\'s median divided by that row\'s median '
           '(below 1: subproc is faster). "pending" marks a subproc API not written yet. Rows of '
           'kind "variant" are subproc with a non-default, opt-in setting: shown for comparison, '
           'never counted as the best other contender nor checked against a target.',
           '', 'Python runs in a helper process of its own holding the same memory and measures '
           'inside Python; Go (os/exec) and Rust (std::process::Command, no crates) likewise, '
           'each a long-running process built by the bench (bench/peer.go, bench/peer.rs); '
           'libuv, libpipeline and GSubprocess run in helper processes too, because '
           'they install SIGCHLD handlers (libpipeline\'s reaps every child of the process).', '',
           '## Machine', '', '| | |', '|---|---|']
    md += ['| %s | %s |' % kv for kv in info]
    md += ['', '## Summary: subproc ÷ best other contender', '', '| comparison | ratio |', '|---|---|']
    md += ['| %s | %s |' % s for s in summary]
    t = targets(g)
    if t:
        md += ['', '## Targets', '', '| target | measured | met |', '|---|---|---|']
        md += ['| %s | %.2fx | %s |' % (n, x, 'yes' if ok else '**no**') for n, x, ok in t]
        missed = [k for k in LIMITS if any(not ok and n.split(':')[0].split(' ')[0] == k for n, x, ok in t)]
        if missed:
            md += ['', 'Ratios are subproc\'s median over the other\'s, except "at least Nx faster/as '
                   'fast", which is the other\'s over subproc\'s. Where a target is missed, what '
                   'limits it:', '']
            md += ['- **%s**: %s' % (k, LIMITS[k]) for k in missed]
    if have_plot:
        md += ['', '![spawn latency against parent memory](bench-spawn.png)']
    if have_plot2:
        md += ['', '![spawns per second against threads, and capture throughput](bench-throughput.png)']
    for cmp in TITLES:
        params = [p for (c, p) in g if c == cmp]
        if not params:
            continue
        md += ['', '## %s' % TITLES[cmp]]
        for p in params:
            grp = g[(cmp, p)]
            sp = next((r for r in grp if r['kind'] == 'subproc' and 'median' in r), None)
            tp = thread_param(p) if cmp == 'threads' else None
            md += ['', '**%s**' % p, '', '| contender | kind | median | p90 | runs | ratio |%s'
                   % (' spawns/s |' if tp else ''), '|---|---|---|---|---|---|%s' % ('---|' if tp else '')]
            for r in grp:
                if 'median' in r:
                    rt = '%.3f' % (sp['median'] / r['median']) if sp and r['median'] else '-'
                    md.append('| %s | %s | %s | %s | %d | %s |%s' % (
                        cell(r['name']), r['kind'], fmt(r['median'], r['unit']), fmt(r['p90'], r['unit']),
                        len(r['v']), rt, ' %.0f |' % (tp[1] / (r['median'] / 1e9)) if tp else ''))
                else:
                    md.append('| %s | %s | %s | | | |' % (cell(r['name']), r['kind'], cell(r['status'])))
    loads = [kv[1] for kv in info if kv[0].startswith('load average')]
    notes.append('Noise: load average %s at the start and %s at the end, on %s CPUs. When it is near '
                 'or above the CPU count, other work shared the machine during the run and moved '
                 'contenders\' times by more than their differences; the round-robin order spreads '
                 'that over all of them, and the p90 column shows how far single rounds strayed.'
                 % (loads[0], loads[-1], os.cpu_count()))
    if any(c == 'threads' for (c, p) in g):
        notes.append('Spawning from threads: glibc\'s posix_spawn maps a fresh 36 KiB stack for every '
                     'spawn and unmaps it afterwards (seen with strace: mmap, clone3, munmap per call); '
                     'each munmap takes the process\'s mmap lock and flushes the TLBs of the other '
                     'CPUs running its threads, which threads spawning at once contend for. subproc '
                     'takes child stacks from a process-wide cache of 8 and maps nothing per spawn '
                     '(one mmap for three spawns in the same trace).')
    if LOADS:
        notes.append('The 1-minute load average, sampled before and after each of the %d benchmark '
                     'programs: min %.2f, median %.2f, max %.2f, on %s CPUs.'
                     % (len(LOADS) // 2, min(LOADS), statistics.median(LOADS), max(LOADS), os.cpu_count()))
    if notes:
        md += ['', '## Notes', ''] + ['- ' + n for n in notes]
    out = os.path.join(docs, 'BENCHMARKS.md')
    with open(out, 'w') as f:
        f.write('\n'.join(md) + '\n')
    sys.stderr.write('bench: wrote %s%s%s (%.0f s)\n' % (out, ' and ' + png if have_plot else '',
                                                      ' and ' + png2 if have_plot2 else '', took))


if __name__ == '__main__':
    sys.exit(main())
