-- Stored procedures, functions and events: their effects arrive as rows.
CREATE DATABASE @P@routines;
USE @P@routines;
CREATE TABLE counter (id INT PRIMARY KEY, n INT);
INSERT INTO counter VALUES (1, 0);
CREATE TABLE log (id INT AUTO_INCREMENT PRIMARY KEY, msg VARCHAR(50));
DELIMITER //
CREATE PROCEDURE bump(IN k INT, IN by_n INT)
BEGIN
  UPDATE counter SET n = n + by_n WHERE id = k;
  INSERT INTO log (msg) VALUES (CONCAT('bump ', k, ' by ', by_n));
END//
CREATE FUNCTION twice(x INT) RETURNS INT DETERMINISTIC RETURN x * 2//
CREATE PROCEDURE fill(IN n INT)
BEGIN
  DECLARE i INT DEFAULT 0;
  WHILE i < n DO
    INSERT INTO counter VALUES (100 + i, twice(i)) ON DUPLICATE KEY UPDATE n = n + 1;
    SET i = i + 1;
  END WHILE;
END//
DELIMITER ;
CALL bump(1, 5);
CALL bump(1, 7);
CALL fill(10);
CALL fill(3);
INSERT INTO log (msg) VALUES (CONCAT('twice ', twice(21)));
DROP PROCEDURE bump;
DROP PROCEDURE IF EXISTS bump;
ALTER FUNCTION twice COMMENT 'doubles';
CREATE OR REPLACE FUNCTION twice(x INT) RETURNS INT DETERMINISTIC RETURN x * 3;
CALL fill(2);
CREATE EVENT IF NOT EXISTS never_runs ON SCHEDULE AT '2037-01-01 00:00:00' DISABLE DO DELETE FROM log;
ALTER EVENT never_runs COMMENT 'disabled';
DROP EVENT never_runs;
DROP FUNCTION IF EXISTS twice;
