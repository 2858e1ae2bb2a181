-- objects.sql: every member of extension feature_store in the current
-- database, described by what it is rather than by OID, one fact per line,
-- sorted, so that two databases can be compared with diff.
--
-- It lists the members themselves (pg_depend deptype 'e'), not a dump:
-- pg_dump --schema-only prints only CREATE EXTENSION for them and so could
-- never show a difference.  Facts: function definitions (signature, body,
-- language, volatility, security, settings), owners and grants; table
-- columns in order with types, defaults, nullability, identity and
-- generation; constraints, indexes, triggers, row-level security and
-- policies; view definitions; sequences; types; the foreign data wrapper;
-- event triggers; comments (and members without one); and which tables
-- pg_dump dumps.
\pset format unaligned
\pset tuples_only on
\pset footer off

WITH ext AS (
    SELECT e.oid, e.extconfig, e.extcondition
      FROM pg_catalog.pg_extension e
     WHERE e.extname = 'feature_store'
),
members AS (
    SELECT d.classid, d.objid, d.objsubid
      FROM pg_catalog.pg_depend d, ext
     WHERE d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
       AND d.refobjid = ext.oid
       AND d.deptype = 'e'
),
rels AS (
    SELECT c.oid, c.oid::pg_catalog.regclass::text AS name, c.relkind
      FROM members m
      JOIN pg_catalog.pg_class c ON c.oid = m.objid
     WHERE m.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
),
procs AS (
    SELECT p.oid, p.oid::pg_catalog.regprocedure::text AS name, p.prokind
      FROM members m
      JOIN pg_catalog.pg_proc p ON p.oid = m.objid
     WHERE m.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
),
facts(line) AS (
    -- every member, by kind and name
    SELECT 'member: ' || pg_catalog.pg_describe_object(m.classid, m.objid, m.objsubid)
      FROM members m

    -- functions: the whole definition, owner, grants
    UNION ALL
    SELECT 'function ' || f.name || ': ' ||
           CASE WHEN f.prokind = 'a' THEN 'aggregate'
                ELSE pg_catalog.pg_get_functiondef(f.oid) END
      FROM procs f
    UNION ALL
    SELECT 'function ' || f.name || ' owner ' || pg_catalog.pg_get_userbyid(p.proowner) ||
           ' acl ' || coalesce(p.proacl, pg_catalog.acldefault('f'::"char", p.proowner))::text
      FROM procs f JOIN pg_catalog.pg_proc p ON p.oid = f.oid

    -- relations: kind, persistence, row security, options, owner, grants
    UNION ALL
    SELECT pg_catalog.format('relation %s: kind %s persistence %s rls %s force_rls %s options %s owner %s acl %s',
                             r.name, c.relkind, c.relpersistence, c.relrowsecurity,
                             c.relforcerowsecurity, coalesce(c.reloptions::text, '{}'),
                             pg_catalog.pg_get_userbyid(c.relowner),
                             -- an explicit grant to the owner alone, left by a REVOKE,
                             -- is the default: compare what is granted
                             coalesce(c.relacl,
                                      pg_catalog.acldefault(CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::"char",
                                                            c.relowner))::text)
      FROM rels r JOIN pg_catalog.pg_class c ON c.oid = r.oid

    -- columns, numbered in their order (dropped columns do not count)
    UNION ALL
    SELECT pg_catalog.format('column %s #%s: %s %s not_null %s default %s identity %s generated %s collation %s acl %s',
                             r.name,
                             pg_catalog.row_number() OVER (PARTITION BY r.oid ORDER BY a.attnum),
                             a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod),
                             a.attnotnull,
                             coalesce(pg_catalog.pg_get_expr(ad.adbin, ad.adrelid), '-'),
                             a.attidentity, a.attgenerated,
                             CASE WHEN a.attcollation = 0 THEN '-'
                                  ELSE a.attcollation::pg_catalog.regcollation::text END,
                             coalesce(a.attacl::text, 'default'))
      FROM rels r
      JOIN pg_catalog.pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
      LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum

    -- constraints, indexes, triggers, policies of member tables
    UNION ALL
    SELECT pg_catalog.format('constraint %s %s: %s', r.name, co.conname,
                             pg_catalog.pg_get_constraintdef(co.oid))
      FROM rels r JOIN pg_catalog.pg_constraint co ON co.conrelid = r.oid
    UNION ALL
    SELECT pg_catalog.format('index %s: %s', r.name, pg_catalog.pg_get_indexdef(i.indexrelid))
      FROM rels r JOIN pg_catalog.pg_index i ON i.indrelid = r.oid
    UNION ALL
    SELECT pg_catalog.format('trigger %s %s: %s enabled %s', r.name, t.tgname,
                             pg_catalog.pg_get_triggerdef(t.oid), t.tgenabled)
      FROM rels r JOIN pg_catalog.pg_trigger t ON t.tgrelid = r.oid AND NOT t.tgisinternal
    UNION ALL
    SELECT pg_catalog.format('policy %s %s: cmd %s permissive %s roles %s using %s check %s',
                             r.name, po.polname, po.polcmd, po.polpermissive,
                             (SELECT pg_catalog.string_agg(CASE WHEN x.role = 0 THEN 'public'
                                                              ELSE pg_catalog.pg_get_userbyid(x.role) END,
                                                         ',' ORDER BY 1)
                                FROM pg_catalog.unnest(po.polroles) AS x(role)),
                             coalesce(pg_catalog.pg_get_expr(po.polqual, po.polrelid), '-'),
                             coalesce(pg_catalog.pg_get_expr(po.polwithcheck, po.polrelid), '-'))
      FROM rels r JOIN pg_catalog.pg_policy po ON po.polrelid = r.oid

    -- views and sequences
    UNION ALL
    SELECT pg_catalog.format('view %s: %s', r.name, pg_catalog.pg_get_viewdef(r.oid))
      FROM rels r WHERE r.relkind IN ('v', 'm')
    UNION ALL
    SELECT pg_catalog.format('sequence %s: %s start %s increment %s min %s max %s cache %s cycle %s',
                             r.name, s.seqtypid::pg_catalog.regtype, s.seqstart, s.seqincrement,
                             s.seqmin, s.seqmax, s.seqcache, s.seqcycle)
      FROM rels r JOIN pg_catalog.pg_sequence s ON s.seqrelid = r.oid
    UNION ALL
    SELECT pg_catalog.format('sequence %s: owned by %s.%s', r.name,
                             d.refobjid::pg_catalog.regclass,
                             (SELECT a.attname FROM pg_catalog.pg_attribute a
                               WHERE a.attrelid = d.refobjid AND a.attnum = d.refobjsubid))
      FROM rels r
      JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                                 AND d.objid = r.oid AND d.deptype IN ('a', 'i')
                                 AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
                                 AND d.refobjsubid > 0
     WHERE r.relkind = 'S'

    -- types (other than the row types of member relations)
    UNION ALL
    SELECT pg_catalog.format('type %s: kind %s base %s not_null %s default %s labels %s',
                             t.oid::pg_catalog.regtype, t.typtype,
                             CASE WHEN t.typbasetype = 0 THEN '-'
                                  ELSE t.typbasetype::pg_catalog.regtype::text END,
                             t.typnotnull, coalesce(t.typdefault, '-'),
                             (SELECT pg_catalog.string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder)
                                FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid))
      FROM members m JOIN pg_catalog.pg_type t ON t.oid = m.objid
     WHERE m.classid = 'pg_catalog.pg_type'::pg_catalog.regclass
    UNION ALL
    SELECT pg_catalog.format('type %s constraint %s: %s', t.oid::pg_catalog.regtype, co.conname,
                             pg_catalog.pg_get_constraintdef(co.oid))
      FROM members m
      JOIN pg_catalog.pg_type t ON t.oid = m.objid
      JOIN pg_catalog.pg_constraint co ON co.contypid = t.oid
     WHERE m.classid = 'pg_catalog.pg_type'::pg_catalog.regclass

    -- the foreign data wrapper and event triggers
    UNION ALL
    SELECT pg_catalog.format('foreign data wrapper %s: handler %s validator %s options %s acl %s',
                             w.fdwname, w.fdwhandler::pg_catalog.regproc,
                             w.fdwvalidator::pg_catalog.regproc,
                             coalesce(w.fdwoptions::text, '{}'), coalesce(w.fdwacl::text, 'default'))
      FROM members m JOIN pg_catalog.pg_foreign_data_wrapper w ON w.oid = m.objid
     WHERE m.classid = 'pg_catalog.pg_foreign_data_wrapper'::pg_catalog.regclass
    UNION ALL
    SELECT pg_catalog.format('event trigger %s: on %s function %s enabled %s tags %s',
                             et.evtname, et.evtevent, et.evtfoid::pg_catalog.regprocedure,
                             et.evtenabled, coalesce(et.evttags::text, '{}'))
      FROM members m JOIN pg_catalog.pg_event_trigger et ON et.oid = m.objid
     WHERE m.classid = 'pg_catalog.pg_event_trigger'::pg_catalog.regclass

    -- comments: on members and their columns, and on the constraints,
    -- indexes, triggers and policies of member tables
    UNION ALL
    SELECT pg_catalog.format('comment on %s: %s',
                             pg_catalog.pg_describe_object(de.classoid, de.objoid, de.objsubid),
                             de.description)
      FROM pg_catalog.pg_description de
     WHERE (de.classoid, de.objoid) IN (SELECT m.classid, m.objid FROM members m)
        OR (de.classoid = 'pg_catalog.pg_constraint'::pg_catalog.regclass
            AND de.objoid IN (SELECT co.oid FROM pg_catalog.pg_constraint co
                               WHERE co.conrelid IN (SELECT oid FROM rels)))
        OR (de.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass
            AND de.objoid IN (SELECT i.indexrelid FROM pg_catalog.pg_index i
                               WHERE i.indrelid IN (SELECT oid FROM rels)))
        OR (de.classoid = 'pg_catalog.pg_trigger'::pg_catalog.regclass
            AND de.objoid IN (SELECT t.oid FROM pg_catalog.pg_trigger t
                               WHERE t.tgrelid IN (SELECT oid FROM rels)))
        OR (de.classoid = 'pg_catalog.pg_policy'::pg_catalog.regclass
            AND de.objoid IN (SELECT po.oid FROM pg_catalog.pg_policy po
                               WHERE po.polrelid IN (SELECT oid FROM rels)))

    -- members without a comment, named, so that one missing on either side
    -- reads as such in the diff
    UNION ALL
    SELECT 'no comment on ' || pg_catalog.pg_describe_object(m.classid, m.objid, m.objsubid)
      FROM members m
     WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_description de
                        WHERE de.classoid = m.classid AND de.objoid = m.objid
                          AND de.objsubid = 0)

    -- what pg_dump dumps of the member tables
    UNION ALL
    SELECT pg_catalog.format('dumped: %s where %s', cfg.rel::pg_catalog.regclass,
                             coalesce(nullif(cfg.cond, ''), '-'))
      FROM ext, unnest(ext.extconfig, ext.extcondition) AS cfg(rel, cond)
)
SELECT line FROM facts ORDER BY line COLLATE "C";
