-- Generated columns, virtual and stored, indexed.
CREATE DATABASE @P@gen;
USE @P@gen;
CREATE TABLE g (id INT PRIMARY KEY, a INT, b INT, s INT AS (a + b) STORED, v INT AS (a * b) VIRTUAL, vs VARCHAR(20) AS (CONCAT('x', a)) VIRTUAL, KEY iv (v));
INSERT INTO g (id, a, b) VALUES (1, 1, 2), (2, 3, 4), (3, NULL, 5);
UPDATE g SET a = 10 WHERE id = 1;
DELETE FROM g WHERE id = 3;
ALTER TABLE g ADD COLUMN s2 INT AS (b * 2) PERSISTENT;
INSERT INTO g (id, a, b) VALUES (4, 7, 8);
CREATE TABLE gnokey (a INT, g INT AS (a + 1) VIRTUAL);
INSERT INTO gnokey (a) VALUES (1), (1), (2);
DELETE FROM gnokey WHERE a = 1 LIMIT 1;
UPDATE gnokey SET a = 5 WHERE a = 2;
CREATE TABLE gjson (id INT PRIMARY KEY, doc JSON, name VARCHAR(20) AS (JSON_VALUE(doc, '$.name')) STORED, UNIQUE KEY (name));
INSERT INTO gjson (id, doc) VALUES (1, '{"name": "ann"}'), (2, '{"name": "bob"}');
UPDATE gjson SET doc = '{"name": "cid"}' WHERE id = 2;
