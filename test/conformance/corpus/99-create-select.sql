-- CREATE TABLE ... SELECT: the table and its rows exactly once. Last in the corpus: oms cannot
-- yet be skipped past a stop here (the rows carry no GTID; issue 21, CREATE ... SELECT exactly once).
CREATE DATABASE @P@ctas;
USE @P@ctas;
CREATE TABLE src (id INT PRIMARY KEY, v INT, s VARCHAR(10));
INSERT INTO src VALUES (1, 1, 'a'), (2, 2, 'b'), (3, 3, 'c'), (4, 4, 'd'), (5, 5, 'e'), (6, 6, 'f'), (7, 7, 'g'), (8, 8, 'h'), (9, 9, 'i'), (10, 10, 'j'), (11, 11, 'k');
CREATE TABLE copy_all SELECT * FROM src;
CREATE TABLE copy_key (PRIMARY KEY (id)) SELECT id, v * 2 AS v2 FROM src WHERE id > 3;
CREATE TABLE copy_empty AS SELECT * FROM src WHERE 1 = 0;
CREATE TABLE copy_typed (id BIGINT NOT NULL, extra INT DEFAULT 7) SELECT id FROM src;
CREATE TABLE IF NOT EXISTS copy_all SELECT * FROM src;
CREATE OR REPLACE TABLE copy_replaced SELECT id, s FROM src;
CREATE OR REPLACE TABLE copy_replaced SELECT id FROM src WHERE id < 5;
CREATE TABLE copy_agg SELECT COUNT(*) AS n, SUM(v) AS total, GROUP_CONCAT(s ORDER BY s) AS letters FROM src;
CREATE TABLE copy_like LIKE src;
INSERT INTO copy_like SELECT * FROM src WHERE id % 2 = 0;
UPDATE copy_all SET v = v + 100;
CREATE TABLE copy_ignore (id INT PRIMARY KEY) IGNORE SELECT 1 AS id UNION ALL SELECT 1;
CREATE TABLE copy_replace (id INT PRIMARY KEY, v INT) REPLACE SELECT 1 AS id, 1 AS v UNION ALL SELECT 1, 2;
