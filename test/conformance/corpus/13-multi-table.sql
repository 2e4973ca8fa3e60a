-- Multi-table UPDATE and DELETE.
CREATE DATABASE @P@multi;
USE @P@multi;
CREATE TABLE a (id INT PRIMARY KEY, v INT, flag INT DEFAULT 0);
CREATE TABLE b (id INT PRIMARY KEY, aid INT, w INT);
INSERT INTO a VALUES (1, 10, 0), (2, 20, 0), (3, 30, 0), (4, 40, 0);
INSERT INTO b VALUES (1, 1, 100), (2, 1, 200), (3, 2, 300), (4, 4, 400);
UPDATE a JOIN b ON a.id = b.aid SET a.v = a.v + b.w, b.w = b.w + 1 WHERE b.w > 150;
UPDATE a, b SET a.flag = 1 WHERE a.id = b.aid AND b.w = 100;
DELETE a, b FROM a JOIN b ON a.id = b.aid WHERE a.id = 4;
DELETE b FROM b LEFT JOIN a ON a.id = b.aid WHERE a.v > 200;
DELETE FROM a USING a LEFT JOIN b ON a.id = b.aid WHERE b.id IS NULL;
UPDATE a SET v = (SELECT MAX(w) FROM b) WHERE id = 1;
UPDATE a SET v = v + 1 ORDER BY id DESC LIMIT 1;
DELETE FROM b ORDER BY id LIMIT 1;
