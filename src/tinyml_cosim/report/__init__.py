"""Scenario reports: report.json (versioned; the models in results.model are its schema,
schemas/report.schema.json), junit.xml (report.junit), a self-contained report.html (report.html), the run
records and console logs; written atomically (report.writer)."""
