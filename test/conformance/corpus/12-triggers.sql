-- Triggers (the source fires them; a row-based replica gets their rows in the binlog).
CREATE DATABASE @P@trig;
USE @P@trig;
CREATE TABLE t (id INT PRIMARY KEY, v INT);
CREATE TABLE audit (id INT AUTO_INCREMENT PRIMARY KEY, what VARCHAR(20), tid INT, v INT);
DELIMITER //
CREATE TRIGGER t_ai AFTER INSERT ON t FOR EACH ROW BEGIN
  INSERT INTO audit (what, tid, v) VALUES ('insert', NEW.id, NEW.v);
END//
CREATE TRIGGER t_bu BEFORE UPDATE ON t FOR EACH ROW BEGIN
  SET NEW.v = NEW.v + 1000;
END//
CREATE TRIGGER t_ad AFTER DELETE ON t FOR EACH ROW INSERT INTO audit (what, tid, v) VALUES ('delete', OLD.id, OLD.v)//
DELIMITER ;
INSERT INTO t VALUES (1, 1), (2, 2), (3, 3);
UPDATE t SET v = 5 WHERE id = 1;
DELETE FROM t WHERE id = 2;
DROP TRIGGER t_bu;
UPDATE t SET v = 6 WHERE id = 3;
DROP TRIGGER IF EXISTS t_bu;
CREATE OR REPLACE TRIGGER t_ai AFTER INSERT ON t FOR EACH ROW INSERT INTO audit (what, tid, v) VALUES ('insert2', NEW.id, NEW.v);
INSERT INTO t VALUES (4, 4);
