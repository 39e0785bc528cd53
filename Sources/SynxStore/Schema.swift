/// The store's schema, versioned with `PRAGMA user_version`; each migration moves one version up and runs
/// in the same transaction as its version bump, so a crash leaves either version, never half of one.
enum Schema {
    /// Migration `i` brings the schema from version `i` to `i + 1`.
    static let migrations: [String] = [
        """
        CREATE TABLE series (
            id          INTEGER PRIMARY KEY,
            meter       TEXT NOT NULL,
            measurement TEXT NOT NULL,
            unit        TEXT NOT NULL,
            UNIQUE (meter, measurement)
        );
        CREATE TABLE samples (
            series  INTEGER NOT NULL REFERENCES series(id),
            t       INTEGER NOT NULL,  -- UTC, milliseconds since the Unix epoch
            value   REAL,              -- NULL when the poll failed
            quality INTEGER NOT NULL,  -- SampleQuality
            PRIMARY KEY (series, t)
        ) WITHOUT ROWID;
        """,
        """
        CREATE TABLE pq_events (
            id          INTEGER PRIMARY KEY,
            meter       TEXT NOT NULL,
            kind        TEXT NOT NULL,     -- dip, swell, interruption, rvc
            start_us    INTEGER NOT NULL,  -- UTC, microseconds since the Unix epoch
            duration_us INTEGER NOT NULL,
            magnitude   REAL NOT NULL,     -- residual (dip, interruption), maximum (swell), ΔUmax (rvc), volts
            reference   REAL NOT NULL,     -- Udin or the sliding reference at the start, volts
            delta_uss   REAL,              -- rvc: ΔUss, volts
            worst_phase TEXT NOT NULL,
            per_phase   TEXT NOT NULL,     -- JSON object phase → volts
            incomplete  INTEGER NOT NULL   -- 1: a gap or a stop came before the event ended
        );
        CREATE INDEX pq_events_by_start ON pq_events (start_us);
        """,
        """
        CREATE TABLE pq_aggregates (
            meter         TEXT NOT NULL,
            tier          TEXT NOT NULL,     -- 10-s (frequency), 150/180-cycle, 10-min, 2-h
            end_ms        INTEGER NOT NULL,  -- the tag: interval end, UTC ms
            start_ms      INTEGER NOT NULL,
            count         INTEGER NOT NULL,  -- valid constituents (cycles for 10-s)
            invalid_count INTEGER NOT NULL,
            quality       TEXT NOT NULL,     -- flags, comma separated (flagged, gap, incomplete, …)
            "values"      TEXT,              -- JSON; harmonic spectra only for 10-min and 2-h
            PRIMARY KEY (meter, tier, end_ms)
        ) WITHOUT ROWID;
        """,
        """
        CREATE TABLE derived_aggregates (    -- meter-derived, NOT IEC 61000-4-30 Class A
            meter       TEXT NOT NULL,
            measurement TEXT NOT NULL,
            tier        TEXT NOT NULL,     -- 3s, 10min, 2h (UTC aligned)
            end_ms      INTEGER NOT NULL,  -- the tag: interval end, UTC ms
            value       REAL NOT NULL,
            method      TEXT NOT NULL,     -- rms, mean, increase
            count       INTEGER NOT NULL,  -- values received
            expected    INTEGER NOT NULL,  -- values expected at the poll interval
            notes       TEXT NOT NULL,     -- rollover, reset
            PRIMARY KEY (meter, measurement, tier, end_ms)
        ) WITHOUT ROWID;
        """,
        """
        ALTER TABLE pq_events ADD COLUMN resolution_us INTEGER NOT NULL DEFAULT 0;  -- how finely start/end are known
        """,
        """
        CREATE TABLE clock_steps (            -- steps of the host's wall clock, as synxd saw them
            detected_ms INTEGER NOT NULL,     -- the wall clock just after the step, UTC ms
            step_ms     INTEGER NOT NULL      -- positive: forward; negative: backward
        );
        CREATE TABLE clock_overlap (          -- rows whose time repeats stored ones after a backward step
            kind  TEXT NOT NULL,              -- sample, derived, aggregate
            meter TEXT NOT NULL,
            name  TEXT NOT NULL,              -- measurement (sample, derived) or tier (aggregate)
            t     INTEGER NOT NULL,           -- the row's time or interval end, UTC ms
            row   TEXT NOT NULL               -- the whole row, JSON
        );
        CREATE INDEX clock_overlap_by_t ON clock_overlap (t);
        """,
        """
        CREATE TABLE configurations (         -- every configuration synxd accepted (at start and on reload)
            id           INTEGER PRIMARY KEY,
            accepted_ms  INTEGER NOT NULL,    -- UTC ms
            path         TEXT NOT NULL,
            sha256       TEXT NOT NULL,       -- of the file's bytes, hex
            profiles     TEXT NOT NULL,       -- the profile files it loaded: JSON {path: sha256}
            requested_by TEXT NOT NULL        -- start, SIGHUP, or the uid and pid of the synxctl reload
        );
        CREATE TABLE custody_prunes (         -- what retention deleted from the custody chain
            id     INTEGER PRIMARY KEY,
            at_ms  INTEGER NOT NULL,          -- UTC ms
            seqs   TEXT NOT NULL              -- the link numbers deleted, as ranges: "3-7,9"
        );
        CREATE TABLE custody (                -- the SHA-256 chain over 10-min aggregates, events, configurations, …
            seq    INTEGER PRIMARY KEY,       -- link number, from 1
            kind   TEXT NOT NULL,             -- derived, aggregate, event, configuration, clock_step, overlap, prune
            ref    TEXT NOT NULL,             -- the key of the rows it covers, json_array(...)
            t      INTEGER NOT NULL,          -- their time, UTC ms
            digest BLOB NOT NULL,             -- SHA-256 of their canonical bytes
            prev   BLOB NOT NULL,             -- the previous link (32 zero bytes before the first)
            link   BLOB NOT NULL              -- SHA-256(prev || digest)
        );
        CREATE UNIQUE INDEX custody_by_ref ON custody (kind, ref);
        CREATE INDEX custody_by_t ON custody (kind, t);
        CREATE TABLE custody_genesis (done INTEGER);  -- a row while rows stored before the chain still need links
        INSERT INTO custody_genesis VALUES (0);
        CREATE INDEX derived_10min ON derived_aggregates (end_ms, meter) WHERE tier = '10min';
        CREATE INDEX pq_aggregates_10min ON pq_aggregates (end_ms, meter) WHERE tier = '10-min';
        -- Chained rows are named by a key that survives VACUUM and a dump: an INTEGER PRIMARY KEY, not a rowid.
        CREATE TABLE clock_steps_keyed (id INTEGER PRIMARY KEY, detected_ms INTEGER NOT NULL, step_ms INTEGER NOT NULL);
        INSERT INTO clock_steps_keyed (id, detected_ms, step_ms) SELECT rowid, detected_ms, step_ms FROM clock_steps;
        DROP TABLE clock_steps;
        ALTER TABLE clock_steps_keyed RENAME TO clock_steps;
        CREATE TABLE clock_overlap_keyed (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, meter TEXT NOT NULL, name TEXT NOT NULL,
                                          t INTEGER NOT NULL, row TEXT NOT NULL);
        INSERT INTO clock_overlap_keyed (id, kind, meter, name, t, row) SELECT rowid, kind, meter, name, t, row FROM clock_overlap;
        DROP TABLE clock_overlap;
        ALTER TABLE clock_overlap_keyed RENAME TO clock_overlap;
        CREATE INDEX clock_overlap_by_t ON clock_overlap (t);
        """,
        """
        -- Time series as an append-only head plus compressed blocks (docs/design.md, "The store"). The rows of
        -- version 7 stay in samples_v7 (and the 3-s tier in derived_aggregates) until the writer has moved them
        -- into blocks, a few windows per transaction (SampleStore.convertStep).
        ALTER TABLE samples RENAME TO samples_v7;
        CREATE TABLE series_v8 (
            id          INTEGER PRIMARY KEY,   -- below 2^24: a block's id is its cut's number * 2^24 + this
            meter       TEXT NOT NULL,
            measurement TEXT NOT NULL,
            unit        TEXT NOT NULL,
            tier        TEXT NOT NULL DEFAULT '',  -- '': polled samples; '3s': meter-derived 3-s aggregates
            last_t      INTEGER,               -- the latest time in the series' blocks, UTC ms
            UNIQUE (meter, measurement, tier)
        );
        INSERT INTO series_v8 (id, meter, measurement, unit) SELECT id, meter, measurement, unit FROM series;
        DROP TABLE series;
        ALTER TABLE series_v8 RENAME TO series;
        CREATE INDEX derived_3s_v7 ON derived_aggregates (meter, measurement, end_ms) WHERE tier = '3s';  -- to convert
        CREATE TABLE sample_head (             -- one row per commit: its points, not yet in blocks (HeadBatch)
            id   INTEGER PRIMARY KEY,
            rows INTEGER NOT NULL,
            data BLOB NOT NULL
        );
        CREATE TABLE block_cuts (              -- one row per compaction: the times its blocks span
            seq     INTEGER PRIMARY KEY,
            first_t INTEGER NOT NULL,          -- UTC ms
            last_t  INTEGER NOT NULL,
            head_id INTEGER NOT NULL           -- the last head row it covers; -1: blocks converted from version 7
        );
        CREATE INDEX block_cuts_by_last_t ON block_cuts (last_t);
        CREATE INDEX block_cuts_by_first_t ON block_cuts (first_t);
        CREATE TABLE sample_blocks (           -- one series' points of one cut, compressed (SeriesBlockEncoder)
            id      INTEGER PRIMARY KEY,       -- cut * 2^24 + series: a cut's blocks are appended in order
            first_t INTEGER NOT NULL,
            last_t  INTEGER NOT NULL,
            count   INTEGER NOT NULL,
            data    BLOB NOT NULL
        );
        """,
    ]

