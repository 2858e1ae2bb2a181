/*
 * feature_store 0.1.0 -> 0.2.0
 *
 * Every object that 0.2.0 changes, as feature_store.sql (the 0.2.0 install
 * script) has it: after ALTER EXTENSION feature_store UPDATE a database holds
 * the same extension objects as a fresh install (test/upgrade/run_upgrade.sh).
 */

\echo Use "ALTER EXTENSION feature_store UPDATE TO '0.2.0'" to load this file. \quit
