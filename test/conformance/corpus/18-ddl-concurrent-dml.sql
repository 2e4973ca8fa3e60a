-- DDL while other sessions keep writing the same table.
CREATE DATABASE @P@conc;
USE @P@conc;
CREATE TABLE hot (id INT AUTO_INCREMENT PRIMARY KEY, v INT, w INT DEFAULT 0);
INSERT INTO hot (v) VALUES (1), (2), (3), (4), (5), (6), (7), (8);
-- @background INSERT INTO @P@conc.hot (v) VALUES (FLOOR(RAND() * 100))
ALTER TABLE hot ADD COLUMN x INT DEFAULT 5;
ALTER TABLE hot ADD INDEX iv (v);
ALTER TABLE hot MODIFY w BIGINT DEFAULT 0;
-- @end-background
-- @background UPDATE @P@conc.hot SET v = v + 1 WHERE id = 1 + FLOOR(RAND() * 8)
ALTER TABLE hot ADD COLUMN y VARCHAR(10) DEFAULT 'y' AFTER v;
ALTER TABLE hot DROP COLUMN x;
ALTER TABLE hot ALGORITHM=COPY, ADD COLUMN z INT;
-- @end-background
-- @background DELETE FROM @P@conc.hot WHERE id > 8 ORDER BY id DESC LIMIT 1
ALTER TABLE hot CHANGE y y2 VARCHAR(20);
CREATE TABLE side (id INT PRIMARY KEY);
ALTER TABLE hot ENGINE = InnoDB;
-- @end-background
INSERT INTO hot (v) VALUES (1000);
