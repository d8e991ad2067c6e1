"""The controlled beta's domain (AccuBooks Phase 3), read by the beta change, the daily scorecard
(include.launch.scorecard) and the review.

cohort: invitee parsing and validation; product: product metrics from the target database;
survey: survey CSV import with validation; scoring: criteria, trends, day outcome; charts: SVG
charts; reports: daily report, weekly rollup, survey results, quotes; email: invitation senders.
Every module is plain Python; nothing here is imported when a DAG file is parsed.
"""
