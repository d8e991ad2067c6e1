"""The controlled beta (AccuBooks Phase 3) and the daily scorecards both launches share.

cohort: invitee parsing and validation; product: product metrics from the target database;
survey: survey CSV import with validation; scoring: criteria, trends, day outcome; charts: SVG
charts; reports: daily report, weekly rollup, survey results, quotes; email: invitation senders.
Every module is plain Python; nothing here is imported when a DAG file is parsed.
"""
