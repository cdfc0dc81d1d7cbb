-- 0008, TimescaleDB: the continuous aggregate follows the readings by itself.

CREATE FUNCTION add_readings_monthly(p_channels integer[], p_months timestamptz[],
                                     p_n bigint[], p_total double precision[],
                                     p_minimum double precision[], p_maximum double precision[])
RETURNS void LANGUAGE sql AS $$ SELECT $$;

-- TimescaleDB makes its chunks as rows arrive: every month loads into `readings`.

CREATE FUNCTION readings_load_table(p_month timestamptz)
RETURNS text LANGUAGE sql AS $$ SELECT 'readings' $$;

CREATE FUNCTION attach_readings_partition(p_month timestamptz)
RETURNS void LANGUAGE sql AS $$ SELECT $$;
