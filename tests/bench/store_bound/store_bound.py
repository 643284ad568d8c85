#!/usr/bin/env python3
"""tests/bench/store_bound/store_bound.py -- helper of run.sh (not part of make check).

  store_bound.py stage CSV STAGE_DB          map the CSV rows into STAGE_DB (not timed)
  store_bound.py sql MIGRATIONS_C STAGE_DB OUTDIR
                                             write OUTDIR/<variant>.sql for every variant
  store_bound.py migrations MIGRATIONS_C     print the current schema (migrations 1..N)
  store_bound.py summary RESULTS             print the table from run.sh's results file

The stage db holds the CSV rows already mapped the way the gateway maps them
in C (UUIDv7 id as text and as a 16-byte blob, the FNV email_key of the
folded email as mid_email_key computes it, epoch dates, JSON access_groups, a
16-byte recv_hash), so a variant's INSERT ... SELECT measures store writes.

The current schema is read from gateway/migrations.c: the C string literals
of the migrations listed in mid_migrations[] are concatenated and unescaped,
so the benchmark follows the code. (The fixups, e.g. m2_fixup, only touch
existing rows and are no-ops on a fresh store.)
"""
import calendar
import csv
import json
import os
import re
import sqlite3
import statistics
import sys
import time

NOW = 1730000000          # created/updated of every row
BATCH = 20000             # rows per transaction in the batched variants

# The session settings of gateway/db_sqlite.c (page size, WAL, then the
# PRAGMA list it runs on every open).
GW_PRAGMAS = """PRAGMA page_size=8192;
PRAGMA journal_mode=WAL;
PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL;
PRAGMA cache_size=-24576; PRAGMA wal_autocheckpoint=5000;
PRAGMA journal_size_limit=67108864;
"""


# ---------------------------------------------------------------- migrations.c

_ESC = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "0": "\0"}


def _c_strings(src, pos):
    """Concatenate the C string literals starting at src[pos] up to the ';'."""
    out = []
    n = len(src)
    while pos < n:
        c = src[pos]
        if c.isspace():
            pos += 1
        elif src.startswith("/*", pos):
            pos = src.index("*/", pos) + 2
        elif src.startswith("//", pos):
            pos = src.index("\n", pos)
        elif c == ";":
            return "".join(out)
        elif c == '"':
            pos += 1
            while src[pos] != '"':
                if src[pos] == "\\":
                    e = src[pos + 1]
                    if e not in _ESC:
                        raise ValueError(f"unsupported escape \\{e} at offset {pos}")
                    out.append(_ESC[e])
                    pos += 2
                else:
                    out.append(src[pos])
                    pos += 1
            pos += 1
        else:
            raise ValueError(f"unexpected {c!r} at offset {pos} in a string initializer")
    raise ValueError("unterminated string initializer")


def migrations(path):
    """[(version, sql)] in the order of mid_migrations[]."""
    src = open(path, encoding="utf-8").read()
    strings = {m.group(1): _c_strings(src, m.end())
               for m in re.finditer(r"static\s+const\s+char\s+(\w+)\s*\[\s*\]\s*=", src)}
    table = re.search(r"mid_migrations\s*\[\s*\]\s*=\s*\{(.*?)\};", src, re.S)
    if not table:
        raise ValueError(f"{path}: no mid_migrations[] table")
    out = [(int(v), strings[name])
           for v, name in re.findall(r'\{\s*(\d+)\s*,\s*"[^"]*"\s*,\s*(\w+)\s*,', table.group(1))]
    if not out or [v for v, _ in out] != list(range(1, len(out) + 1)):
        raise ValueError(f"{path}: cannot read the migrations from mid_migrations[]")
    return out


def current_schema(path):
    """Migrations 1..N, each in its own transaction, as mid_store_open runs them."""
    return "".join(f"BEGIN;\n{sql}COMMIT;\n" for _, sql in migrations(path))


# ---------------------------------------------------------------- stage db

MASK = (1 << 64) - 1


