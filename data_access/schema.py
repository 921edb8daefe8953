"""The store's schema: one table per data-contract table, plus the working-day calendar, the
district-to-command-area map, store metadata and the derived entitlement facts.

Enum CHECK constraints are generated from metrics.contract, so the store, the filters and the
import validation share one vocabulary. Bump SCHEMA_VERSION whenever this file changes shape.
"""

from __future__ import annotations

from metrics import contract as c

__all__ = ["SCHEMA_VERSION", "CONTRACT_TABLES", "IMPORT_TABLES", "schema_ddl", "FACTS_SQL", "LOAD_ORDER"]

SCHEMA_VERSION = 3  # 2: import_log and import_rejects; 3: erasure_log


def _in(column: str, values: tuple[str, ...], nullable: bool = True) -> str:
    # Values are constants from metrics.contract, never user input; quote them defensively anyway.
    quoted = ", ".join("'" + v.replace("'", "''") + "'" for v in values)
    check = f"{column} IN ({quoted})"
    return f"CHECK ({column} IS NULL OR {check})" if nullable else f"CHECK ({check})"


def schema_ddl() -> str:
    """CREATE statements for an empty store, in dependency order."""
    return f"""
CREATE TABLE store_meta (
    key   VARCHAR PRIMARY KEY,
    value VARCHAR NOT NULL
);

-- One row per calendar day. wd_seq counts working days up to and including the day, so the N-th
-- working day after date T is the working day whose wd_seq is wd_seq(T) + N. wd_seq_next is the
-- wd_seq of the first working day on or after the day (equal to wd_seq on working days).
CREATE TABLE calendar (
    day            DATE PRIMARY KEY,
    is_working_day BOOLEAN NOT NULL,
    holiday_name   VARCHAR,
    wd_seq         INTEGER NOT NULL,
    wd_seq_next    INTEGER NOT NULL
);

-- Extension of the contract: which command area (BCU) each district belongs to.
CREATE TABLE districts (
    district     VARCHAR PRIMARY KEY,
    command_area VARCHAR NOT NULL
);

CREATE TABLE cases (
    case_id        VARCHAR PRIMARY KEY,
    reported_at    TIMESTAMP NOT NULL,
    recorded_at    TIMESTAMP,
    offence_group  VARCHAR NOT NULL {_in("offence_group", c.OFFENCE_GROUPS, nullable=False)},
    offence_code   VARCHAR,
    district       VARCHAR NOT NULL,
    team           VARCHAR,
    domestic_abuse BOOLEAN,
    hate_crime     BOOLEAN,
    status         VARCHAR NOT NULL {_in("status", c.CASE_STATUSES, nullable=False)},
    outcome        VARCHAR,
    closed_at      TIMESTAMP,
    CHECK (closed_at IS NULL OR CAST(closed_at AS DATE) >= CAST(reported_at AS DATE))
);

CREATE TABLE victims (
    victim_id             VARCHAR PRIMARY KEY,
    case_id               VARCHAR NOT NULL REFERENCES cases (case_id),
    enhanced_category     VARCHAR {_in("enhanced_category", c.ENHANCED_CATEGORIES)},
    age_band              VARCHAR {_in("age_band", c.AGE_BANDS)},
    sex                   VARCHAR {_in("sex", c.SEXES)},
    ethnicity             VARCHAR {_in("ethnicity", c.ETHNICITIES)},
    disability            VARCHAR {_in("disability", c.DISABILITY)},
    update_frequency_days INTEGER CHECK (update_frequency_days IS NULL OR update_frequency_days > 0)
);

CREATE TABLE contacts (
    contact_id VARCHAR PRIMARY KEY,
    victim_id  VARCHAR NOT NULL REFERENCES victims (victim_id),
    contact_at TIMESTAMP NOT NULL,
    kind       VARCHAR NOT NULL {_in("kind", c.CONTACT_KINDS, nullable=False)},
    channel    VARCHAR {_in("channel", c.CONTACT_CHANNELS)},
    team       VARCHAR
);

CREATE TABLE entitlements (
    delivery_id      VARCHAR PRIMARY KEY,
    victim_id        VARCHAR NOT NULL REFERENCES victims (victim_id),
    entitlement      VARCHAR NOT NULL,
    triggered_at     TIMESTAMP NOT NULL,
    delivered_at     TIMESTAMP,
    outcome          VARCHAR {_in("outcome", c.ENTITLEMENT_OUTCOMES)},
    exception_reason VARCHAR,
    team             VARCHAR,
    CHECK (outcome NOT IN ('delivered', 'declined') OR delivered_at IS NOT NULL),
    CHECK (outcome IS DISTINCT FROM 'not_delivered' OR delivered_at IS NULL),
    CHECK (outcome IS DISTINCT FROM 'not_applicable' OR exception_reason IS NOT NULL),
    CHECK (delivered_at IS NULL OR CAST(delivered_at AS DATE) >= CAST(triggered_at AS DATE))
);

CREATE TABLE referrals (
    referral_id  VARCHAR PRIMARY KEY,
    victim_id    VARCHAR NOT NULL REFERENCES victims (victim_id),
    service      VARCHAR NOT NULL {_in("service", c.REFERRAL_SERVICES, nullable=False)},
    offered_at   TIMESTAMP,
    consent      VARCHAR NOT NULL {_in("consent", c.CONSENT, nullable=False)},
    referred_at  TIMESTAMP,
    contacted_at TIMESTAMP,
    engaged      BOOLEAN
);

CREATE TABLE surveys (
    response_id    VARCHAR PRIMARY KEY,
    case_id        VARCHAR REFERENCES cases (case_id),
    survey         VARCHAR NOT NULL {_in("survey", c.SURVEYS, nullable=False)},
    responded_at   TIMESTAMP NOT NULL,
    overall        INTEGER CHECK (overall BETWEEN 1 AND 5),
    kept_informed  INTEGER CHECK (kept_informed BETWEEN 1 AND 5),
    treated_fairly INTEGER CHECK (treated_fairly BETWEEN 1 AND 5),
    aware_of_code  BOOLEAN
);

CREATE TABLE complaints (
    complaint_id    VARCHAR PRIMARY KEY,
    case_id         VARCHAR REFERENCES cases (case_id),
    received_at     TIMESTAMP NOT NULL,
    right_no        INTEGER CHECK (right_no BETWEEN 1 AND 12),
    acknowledged_at TIMESTAMP,
    closed_at       TIMESTAMP,
    outcome         VARCHAR {_in("outcome", c.COMPLAINT_OUTCOMES)}
);

CREATE TABLE panels (
    panel_id                   VARCHAR PRIMARY KEY,
    held_on                    DATE NOT NULL,
    title                      VARCHAR,
    themes                     VARCHAR NOT NULL,
    format                     VARCHAR {_in("format", c.PANEL_FORMATS)},
    staff_attendees            INTEGER CHECK (staff_attendees >= 0),
    victims_live               INTEGER CHECK (victims_live >= 0),
    victims_recorded           INTEGER CHECK (victims_recorded >= 0),
    victims_via_support_worker INTEGER CHECK (victims_via_support_worker >= 0),
    staff_feedback_score       DOUBLE CHECK (staff_feedback_score BETWEEN 1 AND 5)
);

CREATE TABLE panel_findings (
    finding_id  VARCHAR PRIMARY KEY,
    panel_id    VARCHAR NOT NULL REFERENCES panels (panel_id),
    kind        VARCHAR NOT NULL {_in("kind", c.FINDING_KINDS, nullable=False)},
    right_no    INTEGER CHECK (right_no BETWEEN 1 AND 12),
    entitlement VARCHAR,
    summary     VARCHAR NOT NULL
);

CREATE TABLE actions (
    action_id    VARCHAR PRIMARY KEY,
    finding_id   VARCHAR REFERENCES panel_findings (finding_id),
    title        VARCHAR NOT NULL,
    owner        VARCHAR,
    raised_on    DATE NOT NULL,
    due_on       DATE,
    status       VARCHAR NOT NULL {_in("status", c.ACTION_STATUSES, nullable=False)},
    completed_on DATE,
    measure      VARCHAR
);

-- Import history (data_access/importer.py): one row per file of each committed import. No row data.
CREATE TABLE import_log (
    import_id     VARCHAR NOT NULL,
    file_no       INTEGER NOT NULL,   -- the file's position in the import, from 1
    imported_at   TIMESTAMP NOT NULL, -- UTC
    imported_by   VARCHAR NOT NULL,
    file_name     VARCHAR NOT NULL,
    table_name    VARCHAR NOT NULL,
    file_format   VARCHAR NOT NULL,
    file_bytes    BIGINT NOT NULL,
    sha256        VARCHAR NOT NULL,
    status        VARCHAR NOT NULL CHECK (status IN ('loaded', 'already_loaded')),
    rows_read     BIGINT NOT NULL,
    rows_loaded   BIGINT NOT NULL,
    rows_rejected BIGINT NOT NULL,
    rows_inserted BIGINT NOT NULL,    -- loaded rows with a new id
    rows_updated  BIGINT NOT NULL,    -- loaded rows that replaced a row with the same id
    message       VARCHAR NOT NULL,
    PRIMARY KEY (import_id, file_no),
    CHECK (rows_read = rows_loaded + rows_rejected),
    CHECK (rows_loaded = rows_inserted + rows_updated)
);

-- Rows an import rejected, one per rejected line with all its reasons. PERSONAL DATA: raw_row is the
-- row as exported (a JSON object, column -> text). Kept only in the store; for administrators only.
CREATE TABLE import_rejects (
    import_id   VARCHAR NOT NULL,
    file_no     INTEGER NOT NULL,
    file_name   VARCHAR NOT NULL,
    table_name  VARCHAR NOT NULL,
    line        BIGINT NOT NULL,      -- as a person counts lines in the file: the header is line 1
    column_name VARCHAR NOT NULL,     -- the column(s) at fault, comma-separated; '' for a whole line
    reason      VARCHAR NOT NULL,     -- every reason, in plain English, '; '-separated; no row data
    raw_row     VARCHAR NOT NULL,
    PRIMARY KEY (import_id, file_no, line)
);

-- Retention purges (data_access/purge.py): one row per table per purge. COUNTS ONLY: no ids, no row data.
-- Carried across every later rebuild (imports copy tables they do not load).
CREATE TABLE erasure_log (
    purge_id      VARCHAR NOT NULL,
    erased_at     TIMESTAMP NOT NULL, -- UTC
    erased_by     VARCHAR NOT NULL,
    closed_before DATE NOT NULL,      -- cases closed before this date were erased
    table_name    VARCHAR NOT NULL,
    rows_erased   BIGINT NOT NULL CHECK (rows_erased >= 0),
    PRIMARY KEY (purge_id, table_name)
);
"""


