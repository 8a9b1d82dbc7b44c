-- A database the shim test builds and queries with the sqlite3 shell: 200,000 rows from a
-- recursive CTE, an index, grouping, ordering and a join.
CREATE TABLE t(id INTEGER PRIMARY KEY, k INTEGER, s TEXT);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200000)
INSERT INTO t SELECT i, (i * 7919) % 1000, printf('row-%d-%x', i, i * 2654435761 % 4294967296) FROM n;
CREATE INDEX t_k ON t(k);
SELECT k, count(*), sum(length(s)) FROM t GROUP BY k ORDER BY k LIMIT 20;
SELECT a.id, b.id FROM t a JOIN t b ON a.k = b.k AND b.id = a.id + 1000 ORDER BY a.id LIMIT 10;
DELETE FROM t WHERE k < 500;
VACUUM;
SELECT count(*), min(s), max(s) FROM t;