def email_key(fold):
    """mid_email_key: FNV-1a 64 of the folded email, a final mix, 63 bits, never 0."""
    if not fold:
        return 0
    h = 1469598103934665603
    for c in fold.encode():
        h ^= c
        h = (h * 1099511628211) & MASK
    h ^= h >> 33
    h = (h * 0xff51afd7ed558ccd) & MASK
    h ^= h >> 33
    h &= (1 << 63) - 1
    return h or 1


def build_stage(csv_path, db_path):
    if os.path.exists(db_path):
        os.remove(db_path)
    db = sqlite3.connect(db_path)
    db.execute("""CREATE TABLE stage (rid INTEGER PRIMARY KEY, id_text TEXT, id_blob BLOB,
 employee_id TEXT, given_name TEXT, family_name TEXT, email TEXT, email_key INTEGER,
 mobile TEXT, status TEXT, valid_from INTEGER, valid_until INTEGER, access_groups TEXT,
 facility_code INTEGER, card_number INTEGER, card_format TEXT, recv_hash BLOB)""")
    base_ms = 1730000000000
    dates = {"": 0}

    def epoch(d):
        if d not in dates:
            dates[d] = calendar.timegm(time.strptime(d, "%Y-%m-%d"))
        return dates[d]

    def rows():
        with open(csv_path, newline="", encoding="utf-8") as f:
            r = csv.reader(f)
            col = {name: i for i, name in enumerate(next(r))}
            (emp, given, family, mail, mobile, fac, card, fmt, vfrom, vuntil, status,
             groups) = (col[k] for k in (
                 "employee_id", "given_name", "family_name", "email", "mobile",
                 "facility_code", "card_number", "card_format", "valid_from",
                 "valid_until", "status", "access_groups"))
            for i, c in enumerate(r):
                ms = base_ms + i // 100          # ~100 rows per ms, time-ordered (UUIDv7)
                rnd = bytearray(os.urandom(10))
                rnd[0] = (rnd[0] & 0x0f) | 0x70
                rnd[2] = (rnd[2] & 0x3f) | 0x80
                b = ms.to_bytes(6, "big") + bytes(rnd)
                h = b.hex()
                t = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
                g = json.dumps([x for x in c[groups].split(";") if x],
                               ensure_ascii=False, separators=(",", ":"))
                yield (i + 1, t, b, c[emp], c[given], c[family], c[mail],
                       email_key(c[mail].strip().lower()), c[mobile], c[status],
                       epoch(c[vfrom]), epoch(c[vuntil]), g, int(c[fac] or 0),
                       int(c[card]), c[fmt], os.urandom(16))

    db.executemany("INSERT INTO stage VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows())
    db.commit()
    n = db.execute("SELECT count(*) FROM stage").fetchone()[0]
    db.close()
    print(f"stage: {n} rows", file=sys.stderr)


# ---------------------------------------------------------------- variant scripts

NARROW_SCHEMA = """CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE people (
  id BLOB PRIMARY KEY,
  employee_id TEXT NOT NULL DEFAULT '',
  given_name TEXT NOT NULL DEFAULT '',
  family_name TEXT NOT NULL DEFAULT '',
  email TEXT NOT NULL DEFAULT '',
  email_key INTEGER NOT NULL DEFAULT 0,
  mobile TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL CHECK (status = 'active' OR status = 'suspended' OR status = 'deleted'),
  valid_from INTEGER NOT NULL DEFAULT 0,
  valid_until INTEGER NOT NULL DEFAULT 0,
  access_groups TEXT NOT NULL DEFAULT '[]',
  attributes TEXT NOT NULL DEFAULT '{}',
  created INTEGER NOT NULL,
  updated INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE links (
  binding TEXT NOT NULL,
  external_id TEXT NOT NULL,
  person_id BLOB NOT NULL REFERENCES people(id) ON DELETE CASCADE,
  recv_hash BLOB,
  sent_hash BLOB,
  push_hash BLOB,
  seen_run INTEGER NOT NULL DEFAULT 0,
  etag TEXT NOT NULL DEFAULT '',
  updated INTEGER NOT NULL,
  PRIMARY KEY (binding, external_id)) WITHOUT ROWID;
CREATE TABLE pacs_values (
  binding TEXT NOT NULL,
  format TEXT NOT NULL,
  facility_code INTEGER NOT NULL DEFAULT 0,
  card_number INTEGER NOT NULL,
  PRIMARY KEY (format, facility_code, card_number, binding)) WITHOUT ROWID;
"""
NARROW_INDEXES = """CREATE INDEX people_employee ON people(employee_id) WHERE employee_id <> '';
CREATE INDEX people_email_key ON people(email_key) WHERE email_key <> 0;
CREATE INDEX links_person ON links(person_id);
"""


def cur_batch(lo, hi):
    """The gateway's per-person writes (PERSON_INSERT, LINK_INSERT, the pacs value)."""
    w = f"WHERE rid BETWEEN {lo} AND {hi}"
    return f"""INSERT OR FAIL INTO people (id, employee_id, given_name, family_name, email, email_fold, email_key, mobile, status, valid_from, valid_until, access_groups, attributes, created, updated)
  SELECT id_text, employee_id, given_name, family_name, email, '', email_key, mobile, status, valid_from, valid_until, access_groups, '{{}}', {NOW}, {NOW} FROM s.stage {w};
INSERT INTO links (binding, external_id, person_id, recv_hash, sent_hash, seen_run, etag, updated)
  SELECT 'pacs', employee_id, id_text, recv_hash, NULL, 1, '', {NOW} FROM s.stage {w};
INSERT OR FAIL INTO pacs_values (binding, format, facility_code, card_number)
  SELECT 'pacs', card_format, facility_code, card_number FROM s.stage {w} ON CONFLICT DO NOTHING;
"""


def narrow_batch(lo, hi):
    w = f"WHERE rid BETWEEN {lo} AND {hi}"
    return f"""INSERT OR FAIL INTO people (id, employee_id, given_name, family_name, email, email_key, mobile, status, valid_from, valid_until, access_groups, attributes, created, updated)
  SELECT id_blob, employee_id, given_name, family_name, email, email_key, mobile, status, valid_from, valid_until, access_groups, '{{}}', {NOW}, {NOW} FROM s.stage {w};
INSERT INTO links (binding, external_id, person_id, recv_hash, sent_hash, seen_run, etag, updated)
  SELECT 'pacs', employee_id, id_blob, recv_hash, NULL, 1, '', {NOW} FROM s.stage {w};
INSERT OR FAIL INTO pacs_values (binding, format, facility_code, card_number)
  SELECT 'pacs', card_format, facility_code, card_number FROM s.stage {w} ON CONFLICT DO NOTHING;
"""


def write_sql(migrations_c, stage_db, outdir):
    db = sqlite3.connect(f"file:{stage_db}?mode=ro", uri=True)
    n = db.execute("SELECT count(*) FROM stage").fetchone()[0]
    db.close()
    attach = "ATTACH 'file:" + os.path.abspath(stage_db).replace("'", "''") + "?mode=ro' AS s;\n"
    cur = current_schema(migrations_c)

    def batches(fn):
        return "".join(f"BEGIN;\n{fn(lo, min(lo + BATCH - 1, n))}COMMIT;\n"
                       for lo in range(1, n + 1, BATCH))

    def one_tx(fn, tail=""):
        return f"BEGIN;\n{fn(1, n)}{tail}COMMIT;\n"

    off = GW_PRAGMAS.replace("journal_mode=WAL", "journal_mode=OFF")
    delete_syncoff = (GW_PRAGMAS.replace("journal_mode=WAL", "journal_mode=DELETE")
                      + "PRAGMA synchronous=OFF;\n")
    variants = {
        # the read side only: the three scans of stage the INSERT ... SELECTs make
        "Z": attach + """SELECT count(id_text), count(employee_id), count(given_name), count(family_name), count(email), count(email_key), count(mobile), count(status), count(valid_from), count(valid_until), count(access_groups) FROM s.stage;
SELECT count(employee_id), count(id_text), count(recv_hash) FROM s.stage;
SELECT count(card_format), count(facility_code), count(card_number) FROM s.stage;
""",
        # current schema, gateway pragmas (WAL), 20k-row transactions
        "A": GW_PRAGMAS + cur + attach + batches(cur_batch),
        # A with foreign keys off
        "A2": GW_PRAGMAS + "PRAGMA foreign_keys=OFF;\n" + cur + attach + batches(cur_batch),
        # narrow schema, WAL, 20k-row transactions, secondary indexes after the load
        "C1": GW_PRAGMAS + NARROW_SCHEMA + attach + batches(narrow_batch) + NARROW_INDEXES,
        # C1 with foreign keys off
        "D5": GW_PRAGMAS + "PRAGMA foreign_keys=OFF;\n" + NARROW_SCHEMA + attach
              + batches(narrow_batch) + NARROW_INDEXES,
        # narrow, journal_mode=OFF, one transaction (indexes in it)
        "C5": off + NARROW_SCHEMA + attach + one_tx(narrow_batch, NARROW_INDEXES),
        # floor: the people bytes only, plain rowid table, no key, no index
        "F": delete_syncoff + "CREATE TABLE people (id BLOB, employee_id TEXT, given_name TEXT, family_name TEXT, email TEXT, email_key INTEGER, mobile TEXT, status TEXT, valid_from INTEGER, valid_until INTEGER, access_groups TEXT, attributes TEXT, created INTEGER, updated INTEGER);\n"
             + attach + f"BEGIN;\nINSERT INTO people SELECT id_blob, employee_id, given_name, family_name, email, email_key, mobile, status, valid_from, valid_until, access_groups, '{{}}', {NOW}, {NOW} FROM s.stage;\nCOMMIT;\n",
    }
    for name, text in variants.items():
        with open(os.path.join(outdir, name + ".sql"), "w", encoding="utf-8") as f:
            f.write(text)


# ---------------------------------------------------------------- summary

def summary(path):
    """Results lines: '<variant> wall=W user=U sys=S size=BYTES', each variant
    line right after its paired 'ref ...' line."""
    runs = {}
    size = {}
    last_ref = None
    pat = re.compile(r"(\S+) wall=([\d.]+) user=([\d.]+) sys=([\d.]+) size=(\d+)")
    for line in open(path, encoding="utf-8"):
        m = pat.match(line)
        if not m:
            continue
        v = m.group(1)
        w, c = float(m.group(2)), float(m.group(3)) + float(m.group(4))
        if v == "ref":
            last_ref = (w, c)
        runs.setdefault(v, []).append((w, c) + last_ref)
        size[v] = int(m.group(5))
    med = statistics.median
    hdr = ("variant", "wall s", "CPU s", ".import wall/CPU s", "wall ratio", "CPU ratio", "DB MB")
    rows = []
    for v, xs in runs.items():
        rows.append((v, f"{min(x[0] for x in xs):.2f}", f"{min(x[1] for x in xs):.2f}",
                     f"{min(x[2] for x in xs):.2f} / {min(x[3] for x in xs):.2f}",
                     f"{med(x[0] / x[2] for x in xs):.2f}" if min(x[2] for x in xs) else "-",
                     f"{med(x[1] / x[3] for x in xs):.2f}" if min(x[3] for x in xs) else "-",
                     f"{size[v] / 1e6:.1f}"))
    wid = [max(len(r[i]) for r in rows + [hdr]) for i in range(len(hdr))]
    for r in [hdr] + rows:
        print("  ".join(s.ljust(wid[i]) if i == 0 else s.rjust(wid[i]) for i, s in enumerate(r)))
    n = len(runs.get("ref", [])) // max(1, len(runs) - 1)
    print(f"\nwall, CPU: minimum over {n} round(s); ratio: median of the per-pair ratios "
          "(each variant run / the .import run just before it).")


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "stage" and len(argv) == 4:
        build_stage(argv[2], argv[3])
    elif cmd == "sql" and len(argv) == 5:
        write_sql(argv[2], argv[3], argv[4])
    elif cmd == "migrations" and len(argv) == 3:
        sys.stdout.write(current_schema(argv[2]))
    elif cmd == "summary" and len(argv) == 3:
        summary(argv[2])
    else:
        sys.stderr.write(__doc__.split("\n\n")[0] + "\n")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
