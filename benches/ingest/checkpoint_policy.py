# python3 benches/ingest/checkpoint_policy.py old|new|quick SECONDS (see docs/performance.md, Sustained ingestion)
# Mechanism check for store/checkpoint.rs: one writer committing batches of 64 x 9 KB rows (the
# inbox) plus a processing update of as many rows (status change rewrites the row), against the
# old checkpoint policy (passive every 200 ms, deferred up to 1 s while busy, RESTART past 65,536
# pages) and the new one (passes until what is left is small, the last with the writer held).
import sqlite3, threading, time, os, sys, statistics
policy, secs = sys.argv[1], float(sys.argv[2])
import tempfile; d = tempfile.mkdtemp(prefix=f'hubsync-ckpt-{policy}-')
path = f'{d}/t.db'
for s in ('', '-wal', '-shm'):
    try: os.remove(path + s)
    except FileNotFoundError: pass
w = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10)
for p in ('journal_mode=wal', 'synchronous=normal', 'wal_autocheckpoint=0', f'journal_size_limit={64<<20}'):
    w.execute('pragma ' + p)
w.execute('create table d(id integer primary key, did text unique, status text, processed_at text, payload text)')
w.execute("create index due on d(id) where status='received'")
payload = 'x' * 9000
gate = threading.Lock()
stop = False
events = []
def passive(c):
    r = c.execute('pragma wal_checkpoint(PASSIVE)').fetchone(); return r[1], r[2]
def ckpt():
    c = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10)
    last = time.time()
    while not stop:
        time.sleep(0.2)
        if policy == 'old':
            if time.time() - last < 1.0: continue  # always busy under sustained load
            last = time.time()
            log, copied = passive(c)
            if log > 65536:
                t = time.time(); c.execute('pragma wal_checkpoint(RESTART)').fetchone()
                events.append(('restart', time.time() - t))
        else:
            if time.time() - last < 1.0: continue
            last = time.time()
            copied = 0
            for p in range(8):
                before = copied
                tp = time.time()
                log, copied = passive(c)
                took = time.time() - tp
                if log == 0: break
                if p > 0 and (took <= 0.025 if policy == 'quick' else copied - before <= 256):
                    with gate:
                        t = time.time(); passive(c)
                    events.append(('held', time.time() - t)); break
threading.Thread(target=ckpt, daemon=True).start()
lat = []; per_sec = {}; wal_max = 0; n = 0; t0 = time.time()
while time.time() - t0 < secs:
    t = time.time()
    with gate:
        w.execute('begin immediate')
        w.executemany('insert into d(did,status,payload) values(?,?,?)', [(f'{n}-{i}', 'received', payload) for i in range(64)])
        w.execute('commit')
    lat.append(time.time() - t)
    with gate:
        w.execute('begin immediate')
        w.execute("update d set status='processed', processed_at='2026-12-03T15:00:00Z' where id in (select id from d where status='received' order by id limit 64)")
        w.execute('commit')
    s = int(time.time() - t0); per_sec[s] = per_sec.get(s, 0) + 64
    wal_max = max(wal_max, os.path.getsize(path + '-wal'))
    n += 1
stop = True
lat.sort(); q = lambda p: lat[min(len(lat) - 1, int(len(lat) * p))] * 1000
secs_counts = sorted(per_sec[s] for s in per_sec if s < int(secs))
held = sorted(e[1] * 1000 for e in events if e[0] == 'held'); rs = [e[1] * 1000 for e in events if e[0] == 'restart']
print(f"{policy}: {n*64} rows in {secs:.0f} s ({n*64/secs:.0f}/s); batch commit p50 {q(.5):.1f} ms p99 {q(.99):.1f} ms max {lat[-1]*1000:.0f} ms; "
      f"rows per second median {statistics.median(secs_counts):.0f} slowest {secs_counts[0]}; WAL file max {wal_max/2**20:.0f} MiB; "
      f"restarts {len(rs)} ({', '.join(f'{r:.0f}' for r in rs)} ms); finishes with writes held {len(held)}" + (f" (p50 {held[len(held)//2]:.1f}, max {held[-1]:.1f} ms)" if held else ''))