    static var currentVersion: Int { migrations.count }

    /// Brings `db` to the current version.
    static func migrate(_ db: Connection) throws {
        let version = Int(try db.scalarInt("PRAGMA user_version"))
        guard version <= currentVersion else {
            throw StoreError(
                code: 0, message: "database schema version \(version) is newer than this synxd (\(currentVersion))")
        }
        // Version 8 rebuilds `series`, which version 7's samples refer to: references must go unchecked while it
        // runs (SQLite's "Making Other Kinds Of Table Schema Changes"). No table written since declares one.
        try db.execute("PRAGMA foreign_keys = OFF")
        for step in version..<currentVersion {
            try db.execute("BEGIN IMMEDIATE")
            do {
                try db.execute(migrations[step])
                try db.execute("PRAGMA user_version = \(step + 1)")
                try db.execute("COMMIT")
            } catch {
                try? db.execute("ROLLBACK")
                throw error
            }
        }
    }

    /// Settings every writer connection uses: WAL for concurrent readers, FULL sync so a committed batch
    /// survives a power cut, not only a crash of synxd. The WAL is checkpointed every 1000 pages (SQLite's
    /// default, 4 MB) and after each compaction, and cut back to `walSizeLimit` bytes when a checkpoint resets
    /// it; a clean stop truncates it (`SampleStore.checkpoint`).
    static func configureWriter(_ db: Connection) throws {
        try db.execute("PRAGMA journal_mode = WAL")
        try db.execute("PRAGMA synchronous = FULL")
        try db.execute("PRAGMA wal_autocheckpoint = 1000")
        try db.execute("PRAGMA journal_size_limit = \(walSizeLimit)")
    }

    /// The size (bytes) a WAL is cut back to after a checkpoint.
    static let walSizeLimit = 16 << 20
}
