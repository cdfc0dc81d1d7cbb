-- 0014: the logger's own time zone as its file headers state it (NRG `Time Zone`, a lidar's
-- `timezone`), NULL where no file said. Stored stamps are UTC whatever it is; utc_offset stays
-- the clock offset that naive stamps are read with.
ALTER TABLE loggers ADD COLUMN header_utc_offset interval;