# The contract's tables, parents before children (the order rows must be loaded in).
LOAD_ORDER = (
    "districts", "cases", "victims", "contacts", "entitlements", "referrals", "surveys", "complaints",
    "panels", "panel_findings", "actions",
)
CONTRACT_TABLES = LOAD_ORDER[1:]
# Written by imports and carried across every rebuild; never part of entitlement_facts.
IMPORT_TABLES = ("import_log", "import_rejects")

# One row per entitlement instance with everything the compliance measures group or filter by,
# denormalised once when the store is built so dashboard queries scan a single table. Timescales
# are NOT stored here: they come from the catalogue at query time, so editing the YAML takes effect
# without rebuilding the store.
FACTS_SQL = """
CREATE TABLE entitlement_facts AS
SELECT
    e.delivery_id,
    e.entitlement,
    e.victim_id,
    v.case_id,
    CAST(e.triggered_at AS DATE)                                   AS trigger_date,
    CAST(date_trunc('month', e.triggered_at) AS DATE)             AS trigger_month,
    CAST(e.delivered_at AS DATE)                                   AS delivered_date,
    -- An empty outcome is derived from delivered_at, as the contract says.
    COALESCE(e.outcome, CASE WHEN e.delivered_at IS NULL THEN 'open' ELSE 'delivered' END) AS outcome,
    e.exception_reason,
    trig.wd_seq                                                    AS trigger_wd_seq,
    deliv.wd_seq_next                                              AS delivered_wd_seq_next,
    CASE WHEN v.enhanced_category IS NULL THEN 'standard' ELSE 'enhanced' END AS victim_type,
    COALESCE(v.age_band, 'unknown')                                AS age_band,
    COALESCE(v.sex, 'unknown')                                     AS sex,
    COALESCE(v.ethnicity, 'unknown')                               AS ethnicity,
    COALESCE(v.disability, 'unknown')                              AS disability,
    k.district,
    COALESCE(d.command_area, 'Unassigned')                         AS command_area,
    k.offence_group,
    COALESCE(e.team, k.team)                                       AS team
FROM entitlements e
JOIN victims v USING (victim_id)
JOIN cases k ON k.case_id = v.case_id
LEFT JOIN districts d ON d.district = k.district
LEFT JOIN calendar trig ON trig.day = CAST(e.triggered_at AS DATE)
LEFT JOIN calendar deliv ON deliv.day = CAST(e.delivered_at AS DATE)
ORDER BY trigger_month  -- the month zone maps let a period skip the rest; a finer order costs an import more than it saves
"""
