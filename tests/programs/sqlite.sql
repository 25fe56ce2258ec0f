-- Allocation-heavy, deterministic sqlite3 workload for hakmem's real-program
-- test: tests/run.sh runs `sqlite3 :memory: < sqlite.sql` with and without
-- LD_PRELOAD=libhakmem.so and compares the output byte for byte.
-- No random(): pseudo-random values come from an LCG in a recursive CTE.
.bail on
.headers off
.mode list
PRAGMA cache_size = -65536;
PRAGMA temp_store = MEMORY;

CREATE TABLE t (
  id    INTEGER PRIMARY KEY,
  grp   INTEGER NOT NULL,
  val   INTEGER NOT NULL,
  name  TEXT    NOT NULL,
  note  TEXT
);

-- 200k rows from a recursive CTE
WITH RECURSIVE seq(i, x) AS (
  SELECT 1, 12345
  UNION ALL
  SELECT i + 1, (x * 1103515245 + 12345) % 2147483648 FROM seq WHERE i < 200000
)
INSERT INTO t (id, grp, val, name, note)
SELECT i,
       x % 1000,
       (x / 1000) % 1000000,
       printf('name-%06d-%s', x % 999983, substr('abcdefghijklmnopqrstuvwxyz', 1 + x % 26, 1 + x % 7)),
       CASE WHEN i % 3 = 0 THEN NULL ELSE hex(zeroblob(1 + x % 40)) || '-' || i END
FROM seq;

SELECT 'rows', count(*), sum(val), min(name), max(name) FROM t;

CREATE INDEX t_grp ON t(grp, val);
CREATE INDEX t_name ON t(name);
CREATE INDEX t_note ON t(substr(note, 1, 10)) WHERE note IS NOT NULL;

-- group by / aggregates
SELECT 'groups', count(*), sum(c), max(c), min(c) FROM (
  SELECT grp, count(*) AS c FROM t GROUP BY grp
);
SELECT 'top', grp, count(*), sum(val), avg(val) FROM t GROUP BY grp ORDER BY sum(val) DESC, grp LIMIT 5;
SELECT 'agg', grp, length(group_concat(name, ',')) FROM t WHERE grp < 5 GROUP BY grp ORDER BY grp;

-- text operations
SELECT 'text', count(*), sum(length(upper(name) || lower(name))),
       sum(instr(name, 'abc')), count(DISTINCT substr(name, 6, 3))
FROM t;
SELECT 'replace', sum(length(replace(note, '0', 'zz'))) FROM t WHERE note IS NOT NULL;
SELECT 'like', count(*) FROM t WHERE name LIKE '%-00%' OR note LIKE '00%';

-- index use
SELECT 'idx', count(*), sum(val) FROM t WHERE grp BETWEEN 100 AND 200 AND val > 500000;
SELECT 'idx2', name, id FROM t WHERE name >= 'name-5' ORDER BY name, id LIMIT 3;

-- joins and subqueries
CREATE TABLE g AS SELECT grp, count(*) AS c, max(val) AS mx FROM t GROUP BY grp;
SELECT 'join', count(*), sum(t.val * g.c % 1000) FROM t JOIN g ON t.grp = g.grp WHERE t.val = g.mx;
SELECT 'sub', count(*) FROM t WHERE id % 20 = 0 AND val > (SELECT avg(val) FROM t AS u WHERE u.grp = t.grp % 10);

-- window functions
SELECT 'win', sum(r), max(rs) FROM (
  SELECT row_number() OVER (PARTITION BY grp ORDER BY val, id) AS r,
         sum(val) OVER (PARTITION BY grp ORDER BY id ROWS BETWEEN 5 PRECEDING AND CURRENT ROW) AS rs
  FROM t
);

-- updates and deletes that reshuffle the b-trees
UPDATE t SET note = coalesce(note, '') || printf('%x', val) WHERE id % 5 = 0;
DELETE FROM t WHERE grp % 7 = 3;
SELECT 'after', count(*), sum(length(note)), total(val) FROM t;

-- big strings
SELECT 'big', length(group_concat(note, '')), length(replace(group_concat(name, ''), 'name', 'N'))
FROM t WHERE id % 2 = 0;

-- json
SELECT 'json', length(json_group_array(json_object('id', id, 'n', name))) FROM t WHERE grp < 50;

-- sort of a large result
SELECT 'sorted', count(*), min(k), max(k) FROM (SELECT name || note AS k FROM t ORDER BY k DESC);

VACUUM;
SELECT 'integrity', integrity_check FROM pragma_integrity_check;
