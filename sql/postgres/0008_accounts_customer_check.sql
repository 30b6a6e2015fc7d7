-- rekon warehouse, Postgres: provider_accounts.customer_id is checked once
-- per statement on insert instead of once per row.
--
-- The foreign key from 0001 looked up and row-locked the customer of every
-- inserted account: 0.34 s of the 0.78 s a COPY of 100,000 accounts took,
-- the largest single cost of a first load once its rows are copied
-- straight in. The rule is the same as 0006's for findings: an account
-- names a customer that exists, and a customer accounts name cannot be
-- deleted. Inserts are checked by one anti-join over the rows the statement
-- wrote; an update is checked per row, and only when it changes the
-- customer (a transition table would hold every row the nightly refresh
-- touches). Unlike the key, the check takes no lock on the customer: a
-- customer deleted by a concurrent transaction could be missed, and rekon
-- never deletes customers.

ALTER TABLE rekon.provider_accounts DROP CONSTRAINT provider_accounts_customer_id_fkey;

CREATE FUNCTION rekon.provider_accounts_check_customers() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM written w WHERE w.customer_id IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM rekon.customers c WHERE c.customer_id = w.customer_id)) THEN
        RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
            MESSAGE = 'provider_accounts.customer_id must name a row of customers';
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION rekon.provider_accounts_check_customers() IS 'Refuses inserted provider_accounts rows whose customer_id names no customers row (the foreign key, checked per statement).';

CREATE TRIGGER provider_accounts_customer_exists_on_insert AFTER INSERT ON rekon.provider_accounts
    REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION rekon.provider_accounts_check_customers();

CREATE FUNCTION rekon.provider_accounts_check_customer() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM rekon.customers c WHERE c.customer_id = NEW.customer_id) THEN
        RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
            MESSAGE = 'provider_accounts.customer_id must name a row of customers';
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION rekon.provider_accounts_check_customer() IS 'Refuses an update of provider_accounts that names a customer_id no customers row has.';

CREATE TRIGGER provider_accounts_customer_exists_on_update AFTER UPDATE OF customer_id ON rekon.provider_accounts
    FOR EACH ROW WHEN (NEW.customer_id IS NOT NULL AND NEW.customer_id IS DISTINCT FROM OLD.customer_id)
    EXECUTE FUNCTION rekon.provider_accounts_check_customer();

CREATE FUNCTION rekon.customers_keep_account_customers() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM removed r JOIN rekon.provider_accounts a ON a.customer_id = r.customer_id) THEN
        RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
            MESSAGE = 'a customers row that provider_accounts name cannot be deleted';
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION rekon.customers_keep_account_customers() IS 'Refuses deleting customers rows that provider_accounts name (the other half of the foreign key).';

CREATE TRIGGER customers_keep_account_customers AFTER DELETE ON rekon.customers
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION rekon.customers_keep_account_customers();
