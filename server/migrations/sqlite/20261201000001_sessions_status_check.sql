-- The sessions' status rule, written as comparisons joined by OR instead of `IN (…)`. Same
-- rule, same rows, same file content: only the schema's text changes.
--
-- Why: SQLite checks `status IN (five values)` by building a temporary index of the five
-- values on every UPDATE that sets `status`, and a confirm makes two (the claim and the
-- outcome). That was 13 % of the SQLite writer thread's instructions a confirm
-- (BENCHMARKS.md, "The sessions' status check").
--
-- How: SQLite's documented way to change a CHECK constraint that no stored row can
-- violate (https://sqlite.org/lang_altertable.html, "Making Other Kinds Of Table Schema
-- Changes"): edit the table's text in sqlite_schema, then bump the schema version so every
-- connection reads it again. A table rebuild would be the alternative, but its DROP TABLE
-- would check every payment and card against every session (their session_id has no
-- index), and sqlx runs this file inside a transaction, where foreign keys cannot be
-- switched off.
PRAGMA writable_schema = ON;
UPDATE sqlite_schema
SET sql = replace(
    sql,
    'CHECK (status IN (''open'', ''processing'', ''complete'', ''locked'', ''expired''))',
    'CHECK (status = ''open'' OR status = ''processing'' OR status = ''complete'' OR status = ''locked'' OR status = ''expired'')'
)
WHERE type = 'table' AND name = 'sessions';
PRAGMA writable_schema = OFF;
-- Any schema change bumps the schema version; this one changes nothing else.
CREATE TABLE sessions_status_check_bump (x INTEGER);
DROP TABLE sessions_status_check_bump;
